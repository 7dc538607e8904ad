"""Fixtures for the security suite (issue #4). No mocks: a real county relay with mutual TLS
on 127.0.0.1 (port 0), real nodes enrolled against it with one-time tokens, real SQLite
files under tmp_path, real LAN listeners.

Fixtures
    county      the running relay of county KC: ``county.home`` (RelayHome),
                ``county.relay`` (RunningRelay), ``county.base`` (https://127.0.0.1:PORT),
                ``county.sync_url`` (wss://…/v1/sync), ``county.tokens`` (TokenStore),
                ``county.metrics``; ``await county.stop()`` takes it down early
    enrol       ``await enrol("a1", village="A")``: provision a node online with a fresh
                token and open it (closed at teardown)
    listen      ``await listen(node)``: a Syncer with its TLS LAN listener on 127.0.0.1,
                port 0, no discovery; stopped at teardown
    sec         stateless helpers (doc_heads, store_state, raw_session, ...)

Helpers travel through the ``sec`` fixture because the suite runs with
``--import-mode=importlib``, where test modules cannot import conftest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import ssl
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from automerge.core import Document
from cryptography.hazmat.primitives import serialization

from node import Node
from node.config import Home
from node.daemon import Syncer
from node.identity import keys_of, provision_online
from relay import keys as relay_keys
from relay.app import RunningRelay, start
from relay.ca import cert_pem, issue
from relay.config import RelayHome
from relay.enrol import TokenStore
from store import Store, casedoc
from store.records import CASE, Party, id_check_digit
from sync.driver import SessionResult, sync_as_client
from sync.errors import SyncError
from sync.messages import DocEntry, Hello, Message, Page
from sync.scopes import Identity
from sync.transport_ws import connect_ws
from sync.wire import decode, encode

COUNTY = "KC"
SESSION_TIMEOUT_S = 20.0  # bound on any one sync session or provisioning in this suite
IDLE_TIMEOUT_S = 10.0


# --- the relay -----------------------------------------------------------------------------
@dataclass
class County:
    home: RelayHome
    relay: RunningRelay
    tokens: TokenStore
    running: bool = True

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.relay.port}"

    @property
    def sync_url(self) -> str:
        return f"wss://127.0.0.1:{self.relay.port}/v1/sync"

    @property
    def store(self) -> Store:
        return self.relay.store

    @property
    def metrics(self) -> Any:
        return self.relay.app[relay_keys.METRICS]

    @property
    def identity(self) -> Identity:
        return self.relay.app[relay_keys.CONFIG].identity

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.relay.stop()


async def start_county(path: Path, county: str = COUNTY) -> County:
    home = RelayHome(path)
    home.init(county, host="127.0.0.1", port=0)
    relay = await start(home, "127.0.0.1", 0, tls=True)
    return County(home, relay, TokenStore(home.tokens_file))


@pytest.fixture
async def county(tmp_path: Path) -> AsyncIterator[County]:
    c = await start_county(tmp_path / "relay")
    try:
        yield c
    finally:
        await c.stop()


# --- nodes ---------------------------------------------------------------------------------
Enrol = Callable[..., Awaitable[Node]]


@pytest.fixture
async def enrol(county: County, tmp_path: Path) -> AsyncIterator[Enrol]:
    """``await enrol(name, village="A", role="director")``: a node enrolled at ``county``
    with a fresh one-time token (the real two-step exchange over TLS), opened."""
    opened: list[Node] = []

    async def factory(name: str, *, village: str = "A", role: str = "director") -> Node:
        code, _ = county.tokens.issue(village, role)
        async with asyncio.timeout(SESSION_TIMEOUT_S):
            await provision_online(Home(tmp_path / name), county.base, code,
                                   village_name=f"{village}村")
        node = await Node.open(tmp_path / name)
        opened.append(node)
        return node

    try:
        yield factory
    finally:
        for node in opened:
            await node.close()  # idempotent: a test may have closed it already


Listen = Callable[[Node], Awaitable[Syncer]]


@pytest.fixture
async def listen() -> AsyncIterator[Listen]:
    """``await listen(node)``: the node's daemon with its mutual-TLS LAN listener on
    127.0.0.1 (``syncer.bound_port``), discovery off."""
    started: list[Syncer] = []

    async def factory(node: Node) -> Syncer:
        syncer = Syncer(node, listen_host="127.0.0.1", listen_port=0, discovery=False)
        await syncer.start()
        started.append(syncer)
        return syncer

    try:
        yield factory
    finally:
        for syncer in reversed(started):
            await syncer.stop()


# --- helpers -------------------------------------------------------------------------------
async def doc_heads(store: Store, scope_prefix: str = "") -> dict[str, bytes]:
    rows = await store.query("SELECT doc_id, heads, scope FROM docs")
    return {r[0]: bytes(r[1]) for r in rows if str(r[2]).startswith(scope_prefix)}


async def doc_scopes(store: Store) -> dict[str, str]:
    return {r[0]: r[1] for r in await store.query("SELECT doc_id, scope FROM docs")}


async def store_state(store: Store) -> tuple[int, int]:
    """(number of documents, current seq): what a refused session must leave unchanged."""
    (count,), = await store.query("SELECT count(*) FROM docs")
    return int(count), await store.current_seq()


async def sync_relay(node: Node) -> SessionResult:
    """What ``villagecourt sync`` does: one session with the node's relay."""
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        return await Syncer(node, discovery=False).sync_relay()


