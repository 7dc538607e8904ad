"""Media over the network: who may fetch a blob, and fetching its blocks (issue #8).

A blob is served only to a peer that may read a published content item referencing it:
knowing the hash is not enough. ``MediaIndex`` answers that from the store (rebuilt when
the store's seq moves). ``fetch_blob`` downloads the missing blocks of one blob over
HTTPS with mutual TLS from ``GET /v1/blobs/<sha256>/<n>``: each block is verified the
moment it arrives (store/blobs.py), a bad one is discarded and asked for again, a cut
link costs at most the block in flight, and a token bucket caps the bandwidth.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp

from store import DocumentStore, ScopeSet
from store.blobs import BLOCK_SIZE, BlobStore

from .errors import TransportClosed


def media_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed media entries of a content item (sha256, length, blocks, ...)."""
    out = []
    for m in data.get("media") or []:
        if (isinstance(m, dict) and isinstance(m.get("sha256"), str)
                and isinstance(m.get("blocks"), bytes) and isinstance(m.get("length"), int)):
            out.append(m)
    return out


class MediaIndex:
    """sha256 -> scopes of published content items that reference it."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._seq = -1
        self._scopes: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        seq = await self._store.current_seq()
        if seq == self._seq:
            return
        scopes: dict[str, set[str]] = {}
        for doc_id, scope in await self._store.views.content():
            for m in media_entries(await self._store.read(doc_id)):
                scopes.setdefault(m["sha256"], set()).add(str(scope))
        self._scopes, self._seq = scopes, seq

    async def may_fetch(self, readable: ScopeSet, sha256: str) -> bool:
        async with self._lock:
            await self._refresh()
        return any(s in readable for s in self._scopes.get(sha256, ()))

    async def wanted(self) -> dict[str, dict[str, Any]]:
        """Every blob referenced by a published item: sha256 -> its media entry."""
        out: dict[str, dict[str, Any]] = {}
        for doc_id, _scope in await self._store.views.content():
            for m in media_entries(await self._store.read(doc_id)):
                out.setdefault(m["sha256"], m)
        return out


class TokenBucket:
    """Bytes per second, with a burst of one block."""

    def __init__(self, rate_bps: float | None) -> None:
        self.rate = rate_bps / 8 if rate_bps else None  # bytes/s
        self._tokens = float(BLOCK_SIZE)
        self._t = time.monotonic()

    async def take(self, n: int) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        self._tokens = min(float(BLOCK_SIZE), self._tokens + (now - self._t) * self.rate)
        self._t = now
        self._tokens -= n
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


@dataclass
class FetchStats:
    blocks: int = 0
    bad_blocks: int = 0
    bytes: int = 0


async def fetch_blob(blobs: BlobStore, base_url: str, sha256: str, *,
                     ssl_context: ssl.SSLContext | bool | None = None,
                     bucket: TokenBucket | None = None, timeout_s: float = 60.0,
                     stats: FetchStats | None = None,
                     progress: Callable[[str, int, int], None] | None = None,
                     session: aiohttp.ClientSession | None = None,
                     resume: dict[tuple[str, int], bytes] | None = None) -> bool:
    """Fetch the missing blocks of a wanted blob; True when it is complete. Raises
    TransportClosed when the link fails (call again: it resumes), NoSpace at the floor,
    PermissionError when the peer refuses (no referencing document in our scope).

    ``resume`` (a dict the caller keeps between calls) holds the bytes of a block cut
    mid-way; the next call asks only for the rest (``Range: bytes=k-``), so a cut costs
    the bytes in flight, not a block. The block is still verified whole."""
    stats = stats or FetchStats()
    info = await blobs.info(sha256)
    if info is None:
        raise KeyError(sha256)
    own = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
    try:
        retries = 0
        for n in await blobs.missing(sha256):
            while True:
                got = resume.pop((sha256, n), b"") if resume is not None else b""
                headers = {"Range": f"bytes={len(got)}-"} if got else {}
                chunks = [got]
                try:
                    async with http.get(f"{base_url}/v1/blobs/{sha256}/{n}", headers=headers,
                                        ssl=ssl_context if ssl_context is not None else False
                                        ) as resp:
                        if resp.status in (403, 404):
                            raise PermissionError(
                                f"the peer does not serve blob {sha256[:12]}: {resp.status}")
                        if resp.status == 200:
                            chunks = []  # the whole block (the peer ignored the range)
                        elif resp.status != 206:
                            raise TransportClosed(f"blob server answered {resp.status}")
                        async for chunk in resp.content.iter_chunked(16 * 1024):
                            if bucket:
                                await bucket.take(len(chunk))
                            chunks.append(chunk)
                            stats.bytes += len(chunk)
                except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
                    if resume is not None and len(b"".join(chunks)) < info.block_len(n):
                        resume[(sha256, n)] = b"".join(chunks)
                    raise TransportClosed(f"media link failed: {exc}") from None
                data = b"".join(chunks)
                if await blobs.put_block(sha256, n, data):
                    stats.blocks += 1
                    break
                stats.bad_blocks += 1
                retries += 1
                if retries > 8:
                    raise TransportClosed("the peer keeps sending bad blocks")
            if progress:
                cur = await blobs.info(sha256)
                if cur:
                    progress(sha256, cur.have, cur.count)
    finally:
        if own:
            await http.close()
    done = await blobs.info(sha256)
    return bool(done and done.complete)
