"""Where a store lives, and opening it: a SQLite file or a PostgreSQL database.

A location is either a path (the embedded SQLite store, the default everywhere) or a
``postgresql://`` / ``postgres://`` URL (the relay at county tier and above, issue #13).
``open_store`` returns the matching ``DocumentStore``; asyncpg is imported only when a
PostgreSQL store is opened, so a village node never loads it.

A URL may carry a password; ``describe`` gives the form that is safe for logs and messages
(the password replaced by ``***``). libpq's own ways of passing one (``PGPASSWORD``,
``~/.pgpass``, ``PGPASSFILE``) work too, and keep it out of the relay's config file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import BadLocation
from .protocol import DocumentStore

SCHEMES = ("postgresql", "postgres")


def is_database_url(location: str | Path) -> bool:
    """True when ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and urlsplit(location).scheme in SCHEMES


def check_database_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL this store can open, else ``BadLocation``
    (code ``bad_location``), which says what one looks like."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise BadLocation("a database store is given as "
                          f"postgresql://USER@HOST:PORT/DATABASE, not {describe(url)!r}",
                          location=describe(url))
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise BadLocation("the URL names no database: "
                          f"postgresql://USER@HOST:PORT/DATABASE, not {describe(url)!r}",
                          location=describe(url))
    return url


def database_name(dsn: str) -> str:
    """The database's name for messages: never the DSN, which may hold a password."""
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def describe(location: str | Path) -> str:
    """``location`` as it may be logged or shown: a URL's password is masked."""
    if not isinstance(location, str) or "://" not in location:
        return str(location)
    parts = urlsplit(location)
    if parts.password is None:
        return location
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query,
                       parts.fragment))


async def open_store(location: str | Path, *, key: bytes | None,
                     side_dir: Path | None = None) -> DocumentStore:
    """Open the store at ``location``. For a database, ``side_dir`` is where the store's
    side files live (bundle peers' certificates); a SQLite store keeps them beside its
    file."""
    if is_database_url(location):
        assert isinstance(location, str)
        if side_dir is None:
            raise ValueError("a PostgreSQL store needs side_dir")
        from .pg.store import PgStore

        return await PgStore.open(check_database_url(location), key=key, path=side_dir)
    from .docs import Store

    return await Store.open(Path(location), key=key)
