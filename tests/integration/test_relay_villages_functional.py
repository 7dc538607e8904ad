"""A county relay between villages, over real WebSockets (issue #3).

Village A's cases reach the relay and a second node of A, county-wide content reaches
every village, no case of A ever reaches village B, and a node of another county is
refused with nothing exchanged while the relay keeps serving. Each test runs with the
relay's documents in its SQLite file and in PostgreSQL (issue #13).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from store.records import CASE, CONTENT
from store.views import CaseFilter

A, B = "village:KC/A", "village:KC/B"
pytestmark = pytest.mark.parametrize("relay_backend", ["sqlite", "postgresql"], indirect=True)


async def test_cases_stay_in_their_village_and_content_reaches_all(
        relay, make_node, helpers: SimpleNamespace) -> None:
    a1 = await make_node("a1", village="A")
    b1 = await make_node("b1", village="B")

    a_cases = [await helpers.new_case(a1.store, A, f"case {i} 邻里纠纷") for i in range(12)]
    b_cases = [await helpers.new_case(b1.store, B, f"case {i} 土地纠纷") for i in range(5)]

    # A's cases reach the relay.
    res = await helpers.sync_relay(a1)
    assert res.ok, res.error
    assert res.counters.docs_sent == len(a_cases) + 1  # + A's village profile
    relay_docs = await helpers.doc_heads(relay.store)
    a_heads = await helpers.doc_heads(a1.store)
    for doc_id in a_cases:
        assert relay_docs[doc_id] == a_heads[doc_id]

    res = await helpers.sync_relay(b1)
    assert res.ok, res.error

    # County-wide content written at the relay reaches both villages.
    content = [await helpers.new_content(relay.store, f"普法文章 {i}") for i in range(3)]
    for node in (a1, b1):
        res = await helpers.sync_relay(node)
        assert res.ok, res.error
        heads = await helpers.doc_heads(node.store)
        relay_heads = await helpers.doc_heads(relay.store)
        for doc_id in content:
            assert heads[doc_id] == relay_heads[doc_id]
        assert await node.content_count() == len(content)

    # No case of A ever reaches B (nor B's of A), after any number of rounds.
    for node in (a1, b1, a1, b1):
        assert (await helpers.sync_relay(node)).ok
    b_scopes = await helpers.doc_scopes(b1.store)
    assert not [d for d, s in b_scopes.items() if s.startswith("village:KC/A")]
    assert not set(a_cases) & set(b_scopes)
    a_scopes = await helpers.doc_scopes(a1.store)
    assert not [d for d, s in a_scopes.items() if s.startswith("village:KC/B")]
    assert not set(b_cases) & set(a_scopes)
    # ...although the relay holds both villages.
    relay_scopes = await helpers.doc_scopes(relay.store)
    assert set(a_cases) | set(b_cases) <= set(relay_scopes)

    # A second node of A gets A's cases (and the county content) through the relay.
    a2 = await make_node("a2", village="A")
    res = await helpers.sync_relay(a2)
    assert res.ok, res.error
    a2_heads = await helpers.doc_heads(a2.store)
    relay_heads = await helpers.doc_heads(relay.store)
    for doc_id in [*a_cases, *content]:
        assert a2_heads[doc_id] == relay_heads[doc_id]
    assert not [s for s in (await helpers.doc_scopes(a2.store)).values()
                if s.startswith("village:KC/B")]
    found = await a2.cases.search("邻里纠纷", limit=100)
    assert {c.doc_id for c in found} == set(a_cases)

    # An edit on a2 travels back to a1 through the relay.
    case = await a2.cases.log_session(a_cases[0], date="2024-05-01", participants="张三、李四",
                                      summary="双方同意再谈")
    assert (await helpers.sync_relay(a2)).ok
    assert (await helpers.sync_relay(a1)).ok
    assert (await a1.cases.get(a_cases[0])).sessions == case.sessions


async def test_node_of_another_county_is_refused(relay, make_node, helpers) -> None:
    a1 = await make_node("a1", village="A")
    await helpers.new_case(a1.store, A, "本县案件")
    assert (await helpers.sync_relay(a1)).ok
    await helpers.new_content(relay.store, "本县普法")

    stranger = await make_node("x1", village="A", county="XC")
    await helpers.new_case(stranger.store, "village:XC/A", "外县案件")
    relay_before = await helpers.store_state(relay.store)
    stranger_before = await helpers.doc_heads(stranger.store)

    res = await helpers.sync_relay(stranger)
    assert not res.ok
    # The relay's Error message names the reason; the node reports it as is.
    assert res.error is not None and res.error.code == "wrong_county", res.error
    log = await relay.store.sync_log(limit=1)
    assert log[0]["ok"] == 0 and log[0]["error_code"] == "wrong_county"
    assert relay.metrics.refusals["wrong_county"] == 1
    assert res.counters.docs_sent == 0 and res.counters.docs_received == 0

    # Nothing was exchanged either way.
    assert await helpers.store_state(relay.store) == relay_before
    assert await helpers.doc_heads(stranger.store) == stranger_before
    assert not [s for s in (await helpers.doc_scopes(relay.store)).values() if "XC" in s]

    # The relay keeps serving its own county.
    await helpers.new_case(a1.store, A, "之后的案件")
    res = await helpers.sync_relay(a1)
    assert res.ok, res.error
    assert res.counters.docs_sent == 1
    assert await helpers.doc_heads(a1.store, A) == await helpers.doc_heads(relay.store, A)


async def test_relay_counts_kinds_it_holds(relay, make_node, helpers, relay_backend) -> None:
    """The relay's store holds cases of every village and county content, all projected."""
    assert relay.store.views.dialect == relay_backend  # the relay opened the backend asked
    a1 = await make_node("a1", village="A")
    b1 = await make_node("b1", village="B")
    await helpers.new_case(a1.store, A, "甲")
    await helpers.new_case(b1.store, B, "乙")
    content = await helpers.new_content(relay.store, "丙")
    for node in (a1, b1):
        assert (await helpers.sync_relay(node)).ok
    views = relay.store.views
    cases = await views.cases(CaseFilter())
    assert sorted((r[5], r[2]) for r in cases) == [("A", "甲"), ("B", "乙")]  # village, title
    assert await views.count_kind(CASE) == 2 and await views.count_kind(CONTENT) == 1
    assert [r[0] for r in await views.content()] == [content]
