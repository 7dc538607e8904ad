"""What every backend of the document store keeps (store/protocol.py): acknowledged writes
survive a reopen, merge is idempotent and all or nothing, the feed is in seq order and
pages without loss, a checkpoint commits with its data, scopes filter the feed, personal
data is sealed at rest, concurrent writers never lose an edit, and a writer cancelled at
any await leaves the store whole and usable.
"""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest
from automerge.core import Document

from store import (
    CorruptDoc,
    DocumentStore,
    Incoming,
    ScopeSet,
    StoreError,
    ValidationError,
    casedoc,
    pack_heads,
)
from store.records import CASE, Party

from .conftest import Backend

BY, XH, OTHER = "village:KC/BY", "village:KC/XH", "village:ZZ/AA"
ALL = ScopeSet.of("*")
PHONE = "13912345678"
NAME = "张建国"


def new_case(title: str, number: str = "BY-T01-0001",
             phone: str = "") -> Callable[[Document], None]:
    def write(doc: Document) -> None:
        casedoc.new_case(doc, number=number, category="neighbour", title=title,
                         description="邻居翻建房屋越过界址", village="BY", county="KC",
                         parties=[Party("applicant", NAME, phone, ""),
                                  Party("respondent", "李秀英")])
    return write


def retitle(title: str) -> Callable[[Document], None]:
    return lambda doc: casedoc.edit_case(doc, title=title)


async def title_of(store: DocumentStore, doc_id: str) -> str:
    return str((await store.read(doc_id))["title"])


async def test_the_store_speaks_the_protocol(store: DocumentStore) -> None:
    assert isinstance(store, DocumentStore)


# --- durability -------------------------------------------------------------------------
async def test_acknowledged_writes_survive_a_reopen(backend: Backend) -> None:
    store = await backend.open()
    a = await store.create(CASE, BY, new_case("院墙纠纷"))
    await store.edit(a.doc_id, retitle("院墙纠纷（已调解）"))
    other = await backend.open()  # a second store on the same data: another program
    b = await other.create(CASE, XH, new_case("宅基地", "XH-T01-0001"))
    merged_in = Document()
    new_case("外来")(merged_in)
    await store.merge([Incoming("c1", CASE, BY, merged_in.save())], origin="peer-1",
                      checkpoint=("peer-1", 7, "fp"))
    await store.record_peer("peer-2", sent_seq=5, label="relay")
    top = await store.current_seq()
    await store.close()
    await other.close()

    again = await backend.open()
    assert await title_of(again, a.doc_id) == "院墙纠纷（已调解）"
    assert await title_of(again, b.doc_id) == "宅基地"
    assert await title_of(again, "c1") == "外来"
    assert await again.current_seq() == top == 4
    assert (await again.peer("peer-1"))["received_seq"] == 7
    assert (await again.peer("peer-2"))["sent_seq"] == 5
    assert (await again.last_peer(label="relay") or {}).get("peer_id") == "peer-2"


# --- merge --------------------------------------------------------------------------------
async def test_merge_is_idempotent(store: DocumentStore) -> None:
    doc = Document()
    new_case("院墙纠纷")(doc)
    inc = [Incoming("m1", CASE, BY, doc.save())]
    first = await store.merge(inc, origin="peer")
    seq = await store.current_seq()
    assert [m.doc_id for m in first] == ["m1"]
    assert await store.merge(inc, origin="peer") == []
    assert await store.merge(inc, origin="someone-else") == []
    assert await store.current_seq() == seq
    # Their later change on top of ours merges once, too.
    casedoc.edit_case(doc, title="改过")
    second = [Incoming("m1", CASE, BY, doc.save())]
    assert len(await store.merge(second, origin="peer")) == 1
    assert await store.merge(second, origin="peer") == []
    assert await title_of(store, "m1") == "改过"


async def test_a_bad_document_fails_the_whole_batch(store: DocumentStore) -> None:
    good = Document()
    new_case("好的")(good)
    before = await store.current_seq()
    with pytest.raises(CorruptDoc):
        await store.merge([Incoming("g1", CASE, BY, good.save()),
                           Incoming("b1", CASE, BY, b"not automerge")], origin="peer",
                          checkpoint=("peer", 9, "fp"))
    assert await store.current_seq() == before
    assert (await store.peer("peer"))["received_seq"] == 0
    with pytest.raises(StoreError):
        await store.meta("g1")


def _hostile(saved: bytes) -> dict[str, tuple[bytes, bytes]]:
    """Bytes for a new document that must be refused, and the heads sent with them."""
    flipped = saved[:-1] + bytes([saved[-1] ^ 1])
    return {
        "not automerge": (b"not automerge", b""),
        "a flipped byte (bad checksum)": (flipped, b""),
        "cut short": (saved[:-3], b""),
        "something after the document": (saved + b"junk", b""),
        "heads the document does not hold": (saved, bytes(32)),
    }


