"""Two nodes of one village on a LAN with no relay find each other by zeroconf and sync;
a node of another village on the same LAN is ignored (issue #3).

Real zeroconf on 127.0.0.1, real listeners on port 0. Village codes are random so that
nodes of other test runs on this machine can never be taken for ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from node import Node
from node.daemon import Syncer
from store.records import CASE, Party

FIND_S = 20.0  # seconds for discovery plus the first sessions
EDIT_S = 20.0  # seconds for a case made afterwards to reach the other node (5 s debounce)


@pytest.fixture
async def syncers() -> AsyncIterator[list[Syncer]]:
    started: list[Syncer] = []
    yield started
    await asyncio.gather(*(s.stop() for s in started))


async def start(node: Node, started: list[Syncer]) -> Syncer:
    syncer = Syncer(node, listen_host="127.0.0.1", listen_port=0,
                    discovery_interfaces=["127.0.0.1"])
    await syncer.start()
    started.append(syncer)
    return syncer


async def case_ids(node: Node) -> set[str]:
    rows = await node.store.query("SELECT doc_id FROM records WHERE kind = ?", (CASE,))
    return {r[0] for r in rows}


async def test_two_nodes_of_a_village_find_each_other_and_sync(
        make_node, helpers, syncers: list[Syncer]) -> None:
    village, other = helpers.unique_code("V"), helpers.unique_code("W")
    scope, other_scope = f"village:KC/{village}", f"village:KC/{other}"
    a1 = await make_node("a1", village=village)
    a2 = await make_node("a2", village=village)
    c1 = await make_node("c1", village=other)
    assert not a1.config.relay_url and not a2.config.relay_url

    before1 = await helpers.new_case(a1.store, scope, "开机前的案件 1")
    before2 = await helpers.new_case(a2.store, scope, "开机前的案件 2")
    secret = await helpers.new_case(c1.store, other_scope, "别村的案件")

    s1, s2, s3 = [await start(n, syncers) for n in (a1, a2, c1)]

    async def both_have(*doc_ids: str) -> bool:
        return set(doc_ids) <= await case_ids(a1) and set(doc_ids) <= await case_ids(a2)

    assert await helpers.eventually(lambda: both_have(before1, before2), timeout=FIND_S), (
        f"a1 peers {list(s1.peers)}, a2 peers {list(s2.peers)}")
    assert a2.config.node_id in s1.peers and a1.config.node_id in s2.peers

    # Cases made while running reach the other node (edits trigger a sync soon after).
    after1 = (await a1.cases.register(
        category="neighbour", title="开机后的案件 1", parties=[_party()])).doc_id
    after2 = (await a2.cases.register(
        category="land", title="开机后的案件 2", parties=[_party()])).doc_id
    assert await helpers.eventually(lambda: both_have(after1, after2), timeout=EDIT_S)
    assert (await helpers.doc_heads(a1.store, scope)
            == await helpers.doc_heads(a2.store, scope))

    # The other village's node was seen on the LAN (it announced) but ignored both ways.
    assert c1.config.node_id not in s1.peers and c1.config.node_id not in s2.peers
    assert a1.config.node_id not in s3.peers and a2.config.node_id not in s3.peers
    assert s3.discovery is not None and a1.config.node_id in s3.discovery.peers
    for node in (a1, a2):
        assert secret not in await case_ids(node)
        scopes = set((await helpers.doc_scopes(node.store)).values())
        assert other_scope not in scopes
        labels = {e["peer_label"] for e in await node.store.sync_log(limit=200)}
        assert not [x for x in labels if x and c1.config.node_id in x]
    c_scopes = set((await helpers.doc_scopes(c1.store)).values())
    assert c_scopes == {other_scope}
    assert await c1.store.sync_log(limit=10) == []


def _party() -> Party:
    return Party("applicant", "王五")


async def test_lan_reconnect_with_nothing_new_moves_no_documents(
        make_node, helpers, syncers: list[Syncer]) -> None:
    """Two LAN peers that sync both ways (each dials the other, as the daemon does) keep
    their checkpoints: a session with nothing new moves no documents either way, however
    many the stores hold (DESIGN.md: cost proportional to what changed)."""
    village = helpers.unique_code("V")
    scope = f"village:KC/{village}"
    a1 = await make_node("a1", village=village)
    a2 = await make_node("a2", village=village)
    for i in range(40):
        await helpers.new_case(a1.store, scope, f"案件 {i}")
    s1 = Syncer(a1, listen_host="127.0.0.1", listen_port=0, discovery=False)
    s2 = Syncer(a2, listen_host="127.0.0.1", listen_port=0, discovery=False)
    for s in (s1, s2):
        await s.start()
        syncers.append(s)
    assert s1.bound_port and s2.bound_port

    async def one_way(dialer: Syncer, port: int):  # -> SessionResult
        res = await asyncio.wait_for(dialer.sync_peer("127.0.0.1", port), 30)
        assert res.ok, res.error
        return res

    first = await one_way(s1, s2.bound_port)
    assert first.counters.docs_sent == 41  # 40 cases + the village profile
    await one_way(s2, s1.bound_port)
    await one_way(s1, s2.bound_port)
    assert await helpers.doc_heads(a1.store) == await helpers.doc_heads(a2.store)

    for dialer, port in ((s2, s1.bound_port), (s1, s2.bound_port), (s2, s1.bound_port)):
        res = await one_way(dialer, port)
        moved = (res.counters.docs_sent, res.counters.docs_received)
        assert moved == (0, 0), f"a reconnect with nothing new moved {moved} documents"
        assert res.bytes_sent + res.bytes_received < 400
