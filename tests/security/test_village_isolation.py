"""Issue #4, "done when" 2: a valid node of village A cannot obtain any document of village B,
from the relay or from a LAN peer of B, and cannot write into B's scope.

The forged sessions use the pure protocol pieces over a real mutual-TLS WebSocket: A's
own certificate, a Hello and Pages built with ``sync.wire.encode``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from node import Node
from node.identity import keys_of
from store.records import Party
from sync.messages import DocEntry, Error, Hello, Page
from sync.scopes import Identity

A, B = "village:KC/A", "village:KC/B"


async def _two_villages(county, enrol, sec: SimpleNamespace) -> tuple[Node, Node, set[str]]:
    """a1 (village A) and b1 (village B), B's cases at the relay; returns B's doc ids."""
    a1 = await enrol("a1", village="A")
    b1 = await enrol("b1", village="B")
    for i in range(3):
        await b1.cases.register(category="land", title=f"乙村土地纠纷 {i}",
                                parties=[Party("applicant", "钱二"), Party("respondent", "孙三")])
    assert (await sec.sync_relay(b1)).ok
    b_docs = set(await sec.doc_heads(b1.store, B))
    assert len(b_docs) == 4 and b_docs <= set(await sec.doc_heads(county.store, B))
    await a1.cases.register(category="neighbour", title="甲村邻里纠纷",
                            parties=[Party("applicant", "李四")])
    return a1, b1, b_docs


def _pages(messages: list[object]) -> list[Page]:
    return [m for m in messages if isinstance(m, Page)]


def _error(messages: list[object]) -> Error:
    assert messages and isinstance(messages[-1], Error), messages
    return messages[-1]


async def test_relay_gives_a_node_of_a_nothing_of_b(county, enrol, sec) -> None:
    a1, _, b_docs = await _two_villages(county, enrol, sec)
    for _ in range(2):
        res = await sec.sync_relay(a1)
        assert res.ok, res.error
    scopes = await sec.doc_scopes(a1.store)
    assert not b_docs & set(scopes)
    assert not [s for s in scopes.values() if s.startswith(B)]
    assert set(await sec.doc_heads(a1.store, A)) == set(await sec.doc_heads(county.store, A))


@pytest.mark.parametrize("claim", [
    dict(village="B"),  # another village
    dict(role="judge", village=""),  # a judge reads every village of the county
    dict(role="relay", village=""),  # the relay reads and writes everything
], ids=["village_b", "judge", "relay"])
async def test_hello_claiming_more_than_the_certificate_is_refused(
        county, enrol, sec, caplog, claim: dict[str, str]) -> None:
    caplog.set_level(logging.INFO)
    a1, _, b_docs = await _two_villages(county, enrol, sec)
    keys = keys_of(a1.home)
    me = keys.identity()
    lie = Identity(me.node_id, claim.get("role", me.role), me.county,
                   claim.get("village", me.village))
    relay_before = await sec.store_state(county.store)

    got = await sec.raw_session(county.sync_url, keys.client_context(), [sec.hello_as(lie)])

    assert _error(got).code == "not_authorized"
    assert not _pages(got)  # refused at the Hello: not even A's own documents moved
    assert not [m for m in got if isinstance(m, Hello)]
    assert await sec.store_state(county.store) == relay_before
    sessions = [r.getMessage() for r in caplog.records
                if "event=sync_session" in r.getMessage() and "ok=0" in r.getMessage()]
    assert sessions and "code=not_authorized" in sessions[-1]
    assert not b_docs & set(await sec.doc_heads(a1.store))


async def test_node_of_a_cannot_write_into_b_at_the_relay(
        county, enrol, sec, caplog) -> None:
    caplog.set_level(logging.INFO)
    a1, b1, _ = await _two_villages(county, enrol, sec)
    assert (await sec.sync_relay(a1)).ok
    keys = keys_of(a1.home)
    me = keys.identity()
    relay_before = await sec.store_state(county.store)
    relay_docs_before = await sec.doc_heads(county.store)

    # A page with one document of B: refused, nothing stored.
    b_id, page = sec.forged_page(B, "伪造的乙村案件")
    got = await sec.raw_session(county.sync_url, keys.client_context(),
                                [sec.hello_as(me), page])
    assert _error(got).code == "not_authorized"
    for p in _pages(got):  # what the relay did send is A's (or county) business only
        assert all(d.scope in (A, "county:KC") for d in p.docs), p
    assert await sec.store_state(county.store) == relay_before
    assert b_id not in await sec.doc_heads(county.store)

    # A page mixing a legitimate A document with a B one: all or nothing.
    a_id, a_page = sec.forged_page(A, "夹带的甲村案件")
    b_id2, b_page = sec.forged_page(B, "夹带的乙村案件")
    mixed = Page(since=0, upto=1, more=False, docs=(*a_page.docs, *b_page.docs))
    got = await sec.raw_session(county.sync_url, keys.client_context(),
                                [sec.hello_as(me), mixed])
    assert _error(got).code == "not_authorized"
    assert await sec.store_state(county.store) == relay_before
    assert await sec.doc_heads(county.store) == relay_docs_before
    assert county.metrics.refusals["not_authorized"] == 2
    refused = [r.getMessage() for r in caplog.records
               if "event=sync_session" in r.getMessage() and "code=not_authorized" in
               r.getMessage()]
    assert len(refused) == 2

    # B's node never sees the forged documents.
    assert (await sec.sync_relay(b1)).ok
    assert not {b_id, b_id2, a_id} & set(await sec.doc_heads(b1.store))

    # The relay goes on serving A normally right after.
    case = await a1.cases.register(category="neighbour", title="正常的甲村案件",
                                   parties=[Party("applicant", "张三")])
    res = await sec.sync_relay(a1)
    assert res.ok, res.error
    assert res.counters.docs_sent == 1
    assert (await sec.doc_heads(county.store))[case.doc_id] == \
        (await sec.doc_heads(a1.store))[case.doc_id]


async def test_lan_peer_of_b_gives_a_nothing_and_takes_nothing(
        county, enrol, listen, sec, caplog) -> None:
    caplog.set_level(logging.INFO)
    a1, b1, b_docs = await _two_villages(county, enrol, sec)
    b1.config.relay_url = ""  # this daemon serves LAN peers only (no background relay sync)
    b_daemon = await listen(b1)
    assert b_daemon.bound_port
    a_before = await sec.doc_heads(a1.store)
    b_before = await sec.store_state(b1.store)

    # The ordinary daemon path: A dials B's listener.
    res = await sec.sync_peer(a1, b_daemon.bound_port)
    assert not res.ok
    assert res.error is not None and res.error.code == "nothing_shared", res.error
    assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
    assert await sec.doc_heads(a1.store) == a_before
    assert await sec.store_state(b1.store) == b_before

    # A forged session: A's certificate, claiming B, then pushing a B document.
    keys = keys_of(a1.home)
    me = keys.identity()
    url = f"wss://127.0.0.1:{b_daemon.bound_port}/v1/sync"
    for hello in (sec.hello_as(me), sec.hello_as(Identity(me.node_id, "director", "KC", "B"))):
        forged_id, page = sec.forged_page(B, "从甲村塞进乙村的案件")
        got = await sec.raw_session(url, keys.client_context(), [hello, page])
        assert _error(got).code in ("nothing_shared", "not_authorized")
        assert not _pages(got)
        assert await sec.store_state(b1.store) == b_before
        assert forged_id not in await sec.doc_heads(b1.store)

    # B still syncs with a node of its own village over the LAN.
    b2 = await enrol("b2", village="B")
    res = await sec.sync_peer(b2, b_daemon.bound_port)
    assert res.ok, res.error
    assert b_docs <= set(await sec.doc_heads(b2.store))


async def test_page_entry_scope_cannot_be_smuggled(county, enrol, sec) -> None:
    """An existing B document re-sent by A under A's scope is refused, not re-scoped."""
    a1, b1, b_docs = await _two_villages(county, enrol, sec)
    keys = keys_of(a1.home)
    victim = sorted(b_docs)[0]
    relay_before = await sec.doc_heads(county.store)
    _, page = sec.forged_page(A, "冒名顶替")
    entry = page.docs[0]
    smuggled = Page(since=0, upto=1, more=False,
                    docs=(DocEntry(victim, entry.kind, A, entry.data),))
    got = await sec.raw_session(county.sync_url, keys.client_context(),
                                [sec.hello_as(keys.identity()), smuggled])
    assert _error(got).code == "bad_document"
    assert await sec.doc_heads(county.store) == relay_before
    assert (await sec.doc_scopes(county.store))[victim] == B
