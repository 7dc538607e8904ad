"""Media of legal-education content at the village: availability and background download
(issue #8; docs/content.md, "For the TUI").

``MediaService(node)`` — open with ``await media.open()``:

    await media.availability(doc_id) -> Availability   ready | 43 % | waiting | no media
    await media.files(doc_id) -> list[Path]            complete files (blobs, by hash)
    await media.playable(doc_id) -> list[Path]         the same under their published names,
                                                        for the system player
    await media.sync(progress=...) -> MediaResult      fetch what is missing from the relay
    await media.sync(peers=["https://10.0.0.7:PORT"])   LAN peers first, then the relay
    await media.serve_lan(host, port) -> LanServer      serve our verified blocks on the LAN
    media.paused_reason                                 plain words when downloads pause
    media.follow_sync()                                 after each successful session
                                                        (SyncFinished event), fetch media in
                                                        a background task; media.last_result
    media.add_lan_routes(app)                           serve blocks on an existing listener
                                                        (the daemon's LAN sync port)
    media.lan_peers = lambda: [...]                     where background passes look first

While open, the service is ``node.media`` (the TUI reads availability through it), and a
background pass reports ``MediaProgress`` events.

Records always go first: ``sync`` is meant to run after a records session (the daemon's
loop), and its bandwidth cap (``rate_bps``) applies to media only.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from aiohttp import web

from store.blobs import DEFAULT_FLOOR, BlobStore, NoSpace
from sync import revocations
from sync.auth import peer_identity
from sync.errors import NotAuthorized, TransportClosed
from sync.media import FetchStats, MediaIndex, TokenBucket, fetch_blob, media_entries
from sync.scopes import permissions
from sync.tls import peer_der, serve_tls

from .events import Event, MediaProgress, SyncFinished
from .identity import keys_of, relay_urls
from .node import Node

try:
    import fcntl
except ImportError:  # Windows: no flock (docs/known-issues.md)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
BLOCK_ROUTE = "/v1/blobs/{sha}/{n}"


def _try_lock(path: Path) -> IO[bytes] | None:
    """An exclusive lock on ``path`` held while the file stays open; None if another
    process holds it. The OS drops it when the process dies (SIGKILL included)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # 0600 like every file of the home; kept open as the lock
    f = open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")  # noqa: SIM115
    if fcntl is None:
        return f
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def _file_name(entry: dict[str, Any], sha256: str) -> str:
    """The name the county gave the file, made safe for any file system, with an
    extension (from its type if the name lacks one): players and ``open``/``startfile``
    choose the program by it."""
    raw = Path(str(entry.get("name") or entry.get("filename") or "").replace("\\", "/")).name
    name = _UNSAFE.sub("_", raw).strip(" .")[:100] or sha256[:12]
    if not Path(name).suffix:
        name += mimetypes.guess_extension(str(entry.get("mime") or "")) or ""
    return name


def _playable(blob: Path, entry: dict[str, Any], home: Path) -> Path:
    """The complete blob under its published name (``<home>/media/<name>``), a hard link
    (no copy: no extra space), else a symbolic link; the blob itself if neither works.
    A blob is stored by its SHA-256, without an extension, which ``open`` (macOS) and
    ``os.startfile`` (Windows) cannot open, and which means nothing to a director looking
    for the file to copy to a phone."""
    sha = blob.name
    name = _file_name(entry, sha)
    folder = home / "media"
    stem, suffix = Path(name).stem, Path(name).suffix
    for candidate in (folder / name, folder / f"{stem}-{sha[:8]}{suffix}"):
        try:
            if candidate.exists() or candidate.is_symlink():
                if candidate.exists() and os.path.samefile(candidate, blob):
                    return candidate
                continue  # another file of the same name
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                os.link(blob, candidate)
            except OSError:
                candidate.symlink_to(blob)
            return candidate
        except OSError:
            break
    return blob


@dataclass(frozen=True)
class Availability:
    state: str  # "ready" | "partial" | "waiting" | "none" (no media)
    percent: int  # 0-100

    @property
    def label(self) -> str:
        return {"ready": "ready", "none": "", "waiting": "waiting"}.get(
            self.state, f"{self.percent} %")


@dataclass
class LanServer:
    runner: web.AppRunner
    server: asyncio.Server
    port: int

    async def stop(self) -> None:
        self.server.close()
        await self.runner.cleanup()


@dataclass
class MediaResult:
    complete: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)
    error: str = ""


