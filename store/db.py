"""Opening a store file: pragmas, identity checks, migrations, one writer.

Rules:
1. WAL journal with ``synchronous=FULL``: a transaction that returned from COMMIT is on
   disk, so "saved" in the UI survives a crash or power cut at any instant.
2. The file carries ``application_id`` = APPLICATION_ID; any other SQLite file, or a file
   that is not SQLite, is refused with NotAStore before anything is written to it.
3. A store of a newer schema is refused with NewerSchema; older ones migrate forward.
4. One writer per process (an asyncio lock in Store); across processes SQLite's own
   lock, waited on for ``busy_timeout_ms``, then StoreLocked.
5. No SQLite error leaves the store raw: ``translate`` maps each one to a StoreError with
   a stable code (``translated`` does it for a whole method).
6. A write, once it started, runs to its end (COMMIT or ROLLBACK) even if its caller is
   cancelled, and the caller waits for that end (``run_to_end``), so a lock held around it
   is never released with a transaction open.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, ParamSpec, TypeVar

import aiosqlite

from .errors import (
    NotAStore,
    StoreError,
    StoreFull,
    StoreInternal,
    StoreIOError,
    StoreLocked,
    StoreReadOnly,
)
from .migrate import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

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


# SQLite's primary result codes (the low byte of an extended code), by what they mean here.
_LOCKED = {5, 6}  # BUSY, LOCKED
_DAMAGED = {11, 24, 26}  # CORRUPT, FORMAT, NOTADB
_FULL = {13}  # FULL
_READONLY = {3, 8, 23}  # PERM, READONLY, AUTH
_IO = {7, 10, 14, 15, 22}  # NOMEM, IOERR, CANTOPEN, PROTOCOL, NOLFS


def translate(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """The StoreError that an SQLite error means: every one maps to one, with a stable
    code (store/errors.py); what SQLite said stays in the message and ``details``."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    primary = code & 0xFF if isinstance(code, int) else None
    msg = str(exc).lower()
    where = {"path": str(path), "sqlite": name}
    if primary in _LOCKED or (primary is None and ("locked" in msg or "busy" in msg)):
        return StoreLocked(f"store {path} is locked by another program", **where)
    if primary in _DAMAGED or (primary is None and ("not a database" in msg
                                                    or "malformed" in msg)):
        return NotAStore(f"{path} is damaged or not a store: {exc}", **where)
    if primary in _FULL:
        return StoreFull(f"the disk holding {path} is full: {exc}", **where)
    if primary in _READONLY:
        return StoreReadOnly(f"store {path} cannot be written: {exc}", **where)
    if primary in _IO:
        return StoreIOError(f"reading or writing {path} failed: {exc}", **where)
    return StoreInternal(f"store {path}: SQLite error {name}: {exc}", **where)


def translated(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap an async method of an object with a ``db_path`` or a ``path`` (its store
    file) so that an SQLite error it raises comes out as ``translate`` says."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except sqlite3.Error as exc:
            owner = args[0]
            where = getattr(owner, "db_path", None) or getattr(owner, "path", None) or "?"
            raise translate(exc, where) from exc

    return wrapper


async def run_to_end(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile; a cancelled
    caller then gets its CancelledError, after the end.

    ``asyncio.shield`` alone lets the caller go at once while the work goes on: a lock
    held around it is released with the work's transaction still open, and the next
    writer's BEGIN fails ("cannot start a transaction within a transaction")."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError as exc:
            cancelled = exc  # wait on: the work is not ours to stop half-way
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            log.info("event=write_failed_while_cancelled error=%s",
                     type(task.exception()).__name__)
        raise cancelled
    return task.result()


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
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
