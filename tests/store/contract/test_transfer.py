"""Moving a store row for row (store/transfer.py) from the SQLite file to each backend:
the same sealed bytes, heads and seqs, checkpoints, counters, sync log and store id; the
feed goes on where it was; a second copy over the first gives the same store."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from automerge.core import Document

from store import DocumentStore, Incoming, ScopeSet, Store, casedoc, transfer
from store.records import CASE, Party

from .conftest import Backend

BY = "village:KC/BY"
ALL = ScopeSet.of("*")
PHONE = "13912345678"


def new_case(title: str, number: str) -> Callable[[Document, int], None]:
    def write(doc: Document, n: int) -> None:
        casedoc.new_case(doc, number=f"{number}-{n:04d}", category="neighbour", title=title,
                         description="邻居翻建房屋越过界址", village="BY", county="KC",
                         parties=[Party("applicant", "张建国", PHONE, ""),
                                  Party("respondent", "李四")])
    return write


async def _source(path: Path, key: bytes) -> Store:
    """A store with documents (one with a tail), merged documents with a checkpoint, peers,
    a counter and a sync log."""
    src = await Store.open(path, key=key)
    ids = []
    for i in range(7):
        meta = await src.create(CASE, BY, new_case(f"边界 {i}", "BY"), counter="case:BY")
        ids.append(meta.doc_id)
    await src.edit(ids[0], lambda d: casedoc.change_status(d, "mediating"))
    other = await Store.open(path.parent / "other.db", key=key)
    far = await other.create(CASE, "village:KC/XH", new_case("水渠", "XH"), counter="case:XH")
    await src.merge([Incoming(far.doc_id, CASE, "village:KC/XH",
                              await other.saved_bytes(far.doc_id))],
                    origin=other.store_id, checkpoint=(other.store_id, 1, "fp-xh"))
    await other.close()
    await src.record_peer(other.store_id, sent_seq=await src.current_seq(), label="XH",
                          seen_at="2026-11-30T08:00:00Z")
    await src.record_peer("village-by", sent_seq=5, label="BY", scope_fp="fp-by",
                          seen_at="2026-12-01T09:00:00Z")
    await src.log_sync({"started_at": "2026-12-01T09:00:00Z",
                        "finished_at": "2026-12-01T09:00:02Z", "peer_id": "village-by",
                        "peer_label": "BY", "ok": 1, "docs_sent": 3, "docs_received": 2,
                        "bytes_sent": 100, "bytes_received": 50})
    return src


async def test_a_store_moves_whole_and_goes_on_where_it_was(backend: Backend,
                                                            tmp_path: Path) -> None:
    src = await _source(tmp_path / "src" / "store.db", backend.key)
    dst: DocumentStore = await backend.open()
    told: list[tuple[str, int, int]] = []
    copied = await transfer.copy_store(src, dst, progress=lambda *a: told.append(a))
    assert copied["docs"] == 8 and copied["peers"] == 2 and copied["sync_log"] == 1
    assert copied["doc_tail"] >= 1  # the edited case's tail went as it is
    assert ("docs", 8, 8) in told
    await dst.close()
    dst = await backend.open()  # takes on the copied store id
    result = await transfer.compare(src, dst)
    assert result.ok, result.problems
    assert result.heads_equal == 8
    assert dst.store_id == src.store_id
    top = await src.current_seq()
    assert await dst.current_seq() == top
    for m in (await src.changes_since(0, readable=ALL)).entries:
        assert await dst.meta(m.doc_id) == m
        assert await dst.read(m.doc_id) == await src.read(m.doc_id)  # the same key opens it
    assert await dst.peers() == await src.peers()
    assert await dst.sync_log() == await src.sync_log()
    # The feed goes on: nothing new since the top, the next change takes the next seq,
    # the next case number follows.
    assert (await dst.changes_since(top, readable=ALL)).entries == []
    meta = await dst.create(CASE, BY, new_case("新案", "BY"), counter="case:BY")
    assert meta.seq == top + 1
    assert (await dst.read(meta.doc_id))["number"] == "BY-0008"
    await src.close()
    if backend.name == "postgresql":  # sealed at rest there too
        assert PHONE.encode() not in await backend.raw()


async def test_a_second_copy_over_the_first_gives_the_same_store(backend: Backend,
                                                                 tmp_path: Path) -> None:
    src = await _source(tmp_path / "src" / "store.db", backend.key)
    dst = await backend.open()
    assert await transfer.is_blank(dst)
    await transfer.copy_store(src, dst)
    assert not await transfer.is_blank(dst)
    await src.edit((await src.changes_since(0, readable=ALL)).entries[0].doc_id,
                   lambda d: casedoc.edit_case(d, title="改过的标题"))
    await transfer.copy_store(src, dst)
    assert (await transfer.compare(src, dst)).ok
    await src.close()


async def test_compare_finds_a_difference(backend: Backend, tmp_path: Path) -> None:
    src = await _source(tmp_path / "src" / "store.db", backend.key)
    dst = await backend.open()
    await transfer.copy_store(src, dst)
    await dst.record_peer("village-by", sent_seq=99)
    await dst.edit((await dst.changes_since(0, readable=ALL)).entries[-1].doc_id,
                   lambda d: casedoc.edit_case(d, title="改过的标题"))
    result = await transfer.compare(src, dst)
    assert not result.ok
    assert any(p.startswith("peers ('village-by',)") for p in result.problems)
    assert any(p.startswith("docs ") for p in result.problems)
    assert result.heads_equal == 7
    await src.close()


async def test_only_the_store_tables_are_named(store: DocumentStore) -> None:
    with pytest.raises(ValueError):
        await store.export_rows("docs; DROP TABLE docs")
    with pytest.raises(ValueError):
        await store.import_rows("blobs", [])
