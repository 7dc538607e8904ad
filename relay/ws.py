"""The relay's WebSocket sync endpoint: one SyncSession per connection, over sync.driver.

At most ``max_sessions`` (relay config, ``relay serve --max-sessions``) run at once; the
slot is taken before the first await, so concurrent upgrades cannot overshoot it. A peer
over the cap is answered ``busy`` with a jittered retry-after and closed: it costs one
WebSocket handshake and no store access (docs/protocol.md, "Busy").
"""

from __future__ import annotations

import asyncio
import logging
import random

from aiohttp import web

from sync import revocations
from sync.auth import peer_identity
from sync.bundle import remember_cert
from sync.driver import sync_as_server
from sync.errors import NotAuthorized, PeerError, SyncError
from sync.messages import Error
from sync.protocol import busy_error
from sync.schedule import jittered_retry_after
from sync.scopes import Identity
from sync.tls import peer_der
from sync.transport_ws import accept_ws
from sync.wire import encode

from . import keys

log = logging.getLogger("relay.sync")
_RNG = random.Random()  # spreads the retry-after of busy peers; not security relevant


async def authenticate(request: web.Request) -> Identity | None:
    """The peer's identity from its TLS certificate (None in insecure development mode).
    Raises NotAuthorized with the reason: no, foreign, expired or revoked certificate."""
    app = request.app
    if not app[keys.TLS]:
        return None
    ca = await asyncio.to_thread(app[keys.CA].cert)  # a file read: off the event loop
    der = peer_der(request.transport.get_extra_info) if request.transport else None
    revoked = await revocations.current(app[keys.STORE], ca, app[keys.CONFIG].county)
    identity, _ = peer_identity(der, ca, revocations=revoked)
    return identity


async def sync_endpoint(request: web.Request) -> web.StreamResponse:
    app = request.app
    metrics = app[keys.METRICS]
    cfg = app[keys.CONFIG]
    if metrics.sessions_active >= cfg.max_sessions:
        return await _busy(request, metrics.sessions_active, cfg.max_sessions,
                           jittered_retry_after(cfg.busy_retry_s, _RNG))
    metrics.sessions_active += 1  # the slot: taken before any await, given back below
    try:
        return await _session(request)
    finally:
        metrics.sessions_active -= 1


async def _busy(request: web.Request, active: int, limit: int,
                retry_after: int) -> web.StreamResponse:
    """Over the cap: tell the peer ``busy`` and when to come back, then close."""
    request.app[keys.METRICS].sessions_total["busy"] += 1
    log.info("event=sync_busy remote=%s active=%d limit=%d retry_after=%d", request.remote,
             active, limit, retry_after)
    transport = await accept_ws(request)
    try:
        await transport.send(encode(busy_error(retry_after)))
    except SyncError:
        pass
    await transport.close()
    return transport.websocket


async def _session(request: web.Request) -> web.StreamResponse:
    app = request.app
    metrics = app[keys.METRICS]
    try:
        peer = await authenticate(request)
    except NotAuthorized as exc:
        # Refused before any record is exchanged: tell the peer why, then close.
        metrics.refusals[exc.code] += 1
        log.warning("event=sync_refused remote=%s code=%s reason=%s", request.remote,
                    exc.code, exc)
        transport = await accept_ws(request)
        try:
            await transport.send(encode(Error(exc.code, str(exc))))
        except SyncError:
            pass
        await transport.close()
        return transport.websocket
    der = peer_der(request.transport.get_extra_info) if request.transport else None
    transport = await accept_ws(request)
    app[keys.SESSIONS].add(transport)
    try:
        result = await sync_as_server(transport, app[keys.STORE], app[keys.CONFIG].identity,
                                      authenticated_peer=peer)
    finally:
        await transport.close()
    if result.ok and der and peer is not None and peer.role == "director":
        # A bundle the county writes for this village later is encrypted to this node
        # (a file write: off the event loop).
        await asyncio.to_thread(remember_cert, app[keys.STORE], result.peer_store, der)
    outcome = "ok" if result.ok else (result.error.code if result.error else "error")
    if isinstance(result.error, PeerError):
        # The code is the peer's choice: as a label it would let any node add series to
        # /metrics without bound (and, unescaped, lines of its own).
        outcome = "peer_error"
    metrics.sessions_total[outcome] += 1
    metrics.bytes_in += result.bytes_received
    metrics.bytes_out += result.bytes_sent
    metrics.docs_in += result.counters.docs_changed
    metrics.docs_out += result.counters.docs_sent
    if not result.ok and result.error is not None and result.error.code in (
            "not_authorized", "wrong_county", "nothing_shared", "version_mismatch"):
        metrics.refusals[result.error.code] += 1
    log.info(
        "event=sync_session peer=%s remote=%s ok=%d code=%s docs_in=%d docs_out=%d "
        "bytes_in=%d bytes_out=%d seconds=%.3f",
        result.peer.label if result.peer else "-", transport.peer_label, result.ok, outcome,
        result.counters.docs_changed, result.counters.docs_sent, result.bytes_received,
        result.bytes_sent, result.seconds,
    )
    return transport.websocket
