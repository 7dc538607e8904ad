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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from .db import open_db
from .errors import StoreError

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
    """Open with ``await BlobStore.open(store_file, root)``."""

    def __init__(self, conn: aiosqlite.Connection, root: Path, floor: int) -> None:
        self._c = conn
        self.root = root
        self.floor = floor
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, db_path: Path, root: Path | None = None, *,
                   floor: int = DEFAULT_FLOOR) -> "BlobStore":
        conn = await open_db(db_path)
        root = root or Path(db_path).parent / "blobs"
        root.mkdir(parents=True, exist_ok=True)
        return cls(conn, root, floor)

    async def close(self) -> None:
        await self._c.close()

    def _file(self, sha256: str, part: bool = False) -> Path:
        return self.root / sha256[:2] / (sha256 + (".part" if part else ""))

    # --- reading ------------------------------------------------------------------------
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

    async def missing(self, sha256: str) -> list[int]:
        info = await self.info(sha256)
        if info is None:
            return []
        if info.complete:
            return []
        async with self._c.execute("SELECT n FROM blob_blocks WHERE sha256 = ?",
                                   (sha256,)) as cur:
            have = {int(r[0]) for r in await cur.fetchall()}
        return [n for n in range(info.count) if n not in have]

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
        data = await asyncio.to_thread(_read_at, f, n * info.block_size, info.block_len(n))
        if hashlib.sha256(data).digest() != info.block_hash(n):
            return None  # damaged on disk: never serve a bad block
        return data

    async def all(self) -> list[BlobInfo]:
        async with self._c.execute("SELECT sha256 FROM blobs") as cur:
            rows = await cur.fetchall()
        return [i for (s,) in rows if (i := await self.info(s)) is not None]

    # --- writing ------------------------------------------------------------------------
    async def add_file(self, src: Path) -> BlobInfo:
        """Copy a local file in as a complete blob (publishing at the county)."""
        sha, length, blocks = await asyncio.to_thread(hash_file, src)
        existing = await self.info(sha)
        if existing and existing.complete:
            return existing
        dest = self._file(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".copy")
        await asyncio.to_thread(shutil.copyfile, src, tmp)
        os.replace(tmp, dest)
        async with self._lock:
            await self._c.execute(
                "INSERT OR REPLACE INTO blobs(sha256, length, block_size, blocks, complete, "
                "have, added_at) VALUES(?,?,?,?,1,?,?)",
                (sha, length, BLOCK_SIZE, blocks, block_count(length), _now()))
            await self._c.execute("DELETE FROM blob_blocks WHERE sha256 = ?", (sha,))
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
        async with self._lock:
            await self._c.execute(
                "INSERT OR IGNORE INTO blobs(sha256, length, block_size, blocks, complete, "
                "have, added_at) VALUES(?,?,?,?,0,0,?)",
                (sha256, length, block_size, blocks, _now()))
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
        part = self._file(sha256, part=True)
        part.parent.mkdir(parents=True, exist_ok=True)
        async with self._lock:
            await asyncio.to_thread(_write_at, part, data, n * info.block_size)
            await self._c.execute("BEGIN IMMEDIATE")
            try:
                async with self._c.execute(
                    "INSERT OR IGNORE INTO blob_blocks(sha256, n) VALUES(?, ?)",
                    (sha256, n)) as cur:
                    added = cur.rowcount
                if added:
                    await self._c.execute("UPDATE blobs SET have = have + 1 WHERE sha256 = ?",
                                          (sha256,))
                await self._c.execute("COMMIT")
            except BaseException:
                await self._c.execute("ROLLBACK")
                raise
        if not await self.missing(sha256):
            await self._finish(info)
        return True

    async def _finish(self, info: BlobInfo) -> None:
        part = self._file(info.sha256, part=True)
        whole = await asyncio.to_thread(_sha_file, part)
        async with self._lock:
            if whole != info.sha256:
                # Every block matched its hash but the whole does not: the block list was
                # wrong. Start over rather than show a file that is not the blob.
                part.unlink(missing_ok=True)
                await self._c.execute("DELETE FROM blob_blocks WHERE sha256 = ?",
                                      (info.sha256,))
                await self._c.execute("UPDATE blobs SET have = 0 WHERE sha256 = ?",
                                      (info.sha256,))
                return
            os.truncate(part, info.length)
            os.replace(part, self._file(info.sha256))
            await self._c.execute("UPDATE blobs SET complete = 1, have = ? WHERE sha256 = ?",
                                  (info.count, info.sha256))
            await self._c.execute("DELETE FROM blob_blocks WHERE sha256 = ?", (info.sha256,))


def _read_at(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from ``offset`` (a worker thread's job)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def _write_at(path: Path, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset`` and fsync (a worker thread's job)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