def _other_doc() -> bytes:
    doc = Document()
    new_case("另一个", "BY-T01-0009")(doc)
    return doc.save()


@pytest.mark.parametrize("what", list(_hostile(b"x" * 16)))
async def test_hostile_bytes_for_a_new_document_are_refused(store: DocumentStore,
                                                            what: str) -> None:
    """A new document's incoming bytes become its snapshot as they are, so they are
    checked first: bytes that do not load whole, or that do not hold the heads the sender
    gave, fail the batch; nothing of it is stored, the checkpoint stays."""
    good, bad = Document(), Document()
    new_case("好的")(good)
    new_case("坏的", "BY-T01-0002")(bad)
    data, heads = _hostile(bad.save())[what]
    before = await store.current_seq()
    with pytest.raises(CorruptDoc) as err:
        await store.merge([Incoming("g1", CASE, BY, good.save()),
                           Incoming("h1", CASE, BY, data, heads)], origin="peer",
                          checkpoint=("peer", 9, "fp"))
    assert err.value.details["doc_id"] == "h1"
    assert await store.current_seq() == before
    assert (await store.peer("peer"))["received_seq"] == 0
    for doc_id in ("g1", "h1"):
        with pytest.raises(StoreError):
            await store.meta(doc_id)


async def test_a_new_document_is_stored_as_it_came(store: DocumentStore) -> None:
    """One whole saved document is kept byte for byte; anything else
    that loads (its bare changes; two documents one after the other, which load as their
    merge) is saved whole, as before. They load with the heads they came with, and the
    projection is the same."""
    doc = Document()
    new_case("院墙纠纷")(doc)
    saved = doc.save()
    changes = b"".join(ch.bytes for ch in doc.get_changes([]))
    assert changes != saved
    heads = pack_heads(doc.get_heads())
    metas = await store.merge([Incoming("w1", CASE, BY, saved, heads),
                               Incoming("c1", CASE, BY, changes)], origin="peer")
    assert [m.heads for m in metas] == [heads, heads]
    kept = await store.saved_many(["w1", "c1"])
    assert kept["w1"] == saved
    assert kept["c1"] != changes and Document.load(kept["c1"]).save() == kept["c1"]
    both = saved + _other_doc()
    two = Document.load(both)
    await store.merge([Incoming("t1", CASE, BY, both)], origin="peer")
    assert (await store.saved_many(["t1"]))["t1"] == two.save()
    assert pack_heads((await store.load("t1")).get_heads()) == pack_heads(two.get_heads())
    for doc_id in ("w1", "c1"):
        assert pack_heads((await store.load(doc_id)).get_heads()) == heads
        assert await title_of(store, doc_id) == "院墙纠纷"
    rows = await store.query("SELECT doc_id, title, search, tokens FROM records "
                             "WHERE doc_id IN ('w1', 'c1') ORDER BY doc_id")
    assert rows[0][1:] == rows[1][1:] and rows[0][1] == "院墙纠纷"


async def test_kind_and_scope_never_change(store: DocumentStore) -> None:
    meta = await store.create(CASE, BY, new_case("院墙纠纷"))
    theirs = await store.saved_bytes(meta.doc_id)
    with pytest.raises(ValidationError) as err:
        await store.merge([Incoming(meta.doc_id, CASE, XH, theirs)], origin="peer")
    assert err.value.code == "kind_scope_changed"


