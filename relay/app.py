"""The county relay: an aiohttp application that is a sync peer with county scope.

``create_app(home)`` builds the app; each resource lives in a cleanup context (the store
opens before the first request and closes after the last); open sync WebSockets are kept
in a WeakSet and closed with GOING_AWAY on shutdown. No globals.

Routes
    GET /v1/sync    WebSocket: one sync session (docs/protocol.md), mutual TLS; past
                    ``max_sessions`` at once a peer is told ``busy`` with a retry-after
    POST /v1/enrol/hello, /v1/enrol    enrolment with a one-time token (relay/enrol.py)
    GET /healthz    200 with a small JSON body while the store answers
    GET /metrics    Prometheus text format
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from aiohttp import WSCloseCode, web

from store import DocumentStore, describe_location
from sync.tls import serve_tls, server_context

from . import keys
from .config import RelayHome
from .content import setup_content
from .dashboard import setup_dashboard
from .enrol import TokenStore
from .enrol_routes import enrol_hello, enrol_node
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
        "max_sessions": app[keys.CONFIG].max_sessions,
        "store_ms": round((time.monotonic() - started) * 1000, 2),
    })


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    docs = await app[keys.STORE].views.doc_count()
    body = app[keys.METRICS].render({"docs": docs,
                                     "sessions_limit": app[keys.CONFIG].max_sessions})
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def create_app(home: Path | RelayHome, *, tls: bool = True,
               max_sessions: int | None = None) -> web.Application:
    """The relay application. ``tls=False`` (development only) trusts each Hello's claims
    and must not face a network; with TLS every sync peer is who its certificate says.
    ``max_sessions`` overrides the config's cap of concurrent sync sessions."""
    h = home if isinstance(home, RelayHome) else RelayHome(Path(home))
    cfg = h.load()
    if max_sessions is not None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        cfg = dataclasses.replace(cfg, max_sessions=max_sessions)
    app = web.Application(client_max_size=64 * 1024)
    app[keys.CONFIG] = cfg
    app[keys.METRICS] = Metrics()
    app[keys.SESSIONS] = weakref.WeakSet()
    app[keys.CA] = h.ca
    app[keys.TOKENS] = TokenStore(h.tokens_location(cfg))
    app[keys.TLS] = tls

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(h.tighten)  # a home made by an older version: 0755/0644
        app[keys.STORE] = await h.open_store(cfg)
        log.info("event=relay_started county=%s store=%s at=%s", cfg.county,
                 app[keys.STORE].store_id, describe_location(h.store_location(cfg)))
        yield
        await app[keys.STORE].close()

    async def close_sessions(app: web.Application) -> None:
        for transport in list(app[keys.SESSIONS]):
            await transport.websocket.close(code=WSCloseCode.GOING_AWAY,
                                            message=b"relay shutting down")

    async def close_tokens(app: web.Application) -> None:
        await asyncio.to_thread(app[keys.TOKENS].close)  # a database's pool

    app.cleanup_ctx.append(store_ctx)
    app.on_cleanup.append(close_tokens)
    app.on_shutdown.append(close_sessions)
    app.router.add_get("/v1/sync", sync_endpoint)
    app.router.add_post("/v1/enrol/hello", enrol_hello)
    app.router.add_post("/v1/enrol", enrol_node)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    setup_dashboard(app, h)  # the county dashboard at /dashboard/ (relay/dashboard/)
    setup_content(app, h)  # media blocks at /v1/blobs/ (relay/content.py, issue #8)
    return app


def tls_context(home: RelayHome) -> ssl.SSLContext:
    ca = home.ca
    return server_context(ca.relay_cert_file, ca.relay_key_file, ca.ca_cert_file)


@dataclass
class RunningRelay:
    """A started relay: its app, the bound port, and how to stop it."""

    app: web.Application
    runner: web.AppRunner
    port: int
    server: asyncio.Server | None = None

    @property
    def store(self) -> DocumentStore:
        return self.app[keys.STORE]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        await self.runner.cleanup()


async def start(home: RelayHome, host: str, port: int, *, tls: bool = True,
                max_sessions: int | None = None) -> RunningRelay:
    """Open the store and listen; with TLS every handshake is checked (sync/tls.py)."""
    app = create_app(home, tls=tls, max_sessions=max_sessions)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    try:
        if tls:
            metrics = app[keys.METRICS]

            def refused(who: str, why: str) -> None:
                metrics.refusals["tls_handshake"] += 1

            server = await serve_tls(runner.server, host, port, tls_context(home),
                                     on_refused=refused)
            bound = server.sockets[0].getsockname()[1]
            return RunningRelay(app, runner, bound, server)
        log.warning("event=insecure_mode note=\"no TLS: development only\"")
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        return RunningRelay(app, runner, bound)
    except BaseException:
        await runner.cleanup()
        raise


async def serve(home: RelayHome, host: str, port: int, *, tls: bool = True,
                max_sessions: int | None = None) -> None:
    """Run the relay until cancelled (SIGINT/SIGTERM in the CLI)."""
    relay = await start(home, host, port, tls=tls, max_sessions=max_sessions)
    try:
        await asyncio.Event().wait()
    finally:
        await relay.stop()
