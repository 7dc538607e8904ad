"""Numbered forward migrations of the PostgreSQL store (``schema/NNNN_name.sql``).

Like store/migrate.py for SQLite: the applied version is kept in the database
(``schema_version``), each migration runs in its own transaction together with the new
version number, and two programs migrating the same database at once are serialised by an
advisory transaction lock, the second one then finding the work done. A database of a
newer version than this program knows is refused (``NewerSchema``) and left as it is.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import asyncpg

from ..errors import NewerSchema, StoreError

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of schema migrations: "vcmg" in ASCII. The store's write lock
# uses another key, so a migration never waits on a writer of an open store.
MIGRATION_LOCK = 0x76636D67
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped, in order."""
    out = []
    for entry in resources.files(__package__).joinpath("schema").iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    out.sort()
    versions = [v for v, _, _ in out]
    if versions != list(range(1, len(out) + 1)):
        raise StoreError(f"PostgreSQL migrations are not numbered 1..n: {versions}")
    return out


SCHEMA_VERSION = len(migrations())


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns how many migrations ran."""
    ran = 0
    for version, name, sql in migrations():
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                               "version integer PRIMARY KEY, applied_at timestamptz "
                               "NOT NULL DEFAULT now())")
            have = await current_version(conn)
            if have > SCHEMA_VERSION:
                raise NewerSchema(f"the PostgreSQL store is at schema {have}; this program "
                                  f"knows up to {SCHEMA_VERSION}", version=have)
            if have >= version:
                continue
            log.info("event=pg_migrate version=%d file=%s", version, name)
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_version(version) VALUES($1)", version)
            ran += 1
    return ran
