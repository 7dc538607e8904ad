"""Fixtures for USB bundles (issue #8). No mocks: a real county relay with mutual TLS on
127.0.0.1 (port 0), real nodes whose certificates the county CA issued, real SQLite files
and real bundle directories under tmp_path.

Fixtures
    kc          the running relay of county KC (``kc.home``, ``kc.relay``, ``kc.store``,
                ``kc.signer``, ``kc.sync_url``)
    make_node   ``await make_node("a1", village="A")``: a provisioned director node (closed
                at teardown); ``county=`` and ``ca_home=`` make one of another county
    bx          helpers: fill, store_state, doc_heads, sync, resign
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from node import Node
from node.bundles import node_signer
from node.daemon import Syncer
from node.identity import keys_of
from relay.app import RunningRelay, start
from relay.bundle_cli import relay_signer
from relay.ca import cert_pem, issue, private_pem
from relay.config import RelayHome
from store import Store, casedoc, kinds
from store.records import CASE, Party
from sync.bundle import MANIFEST, Signer
from sync.driver import SessionResult
from sync.scopes import Identity

COUNTY = "KC"


@dataclass
class County:
    home: RelayHome
    relay: RunningRelay

    @property
    def store(self) -> Store:
        return self.relay.store

    @property
    def signer(self) -> Signer:
        return relay_signer(self.home)

    @property
    def sync_url(self) -> str:
        return f"wss://127.0.0.1:{self.relay.port}/v1/sync"


async def start_county(path: Path, county: str = COUNTY) -> County:
    home = RelayHome(path)
    home.init(county, host="127.0.0.1", port=0)
    return County(home, await start(home, "127.0.0.1", 0, tls=True))


@pytest.fixture
async def kc(tmp_path: Path) -> AsyncIterator[County]:
    c = await start_county(tmp_path / "relay")
    try:
        yield c
    finally:
        await c.relay.stop()


MakeNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(kc: County, tmp_path: Path) -> AsyncIterator[MakeNode]:
    opened: list[Node] = []

    async def factory(name: str, *, village: str = "A", county: str = COUNTY,
                      ca_home: RelayHome | None = None) -> Node:
        ca_home = ca_home or kc.home
        node = await Node.create(tmp_path / name, village=village, village_name=f"{village}村",
                                 county=county)
        key = ed25519.Ed25519PrivateKey.generate()
        ident = Identity(node.config.node_id, "director", county, village)
        ca = ca_home.ca
        cert = issue(ca.key(), ca.cert(), key.public_key(), ident)
        keys_of(node.home).write(private_pem(key), cert_pem(cert), cert_pem(ca.cert()))
        node.config.relay_url = kc.sync_url
        node.home.save(node.config)
        opened.append(node)
        return node

    try:
        yield factory
    finally:
        for node in opened:
            await node.close()


async def fill(node: Node, n: int, *, prefix: str = "c", id_number: str = "") -> list[str]:
    ids = []
    for i in range(n):
        meta = await node.store.create(CASE, node.config.scope, lambda d, i=i: casedoc.new_case(
            d, number=f"{node.config.village}-1-{prefix}{i:04d}", category="neighbour",
            title=f"{prefix} {i} 邻里纠纷",
            parties=[Party("applicant", "张三", "13800138000", id_number),
                     Party("respondent", "李四")]))
        ids.append(meta.doc_id)
    return ids


async def store_state(store: Store) -> tuple[int, int, list[tuple[object, ...]]]:
    (count,), = await store.query("SELECT count(*) FROM docs")
    peers = await store.query("SELECT peer_id, received_seq, sent_seq, label FROM peers "
                              "ORDER BY peer_id")
    return int(count), await store.current_seq(), peers


async def doc_heads(store: Store, prefix: str = "") -> dict[str, bytes]:
    rows = await store.query("SELECT doc_id, heads, scope FROM docs")
    return {r[0]: bytes(r[1]) for r in rows if str(r[2]).startswith(prefix)}


async def sync(node: Node) -> SessionResult:
    async with asyncio.timeout(20):
        return await Syncer(node, discovery=False).sync_relay()


def resign(path: Path, node: Node, edit: Callable[[dict], None]) -> None:
    """Rewrite a bundle's manifest with ``edit`` and sign it again with ``node``'s own key
    (what a dishonest but enrolled exporter could do)."""
    outer = cbor2.loads((path / MANIFEST).read_bytes())
    body = cbor2.loads(outer["payload"])
    edit(body)
    payload = cbor2.dumps(body)
    key = serialization.load_pem_private_key(keys_of(node.home).key_file.read_bytes(), None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    outer["payload"], outer["signature"] = payload, key.sign(payload)
    (path / MANIFEST).write_bytes(cbor2.dumps(outer))


@pytest.fixture(scope="session")
def bx() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        COUNTY=COUNTY, fill=fill, store_state=store_state, doc_heads=doc_heads, sync=sync,
        resign=resign, node_signer=node_signer, start_county=start_county, kinds=kinds,
    )