# --- the feed -----------------------------------------------------------------------------
async def test_feed_is_in_seq_order_and_pages_without_loss(store: DocumentStore) -> None:
    ids = [(await store.create(CASE, BY, new_case(f"案{i}", f"BY-T01-{i:04d}"))).doc_id
           for i in range(12)]
    for doc_id in ids[2:5]:  # edited again: they move to the end of the feed
        await store.edit(doc_id, retitle("改"))
    seen: list[tuple[str, int]] = []
    since, pages = 0, 0
    while True:
        page = await store.changes_since(since, readable=ALL, limit=5)
        seen += [(m.doc_id, m.seq) for m in page.entries]
        assert page.upto >= since
        since, pages = page.upto, pages + 1
        if not page.more:
            break
        assert pages < 10
    seqs = [s for _, s in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sorted(d for d, _ in seen) == sorted(ids)  # each document once, at its last seq
    assert [d for d, _ in seen][-3:] == ids[2:5]
    assert since == await store.current_seq() == 15
    assert (await store.changes_since(since, readable=ALL)).entries == []
    assert await store.count_since(10, readable=ALL) == 5


async def test_feed_leaves_out_what_came_unchanged_from_the_peer(store: DocumentStore) -> None:
    doc = Document()
    new_case("他们的")(doc)
    await store.merge([Incoming("p1", CASE, BY, doc.save())], origin="peer")
    mine = await store.create(CASE, BY, new_case("我们的"))
    page = await store.changes_since(0, readable=ALL, exclude_from="peer")
    assert [m.doc_id for m in page.entries] == [mine.doc_id]
    assert await store.count_since(0, readable=ALL, exclude_from="peer") == 1
    await store.edit("p1", retitle("我们改了"))  # now we hold what the peer lacks
    page = await store.changes_since(0, readable=ALL, exclude_from="peer")
    assert [m.doc_id for m in page.entries] == [mine.doc_id, "p1"]


async def test_scopes_filter_the_feed(store: DocumentStore) -> None:
    for scope, title in ((BY, "a"), (XH, "b"), (OTHER, "c"), ("county:KC", "d")):
        await store.create(CASE, scope, new_case(title))

    async def scopes(readable: ScopeSet) -> list[str]:
        return [m.scope for m in (await store.changes_since(0, readable=readable)).entries]

    assert await scopes(ScopeSet.of(BY)) == [BY]
    assert await scopes(ScopeSet.of("village:KC/*")) == [BY, XH]
    assert await scopes(ScopeSet.of("village:KC/*", "county:KC")) == [BY, XH, "county:KC"]
    assert await scopes(ScopeSet.nothing()) == []
    assert await scopes(ALL) == [BY, XH, OTHER, "county:KC"]
    # A pattern is a subtree, not a wildcard: "village:K*" is no prefix of anything.
    assert await scopes(ScopeSet.of("village:K/*")) == []
    assert await store.count_since(0, readable=ScopeSet.of("village:KC/*")) == 2


# --- checkpoints --------------------------------------------------------------------------
async def test_a_checkpoint_commits_with_the_data(store: DocumentStore) -> None:
    doc = Document()
    new_case("院墙纠纷")(doc)
    await store.merge([Incoming("k1", CASE, BY, doc.save())], origin="peer",
                      checkpoint=("peer", 10, "fp-a"))
    assert (await store.peer("peer"))["received_seq"] == 10
    # Going back never happens under the same scopes...
    await store.merge([], origin="peer", checkpoint=("peer", 4, "fp-a"))
    assert (await store.peer("peer"))["received_seq"] == 10
    # ...but new scopes started the session from zero: the new value stands.
    await store.merge([], origin="peer", checkpoint=("peer", 3, "fp-b"))
    got = await store.peer("peer")
    assert (got["received_seq"], got["scope_fp"]) == (3, "fp-b")
    await store.record_peer("peer", sent_seq=8)
    await store.record_peer("peer", sent_seq=2)
    assert (await store.peer("peer"))["sent_seq"] == 8
    await store.record_peer("peer", scope_fp="fp-c")  # a changed fingerprint resets both
    got = await store.peer("peer")
    assert (got["received_seq"], got["sent_seq"]) == (0, 0)


async def test_peers_by_label(store: DocumentStore) -> None:
    await store.record_peer("n1", label="director:KC/BY:aaaa", seen_at="2026-01-01T00:00:00")
    await store.record_peer("n2", label="director:KC/BY:bbbb", seen_at="2026-02-01T00:00:00")
    await store.record_peer("n3", label="director:KC/BYX:cccc", seen_at="2026-03-01T00:00:00")
    await store.record_peer("n4", label="director:KC_BY:dddd", seen_at="2026-04-01T00:00:00")
    last = await store.last_peer(label_prefix="director:KC/BY:")
    assert last is not None and last["peer_id"] == "n2"
    assert await store.last_peer(label="relay") is None
    assert [p["peer_id"] for p in await store.peers()] == ["n4", "n3", "n2", "n1"]


# --- sealed personal data -----------------------------------------------------------------
async def test_personal_data_is_sealed_at_rest(backend: Backend) -> None:
    store = await backend.open()
    meta = await store.create(CASE, BY, new_case("院墙纠纷", phone=PHONE))
    await store.edit(meta.doc_id, lambda d: casedoc.edit_case(d, description=f"电话 {PHONE}"))
    assert await store.views.find_case("BY-T01-0001") == meta.doc_id
    await store.close()
    raw = await backend.raw()
    assert raw, "the backend keeps nothing at rest?"
    for secret in (PHONE, NAME):
        assert secret.encode() not in raw, secret
    # The old description (free text, in the index redacted of personal data) was written
    # over: SQLite zeroes it (secure_delete); PostgreSQL keeps the old row version in its
    # pages and WAL until VACUUM and WAL recycling (docs/architecture.md).
    assert ("邻居翻建房屋".encode() in raw) == (not backend.wipes_overwritten)


# --- concurrent writers -------------------------------------------------------------------
async def test_concurrent_writers_lose_nothing(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    meta = await one.create(CASE, BY, new_case("院墙纠纷"))

    def add_session(i: int) -> Callable[[Document], None]:
        return lambda d: casedoc.log_session(d, date="2026-01-01", participants="双方",
                                             summary=f"第{i}次", judge_consulted=False, by="t")

    writes = [(one, two)[i % 2].edit(meta.doc_id, add_session(i)) for i in range(20)]
    creates = [s.create(CASE, XH, new_case(f"新{i}", f"XH-T01-{i:04d}"))
               for i, s in enumerate([one, two] * 5)]
    counters = [s.next_counter("case") for s in [one, two] * 5]
    results = await asyncio.gather(*writes, *creates, *counters)
    numbers = results[30:]
    assert sorted(numbers) == list(range(1, 11))  # a durable counter never repeats
    sessions = (await one.read(meta.doc_id))["sessions"]
    assert sorted(s["summary"] for s in sessions) == sorted(f"第{i}次" for i in range(20))
    page = await two.changes_since(0, readable=ALL, limit=100)
    seqs = [m.seq for m in page.entries]
    assert len(page.entries) == 11 and seqs == sorted(seqs)
    assert await one.current_seq() == 1 + 20 + 10  # every commit took its own seq


# --- cancellation -------------------------------------------------------------------------
@pytest.mark.parametrize("after", range(4))
async def test_a_cancelled_writer_leaves_the_store_whole(backend: Backend, after: int) -> None:
    """Three writes in a row (edit, merge with its checkpoint, create), cancelled as the
    ``after``-th of them commits (0: before the first). The cancel lands on the writer's
    next await; each write is there whole or not at all, and exactly the first ``after``
    are."""
    store = await backend.open()
    meta = await store.create(CASE, BY, new_case("院墙纠纷"))
    doc = Document()
    new_case("他们的")(doc)
    seq0 = await store.current_seq()

    async def writes() -> None:
        await store.edit(meta.doc_id, retitle("改了"))
        await store.merge([Incoming("x1", CASE, BY, doc.save())], origin="peer",
                          checkpoint=("peer", 5, "fp"))
        await store.create(CASE, XH, new_case("新", "XH-T01-0001"), doc_id="x2")

    task = asyncio.create_task(writes())
    commits: list[int] = []

    def on_commit(event: object) -> None:
        commits.append(1)
        if len(commits) == after < 3:
            task.cancel()

    unsubscribe = store.subscribe(on_commit)
    if after == 0:
        task.cancel()
    if after < 3:
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await task
    unsubscribe()
    edited = await title_of(store, meta.doc_id) == "改了"
    merged = (await store.peer("peer"))["received_seq"] == 5
    has_x1 = await store.views.doc_exists("x1")
    has_x2 = await store.views.doc_exists("x2")
    assert merged == has_x1  # the checkpoint came with its data, or neither did
    assert (edited, has_x1, has_x2) == tuple(i < after for i in range(3))
    assert await store.current_seq() == seq0 + after
    await _still_usable(backend, store, meta.doc_id, doc)


async def test_a_writer_cancelled_while_it_waits_for_the_lock(backend: Backend) -> None:
    store = await backend.open()
    meta = await store.create(CASE, BY, new_case("院墙纠纷"))
    doc = Document()
    new_case("他们的")(doc)
    seq0 = await store.current_seq()
    first = asyncio.create_task(store.edit(meta.doc_id, retitle("先")))
    second = asyncio.create_task(store.merge([Incoming("x1", CASE, BY, doc.save())],
                                             origin="peer", checkpoint=("peer", 5, "fp")))
    await asyncio.sleep(0)  # both started; the first holds the writer, the second waits
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    assert not await store.views.doc_exists("x1")
    assert (await store.peer("peer"))["received_seq"] == 0
    assert await store.current_seq() == seq0 + 1
    await _still_usable(backend, store, meta.doc_id, doc)


async def _still_usable(backend: Backend, store: DocumentStore, doc_id: str,
                        doc: Document) -> None:
    """Every kind of write works after a cancel, and survives a reopen."""
    await store.edit(doc_id, retitle("再改"))
    await store.create(CASE, XH, new_case("再新", "XH-T01-0002"))
    await store.merge([Incoming("x1", CASE, BY, doc.save())], origin="peer")
    assert await title_of(store, "x1") == "他们的"
    await store.close()
    again = await backend.open()
    assert await title_of(again, doc_id) == "再改"
