"""The write path reads a document with ``amdoc.read`` (two calls into Automerge per map)
and only the root keys the projection needs (``PROJECTED_KEYS``): both must give what
automerge-py's ``extract`` of the whole document gives the projection.

Checked on every document of a demo node (cases with sessions, closings and follow-ups,
consultations, content, screenings, warnings, the village profile), and on a document
whose fields were written concurrently on two replicas (conflicting values: the reader
must pick the winner ``get`` picks).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automerge.core import ROOT, Document, ObjType, ScalarType, extract

from node.demo import fill_demo
from node.node import Node
from store import amdoc, kinds
from store.projection import PARTY_KEYS, PROJECTED_KEYS, Tokenizer, party_names, project
from store.records import CONSULTATION, KINDS, REVOCATION, WARNING

TODAY = dt.date(2026, 11, 20)
TOK = Tokenizer(bytes(range(32)))


async def test_projecting_from_the_projected_keys_is_projecting_from_the_whole(
        tmp_path: Path) -> None:
    node = await Node.create(tmp_path / "node", village="BY", village_name="白云村",
                             county="KC")
    try:
        await fill_demo(node, cases=60, seed=7, today=TODAY)
        await node.store.create(WARNING, node.config.scope, lambda doc: kinds.new_warning(
            doc, village="BY", category="neighbour", rule="spike", observed=9, expected=2.5,
            message="邻里纠纷本月明显增多，张三来电 13912345678"))
        rows = await node.store.query("SELECT doc_id, kind FROM docs ORDER BY doc_id")
        docs = {doc_id: (kind, await node.store.load(doc_id)) for doc_id, kind in rows}
    finally:
        await node.close()
    assert set(KINDS) == set(PROJECTED_KEYS)
    # Every kind is checked (a revocation list, which projects from nothing, is not
    # in a node's store).
    assert {kind for kind, _ in docs.values()} == set(KINDS) - {REVOCATION}
    assert project(REVOCATION, {}, "2026-11-20", TOK) == project(
        REVOCATION, {"revoked": ["x"], "county": "KC"}, "2026-11-20", TOK)
    for doc_id, (kind, doc) in docs.items():
        whole = extract(doc)
        assert amdoc.read(doc) == whole, doc_id
        names: list[str] = []
        if kind == CONSULTATION:
            case = docs[str(whole["case_id"])][1]  # type: ignore[index]
            names = party_names(amdoc.read(case, PARTY_KEYS))
            assert names and names == party_names(extract(case))  # type: ignore[arg-type]
        want = project(kind, whole, "2026-11-20", TOK, names)  # type: ignore[arg-type]
        got = project(kind, amdoc.read(doc, PROJECTED_KEYS[kind]), "2026-11-20", TOK, names)
        assert got == want, (doc_id, kind)
        assert set(amdoc.read(doc, PROJECTED_KEYS[kind])) <= set(PROJECTED_KEYS[kind])


def test_concurrent_values_read_as_get_reads_them() -> None:
    a = Document(actor_id=b"\x01" * 16)
    with a.transaction() as tx:
        tx.put(ROOT, "title", ScalarType.Str, "一")
        parties = tx.put_object(ROOT, "parties", ObjType.List)
        p = tx.insert_object(parties, 0, ObjType.Map)
        tx.put(p, "name", ScalarType.Str, "张三")
    b = a.fork()
    b.set_actor(b"\x02" * 16)
    with a.transaction() as tx:
        tx.put(ROOT, "title", ScalarType.Str, "甲")
        tx.put_object(ROOT, "status", ObjType.Map)
    with b.transaction() as tx:
        tx.put(ROOT, "title", ScalarType.Str, "乙")
        tx.put(ROOT, "status", ScalarType.Str, "closed")
        tx.put(ROOT, "extra", ScalarType.Null, None)
    a.merge(b)
    assert amdoc.read(a) == extract(a)
    assert amdoc.read(a, ("title", "parties")) == {"title": extract(a)["title"],  # type: ignore[index]
                                                   "parties": [{"name": "张三"}]}