class MediaService:
    def __init__(self, node: Node, *, rate_bps: float | None = None,
                 floor: int = DEFAULT_FLOOR) -> None:
        self.node = node
        self.rate_bps = rate_bps
        self.floor = floor
        self.blobs: BlobStore | None = None
        self.paused_reason = ""
        self._resume: dict[tuple[str, int], bytes] = {}  # blocks cut mid-way
        self._task: asyncio.Task[MediaResult] | None = None
        self._again = False
        self._unsubscribe: Callable[[], None] | None = None
        self.last_result: MediaResult | None = None
        self.lan_peers: Callable[[], list[str]] | None = None  # base URLs of LAN peers
        self.paused_code = ""  # "no_space" while the free-space floor holds downloads
        self.names: dict[str, str] = {}  # sha256 -> file name, of media wanted

    @classmethod
    def from_config(cls, node: Node) -> "MediaService":
        """The service with the node's settings (config.json: media_rate_kbps, 0 for no
        cap; media_free_mb, the free-space floor)."""
        c = node.config
        return cls(node, rate_bps=c.media_rate_kbps * 1000 or None,
                   floor=c.media_free_mb * 1024 * 1024)

    async def open(self) -> "MediaService":
        self.blobs = await BlobStore.open(self.node.home.store_file,
                                          self.node.home.path / "blobs", floor=self.floor)
        self.node.media = self
        return self

    # --- in the background, after records ------------------------------------------------
    def follow_sync(self) -> None:
        """Records first, media after: each successful session with the relay or a LAN
        peer (the daemon emits SyncFinished) starts one media pass in a background task;
        records never wait for it (media runs on its own requests, with its own cap)."""
        if self._unsubscribe is None:
            self._unsubscribe = self.node.events.subscribe(self._on_event)

    def stop_following(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.lan_peers = None

    def _on_event(self, event: Event) -> None:
        # After the relay or a LAN peer of the village: either may have brought an item
        # whose media we lack (a LAN neighbour serves the blocks it has).
        if isinstance(event, SyncFinished) and event.ok:
            self.kick()

    def kick(self) -> None:
        """Start a media pass now (or once more after the one running)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._background())

    async def _background(self) -> MediaResult:
        def progress(sha: str, have: int, total: int) -> None:
            self.node.events.emit(MediaProgress(sha, have, total, name=self.names.get(sha, "")))

        while True:
            self._again = False
            try:
                peers = self.lan_peers() if self.lan_peers else None
                self.last_result = await self.sync(peers=peers, progress=progress)
            except Exception as exc:  # noqa: BLE001 — never let a media error reach the records side
                log.warning("media pass failed: %s", exc)
                self.last_result = MediaResult(error=f"{type(exc).__name__}: {exc}")
            self.node.events.emit(MediaProgress("", 0, 0, done=True, paused=self.paused_code))
            if not self._again:
                return self.last_result

    async def idle(self) -> MediaResult | None:
        """Wait for the background pass (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        return self.last_result

    async def close(self) -> None:
        self.stop_following()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 — the pass logged its own errors
                pass
        if self.blobs is not None:
            await self.blobs.close()
            self.blobs = None
        if self.node.media is self:
            self.node.media = None

    async def __aenter__(self) -> "MediaService":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _b(self) -> BlobStore:
        assert self.blobs is not None, "MediaService not opened"
        return self.blobs

    async def availability(self, doc_id: str) -> Availability:
        media = media_entries(await self.node.store.read(doc_id))
        if not media:
            return Availability("none", 100)
        have = total = 0
        for m in media:
            info = await self._b().info(m["sha256"])
            count = max(1, len(m["blocks"]) // 32)
            total += count
            if info is not None:
                have += count if info.complete else info.have
        if have >= total:
            return Availability("ready", 100)
        if have == 0:
            return Availability("waiting", 0)
        return Availability("partial", min(99, have * 100 // total))

    async def files(self, doc_id: str) -> list[Path]:
        out = []
        for m in media_entries(await self.node.store.read(doc_id)):
            p = await self._b().path(m["sha256"])
            if p is not None:
                out.append(p)
        return out

    async def playable(self, doc_id: str) -> list[Path]:
        """The complete files of an item under their published names, for the system's
        player and for a director copying one to a phone (``<home>/media/<name>``: hard
        links to the blobs, which are stored by hash with no extension)."""
        out = []
        for m in media_entries(await self.node.store.read(doc_id)):
            p = await self._b().path(m["sha256"])
            if p is not None:  # links in <home>/media: file system work, off the loop
                out.append(await asyncio.to_thread(_playable, p, m, self.node.home.path))
        return out

    async def sync(self, *, base_url: str | None = None, peers: list[str] | None = None,
                   progress: Callable[[str, int, int], None] | None = None) -> MediaResult:
        """Download every missing blob of published items: from LAN ``peers`` first (each
        gives the blocks it has), then the relay. Resumes from the verified blocks."""
        result = MediaResult()
        # One program of a node downloads at a time (`serve` and the TUI may both run):
        # the other finds the lock held and leaves the work to it.
        lock = await asyncio.to_thread(_try_lock,
                                       self.node.home.path / "blobs" / ".download.lock")
        if lock is None:
            result.error = "another program of this node is downloading media"
            return result
        try:
            return await self._sync(result, base_url, peers, progress)
        finally:
            lock.close()

    async def _sync(self, result: MediaResult, base_url: str | None, peers: list[str] | None,
                    progress: Callable[[str, int, int], None] | None) -> MediaResult:
        blobs = self._b()
        wanted = await MediaIndex(self.node.store).wanted()
        keys = keys_of(self.node.home)
        relay = base_url or (relay_urls(self.node.config.relay_url)[0]
                             if self.node.config.relay_url else "")
        sources = [*(peers or []), *([relay] if relay else [])]
        # Loading the node's certificate and key reads files: off the event loop.
        ctx = (await asyncio.to_thread(keys.client_context)
               if any(b.startswith("https") for b in sources) else False)
        bucket = TokenBucket(self.rate_bps)
        self.paused_reason = self.paused_code = ""
        self.names.update({sha: str(m.get("name") or "") for sha, m in wanted.items()})
        for sha, m in wanted.items():
            await blobs.want(sha, int(m["length"]), bytes(m["blocks"]),
                             int(m.get("block_size") or 128 * 1024))
            info = await blobs.info(sha)
            done = bool(info and info.complete)
            for base in ([] if done else sources):
                try:
                    done = await fetch_blob(blobs, base, sha, bucket=bucket,
                                            ssl_context=ctx if base.startswith("https")
                                            else False,
                                            stats=result.stats, progress=progress,
                                            resume=self._resume)
                except NoSpace as exc:
                    self.paused_reason, self.paused_code = str(exc), exc.code
                    log.warning("media downloads paused: %s", exc)
                    result.error = str(exc)
                    break
                except (TransportClosed, PermissionError) as exc:
                    result.error = str(exc)  # next source: a LAN peer may lack blocks
                if done:
                    break
            (result.complete if done else result.pending).append(sha)
            if self.paused_reason:
                break
        if result.complete and not result.pending:
            result.error = ""
        return result

    def add_lan_routes(self, app: web.Application) -> None:
        """Serve our verified blocks (of complete or partial blobs) to nodes on the LAN
        from ``app`` (the daemon's sync listener), with the relay's rule: the peer's
        certificate must give it read access to a published item naming the blob."""
        keys = keys_of(self.node.home)
        if not keys.provisioned():
            return  # no certificates: nobody could prove who they are
        ca = keys.ca()
        index = MediaIndex(self.node.store)
        store, county = self.node.store, self.node.config.county

        async def block(request: web.Request) -> web.StreamResponse:
            der = peer_der(request.transport.get_extra_info) if request.transport else None
            try:
                peer, _ = peer_identity(der, ca, revocations=await revocations.current(
                    store, ca, county))
            except NotAuthorized as exc:
                return web.json_response({"error": exc.code}, status=403)
            sha = request.match_info["sha"]
            if not request.match_info["n"].isdigit() or not await index.may_fetch(
                    permissions(peer).readable, sha):
                return web.json_response({"error": "not_authorized"}, status=403)
            if self.blobs is None:
                return web.json_response({"error": "not_found"}, status=404)
            data = await self.blobs.read_block(sha, int(request.match_info["n"]))
            if data is None:
                return web.json_response({"error": "not_found"}, status=404)
            return web.Response(body=data, content_type="application/octet-stream")

        app.router.add_get(BLOCK_ROUTE, block)

    async def serve_lan(self, host: str = "0.0.0.0", port: int = 0) -> LanServer:
        """A listener of its own serving our blocks (``add_lan_routes``); the daemon
        serves them on its sync port instead."""
        app = web.Application()
        self.add_lan_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = await asyncio.to_thread(keys_of(self.node.home).server_context)
        server = await serve_tls(runner.server, host, port, context)
        return LanServer(runner, server, server.sockets[0].getsockname()[1])
