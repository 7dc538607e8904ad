"""The county relay: an aiohttp application that is a sync peer with county scope.

``create_app(home)`` builds the app; each resource lives in a cleanup context (the store
opens before the first request and closes after the last); open sync WebSockets are kept
in a WeakSet and closed with GOING_AWAY on shutdown. No globals.

Routes
    GET /v1/sync    WebSocket: one sync session (docs/protocol.md)
    GET /healthz    200 with a small JSON body while the store answers
    GET /metrics    Prometheus text format
"""

from __future__ import annotations

import logging
import time
import weakref
from pathlib import Path
from typing import AsyncIterator

from aiohttp import WSCloseCode, web

from store import Store

from . import keys
from .config import RelayHome
from .metrics import Metrics
from .ws import sync_endpoint

log = logging.getLogger("relay")


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    store = app[keys.STORE]
    started = time.monotonic()
    seq = await store.current_seq()
    return web.json_response({
        "ok": True, "county": app[keys.CONFIG].county, "store_id": store.store_id, "seq": seq,
        "sessions": app[keys.METRICS].sessions_active,
        "store_ms": round((time.monotonic() - started) * 1000, 2),
    })


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    (docs,), = await app[keys.STORE].query("SELECT count(*) FROM docs")
    body = app[keys.METRICS].render({"docs": docs})
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def create_app(home: Path | RelayHome) -> web.Application:
    h = home if isinstance(home, RelayHome) else RelayHome(Path(home))
    cfg = h.load()
    app = web.Application()
    app[keys.CONFIG] = cfg
    app[keys.METRICS] = Metrics()
    app[keys.SESSIONS] = weakref.WeakSet()

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        app[keys.STORE] = await Store.open(h.store_file, key=h.store_key())
        log.info("event=relay_started county=%s store=%s", cfg.county,
                 app[keys.STORE].store_id)
        yield
        await app[keys.STORE].close()

    async def close_sessions(app: web.Application) -> None:
        for transport in list(app[keys.SESSIONS]):
            await transport.websocket.close(code=WSCloseCode.GOING_AWAY,
                                            message=b"relay shutting down")

    app.cleanup_ctx.append(store_ctx)
    app.on_shutdown.append(close_sessions)
    app.router.add_get("/v1/sync", sync_endpoint)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
