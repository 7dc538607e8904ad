"""The sync session: two real sessions joined in memory (the protocol minus the socket),
and the pure state machine driven message by message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from store import ScopeSet, Store, casedoc, kinds, new_key
from store.records import CASE, CONTENT, Party
from sync.driver import SessionResult, sync_as_client, sync_as_server
from sync.messages import PROTOCOL_VERSION, Ack, DocEntry, Error, Hello, Page
from sync.protocol import (
    WINDOW,
    Finished,
    LookupPeer,
    MergePage,
    ReadPage,
    Send,
    State,
    SyncSession,
    fit_page,
)
from sync.scopes import Identity
from sync.transport import memory_pair

A1 = Identity("a1", "director", "KC", "BY")
A2 = Identity("a2", "director", "KC", "BY")
B1 = Identity("b1", "director", "KC", "XS")
RELAY = Identity("r", "relay", "KC")
OTHER_COUNTY = Identity("o1", "director", "QZ", "BY")


async def open_store(tmp_path: Path, name: str) -> Store:
    return await Store.open(tmp_path / f"{name}.db", key=new_key())


async def add_case(store: Store, village: str = "BY", title: str = "院墙纠纷") -> str:
    meta = await store.create(CASE, f"village:KC/{village}", lambda d: casedoc.new_case(
        d, number=f"{village}-1", category="neighbour", title=title,
        parties=[Party("applicant", "张三"), Party("respondent", "李四")]))
    return meta.doc_id


async def add_content(store: Store) -> str:
    meta = await store.create(CONTENT, "county:KC", lambda d: kinds.new_content(
        d, title="以案说法：宅基地纠纷", topic="土地", content_kind="article"))
    return meta.doc_id


async def sync(client: Store, cid: Identity, server: Store, sid: Identity,
               label: str = "relay") -> tuple[SessionResult, SessionResult]:
    tc, ts = memory_pair("server", "client")
    rc, rs = await asyncio.wait_for(asyncio.gather(
        sync_as_client(tc, client, cid, label=label),
        sync_as_server(ts, server, sid),
    ), timeout=30)
    return rc, rs


async def heads(store: Store) -> dict[str, bytes]:
    return {d: h for d, h in await store.query("SELECT doc_id, heads FROM docs")}


@pytest.fixture
async def stores(tmp_path: Path):
    opened = {n: await open_store(tmp_path, n) for n in ("a1", "a2", "b1", "relay")}
    yield opened
    for s in opened.values():
        await s.close()


async def test_cases_reach_the_relay_and_come_back_to_the_village_only(stores):
    a1, a2, b1, relay = stores["a1"], stores["a2"], stores["b1"], stores["relay"]
    case_a = await add_case(a1, "BY")
    case_b = await add_case(b1, "XS")
    content = await add_content(relay)

    for store, ident in ((a1, A1), (b1, B1), (a2, A2)):
        rc, rs = await sync(store, ident, relay, RELAY)
        assert rc.ok and rs.ok, (rc.error, rs.error)

    assert {case_a, case_b, content} <= set(await heads(relay))
    assert set(await heads(a2)) >= {case_a, content}
    assert case_b not in await heads(a2) and case_b not in await heads(a1)
    assert case_a not in await heads(b1)
    assert content in await heads(b1)


async def test_second_session_with_nothing_new_moves_no_documents(stores):
    a1, relay = stores["a1"], stores["relay"]
    await add_case(a1)
    await add_content(relay)
    await sync(a1, A1, relay, RELAY)
    seq_a, seq_r = await a1.current_seq(), await relay.current_seq()

    rc, rs = await sync(a1, A1, relay, RELAY)

    assert rc.ok and rs.ok
    assert rc.counters.docs_sent == 0 and rs.counters.docs_sent == 0  # no echo either way
    assert (await a1.current_seq(), await relay.current_seq()) == (seq_a, seq_r)


async def test_concurrent_edits_on_both_sides_merge_and_both_are_kept(stores):
    a1, relay = stores["a1"], stores["relay"]
    doc_id = await add_case(a1)
    await sync(a1, A1, relay, RELAY)
    await a1.edit(doc_id, lambda d: casedoc.change_status(d, "mediating"))
    await relay.edit(doc_id, lambda d: casedoc.log_session(
        d, date="2026-11-01", participants="张三 李四", summary="第一次调解"))

    await sync(a1, A1, relay, RELAY)
    await sync(a1, A1, relay, RELAY)

    assert (await heads(a1))[doc_id] == (await heads(relay))[doc_id]
    data = await a1.read(doc_id)
    assert data["status"] == "mediating"
    assert [s["summary"] for s in data["sessions"]] == ["第一次调解"]


async def test_paging_moves_more_than_a_window_of_pages(stores, monkeypatch):
    import sync.driver as driver

    monkeypatch.setattr(driver, "PAGE_DOCS", 3)
    a1, relay = stores["a1"], stores["relay"]
    ids = {await add_case(a1, title=f"案件 {i}") for i in range(3 * (WINDOW + 2) + 1)}
    rc, rs = await sync(a1, A1, relay, RELAY)
    assert rc.ok and rs.ok
    assert rc.counters.pages_sent == WINDOW + 3
    assert ids <= set(await heads(relay))


async def test_other_county_is_refused_before_anything_moves(stores):
    a1, relay = stores["a1"], stores["relay"]
    await add_case(a1)
    rc, rs = await sync(a1, OTHER_COUNTY, relay, RELAY)
    assert not rc.ok and not rs.ok
    assert rs.error is not None and rs.error.code == "wrong_county"
    assert await heads(relay) == {}


def _server(me: Identity = RELAY) -> SyncSession:
    return SyncSession(False, me, "server-store")


def _hello(ident: Identity = A1, **kw: object) -> Hello:
    fields = dict(version=PROTOCOL_VERSION, store_id="client-store", node_id=ident.node_id,
                  role=ident.role, county=ident.county, village=ident.village)
    fields.update(kw)
    return Hello(**fields)  # type: ignore[arg-type]


def _active_server() -> SyncSession:
    s = _server()
    assert s.receive(_hello()) == [LookupPeer("client-store")]
    actions = s.peer_known(0)
    assert isinstance(actions[0], Send) and isinstance(actions[0].msg, Hello)
    assert isinstance(actions[1], ReadPage)
    return s


def _error_code(actions: list[object]) -> str:
    assert len(actions) == 1 and isinstance(actions[0], Send)
    assert isinstance(actions[0].msg, Error)
    return actions[0].msg.code


def test_page_before_hello_is_out_of_order():
    s = _server()
    assert _error_code(s.receive(Page(0, 1, False, ()))) == "out_of_order"
    assert s.state is State.ERROR
    assert s.receive(_hello()) == []  # nothing after an error


def test_wrong_version_is_refused():
    s = _server()
    assert _error_code(s.receive(_hello(version=PROTOCOL_VERSION + 1))) == "version_mismatch"


def test_second_hello_is_refused():
    s = _active_server()
    assert _error_code(s.receive(_hello())) == "out_of_order"


def test_hello_with_our_own_store_id_is_refused():
    s = _server()
    assert _error_code(s.receive(_hello(store_id="server-store"))) == "bad_hello"


def test_hello_with_a_store_id_ending_in_a_newline_is_refused():
    # "$" in a regex matches before a final newline: the whole id must match.
    s = _server()
    assert _error_code(s.receive(_hello(store_id="client-store\n"))) == "bad_hello"


def test_hello_with_an_invalid_role_is_refused():
    s = _server()
    assert _error_code(s.receive(_hello(role="mayor"))) == "bad_hello"


def test_certificate_identity_must_match_the_hello():
    s = SyncSession(False, RELAY, "server-store", authenticated_peer=A2)
    assert _error_code(s.receive(_hello(A1))) == "not_authorized"


def test_page_with_a_gap_is_refused():
    s = _active_server()
    assert _error_code(s.receive(Page(since=5, upto=9, more=False))) == "out_of_order"


def test_page_into_another_village_is_refused_whole():
    s = _active_server()
    docs = (DocEntry("x1", CASE, "village:KC/BY", b"\x01"),
            DocEntry("x2", CASE, "village:KC/XS", b"\x01"))
    assert _error_code(s.receive(Page(0, 2, False, docs))) == "not_authorized"


def test_judge_may_write_consultations_but_not_cases():
    judge = Identity("j1", "judge", "KC")
    s = _server()
    s.receive(_hello(judge))
    s.peer_known(0)
    ok = s.receive(Page(0, 1, True, (DocEntry("c", "consultation", "village:KC/BY", b"x"),)))
    assert isinstance(ok[0], MergePage)
    s.page_merged(1, 1)
    refused = s.receive(Page(1, 2, False, (DocEntry("k", CASE, "village:KC/BY", b"x"),)))
    assert _error_code(refused) == "not_authorized"


def test_ack_that_matches_no_page_is_refused():
    s = _active_server()
    assert _error_code(s.receive(Ack(upto=3))) == "out_of_order"


def test_error_from_peer_ends_without_answering():
    s = _active_server()
    assert s.receive(Error("boom", "peer gave up")) == []
    assert s.state is State.ERROR and s.error is not None and s.error.code == "boom"


def test_session_finishes_only_when_both_directions_are_done():
    s = _active_server()
    out = s.page_read([], upto=0, more=False)
    assert isinstance(out[0], Send) and out[0].msg == Page(0, 0, False, ())
    merge = s.receive(Page(0, 4, False, ()))
    assert isinstance(merge[0], MergePage)
    after_merge = s.page_merged(4, 0)
    assert after_merge == [Send(Ack(4))]  # our own page is not yet acknowledged
    assert s.state is State.ACTIVE
    final = s.receive(Ack(0))
    assert final[-1] == Finished() and s.state is State.DONE


def test_window_limits_pages_in_flight():
    s = _active_server()
    upto = 0
    reads = 0
    actions = s.page_read([], upto=1, more=True)
    while any(isinstance(a, ReadPage) for a in actions):
        reads += 1
        upto += 1
        actions = s.page_read([], upto=upto + 1, more=True)
    assert reads + 1 == WINDOW  # WINDOW pages sent, then it waits for an Ack
    resumed = s.receive(Ack(1))
    assert any(isinstance(a, ReadPage) for a in resumed)


def test_client_whose_server_changed_starts_from_zero():
    client = SyncSession(True, A1, "client-store", expect_store="old-relay", expect_seq=40,
                         expect_fp="x")
    hello = client.start()[0]
    assert isinstance(hello, Send) and hello.msg.have_seq == 40  # type: ignore[union-attr]
    client.receive(Hello(PROTOCOL_VERSION, "new-relay", "r", "relay", "KC", "", 0, ""))
    merge = client.receive(Page(0, 3, False, ()))
    assert isinstance(merge[0], MergePage) and merge[0].peer_store == "new-relay"


def test_fit_page_cuts_by_bytes_but_keeps_one_document():
    entries = [DocEntry(str(i), CASE, "village:KC/BY", b"x" * 600) for i in range(3)]
    cut, upto, more = fit_page(entries, 99, False, last_seqs=[10, 20, 30], max_bytes=1000)
    assert (len(cut), upto, more) == (1, 10, True)
    big = [DocEntry("0", CASE, "village:KC/BY", b"x" * 5000)]
    assert fit_page(big, 7, False, last_seqs=[7], max_bytes=1000) == (big, 7, False)


def test_scopeset_sql_and_membership_agree():
    s = ScopeSet.of("village:KC/*", "county:KC")
    assert "village:KC/BY" in s and "county:KC" in s
    assert "village:KCX/BY" not in s and "county:KC/judge" not in s
    assert "village:QZ/BY" not in s
