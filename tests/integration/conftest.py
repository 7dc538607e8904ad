"""Fixtures for the integration suite: a live relay, village nodes, and the helpers that
compare replicas. No mocks: real SQLite files under tmp_path, a real aiohttp server on
127.0.0.1 (port 0), real WebSockets, real zeroconf.

Fixtures
    relay           a running county relay (county KC): ``relay.url`` is its
                    ``ws://127.0.0.1:PORT/v1/sync``, ``relay.store`` its store, ``relay.app``
    relay_backend   where that relay keeps its documents: "sqlite" (the default) or
                    "postgresql" (a fresh database of the suite's server); a module runs
                    on both with ``pytestmark = pytest.mark.parametrize("relay_backend",
                    ["sqlite", "postgresql"], indirect=True)``
    make_node       ``await make_node("a1", village="A")``: a Node of county KC on tmp_path
                    with ``config.relay_url`` set to the relay (when the relay fixture is in
                    use); closed at teardown
    helpers         stateless helper functions (session scope, so hypothesis tests may use
                    it): doc_heads, sync_memory, sync_ws, new_case, ...

Helpers are reached through the ``helpers`` fixture because the suite runs with
``--import-mode=importlib``, where test modules cannot import one another or conftest.
"""

from __future__ import annotations

import asyncio
import secrets
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from node import Node
from node.daemon import Syncer, node_identity
from relay import keys as relay_keys
from relay.app import create_app
from relay.config import RelayHome
from store import DocumentStore, ScopeSet, casedoc, kinds, records
from store.records import CASE, CONTENT, Party
from sync.driver import SessionResult, sync_as_client, sync_as_server
from sync.scopes import Identity
from sync.transport import memory_pair
from sync.transport_ws import connect_ws

COUNTY = "KC"
SESSION_TIMEOUT_S = 60.0  # bound on any one sync session in this suite
IDLE_TIMEOUT_S = 15.0  # a session that hears nothing for this long ends


BACKENDS = ("sqlite", "postgresql")

Store = DocumentStore  # any backend: the helpers below speak only the storage protocol
EVERY_SCOPE = ScopeSet.of("*")


# --- replicas ----------------------------------------------------------------------------
async def doc_metas(store: Store) -> list[Any]:
    """The DocMeta of every document of ``store``, read through its feed."""
    out, seq = [], 0
    while True:
        page = await store.changes_since(seq, readable=EVERY_SCOPE, limit=500)
        out += page.entries
        seq = page.upto
        if not page.more:
            return out


async def doc_heads(store: Store, scope_prefix: str = "") -> dict[str, bytes]:
    """Every document of ``store`` (optionally only scopes starting with ``scope_prefix``)
    as doc_id -> packed heads."""
    return {m.doc_id: bytes(m.heads) for m in await doc_metas(store)
            if m.scope.startswith(scope_prefix)}


async def doc_scopes(store: Store) -> dict[str, str]:
    """doc_id -> scope of every document in ``store``."""
    return {m.doc_id: m.scope for m in await doc_metas(store)}


async def store_state(store: Store) -> tuple[int, int]:
    """(number of documents, current seq): what a refused session must leave unchanged."""
    return await store.views.doc_count(), await store.current_seq()


# --- documents -----------------------------------------------------------------------------
_PARTIES = (Party("applicant", "张三"), Party("respondent", "李四"))


async def new_case(store: Store, scope: str, title: str, *, number: str = "") -> str:
    """A small case document written straight into ``store``; returns its doc id."""
    village = scope.rsplit("/", 1)[-1]
    number = number or f"{village}-T-{secrets.token_hex(3)}"
    meta = await store.create(CASE, scope, lambda doc: casedoc.new_case(
        doc, number=number, category="neighbour", title=title, parties=list(_PARTIES),
        village=village, county=COUNTY))
    return meta.doc_id


async def new_content(store: Store, title: str, county: str = COUNTY) -> str:
    """A county-wide content item (kind CONTENT, scope county:<county>); returns its id."""
    meta = await store.create(CONTENT, records.county_scope(county), lambda doc: kinds.new_content(
        doc, title=title, topic="普法", content_kind="article", summary="县法院供稿",
        body="以案说法。"))
    return meta.doc_id


# --- sessions ------------------------------------------------------------------------------
async def sync_memory(client: Store, client_id: Identity, server: Store, server_id: Identity,
                      *, label: str, timeout: float = SESSION_TIMEOUT_S
                      ) -> tuple[SessionResult, SessionResult]:
    """One session over the in-memory transport: ``client`` dials ``server`` (known to the
    client as ``label``). Both sides run concurrently; returns (client, server) results."""
    c_end, s_end = memory_pair(label, client_id.label)

    async def side(coro: Awaitable[SessionResult], end: Any) -> SessionResult:
        try:
            return await coro
        finally:
            await end.close()  # the other side, if still waiting, sees the link end

    async with asyncio.timeout(timeout):
        c_res, s_res = await asyncio.gather(
            side(sync_as_client(c_end, client, client_id, label=label,
                                idle_timeout=IDLE_TIMEOUT_S), c_end),
            side(sync_as_server(s_end, server, server_id, idle_timeout=IDLE_TIMEOUT_S), s_end),
        )
    return c_res, s_res


