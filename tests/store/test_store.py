"""Store: documents in SQLite, the seq feed, compaction, merge, encryption at rest.

Every test works on a real SQLite file under tmp_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Callable

import pytest
from automerge.core import Document

from store import (
    Committed,
    CorruptDoc,
    DocMeta,
    DocNotFound,
    Incoming,
    ScopeSet,
    Store,
    ValidationError,
    casedoc,
    new_key,
    pack_heads,
)
from store.docs import MAX_TAIL_CHUNKS
from store.records import CASE, CONSULTATION, Party

SCOPE = "village:KC/BY"
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"  # the GB 11643 standard's own example, valid check digit


def write_case(title: str = "院墙纠纷", *, phone: str = "", id_number: str = ""
               ) -> Callable[[Document], None]:
    def write(doc: Document) -> None:
        casedoc.new_case(
            doc, number="BY-T01-0001", category="neighbour", title=title,
            description="邻居翻建房屋越过界址", village="BY", county="KC",
            parties=[Party("applicant", "张建国", phone, id_number),
                     Party("respondent", "李秀英")])
    return write


def retitle(title: str) -> Callable[[Document], None]:
    return lambda doc: casedoc.edit_case(doc, title=title)


async def open_store(path: Path, key: bytes | None = None) -> Store:
    return await Store.open(path, key=key)


@pytest.fixture
def key() -> bytes:
    return new_key()


@pytest.fixture
async def store(tmp_path: Path, key: bytes) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "store.db", key=key)
    try:
        yield s
    finally:
        await s.close()


async def doc_count(store: Store) -> int:
    return int((await store.query("SELECT count(*) FROM docs"))[0][0])


async def tail_count(store: Store, doc_id: str) -> int:
    rows = await store.query("SELECT tail_count FROM docs WHERE doc_id = ?", (doc_id,))
    return int(rows[0][0])


async def full_feed(store: Store, readable: ScopeSet, **kw: object) -> list[DocMeta]:
    page = await store.changes_since(0, readable=readable, limit=10_000, **kw)  # type: ignore
    assert not page.more
    return page.entries


# --- create, edit, read ------------------------------------------------------------------
async def test_create_then_read_returns_what_was_written(store: Store) -> None:
    meta = await store.create(CASE, SCOPE, write_case(phone=PHONE, id_number=ID_NUMBER))

    data = await store.read(meta.doc_id)
    assert data["title"] == "院墙纠纷"
    assert data["description"] == "邻居翻建房屋越过界址"
    assert [p["name"] for p in data["parties"]] == ["张建国", "李秀英"]
    assert data["parties"][0]["phone"] == PHONE
    assert data["parties"][0]["id_number"] == ID_NUMBER
    stored = await store.meta(meta.doc_id)
    assert (stored.kind, stored.scope, stored.seq) == (CASE, SCOPE, meta.seq)
    assert stored.heads == meta.heads != b""


async def test_edit_changes_the_document_and_takes_the_next_seq(store: Store) -> None:
    a = await store.create(CASE, SCOPE, write_case("甲"))
    b = await store.create(CASE, SCOPE, write_case("乙"))
    assert b.seq == a.seq + 1

    seqs = []
    for i in range(5):
        _, meta = await store.edit(a.doc_id, retitle(f"甲{i}"))
        seqs.append(meta.seq)
        assert await store.current_seq() == meta.seq
    assert seqs == list(range(b.seq + 1, b.seq + 6))  # one new seq per change, no gaps
    assert (await store.read(a.doc_id))["title"] == "甲4"
    assert (await store.read(b.doc_id))["title"] == "乙"
    assert (await store.meta(b.doc_id)).seq == b.seq  # the other document kept its seq


async def test_seq_keeps_growing_after_reopening(tmp_path: Path, key: bytes) -> None:
    s = await open_store(tmp_path / "s.db", key)
    meta = await s.create(CASE, SCOPE, write_case())
    _, edited = await s.edit(meta.doc_id, retitle("新标题"))
    await s.close()

    s = await open_store(tmp_path / "s.db", key)
    try:
        assert await s.current_seq() == edited.seq
        _, again = await s.edit(meta.doc_id, retitle("再改"))
        other = await s.create(CASE, SCOPE, write_case())
        assert edited.seq < again.seq < other.seq
        assert (await s.read(meta.doc_id))["title"] == "再改"
    finally:
        await s.close()


async def test_an_edit_that_changes_nothing_stores_nothing(store: Store) -> None:
    meta = await store.create(CASE, SCOPE, write_case("原标题"))
    events: list[Committed] = []
    store.subscribe(events.append)

    for write in (lambda doc: None, retitle("原标题"),
                  lambda doc: casedoc.edit_case(doc, description="邻居翻建房屋越过界址")):
        _, after = await store.edit(meta.doc_id, write)
        assert after.seq == meta.seq
        assert after.heads == meta.heads

    assert await store.current_seq() == meta.seq
    assert await tail_count(store, meta.doc_id) == 0
    assert events == []


async def test_an_edit_that_raises_stores_nothing(store: Store) -> None:
    meta = await store.create(CASE, SCOPE, write_case("原标题"))

    def half_then_fail(doc: Document) -> None:
        casedoc.edit_case(doc, title="改了一半")
        raise ValidationError("test_abort", "abort after a change")

    with pytest.raises(ValidationError):
        await store.edit(meta.doc_id, half_then_fail)
    assert await store.current_seq() == meta.seq
    assert (await store.meta(meta.doc_id)).heads == meta.heads
    assert (await store.read(meta.doc_id))["title"] == "原标题"


async def test_unknown_document_raises_doc_not_found(store: Store) -> None:
    await store.create(CASE, SCOPE, write_case())
    seq = await store.current_seq()
    for call in (store.read, store.meta, store.load, store.saved_bytes):
        with pytest.raises(DocNotFound) as err:
            await call("no-such-doc")
        assert err.value.code == "doc_not_found"
    with pytest.raises(DocNotFound):
        await store.edit("no-such-doc", retitle("x"))
    assert await store.current_seq() == seq


# --- compaction ----------------------------------------------------------------------------
async def test_edits_append_to_the_tail_and_compact_folds_it(tmp_path: Path, key: bytes) -> None:
    s = await open_store(tmp_path / "s.db", key)
    meta = await s.create(CASE, SCOPE, write_case())
    for i in range(5):
        _, meta = await s.edit(meta.doc_id, retitle(f"第{i}次修改"))
    assert await tail_count(s, meta.doc_id) == 5
    before = await s.read(meta.doc_id)

    assert await s.compact() == 1

    assert await tail_count(s, meta.doc_id) == 0
    rows = await s.query("SELECT count(*) FROM doc_tail WHERE doc_id = ?", (meta.doc_id,))
    assert rows[0][0] == 0
    after_meta = await s.meta(meta.doc_id)
    assert after_meta.heads == meta.heads
    assert after_meta.seq == meta.seq  # compaction is not a change
    assert await s.read(meta.doc_id) == before
    assert await s.check() == []
    assert await s.compact() == 0  # nothing left to fold
    await s.close()

    s = await open_store(tmp_path / "s.db", key)  # no cache: loads the snapshot from disk
    try:
        assert await s.read(meta.doc_id) == before
        assert pack_heads((await s.load(meta.doc_id)).get_heads()) == meta.heads
    finally:
        await s.close()


async def test_a_long_tail_is_folded_automatically(tmp_path: Path, key: bytes) -> None:
    s = await open_store(tmp_path / "s.db", key)
    meta = await s.create(CASE, SCOPE, write_case())
    tails = []
    for i in range(MAX_TAIL_CHUNKS + 8):
        _, meta = await s.edit(meta.doc_id, retitle(f"第{i}次修改"))
        tails.append(await tail_count(s, meta.doc_id))
    assert max(tails) <= MAX_TAIL_CHUNKS
    assert any(b < a for a, b in zip(tails, tails[1:]))  # it was folded at least once
    assert await s.check() == []
    await s.close()

    s = await open_store(tmp_path / "s.db", key)
    try:
        assert (await s.read(meta.doc_id))["title"] == f"第{MAX_TAIL_CHUNKS + 7}次修改"
        assert (await s.meta(meta.doc_id)).heads == meta.heads
    finally:
        await s.close()


# --- the change feed -----------------------------------------------------------------------
async def test_changes_since_pages_through_the_feed(store: Store) -> None:
    created = [await store.create(CASE, SCOPE, write_case(f"案{i}")) for i in range(5)]
    everything = ScopeSet.of("*")

    page = await store.changes_since(0, readable=everything, limit=2)
    assert [e.doc_id for e in page.entries] == [m.doc_id for m in created[:2]]
    assert page.more and page.upto == created[1].seq

    page = await store.changes_since(page.upto, readable=everything, limit=2)
    assert [e.doc_id for e in page.entries] == [m.doc_id for m in created[2:4]]
    assert page.more and page.upto == created[3].seq

    page = await store.changes_since(page.upto, readable=everything, limit=2)
    assert [e.doc_id for e in page.entries] == [created[4].doc_id]
    assert not page.more and page.upto == created[4].seq

    page = await store.changes_since(page.upto, readable=everything, limit=2)
    assert page.entries == [] and not page.more and page.upto == created[4].seq


async def test_a_document_edited_again_appears_once_at_its_new_seq(store: Store) -> None:
    a, b, c = [await store.create(CASE, SCOPE, write_case(t)) for t in "甲乙丙"]
    reader_upto = c.seq  # a reader that has seen everything so far
    _, a2 = await store.edit(a.doc_id, retitle("甲改"))

    feed = await full_feed(store, ScopeSet.of("*"))
    assert [(e.doc_id, e.seq) for e in feed] == [(b.doc_id, b.seq), (c.doc_id, c.seq),
                                                 (a.doc_id, a2.seq)]
    page = await store.changes_since(reader_upto, readable=ScopeSet.of("*"))
    assert [(e.doc_id, e.seq) for e in page.entries] == [(a.doc_id, a2.seq)]
    assert page.entries[0].heads == a2.heads


async def test_changes_since_only_lists_readable_scopes(store: Store) -> None:
    scopes = ["village:KC/BY", "village:KC/XY", "village:KC2/BY", "village:K/BY",
              "county:KC", "county:KC/judge", "county:OT"]
    by_scope = {sc: (await store.create(CASE, sc, write_case(sc))).doc_id for sc in scopes}

    cases = {
        ScopeSet.of("village:KC/BY"): {"village:KC/BY"},
        ScopeSet.of("village:KC/*"): {"village:KC/BY", "village:KC/XY"},
        ScopeSet.of("county:KC", "village:KC/XY"): {"county:KC", "village:KC/XY"},
        ScopeSet.of("county:KC/*"): {"county:KC/judge"},
        ScopeSet.of("*"): set(scopes),
        ScopeSet.nothing(): set(),
    }
    for readable, expected in cases.items():
        feed = await full_feed(store, readable)
        assert {e.doc_id for e in feed} == {by_scope[s] for s in expected}, readable
        assert {e.scope for e in feed} == {s for s in scopes if s in readable}, readable
        assert await store.count_since(0, readable=readable) == len(expected)


async def test_changes_since_skips_documents_whose_heads_came_from_that_peer(
        tmp_path: Path, key: bytes) -> None:
    peer = await open_store(tmp_path / "peer.db", new_key())
    ours = await open_store(tmp_path / "ours.db", key)
    try:
        theirs = await peer.create(CASE, SCOPE, write_case("对方的案件"))
        local = await ours.create(CASE, SCOPE, write_case("本地的案件"))
        await ours.merge([Incoming(theirs.doc_id, CASE, SCOPE,
                                   await peer.saved_bytes(theirs.doc_id), theirs.heads)],
                         origin=peer.store_id)
        everything = ScopeSet.of("*")

        all_ids = {e.doc_id for e in await full_feed(ours, everything)}
        assert all_ids == {theirs.doc_id, local.doc_id}
        not_from_peer = await full_feed(ours, everything, exclude_from=peer.store_id)
        assert [e.doc_id for e in not_from_peer] == [local.doc_id]
        assert await ours.count_since(0, readable=everything, exclude_from=peer.store_id) == 1

        # Once changed locally, the peer no longer holds these heads: offer it again.
        await ours.edit(theirs.doc_id, retitle("本地又改了"))
        again = await full_feed(ours, everything, exclude_from=peer.store_id)
        assert {e.doc_id for e in again} == {theirs.doc_id, local.doc_id}
    finally:
        await peer.close()
        await ours.close()


# --- merge ---------------------------------------------------------------------------------
@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "peer.db", key=new_key())
    try:
        yield s
    finally:
        await s.close()


async def incoming(source: Store, doc_id: str) -> Incoming:
    meta = await source.meta(doc_id)
    return Incoming(doc_id, meta.kind, meta.scope, await source.saved_bytes(doc_id), meta.heads)


async def snapshot_of(store: Store) -> tuple[object, ...]:
    """Everything a merge could touch, to compare before and after."""
    return (
        await store.current_seq(),
        await store.query("SELECT doc_id, kind, scope, heads, seq, tail_count FROM docs "
                          "ORDER BY doc_id"),
        await store.query("SELECT * FROM records ORDER BY doc_id"),
        await store.query("SELECT * FROM followups ORDER BY doc_id, month"),
        await store.query("SELECT peer_id, received_seq, sent_seq FROM peers ORDER BY 1"),
    )


@pytest.mark.parametrize("bad_at", [0, 1, 2])
@pytest.mark.parametrize("bad_data", [b"\x85o J\x83 not automerge", b"garbage",
                                      Document().save(), b""],
                         ids=["bad-chunk", "garbage", "empty-doc", "no-bytes"])
async def test_merge_is_all_or_nothing_when_one_document_is_corrupt(
        store: Store, peer: Store, bad_at: int, bad_data: bytes) -> None:
    shared = await store.create(CASE, SCOPE, write_case("共有"))
    await peer.merge([await incoming(store, shared.doc_id)], origin="ours")
    await peer.edit(shared.doc_id, retitle("对方改过"))
    new = await peer.create(CASE, SCOPE, write_case("对方新建"))
    batch = [await incoming(peer, shared.doc_id), await incoming(peer, new.doc_id)]
    batch.insert(bad_at, Incoming("broken", CASE, SCOPE, bad_data))
    before = await snapshot_of(store)

    with pytest.raises(CorruptDoc) as err:
        await store.merge(batch, origin=peer.store_id, checkpoint=(peer.store_id, 99, "fp"))

    assert err.value.code == "corrupt_doc"
    assert await snapshot_of(store) == before
    assert (await store.read(shared.doc_id))["title"] == "共有"
    for missing in (new.doc_id, "broken"):
        with pytest.raises(DocNotFound):
            await store.meta(missing)
    assert (await store.peer(peer.store_id))["received_seq"] == 0


@pytest.mark.parametrize("kind, scope", [(CONSULTATION, SCOPE), (CASE, "village:KC/XY"),
                                         (CASE, "county:KC")])
async def test_merge_refuses_a_changed_kind_or_scope(store: Store, kind: str,
                                                     scope: str) -> None:
    meta = await store.create(CASE, SCOPE, write_case())
    same = await incoming(store, meta.doc_id)
    before = await snapshot_of(store)

    with pytest.raises(ValidationError) as err:
        await store.merge([Incoming(meta.doc_id, kind, scope, same.data)], origin="peer")

    assert err.value.code == "kind_scope_changed"
    assert await snapshot_of(store) == before
    assert (await store.meta(meta.doc_id)).kind == CASE


async def test_merging_the_same_data_twice_changes_nothing(store: Store, peer: Store) -> None:
    theirs = await peer.create(CASE, SCOPE, write_case("对方的案件"))
    await peer.edit(theirs.doc_id, retitle("对方改过"))
    batch = [await incoming(peer, theirs.doc_id)]

    first = await store.merge(batch, origin=peer.store_id)
    assert [m.doc_id for m in first] == [theirs.doc_id]
    after_first = await snapshot_of(store)
    events: list[Committed] = []
    store.subscribe(events.append)

    assert await store.merge(batch, origin=peer.store_id) == []
    # What we already hold, sent back to us, is nothing new either.
    assert await store.merge([await incoming(store, theirs.doc_id)], origin="x") == []

    assert await snapshot_of(store) == after_first
    assert events == []
    assert (await store.read(theirs.doc_id))["title"] == "对方改过"


async def test_merge_keeps_both_sides_edits(store: Store, peer: Store) -> None:
    meta = await store.create(CASE, SCOPE, write_case())
    await peer.merge([await incoming(store, meta.doc_id)], origin=store.store_id)
    await store.edit(meta.doc_id, retitle("我方改标题"))
    await peer.edit(meta.doc_id, lambda doc: casedoc.log_session(
        doc, date="2026-01-05", participants="双方", summary="对方记录的调解"))

    changed = await store.merge([await incoming(peer, meta.doc_id)], origin=peer.store_id)

    assert [m.doc_id for m in changed] == [meta.doc_id]
    data = await store.read(meta.doc_id)
    assert data["title"] == "我方改标题"
    assert [s["summary"] for s in data["sessions"]] == ["对方记录的调解"]
    assert data["status"] == "mediating"
    rows = await store.query("SELECT title, status FROM records WHERE doc_id = ?",
                             (meta.doc_id,))
    assert rows == [("我方改标题", "mediating")]  # the projection follows the merge
    assert await store.check() == []


async def test_merge_advances_the_checkpoint_in_the_same_transaction(
        store: Store, peer: Store) -> None:
    theirs = await peer.create(CASE, SCOPE, write_case())
    fp = ScopeSet.of(SCOPE).fingerprint()

    await store.merge([await incoming(peer, theirs.doc_id)], origin=peer.store_id,
                      checkpoint=(peer.store_id, 7, fp))
    assert (await store.peer(peer.store_id))["received_seq"] == 7

    # Nothing new, but the peer's feed moved on: the checkpoint still advances.
    await store.merge([], origin=peer.store_id, checkpoint=(peer.store_id, 9, fp))
    assert (await store.peer(peer.store_id))["received_seq"] == 9

    # A failed batch does not move it.
    with pytest.raises(CorruptDoc):
        await store.merge([Incoming("bad", CASE, SCOPE, b"garbage")], origin=peer.store_id,
                          checkpoint=(peer.store_id, 12, fp))
    assert (await store.peer(peer.store_id))["received_seq"] == 9

    # A refused authorization check does not move it either.
    def refuse(inc: Incoming, existing: DocMeta | None) -> None:
        raise ValidationError("forbidden", "not allowed")

    new = await peer.create(CASE, SCOPE, write_case("再来一件"))
    with pytest.raises(ValidationError):
        await store.merge([await incoming(peer, new.doc_id)], origin=peer.store_id,
                          checkpoint=(peer.store_id, 15, fp), check=refuse)
    assert (await store.peer(peer.store_id))["received_seq"] == 9
    with pytest.raises(DocNotFound):
        await store.meta(new.doc_id)


# --- encryption at rest --------------------------------------------------------------------
def raw_bytes(db: Path) -> bytes:
    """The store file and its WAL as they lie on disk."""
    return b"".join(p.read_bytes() for p in db.parent.iterdir()
                    if p.name in (db.name, db.name + "-wal"))


async def write_personal_data(db: Path, key: bytes | None) -> tuple[Store, str]:
    s = await open_store(db, key)
    meta = await s.create(CASE, SCOPE, write_case(phone=PHONE, id_number=ID_NUMBER))
    # A change chunk in the tail carries the numbers too.
    await s.edit(meta.doc_id, lambda doc: casedoc.edit_case(doc, parties=[
        Party("applicant", "张建国", "13800001111", ID_NUMBER)]))
    return s, meta.doc_id


async def test_personal_data_is_not_in_the_file_in_plain_text(tmp_path: Path,
                                                              key: bytes) -> None:
    db = tmp_path / "store.db"
    s, doc_id = await write_personal_data(db, key)
    try:
        assert (db.parent / (db.name + "-wal")).exists()
        raw = raw_bytes(db)
        for secret in (PHONE, "13800001111", ID_NUMBER):
            assert secret.encode() not in raw
        # ... yet the store reads them back.
        assert (await s.read(doc_id))["parties"][0]["phone"] == "13800001111"
    finally:
        await s.close()
    raw = raw_bytes(db)  # after the WAL was checkpointed into the main file
    for secret in (PHONE, "13800001111", ID_NUMBER):
        assert secret.encode() not in raw


async def test_the_raw_byte_search_does_find_unsealed_numbers(tmp_path: Path) -> None:
    """Control for the test above: without a key the same search finds the numbers, so
    its passing means the numbers are sealed, not that the search cannot see them."""
    db = tmp_path / "plain.db"
    s, _ = await write_personal_data(db, None)
    try:
        raw = raw_bytes(db)
        assert PHONE.encode() in raw and ID_NUMBER.encode() in raw
    finally:
        await s.close()


async def test_a_store_opened_with_another_key_refuses_to_read(tmp_path: Path,
                                                               key: bytes) -> None:
    s, doc_id = await write_personal_data(tmp_path / "store.db", key)
    await s.close()
    other = await open_store(tmp_path / "store.db", new_key())
    try:
        with pytest.raises(CorruptDoc):
            await other.read(doc_id)
        assert any(doc_id in p for p in await other.check())
    finally:
        await other.close()
