"""Media blobs: files addressed by SHA-256, cut into fixed blocks whose hashes are known
before the first byte arrives (issue #8; docs/content.md).

Files: ``<root>/<aa>/<sha256>`` for a complete blob, ``<root>/<aa>/<sha256>.part`` while it
downloads (blocks written at their offsets). Tables ``blobs`` and ``blob_blocks`` (schema
0003) say which blocks are verified.

Rules
1. A block is written to the .part file and fsynced before it is recorded as verified, so
   after a crash every recorded block is on disk; an unrecorded one is fetched again (at
   most the block in flight per cut).
2. A block whose SHA-256 is not the listed one is discarded (``put_block`` returns False).
3. A blob becomes visible (``path``) only when every block is there and the whole file's
   SHA-256 is the blob's address; otherwise the blob starts over.
4. Below the free-space floor no block is written: ``NoSpace`` says so in plain words.
5. A write cancelled at any point is whole or absent (see ``BlobStore``); folders are
   0700 and files 0600 (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

import aiosqlite

from .db import open_db, run_to_end, translate, translated
from .errors import StoreError
from .files import private_dir

log = logging.getLogger(__name__)
T = TypeVar("T")

BLOCK_SIZE = 128 * 1024
HASH = 32
DEFAULT_FLOOR = 512 * 1024 * 1024  # keep 512 MiB free for the records and the system


class NoSpace(StoreError):
    code = "no_space"


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    length: int
    block_size: int
    blocks: bytes  # 32-byte block hashes, concatenated
    complete: bool = False
    have: int = 0

    @property
    def count(self) -> int:
        return block_count(self.length, self.block_size)

    def block_hash(self, n: int) -> bytes:
        return self.blocks[n * HASH:(n + 1) * HASH]

    def block_len(self, n: int) -> int:
        return min(self.block_size, self.length - n * self.block_size)

    @property
    def fraction(self) -> float:
        return 1.0 if self.complete else (self.have / self.count if self.count else 0.0)


def block_count(length: int, block_size: int = BLOCK_SIZE) -> int:
    return max(1, -(-length // block_size))


def hash_file(path: Path, block_size: int = BLOCK_SIZE) -> tuple[str, int, bytes]:
    """(SHA-256 hex, length, concatenated block hashes) of a file, read once."""
    whole = hashlib.sha256()
    blocks = bytearray()
    length = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(block_size)
            if not chunk and length:
                break
            whole.update(chunk)
            blocks += hashlib.sha256(chunk).digest()
            length += len(chunk)
            if not chunk:
                break
    return whole.hexdigest(), length, bytes(blocks)


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise StoreError(f"not a SHA-256: {sha256!r}")
    return sha256


class BlobStore:
    """Open with ``await BlobStore.open(store_file, root)``.

    Writes go one at a time behind one lock and, once started, run to their end even if
    the caller is cancelled (store/db.py ``run_to_end``): a cancelled ``put_block`` has
    recorded its block whole, and finished the blob if it was the last, or has recorded
    nothing; the lock is free only after that."""

    def __init__(self, conn: aiosqlite.Connection, root: Path, floor: int,
                 path: Path | None = None) -> None:
        self._c = conn
        self.root = root
        self.floor = floor
        self.db_path = path or root  # the store file, named in errors
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, db_path: Path, root: Path | None = None, *,
                   floor: int = DEFAULT_FLOOR) -> "BlobStore":
        conn = await open_db(db_path)
        root = root or Path(db_path).parent / "blobs"
        private_dir(root)
        return cls(conn, root, floor, Path(db_path))

    async def close(self) -> None:
        async with self._lock:
            await self._c.close()

    def _file(self, sha256: str, part: bool = False) -> Path:
        return self.root / sha256[:2] / (sha256 + (".part" if part else ""))

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` under the lock, to its end even if the caller is cancelled."""
        async with self._lock:
            return await run_to_end(work())

    async def _tx(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """One IMMEDIATE transaction (inside a ``_write``): COMMIT or ROLLBACK whole."""
        try:
            await self._c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc
        try:
            result = await fn(self._c)
            await self._c.execute("COMMIT")
        except BaseException as exc:
            try:
                await self._c.execute("ROLLBACK")
            except sqlite3.Error as rollback_exc:
                if self._c.in_transaction:
                    log.error("event=rollback_failed error=%s", rollback_exc)
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.db_path) from exc
            raise
        return result

    # --- reading ------------------------------------------------------------------------
    @translated
    async def info(self, sha256: str) -> BlobInfo | None:
        async with self._c.execute(
            "SELECT length, block_size, blocks, complete, have FROM blobs WHERE sha256 = ?",
            (sha256,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return BlobInfo(sha256, int(row[0]), int(row[1]), bytes(row[2]), bool(row[3]),
                        int(row[4]))

    async def path(self, sha256: str) -> Path | None:
        """The file of a complete blob (for the system's player), else None."""
        info = await self.info(sha256)
        return self._file(sha256) if info and info.complete else None

    @translated
    async def missing(self, sha256: str) -> list[int]:
        info = await self.info(sha256)
        if info is None or info.complete:
            return []
        todo = await self._missing_of(info)
        if not todo:
            # Every block is in but the blob was not finished (the process stopped in
            # between): finish it now, or start over if the whole does not match.
            await self._write(lambda: self._finish(sha256))
            info = await self.info(sha256)
            if info is not None and not info.complete:
                todo = await self._missing_of(info)
        return todo

    async def _missing_of(self, info: BlobInfo) -> list[int]:
        async with self._c.execute("SELECT n FROM blob_blocks WHERE sha256 = ?",
                                   (info.sha256,)) as cur:
            have = {int(r[0]) for r in await cur.fetchall()}
        return [n for n in range(info.count) if n not in have]

    @translated
    async def read_block(self, sha256: str, n: int) -> bytes | None:
        """A verified block (of a complete blob, or a verified block of a partial one)."""
        info = await self.info(sha256)
        if info is None or not 0 <= n < info.count:
            return None
        if info.complete:
            f = self._file(sha256)
        else:
            async with self._c.execute("SELECT 1 FROM blob_blocks WHERE sha256 = ? AND n = ?",
                                       (sha256, n)) as cur:
                if await cur.fetchone() is None:
                    return None
            f = self._file(sha256, part=True)
        try:
            data = await asyncio.to_thread(_read_at, f, n * info.block_size, info.block_len(n))
        except OSError:
            return None  # gone or unreadable on disk: never serve a bad block
        if hashlib.sha256(data).digest() != info.block_hash(n):
            return None  # damaged on disk: never serve a bad block
        return data

    @translated
    async def all(self) -> list[BlobInfo]:
        async with self._c.execute("SELECT sha256 FROM blobs") as cur:
            rows = await cur.fetchall()
        return [i for (s,) in rows if (i := await self.info(s)) is not None]

    # --- writing ------------------------------------------------------------------------
    async def add_file(self, src: Path) -> BlobInfo:
        """Copy a local file in as a complete blob (publishing at the county). The copy is
        part of the write: a cancelled call waits for it, and leaves the blob whole or
        absent, never a temporary file."""
        sha, length, blocks = await asyncio.to_thread(hash_file, src)
        existing = await self.info(sha)
        if existing and existing.complete:
            return existing
        dest = self._file(sha)
        tmp = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.copy")

        async def rows(c: aiosqlite.Connection) -> None:
            await c.execute(
                "INSERT OR REPLACE INTO blobs(sha256, length, block_size, blocks, complete, "
                "have, added_at) VALUES(?,?,?,?,1,?,?)",
                (sha, length, BLOCK_SIZE, blocks, block_count(length), _now()))
            await c.execute("DELETE FROM blob_blocks WHERE sha256 = ?", (sha,))
            # In place before COMMIT: a row that says complete always has its file.
            os.replace(tmp, dest)

        async def work() -> None:
            try:
                await asyncio.to_thread(_copy_private, src, tmp)
                await self._tx(rows)
            finally:
                tmp.unlink(missing_ok=True)

        await self._write(work)
        return BlobInfo(sha, length, BLOCK_SIZE, blocks, True, block_count(length))

    async def want(self, sha256: str, length: int, blocks: bytes,
                   block_size: int = BLOCK_SIZE) -> BlobInfo:
        """Register a blob to download (from a content item's media entry)."""
        _check_sha(sha256)
        if length < 0 or len(blocks) != block_count(length, block_size) * HASH:
            raise StoreError(f"blob {sha256}: block list does not fit its length")
        existing = await self.info(sha256)
        if existing is not None:
            return existing

        async def row(c: aiosqlite.Connection) -> None:
            await c.execute(
                "INSERT OR IGNORE INTO blobs(sha256, length, block_size, blocks, complete, "
                "have, added_at) VALUES(?,?,?,?,0,0,?)",
                (sha256, length, block_size, blocks, _now()))

        await self._write(lambda: self._tx(row))
        info = await self.info(sha256)
        assert info is not None
        return info

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    async def put_block(self, sha256: str, n: int, data: bytes) -> bool:
        """Store block ``n`` if its hash is the listed one (False: discarded). Completes
        the blob when it was the last one. Raises NoSpace below the free-space floor."""
        info = await self.info(sha256)
        if info is None or not 0 <= n < info.count:
            return False
        if info.complete:
            return True
        if len(data) != info.block_len(n) or hashlib.sha256(data).digest() != info.block_hash(n):
            return False
        if self.free_bytes() - len(data) < self.floor:
            raise NoSpace(f"the disk is nearly full (less than {self.floor // (1024 * 1024)} MB "
                          "free): media downloads are paused until space is freed")

        async def record(c: aiosqlite.Connection) -> None:
            async with c.execute("INSERT OR IGNORE INTO blob_blocks(sha256, n) VALUES(?, ?)",
                                 (sha256, n)) as cur:
                added = cur.rowcount
            if added:
                await c.execute("UPDATE blobs SET have = have + 1 WHERE sha256 = ?", (sha256,))

        async def work() -> bool:
            now = await self.info(sha256)  # under the lock: another call may have finished it
            if now is None or now.complete:
                return now is not None
            await asyncio.to_thread(_write_at, self._file(sha256, part=True), data,
                                    n * now.block_size)
            await self._tx(record)
            if not await self._missing_of(now):
                await self._finish(sha256)
            return True

        return await self._write(work)

    async def _finish(self, sha256: str) -> None:
        """Make a blob whose blocks are all in complete (inside a ``_write``): its whole
        SHA-256 checked, the file moved in place before the row says complete."""
        info = await self.info(sha256)
        if info is None or info.complete:
            return
        part, final = self._file(sha256, part=True), self._file(sha256)
        # After a stop between the move and COMMIT the whole file is already in place.
        src = part if part.exists() else final if final.exists() else None
        whole = await asyncio.to_thread(_sha_file, src, info.length) if src else None
        if whole != sha256:
            # Every block matched its hash but the whole does not: the block list was
            # wrong. Start over rather than show a file that is not the blob.
            async def over(c: aiosqlite.Connection) -> None:
                await c.execute("DELETE FROM blob_blocks WHERE sha256 = ?", (sha256,))
                await c.execute("UPDATE blobs SET have = 0 WHERE sha256 = ?", (sha256,))

            await self._tx(over)
            part.unlink(missing_ok=True)  # after COMMIT: a recorded block is always on disk
            return

        async def done(c: aiosqlite.Connection) -> None:
            await c.execute("UPDATE blobs SET complete = 1, have = ? WHERE sha256 = ?",
                            (info.count, sha256))
            await c.execute("DELETE FROM blob_blocks WHERE sha256 = ?", (sha256,))
            if src == part:
                os.truncate(part, info.length)
                os.replace(part, final)

        await self._tx(done)


def _copy_private(src: Path, dest: Path) -> None:
    """Copy ``src`` to a new file ``dest`` readable only by its owner, fsynced."""
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as out, open(src, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _read_at(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from ``offset`` (a worker thread's job)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def _write_at(path: Path, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset`` and fsync (a worker thread's job)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha_file(path: Path, length: int) -> str:
    """SHA-256 of the first ``length`` bytes of ``path`` (a .part file may be longer)."""
    h = hashlib.sha256()
    left = length
    with open(path, "rb") as f:
        while left > 0 and (chunk := f.read(min(1 << 20, left))):
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