async def sync_ws(store: Store, me: Identity, url: str, *, label: str = "relay",
                  timeout: float = SESSION_TIMEOUT_S) -> SessionResult:
    """One client session over a real WebSocket to ``url``."""
    async with asyncio.timeout(timeout):
        transport = await connect_ws(url, timeout=10.0)
        try:
            return await sync_as_client(transport, store, me, label=label,
                                        idle_timeout=IDLE_TIMEOUT_S)
        finally:
            await transport.close()


async def sync_relay(node: Node, *, timeout: float = SESSION_TIMEOUT_S) -> SessionResult:
    """What ``villagecourt sync`` does: one session with the node's configured relay."""
    async with asyncio.timeout(timeout):
        return await Syncer(node, discovery=False).sync_relay()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float,
                     interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; returns its last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)


def unique_code(prefix: str = "V") -> str:
    """A village code no other test run on this machine uses (for zeroconf tests)."""
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def helpers() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        COUNTY=COUNTY, doc_heads=doc_heads, doc_scopes=doc_scopes, store_state=store_state,
        new_case=new_case, new_content=new_content, sync_memory=sync_memory, sync_ws=sync_ws,
        sync_relay=sync_relay, eventually=eventually, unique_code=unique_code,
        node_identity=node_identity, open_relay_store=open_relay_store,
        start_relay=start_relay, doc_metas=doc_metas,
    )


# --- the relay -----------------------------------------------------------------------------
@dataclass
class LiveRelay:
    home: RelayHome
    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/sync"

    @property
    def store(self) -> Store:
        return self.app[relay_keys.STORE]

    @property
    def identity(self) -> Identity:
        return self.app[relay_keys.CONFIG].identity

    @property
    def metrics(self) -> Any:
        return self.app[relay_keys.METRICS]


async def start_relay(path: Path, county: str = COUNTY, *, store: str = "") -> LiveRelay:
    """A relay on 127.0.0.1; ``store``: a postgresql:// URL, or "" for its SQLite file."""
    home = RelayHome(path)
    home.init(county, host="127.0.0.1", port=0, store=store)
    # Plain ws: identities come from the Hello (the security tests cover mutual TLS).
    app = create_app(home, tls=False)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()  # opens the store (cleanup_ctx)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return LiveRelay(home, app, runner, host, port)


async def open_relay_store(path: Path, county: str = COUNTY, *, store: str = ""
                           ) -> tuple[Store, Identity]:
    """A relay's store and identity without its server (for in-memory sessions);
    ``store`` as for ``start_relay``."""
    home = RelayHome(path)
    cfg = home.init(county, host="127.0.0.1", port=0, store=store)
    return await home.open_store(cfg), cfg.identity


@pytest.fixture
def relay_backend(request: pytest.FixtureRequest) -> str:
    """Where the ``relay`` fixture's relay keeps its documents (see the module docstring)."""
    backend = str(getattr(request, "param", "sqlite"))
    assert backend in BACKENDS, backend
    return backend


@pytest.fixture
def relay_store_url(request: pytest.FixtureRequest, relay_backend: str) -> str:
    """The relay's ``store`` setting: "" (SQLite) or a fresh PostgreSQL database."""
    return str(request.getfixturevalue("pg_dsn")) if relay_backend == "postgresql" else ""


@pytest.fixture
async def relay(tmp_path: Path, relay_store_url: str) -> AsyncIterator[LiveRelay]:
    live = await start_relay(tmp_path / "relay", store=relay_store_url)
    try:
        yield live
    finally:
        await live.runner.cleanup()


# --- nodes ---------------------------------------------------------------------------------
NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(request: pytest.FixtureRequest, tmp_path: Path
                    ) -> AsyncIterator[NodeFactory]:
    """``await make_node(name, village="A", county="KC", relay_url=None)``. The relay URL
    defaults to the live relay's when the test also uses the ``relay`` fixture."""
    made: list[Node] = []

    async def factory(name: str, *, village: str = "A", county: str = COUNTY,
                      relay_url: str | None = None) -> Node:
        if relay_url is None and "relay" in request.fixturenames:
            relay_url = request.getfixturevalue("relay").url
        node = await Node.create(tmp_path / name, village=village,
                                 village_name=f"{village}村", county=county)
        made.append(node)
        if relay_url:
            node.config.relay_url = relay_url
            node.home.save(node.config)
        return node

    try:
        yield factory
    finally:
        for node in made:
            await node.close()


def village_scope(village: str, county: str = COUNTY) -> str:
    return records.village_scope(county, village)


__all__ = ["LiveRelay", "NodeFactory", "start_relay", "village_scope"]
