"""The node daemon: the store and services of a Node, plus sync.

``Syncer`` starts its parts in order and stops them in reverse (AsyncExitStack):

    1. the LAN listener: an aiohttp server whose /v1/sync serves sessions to peers
    2. discovery: zeroconf announce and browse of _villagecourt._tcp (node id and village
       scope only, never personal data)
    3. the loop: syncs with the relay when configured and with LAN peers of the same
       village, with exponential backoff and jitter after failures, and soon after local
       edits (SOON_AFTER_EDIT_S) so work reaches the county while a link is up; a relay
       that answers ``busy`` is left alone for at least its retry-after (edits included),
       and that is not counted as a failure
    4. media (when given a MediaService): the listener also serves our verified blocks of
       the county's videos to the village's LAN peers, and after each successful session
       a background pass fetches missing media -- from LAN peers first, then the relay

Every session runs outside the UI's event handling; progress and outcomes are node events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import aiohttp
from aiohttp import web

from sync import revocations
from sync.auth import check_validity, peer_identity
from sync.discovery import Discovery, PeerEvent, PeerFound, PeerLost
from sync.driver import SessionResult, sync_as_client, sync_as_server
from sync.errors import NotAuthorized, SyncError, TransportClosed
from sync.messages import PROTOCOL_VERSION, Error
from sync.protocol import Counters, retry_after_of
from sync.schedule import Backoff, PeerSchedule
from sync.scopes import Identity
from sync.tls import serve_tls
from sync.transport_ws import accept_ws, connect_ws
from sync.wire import encode

from .events import PeerSeen, SyncFinished, SyncProgress, SyncStarted
from .identity import keys_of
from .node import Node

if TYPE_CHECKING:
    from .media import MediaService

log = logging.getLogger(__name__)

SOON_AFTER_EDIT_S = 5.0  # wait for a burst of edits to end, then sync
LOOP_TICK_S = 1.0  # how often the loop looks at its schedule
SYNC_PATH = "/v1/sync"
ENV_INTERFACES = "VILLAGECOURT_INTERFACES"  # e.g. "192.168.1.20" or "127.0.0.1" (tests)


def interfaces_from_env() -> list[str] | None:
    """The addresses to listen and announce on, from $VILLAGECOURT_INTERFACES (comma
    separated); None means every interface."""
    import os

    raw = os.environ.get(ENV_INTERFACES, "").strip()
    return [a.strip() for a in raw.split(",") if a.strip()] or None
# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID and _HAS_EXPIRED; any other failure to verify a
# peer against our pinned CA means it is not of our county.
_VERIFY_CODES = {9: "not_yet_valid", 10: "expired"}


def node_identity(node: Node) -> Identity:
    """Who this node is: its certificate's identity once provisioned, else its config."""
    keys = keys_of(node.home)
    if keys.provisioned():
        return keys.identity()
    c = node.config
    return Identity(c.node_id, c.role, c.county, c.village)


@dataclass
class LanPeer:
    node_id: str
    host: str
    port: int
    schedule: PeerSchedule = field(default_factory=PeerSchedule)

    def url(self, secure: bool) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if secure else 'ws'}://{host}:{self.port}{SYNC_PATH}"


