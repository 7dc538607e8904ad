"""Forward schema migrations, applied by ``PRAGMA user_version``.

Each file ``schema/NNNN_name.sql`` moves the schema from version NNNN-1 to NNNN. Files are
applied in order inside one transaction each; a store whose version is newer than the
newest file is refused (an older program must not write a newer store).
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

import aiosqlite

from .errors import NewerSchema

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """All (version, sql) pairs shipped with this program, in order."""
    found: list[tuple[int, str]] = []
    for entry in resources.files("store").joinpath("schema").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    for i, (version, _) in enumerate(found, start=1):
        if version != i:
            raise RuntimeError(f"schema files are not numbered 1..n: missing {i:04d}")
    return found


SCHEMA_VERSION = len(migrations())


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise NewerSchema(
            f"store schema version {current} is newer than this program's {SCHEMA_VERSION}",
            found=current,
            supported=SCHEMA_VERSION,
        )
    for version, sql in migrations():
        if version <= current:
            continue
        # executescript commits first; wrap each file so a failure leaves version N-1.
        try:
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            # Another process opening the same store may have applied this file between
            # our reading user_version and taking the write lock (two programs started
            # at once on a new store): then the file failed ("table ... already exists")
            # and there is nothing left to do.
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            if row is None or int(row[0]) < version:
                raise
    return current
