"""The relay's WebSocket sync endpoint: one SyncSession per connection, over sync.driver."""

from __future__ import annotations

import logging

from aiohttp import web

from sync.driver import sync_as_server
from sync.transport_ws import accept_ws

from . import keys

log = logging.getLogger("relay.sync")


async def sync_endpoint(request: web.Request) -> web.StreamResponse:
    app = request.app
    transport = await accept_ws(request)
    app[keys.SESSIONS].add(transport)
    metrics = app[keys.METRICS]
    metrics.sessions_active += 1
    try:
        result = await sync_as_server(transport, app[keys.STORE], app[keys.CONFIG].identity)
    finally:
        metrics.sessions_active -= 1
        await transport.close()
    outcome = "ok" if result.ok else (result.error.code if result.error else "error")
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