class Syncer:
    """Sync for one node. ``start()`` runs the listener, discovery and the loop;
    ``sync_relay``/``sync_peer`` run single sessions and work without ``start()``."""

    def __init__(self, node: Node, *, listen_host: str = "0.0.0.0",
                 listen_port: int | None = None, discovery: bool = True,
                 discovery_interfaces: list[str] | None = None,
                 backoff: Backoff | None = None, client_ssl: ssl.SSLContext | None = None,
                 server_ssl: ssl.SSLContext | None = None, rng: random.Random | None = None,
                 media: "MediaService | None" = None, free_port_if_taken: bool = False) -> None:
        self.node = node
        # `serve`: when the port is taken, listen on a free one (and say so) rather than
        # not at all; the TUI keeps the quiet fallback (a `serve` of this node holds it).
        self._free_port_if_taken = free_port_if_taken
        self.port_taken: OSError | None = None  # why the configured port was not ours
        self.media = media
        self.identity = node_identity(node)
        keys = keys_of(node.home)
        # A provisioned node speaks mutual TLS pinned to its county CA, and only that.
        self._ca = keys.ca() if keys.provisioned() else None
        if keys.provisioned():
            client_ssl = client_ssl or keys.client_context()
            server_ssl = server_ssl or keys.server_context()
        self.listen_host = listen_host
        self.listen_port = node.config.listen_port if listen_port is None else listen_port
        self.bound_port: int | None = None
        self._discovery_on = discovery
        self._discovery_interfaces = discovery_interfaces
        self._backoff = backoff or Backoff()
        self._client_ssl = client_ssl
        self._server_ssl = server_ssl
        self._rng = rng or random.Random()
        self._stack: contextlib.AsyncExitStack | None = None
        self._relay = PeerSchedule()
        self.peers: dict[str, LanPeer] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._wake = asyncio.Event()
        self._edited_at: float | None = None
        self.online = False
        self.discovery: Discovery | None = None

    # --- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            try:
                try:
                    await self._start_listener(stack)
                except OSError as exc:
                    if not self._free_port_if_taken or not self.listen_port:
                        raise
                    log.warning("LAN port %s is taken (%s); listening on a free port",
                                self.listen_port, exc)
                    self.port_taken = exc
                    self.listen_port = 0
                    await self._start_listener(stack)
            except OSError as exc:
                # Another process of this node (e.g. `villagecourt serve`) holds the port:
                # it serves LAN peers; we still sync out to the relay and known peers.
                log.warning("not listening for LAN peers (%s); syncing out only", exc)
                self.bound_port = None
            if self._discovery_on and self.bound_port is not None:
                await self._start_discovery(stack)
            if self.media is not None:
                self.media.lan_peers = self.media_peer_urls
                self.media.follow_sync()
                stack.callback(self.media.stop_following)
            task = asyncio.create_task(self._loop(), name="villagecourt-sync-loop")
            stack.push_async_callback(_cancel, task)
            unsubscribe = self.node.subscribe(self._on_commit)
            stack.callback(unsubscribe)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.node.syncer = self

    async def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
        if self.node.syncer is self:
            self.node.syncer = None

    async def __aenter__(self) -> "Syncer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start_listener(self, stack: contextlib.AsyncExitStack) -> None:
        app = web.Application()
        app.router.add_get(SYNC_PATH, self._serve_session)
        if self.media is not None and self._server_ssl is not None:
            self.media.add_lan_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        if self._server_ssl is not None:
            server = await serve_tls(runner.server, self.listen_host, self.listen_port,
                                     self._server_ssl)
            stack.callback(server.close)
            sockets = list(server.sockets)
        else:
            site = web.TCPSite(runner, self.listen_host, self.listen_port)
            await site.start()
            sockets = list(getattr(site._server, "sockets", None) or [])  # noqa: SLF001
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.listen_port
        log.info("listening for LAN peers on %s:%s", self.listen_host, self.bound_port)

    async def _start_discovery(self, stack: contextlib.AsyncExitStack) -> None:
        assert self.bound_port is not None
        self.discovery = Discovery(
            node_id=self.identity.node_id, village_scope=self.node.config.scope,
            port=self.bound_port, protocol_version=PROTOCOL_VERSION,
            interfaces=self._discovery_interfaces, on_event=self._on_peer_event)
        await self.discovery.start()
        stack.push_async_callback(self.discovery.stop)

    # --- serving peers -----------------------------------------------------------------
    async def _authenticate(self, der: bytes | None) -> Identity | None:
        """The peer's certificate identity (None when this node is not provisioned)."""
        if self._ca is None:
            return None
        revoked = await revocations.current(self.node.store, self._ca, self.identity.county)
        identity, _ = peer_identity(der, self._ca, revocations=revoked)
        return identity

    async def _serve_session(self, request: web.Request) -> web.StreamResponse:
        transport = await accept_ws(request)
        try:
            try:
                peer = await self._authenticate(transport.peer_certificate())
            except NotAuthorized as exc:
                log.warning("refused LAN peer %s: %s (%s)", transport.peer_label, exc, exc.code)
                with contextlib.suppress(SyncError):
                    await transport.send(encode(Error(exc.code, str(exc))))
                refused = SessionResult(ok=False, peer=None, peer_store="", counters=Counters(),
                                        bytes_sent=0, bytes_received=0, seconds=0.0, error=exc)
                await self.node.store.log_sync(refused.log_entry(transport.peer_label))
                self._emit_finished(transport.peer_label, refused)
                return transport.websocket
            result = await sync_as_server(transport, self.node.store, self.identity,
                                          authenticated_peer=peer)
        finally:
            await transport.close()
        self._emit_finished(result.peer.label if result.peer else transport.peer_label, result)
        return transport.websocket

    # --- discovery ---------------------------------------------------------------------
    def _on_peer_event(self, event: PeerEvent) -> None:
        if isinstance(event, PeerFound):
            if event.village_scope != self.node.config.scope:
                return  # another village's node: nothing may move between us on the LAN
            known = self.peers.get(event.node_id)
            if known is None or (known.host, known.port) != (event.host, event.port):
                self.peers[event.node_id] = LanPeer(event.node_id, event.host, event.port)
            self.node.events.emit(PeerSeen(event.node_id, event.node_id,
                                           f"{event.host}:{event.port}"))
            self._wake.set()
        elif isinstance(event, PeerLost):
            if self.peers.pop(event.node_id, None) is not None:
                self.node.events.emit(PeerSeen(event.node_id, event.node_id, "", present=False))

    def _on_commit(self, committed: Any) -> None:
        if committed.origin == "local":
            self._edited_at = time.monotonic()
            self._wake.set()

    def media_peer_urls(self) -> list[str]:
        """Where media passes look before the relay: the village's LAN peers, on the port
        they sync on (their listener serves blocks too)."""
        if self._client_ssl is None:
            return []
        return [f"https://{f'[{p.host}]' if ':' in p.host else p.host}:{p.port}"
                for p in self.peers.values()]

    # --- sessions ----------------------------------------------------------------------
    async def sync_relay(self, *, progress: Callable[[Counters], None] | None = None
                         ) -> SessionResult:
        url = self.node.config.relay_url
        if not url:
            raise SyncError("no relay is configured for this node", code="no_relay")
        result = await self._session(url, "relay", progress)
        self.online = result.ok
        return result

    async def sync_peer(self, host: str, port: int, *,
                        progress: Callable[[Counters], None] | None = None) -> SessionResult:
        peer = LanPeer("", host, port)
        return await self._session(peer.url(self._client_ssl is not None), f"{host}:{port}",
                                   progress)

    async def _session(self, url: str, label: str,
                       progress: Callable[[Counters], None] | None) -> SessionResult:
        lock = self._locks.setdefault(label, asyncio.Lock())
        async with lock:  # one session per peer at a time
            self.node.events.emit(SyncStarted(label))

            def report(c: Counters) -> None:
                self.node.events.emit(SyncProgress(label, c.docs_sent, c.docs_changed))
                if progress:
                    progress(c)

            try:
                result = await self._dial(url, label, report)
            except SyncError as exc:  # no session ran: log the refusal ourselves
                result = SessionResult(ok=False, peer=None, peer_store="", counters=Counters(),
                                       bytes_sent=0, bytes_received=0, seconds=0.0, error=exc)
                await self.node.store.log_sync(result.log_entry(label))
            self._emit_finished(label, result)
            return result

    async def _dial(self, url: str, label: str,
                    report: Callable[[Counters], None]) -> SessionResult:
        """Connect, check who answered, run the session. Raises SyncError when no
        session could start (unreachable, refused certificate, wrong kind of peer)."""
        try:
            transport = await connect_ws(url, ssl=self._client_ssl)
        except TransportClosed as exc:
            # Reads our certificate to explain the refusal: file I/O, off the event loop.
            await asyncio.to_thread(self._explain_refusal, exc)
            raise
        try:
            peer = await self._authenticate(transport.peer_certificate())
            want_relay = label == "relay"
            if peer is not None and (peer.role == "relay") != want_relay:
                raise NotAuthorized(
                    f"expected {'the county relay' if want_relay else 'a village node'} at "
                    f"{url}, found {peer.label}", code="not_authorized")
            return await sync_as_client(transport, self.node.store, self.identity, label=label,
                                        progress=report, authenticated_peer=peer)
        finally:
            await transport.close()

    def _explain_refusal(self, cause: TransportClosed) -> None:
        """Say which certificate ended a failed connection, instead of blaming the network.

        The peer's certificate not verifying against our pinned CA means it belongs to
        another county (or is not a villagecourt peer at all). A peer ends the handshake of
        our expired (or not yet valid) certificate with a bare alert, which reaches us as
        "server disconnected": if our own certificate is the reason, say so."""
        refused = cause.__cause__
        if isinstance(refused, aiohttp.ClientConnectorCertificateError):
            verify = getattr(refused.certificate_error, "verify_code", None)
            code = _VERIFY_CODES.get(verify, "wrong_county")
            raise NotAuthorized(f"refused the peer's certificate: {refused.certificate_error}",
                                code=code) from cause
        keys = keys_of(self.node.home)
        if self._ca is None or not keys.provisioned():
            return
        try:
            check_validity(keys.cert(), dt.datetime.now(dt.timezone.utc))
        except NotAuthorized as exc:
            raise NotAuthorized(f"this node's {exc}; the peer refused it",
                                code=exc.code) from cause

    def _emit_finished(self, label: str, result: SessionResult) -> None:
        err = result.error
        self.node.events.emit(SyncFinished(
            label, result.ok, result.counters.docs_sent, result.counters.docs_changed,
            err.code if err else "", str(err) if err else "",
            retry_after=retry_after_of(err)))

    async def sync_now(self) -> list[SessionResult]:
        """The relay (if configured) and every LAN peer found, one after another."""
        results = []
        if self.node.config.relay_url:
            results.append(await self.sync_relay())
        for peer in list(self.peers.values()):
            results.append(await self.sync_peer(peer.host, peer.port))
        return results

    def relay_next_try(self) -> float | None:
        """Seconds until the loop tries the relay again (None: no relay, or no loop)."""
        if not self.node.config.relay_url or self._stack is None:
            return None
        return max(0.0, self._relay.next_at - time.monotonic())

    # --- the loop ----------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), LOOP_TICK_S)
            self._wake.clear()
            now = time.monotonic()
            edited = (self._edited_at is not None
                      and now - self._edited_at >= SOON_AFTER_EDIT_S)
            if (self.node.config.relay_url and self._relay.may_try(now)
                    and (self._relay.due(now) or edited)):
                await self._attempt("relay", self._relay, self.sync_relay)
            for peer in list(self.peers.values()):
                if peer.schedule.may_try(now) and (peer.schedule.due(now) or edited):
                    await self._attempt(peer.node_id, peer.schedule,
                                        lambda p=peer: self.sync_peer(p.host, p.port))
            if edited:
                self._edited_at = None

    async def _attempt(self, label: str, schedule: PeerSchedule,
                       run: Callable[[], Any]) -> None:
        try:
            result = await run()
            ok = bool(result.ok)
            busy_for = retry_after_of(result.error)
        except Exception:  # noqa: BLE001 — the loop must survive anything a session throws
            log.exception("sync with %s failed unexpectedly", label)
            ok, busy_for = False, 0
        now = time.monotonic()
        if ok:
            schedule.succeeded(now, self._backoff, self._rng)
        elif busy_for:
            # Not a failure: the relay is at its cap and said when to come back.
            schedule.busy(now, busy_for, self._backoff, self._rng)
            log.info("%s is busy; next attempt in %.0f s", label, schedule.next_at - now)
        else:
            schedule.failed(now, self._backoff, self._rng)
            log.info("next attempt with %s in %.0f s", label, schedule.next_at - now)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
