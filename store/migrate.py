"""Forward schema migrations, applied by ``PRAGMA user_version``.

Each file ``schema/NNNN_name.sql`` moves the schema from version NNNN-1 to NNNN. Files are
applied in order inside one transaction each; a store whose version is newer than the
newest file is refused (an older program must not write a newer store).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import aiosqlite

from .errors import NewerSchema

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """All (version, sql) pairs shipped with this program, in order."""
    found: list[tuple[int, str]] = []
    # The files beside this module (importlib.resources costs every command ~5 ms more).
    for entry in sorted((Path(__file__).parent / "schema").iterdir()):
        m = _NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    for i, (version, _) in enumerate(found, start=1):
        if version != i:
            raise RuntimeError(f"schema files are not numbered 1..n: missing {i:04d}")
    return found


SCHEMA_VERSION = len(migrations())


def statements(sql: str) -> list[str]:
    """The statements of a schema file, each whole (SQLite's own test of completeness)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip()
                               for ln in buf.splitlines()):
        raise RuntimeError(f"schema file ends inside a statement: {buf.strip()[:60]!r}")
    return out


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
        # Take the write lock, then look again: another program opening the same new store
        # at the same moment (two started together) may have applied this file, or later
        # ones, while we waited. Re-running an idempotent file (CREATE ... IF NOT EXISTS)
        # would then set user_version back, and a later, non-idempotent file (ALTER TABLE)
        # would fail.
        # The file runs statement by statement inside that transaction (executescript
        # would COMMIT first), so the file and its version bump commit together or not at
        # all.
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            if row is not None and int(row[0]) >= version:
                await conn.execute("COMMIT")
                continue
            for statement in statements(sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {version}")
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return current
