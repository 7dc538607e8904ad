"""What a store says about itself, for ``villagecourt relay doctor``: which backend, the
schema version it is at and the one this program knows, its store id, how many documents,
and per backend the file's and WAL's size (SQLite) or the server's version (PostgreSQL).
Read-only; nothing here holds personal data."""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import DocumentStore


@dataclass
class Health:
    backend: str  # "sqlite" | "postgresql"
    schema: int
    schema_known: int  # what this program migrates to
    store_id: str
    documents: int
    file_bytes: int = 0  # SQLite: the store file
    wal_bytes: int = 0  # SQLite: its write-ahead log
    server_version: str = ""  # PostgreSQL: SHOW server_version


async def health(store: DocumentStore) -> Health:
    """``store``'s figures (see the module docstring)."""
    from .docs import Store

    documents = await store.views.doc_count()
    if isinstance(store, Store):
        from .migrate import SCHEMA_VERSION

        version = int((await store.query("PRAGMA user_version"))[0][0])
        wal = store.path.with_name(store.path.name + "-wal")
        return Health("sqlite", version, SCHEMA_VERSION, store.store_id, documents,
                      file_bytes=store.path.stat().st_size,
                      wal_bytes=wal.stat().st_size if wal.exists() else 0)
    from .pg.migrate import SCHEMA_VERSION as PG_SCHEMA_VERSION
    from .pg.store import PgStore

    assert isinstance(store, PgStore)
    version = int((await store.query("SELECT coalesce(max(version), 0) "
                                     "FROM schema_version"))[0][0])
    server = str((await store.query("SHOW server_version"))[0][0])
    return Health("postgresql", version, PG_SCHEMA_VERSION, store.store_id, documents,
                  server_version=server)