async def sync_peer(node: Node, port: int) -> SessionResult:
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        return await Syncer(node, discovery=False).sync_peer("127.0.0.1", port)


async def sync_with_context(store: Store, me: Identity, url: str,
                            ctx: ssl.SSLContext) -> SessionResult:
    """One client session over wss:// with a hand-made client TLS context."""
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        transport = await connect_ws(url, ssl=ctx, timeout=10.0)
        try:
            return await sync_as_client(transport, store, me, label="relay",
                                        idle_timeout=IDLE_TIMEOUT_S)
        finally:
            await transport.close()


async def raw_session(url: str, ctx: ssl.SSLContext, frames: list[Message]
                      ) -> list[Message]:
    """Open a WebSocket with ``ctx``, send ``frames`` one after another, and return every
    message the other side sends until it closes the link (bounded in time)."""
    received: list[Message] = []
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        transport = await connect_ws(url, ssl=ctx, timeout=10.0)
        try:
            for msg in frames:
                await transport.send(encode(msg))
            while True:
                try:
                    frame = await transport.recv(timeout=IDLE_TIMEOUT_S)
                except SyncError:
                    break
                received.append(decode(frame))
        finally:
            await transport.close()
    return received


def hello_as(identity: Identity, store_id: str | None = None) -> Hello:
    return Hello(version=1, store_id=store_id or secrets.token_hex(16),
                 node_id=identity.node_id, role=identity.role, county=identity.county,
                 village=identity.village)


def case_bytes(scope: str, title: str) -> bytes:
    """A valid saved case document (Automerge bytes), as a page would carry it."""
    village = scope.rsplit("/", 1)[-1]
    doc = Document()
    casedoc.new_case(doc, number=f"{village}-X-0001", category="neighbour", title=title,
                     parties=[Party("applicant", "王五"), Party("respondent", "赵六")],
                     village=village, county=COUNTY)
    return bytes(doc.save())


def forged_page(scope: str, title: str) -> tuple[str, Page]:
    """A page holding one new case document in ``scope``; returns (doc id, page)."""
    doc_id = secrets.token_hex(16)
    return doc_id, Page(since=0, upto=1, more=False,
                        docs=(DocEntry(doc_id, CASE, scope, case_bytes(scope, title)),))


def valid_id_number() -> str:
    """A resident ID with a valid check digit and a real birth date (random tail)."""
    first17 = "110101" + "19850612" + f"{secrets.randbelow(1000):03d}"
    return first17 + id_check_digit(first17)


def valid_phone() -> str:
    return "139" + f"{secrets.randbelow(10**8):08d}"


def rewrite_certificate(home: Path, ca_home: RelayHome, *, starts_in: dt.timedelta,
                        days: int) -> None:
    """Replace a provisioned node's certificate by one the real county CA issues for the
    same key and identity, valid from now + ``starts_in`` for ``days`` days (a negative
    ``starts_in`` of ten days and ``days=1``: expired nine days ago)."""
    keys = keys_of(Home(home))
    key = serialization.load_pem_private_key(keys.key_file.read_bytes(), password=None)
    now = dt.datetime.now(dt.timezone.utc)
    cert = issue(ca_home.ca.key(), ca_home.ca.cert(), key.public_key(),  # type: ignore[arg-type]
                 keys.identity(), days=days, not_before=now + starts_in)
    keys.cert_file.write_bytes(cert_pem(cert))


def files_under(root: Path, *, skip: tuple[str, ...] = ("keys",)) -> list[Path]:
    """Every regular file below ``root`` except those under a top-level ``skip`` folder."""
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] not in skip)


@pytest.fixture(scope="session")
def sec() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        COUNTY=COUNTY, doc_heads=doc_heads, doc_scopes=doc_scopes, store_state=store_state,
        sync_relay=sync_relay, sync_peer=sync_peer, sync_with_context=sync_with_context,
        raw_session=raw_session, hello_as=hello_as, forged_page=forged_page,
        valid_id_number=valid_id_number, valid_phone=valid_phone,
        rewrite_certificate=rewrite_certificate, files_under=files_under,
        start_county=start_county, SESSION_TIMEOUT_S=SESSION_TIMEOUT_S,
    )
