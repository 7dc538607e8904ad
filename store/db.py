"""Opening a store file: pragmas, identity checks, migrations, one writer.

Rules:
1. WAL journal with ``synchronous=FULL``: a transaction that returned from COMMIT is on
   disk, so "saved" in the UI survives a crash or power cut at any instant.
2. The file carries ``application_id`` = APPLICATION_ID; any other SQLite file, or a file
   that is not SQLite, is refused with NotAStore before anything is written to it.
3. A store of a newer schema is refused with NewerSchema; older ones migrate forward.
4. One writer per process (an asyncio lock in Store); across processes SQLite's own
   lock, waited on for ``busy_timeout_ms``, then StoreLocked.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import aiosqlite

from .errors import NotAStore, StoreLocked
from .migrate import migrate

APPLICATION_ID = 0x56435254  # "VCRT"
DEFAULT_BUSY_TIMEOUT_MS = 5000  # long enough for a peer's sync commit, short for a person


async def _check_identity(conn: aiosqlite.Connection, path: Path) -> None:
    """Refuse a file that is not SQLite, or SQLite of another program, before anything is
    written to it. Read through SQLite, never with a descriptor of our own: closing any
    descriptor of the file drops every POSIX lock this process holds on it, those of our
    other open connections included (tests/store/test_posix_locks.py)."""
    try:
        async with conn.execute("PRAGMA application_id") as cur:
            row = await cur.fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc).lower():
            raise NotAStore(f"{path} is not a villagecourt store (not an SQLite file)",
                            path=str(path)) from None
        raise
    app_id = int(row[0]) if row else 0
    if app_id != APPLICATION_ID:
        raise NotAStore(
            f"{path} is an SQLite file of another program (application_id {app_id:#x})",
            path=str(path),
        )


def translate(exc: sqlite3.Error, path: Path | str) -> Exception:
    """Map an SQLite error to the StoreError family where one fits."""
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return StoreLocked(f"store {path} is locked by another program", path=str(path))
    if "not a database" in msg or "malformed" in msg:
        return NotAStore(f"{path} is damaged or not a store: {exc}", path=str(path))
    return exc


async def _set_wal(conn: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    """Switch to WAL. SQLite answers "database is locked" at once, without waiting, when
    another program is switching the same new file at that moment (two programs started
    together on a new store): wait for it ourselves, within the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)


async def open_db(
    path: Path | str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> aiosqlite.Connection:
    """Open (creating if absent) and migrate the store file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if new:
            await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            os.chmod(path, 0o600)
        else:
            await _check_identity(conn, path)
        await _set_wal(conn, busy_timeout_ms)
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await migrate(conn)
    except sqlite3.Error as exc:
        await conn.close()
        raise translate(exc, path) from exc
    except BaseException:
        await conn.close()
        raise
    return conn
