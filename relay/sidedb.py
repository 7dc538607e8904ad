"""The relay's side databases (accounts and audit, enrolment records) on either backend.

A small synchronous adapter, so that ``AccountStore`` and ``TokenStore`` keep their
synchronous interface on both backends (docs/decisions.md, 2026-12-03):

* ``SqliteDb``: stdlib sqlite3, a connection per call, WAL; ``transaction()`` begins with
  ``BEGIN IMMEDIATE`` (a second writer waits instead of reading what is about to change).
* ``PgDb``: asyncpg on one private event loop in a daemon thread, a pool per database;
  ``?`` placeholders become ``$1..$n``; ``transaction()`` holds ``pg_advisory_xact_lock``
  (``lock_key``), which serialises writers the same way.

Both raise ``Conflict`` when a unique key is violated. The SQL itself stays in the
callers' modules (relay/accounts.py, relay/enrol.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Coroutine, Iterator, Sequence, TypeVar

from store import StoreError
from store.location import database_name

T = TypeVar("T")
TIMEOUT = 30.0  # seconds for one call to the database


class Conflict(Exception):
    """A unique key (or primary key) was violated."""


class SqliteDb:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        return db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        db = self._connect()
        try:
            return db.execute(sql, tuple(args)).rowcount
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from None
        finally:
            db.close()

    def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        db = self._connect()
        try:
            return [tuple(r) for r in db.execute(sql, tuple(args)).fetchall()]
        finally:
            db.close()

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, args)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_SqliteTx]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield _SqliteTx(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def close(self) -> None:
        pass


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        try:
            return self._db.execute(sql, tuple(args)).rowcount
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from None

    def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._db.execute(sql, tuple(args)).fetchall()]

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, args)
        return rows[0] if rows else None


# --- PostgreSQL ------------------------------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _run(coro: Coroutine[Any, Any, T], where: str = "relay") -> T:
    """Run ``coro`` on the private loop thread and wait for it (never call from there).
    A database or connection error comes out as the store's own error (StoreIOError for
    a server that cannot be reached, ...), naming the database ``where``, never the URL."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="relay-sidedb",
                             daemon=True).start()
    try:
        return asyncio.run_coroutine_threadsafe(coro, _loop).result(TIMEOUT)
    except (StoreError, Conflict):
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or type(exc).__module__.startswith("asyncpg"):
            from store.pg.errors import translate

            raise translate(exc, where) from exc
        raise


def _dollars(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgDb:
    kind = "postgresql"

    def __init__(self, dsn: str, lock_key: int) -> None:
        import asyncpg

        self._asyncpg = asyncpg
        self.lock_key = lock_key
        self.where = database_name(dsn)

        async def make() -> Any:
            return await asyncpg.create_pool(dsn, min_size=0, max_size=4)
        self._pool = _run(make(), self.where)

    async def _execute(self, conn: Any, sql: str, args: Sequence[Any]) -> int:
        try:
            return _rowcount(await conn.execute(_dollars(sql), *args))
        except self._asyncpg.UniqueViolationError as exc:
            raise Conflict(str(exc)) from None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        async def go() -> int:
            async with self._pool.acquire() as conn:
                return await self._execute(conn, sql, args)
        return _run(go(), self.where)

    def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def go() -> list[tuple[Any, ...]]:
            async with self._pool.acquire() as conn:
                return [tuple(r) for r in await conn.fetch(_dollars(sql), *args)]
        return _run(go(), self.where)

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, args)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        async def acquire() -> Any:
            return await self._pool.acquire()
        conn = _run(acquire(), self.where)
        tx = conn.transaction()
        try:
            _run(tx.start(), self.where)
            _run(conn.execute("SELECT pg_advisory_xact_lock($1)", self.lock_key), self.where)
            yield _PgTx(self, conn)
            _run(tx.commit(), self.where)
        except BaseException:
            with contextlib.suppress(Exception):
                _run(tx.rollback(), self.where)
            raise
        finally:
            _run(self._pool.release(conn), self.where)

    def close(self) -> None:
        _run(self._pool.close(), self.where)


class _PgTx:
    def __init__(self, db: PgDb, conn: Any) -> None:
        self._db, self._conn = db, conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _run(self._db._execute(self._conn, sql, args), self._db.where)

    def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def go() -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await self._conn.fetch(_dollars(sql), *args)]
        return _run(go(), self._db.where)

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, args)
        return rows[0] if rows else None


def migrate(db: PgDb, component: str, steps: Sequence[tuple[int, str]]) -> int:
    """Apply ``component``'s numbered PostgreSQL migrations (1..n) not yet applied, under
    the adapter's advisory lock; returns how many ran."""
    ran = 0
    with db.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS relay_schema (component text PRIMARY KEY, "
                   "version integer NOT NULL)")
        row = tx.fetchone("SELECT version FROM relay_schema WHERE component = ?", (component,))
        have = int(row[0]) if row else 0
        for version, sql in steps:
            if version > have:
                tx.execute(sql)
                ran += 1
        if ran:
            tx.execute("INSERT INTO relay_schema VALUES (?, ?) ON CONFLICT (component) DO "
                       "UPDATE SET version = excluded.version", (component, steps[-1][0]))
    return ran
