"""Property tests of merging case documents: whatever replicas do apart and whatever order
they merge in, they end identical, and merging is idempotent and commutative.

Replicas are automerge Documents edited with the store's own case mutators
(store.casedoc); the last test goes through Store.merge on real SQLite files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from automerge.core import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Incoming, Store, ValidationError, amdoc, casedoc, new_key
from store.casedoc import Case
from store.records import CASE, FOLLOWUP_MONTHS, STATUSES, TRANSITIONS, Party

SCOPE = "village:KC/BY"
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

texts = st.text(alphabet="甲乙丙丁调解协议赔偿邻里 abc", min_size=1, max_size=10)
days = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 12, 31))
dates = days.map(lambda d: d.isoformat())
actors = st.binary(min_size=16, max_size=16)

# One edit a director could make. "status" draws any status, so most are illegal moves that
# the mutator refuses (leaving the replica as it was, as in the app); "advance" always makes
# a legal move, so cases also get closed and have their follow-ups recorded.
edits = st.one_of(
    st.tuples(st.just("session"), dates, texts, st.booleans()),
    st.tuples(st.just("status"), st.sampled_from(list(STATUSES)), texts),
    st.tuples(st.just("advance"), st.integers(0, 5), texts, days),
    st.tuples(st.just("title"), texts),
    st.tuples(st.just("description"), texts),
    st.tuples(st.just("close"), st.one_of(st.none(), texts), days),
    st.tuples(st.just("followup"), st.sampled_from(FOLLOWUP_MONTHS), dates,
              st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("parties"), texts),
)


STARTS = ("registered", "mediating", "closed")


def base_case(start: str = "registered") -> Document:
    """The case as all replicas first received it: just registered, in mediation, or
    closed with an agreement (so follow-up visits are planned)."""
    doc = Document()
    casedoc.new_case(doc, number="BY-T01-0001", category="neighbour", title="宅基地纠纷",
                     description="越过界址", village="BY", county="KC",
                     parties=[Party("applicant", "张建国"), Party("respondent", "李秀英")])
    if start in ("mediating", "closed"):
        casedoc.log_session(doc, date="2026-01-02", participants="双方", summary="首次调解")
    if start == "closed":
        casedoc.close_case(doc, agreement="重砌院墙", on=dt.date(2026, 1, 31))
    return doc


def replica(doc: Document, actor: bytes) -> Document:
    """A copy of ``doc`` as another node would hold it (its own actor)."""
    copy = Document.load(doc.save())
    copy.set_actor(actor)
    return copy


def copy_of(doc: Document) -> Document:
    return Document.load(doc.save())


def apply(doc: Document, edit: tuple[Any, ...]) -> None:
    op, *args = edit
    try:
        if op == "session":
            date, summary, judge = args
            casedoc.log_session(doc, date=date, participants="双方", summary=summary,
                                judge_consulted=judge)
        elif op == "status":
            new, note = args
            casedoc.change_status(doc, new, note=note)
        elif op == "advance":  # a legal move along the life cycle, chosen by index
            k, note, on = args
            allowed = sorted(TRANSITIONS[amdoc.get_str(doc, "status")])
            if allowed:
                casedoc.change_status(doc, allowed[k % len(allowed)], note=note, on=on)
        elif op == "title":
            casedoc.edit_case(doc, title=args[0])
        elif op == "description":
            casedoc.edit_case(doc, description=args[0])
        elif op == "close":
            agreement, on = args
            casedoc.close_case(doc, agreement=agreement, on=on)
        elif op == "followup":
            month, done, satisfaction = args
            casedoc.record_followup(doc, month, done=done, outcome="回访",
                                    satisfaction=satisfaction)
        elif op == "parties":
            casedoc.edit_case(doc, parties=[Party("applicant", args[0])])
    except ValidationError:
        pass


def state(doc: Document) -> tuple[list[bytes], dict[str, Any]]:
    return sorted(doc.get_heads()), amdoc.read(doc)


@FAST
@given(note=texts, summary=texts.filter(str.strip), date=dates,
       pair=st.lists(actors, min_size=2, max_size=2, unique=True), a_first=st.booleans())
def test_status_change_and_session_made_apart_are_both_kept(
        note: str, summary: str, date: str, pair: list[bytes], a_first: bool) -> None:
    base = base_case()
    casedoc.log_session(base, date="2026-01-02", participants="双方", summary="首次调解")
    a, b = replica(base, pair[0]), replica(base, pair[1])

    casedoc.change_status(a, "failed", note=note)
    casedoc.log_session(b, date=date, participants="双方及联系法官", summary=summary)
    merged = copy_of(a if a_first else b)
    merged.merge(b if a_first else a)

    case = Case.from_data("x", amdoc.read(merged))
    assert case.status == "failed"
    assert case.outcome == "failed"
    assert [s.summary for s in case.sessions] == ["首次调解", summary.strip()]
    assert [s.date for s in case.sessions] == ["2026-01-02", date]
    assert [(h.to_status, h.note) for h in case.history] == [("mediating", ""),
                                                             ("failed", note)]


@st.composite
def scenario(draw: st.DrawFn
             ) -> tuple[str, list[bytes], list[tuple[Any, ...]], list[tuple[int, int]]]:
    """Replicas (their actors), a schedule of edits and pairwise merges interleaved, and a
    final order in which every replica merges from every other once."""
    start = draw(st.sampled_from(STARTS))
    n = draw(st.integers(min_value=2, max_value=4))
    replica_actors = draw(st.lists(actors, min_size=n, max_size=n, unique=True))
    step = st.one_of(
        st.tuples(st.just("edit"), st.integers(0, n - 1), edits),
        st.tuples(st.just("merge"), st.integers(0, n - 1), st.integers(0, n - 1)),
    )
    schedule = draw(st.lists(step, max_size=24))
    final = draw(st.permutations([(i, j) for i in range(n) for j in range(n) if i != j]))
    return start, replica_actors, schedule, list(final)


@FAST
@given(scenario())
def test_replicas_converge_whatever_the_merge_order(
        drawn: tuple[str, list[bytes], list[tuple[Any, ...]], list[tuple[int, int]]]) -> None:
    start, replica_actors, schedule, final = drawn
    base = base_case(start)
    docs = [replica(base, a) for a in replica_actors]
    all_edits: list[Document] = []

    for step in schedule:
        if step[0] == "edit":
            _, i, edit = step
            apply(docs[i], edit)
            all_edits.append(copy_of(docs[i]))
        else:
            _, dst, src = step
            if dst != src:
                docs[dst].merge(docs[src])
    for dst, src in final:
        docs[dst].merge(docs[src])

    first = state(docs[0])
    for doc in docs[1:]:
        assert state(doc) == first
    # Nothing any replica did was lost: every state reached along the way is contained.
    have = set(docs[0].get_heads())
    for snapshot in all_edits:
        check = copy_of(docs[0])
        check.merge(snapshot)
        assert set(check.get_heads()) == have
    # And the merged case is still a readable case.
    case = Case.from_data("x", first[1])
    assert case.status in STATUSES


@st.composite
def two_edited_replicas(draw: st.DrawFn) -> tuple[Document, Document]:
    a_actor, b_actor = draw(st.lists(actors, min_size=2, max_size=2, unique=True))
    base = base_case(draw(st.sampled_from(STARTS)))
    a, b = replica(base, a_actor), replica(base, b_actor)
    for edit in draw(st.lists(edits, max_size=8)):
        apply(a, edit)
    for edit in draw(st.lists(edits, max_size=8)):
        apply(b, edit)
    return a, b


@FAST
@given(two_edited_replicas())
def test_merging_is_idempotent(pair: tuple[Document, Document]) -> None:
    a, b = pair
    once = copy_of(a)
    once.merge(b)
    twice = copy_of(once)
    twice.merge(b)
    twice.merge(b)
    assert state(twice) == state(once)
    itself = copy_of(once)
    itself.merge(copy_of(once))
    assert state(itself) == state(once)


@FAST
@given(two_edited_replicas())
def test_merging_is_commutative(pair: tuple[Document, Document]) -> None:
    a, b = pair
    ab = copy_of(a)
    ab.merge(b)
    ba = copy_of(b)
    ba.merge(a)
    assert state(ab) == state(ba)
    # Both sides' changes are in the result: merging either side again adds nothing.
    for side in (a, b):
        again = copy_of(ab)
        again.merge(side)
        assert state(again) == state(ab)


# --- the same through Store.merge on SQLite --------------------------------------------------
store_ops = st.one_of(
    st.tuples(st.just("create"), texts),
    st.tuples(st.just("edit"), st.integers(0, 50), edits),
)


async def _run_ops(store: Store, ops: list[tuple[Any, ...]], doc_ids: list[str]) -> None:
    for op in ops:
        if op[0] == "create":
            title = op[1]
            meta = await store.create(CASE, SCOPE, lambda doc, t=title: casedoc.new_case(
                doc, number="BY-T01-0001", category="loan", title=t + "借款",
                parties=[Party("applicant", "王伟")]))
            doc_ids.append(meta.doc_id)
        elif doc_ids:
            _, k, edit = op
            await store.edit(doc_ids[k % len(doc_ids)], lambda doc, e=edit: apply(doc, e))


async def _send_all(src: Store, dst: Store) -> None:
    rows = await src.query("SELECT doc_id, kind, scope, heads FROM docs")
    batch = [Incoming(d, k, s, await src.saved_bytes(d), h) for d, k, s, h in rows]
    await dst.merge(batch, origin=src.store_id)


async def _store_state(store: Store) -> dict[str, Any]:
    rows = await store.query("SELECT doc_id, heads FROM docs ORDER BY doc_id")
    projection = await store.query(
        "SELECT doc_id, number, title, category, status, closed_at, outcome, search "
        "FROM records ORDER BY doc_id")
    followups = await store.query("SELECT * FROM followups ORDER BY doc_id, month")
    return {"docs": {d: (h, await store.read(d)) for d, h in rows},
            "projection": projection, "followups": followups}


async def _two_stores_converge(shared: list[tuple[Any, ...]], a_ops: list[tuple[Any, ...]],
                               b_ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = await Store.open(Path(tmp) / "a.db", key=new_key())
        b = await Store.open(Path(tmp) / "b.db", key=new_key())
        try:
            a_ids: list[str] = []
            await _run_ops(a, [("create", "共有")] + shared, a_ids)
            await _send_all(a, b)
            b_ids = list(a_ids)
            await _run_ops(a, a_ops, a_ids)
            await _run_ops(b, b_ops, b_ids)

            await _send_all(a, b)
            await _send_all(b, a)

            sa, sb = await _store_state(a), await _store_state(b)
            assert sa == sb
            assert set(sa["docs"]) == set(a_ids) | set(b_ids)
            assert await a.check() == [] and await b.check() == []
            # Converged stores have nothing new for each other.
            seq = await a.current_seq()
            await _send_all(b, a)
            assert await a.current_seq() == seq
        finally:
            await a.close()
            await b.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared=st.lists(store_ops, max_size=4), a_ops=st.lists(store_ops, max_size=8),
       b_ops=st.lists(store_ops, max_size=8))
def test_two_stores_exchanging_saved_documents_converge(
        shared: list[tuple[Any, ...]], a_ops: list[tuple[Any, ...]],
        b_ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(_two_stores_converge(shared, a_ops, b_ops))



phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@FAST
@given(phone=phones, name=st.sampled_from(["李秀英", "李秀云", "Li Xiuying"]),
       pair=st.lists(actors, min_size=2, max_size=2, unique=True), a_first=st.booleans())
def test_corrections_of_different_parties_made_apart_are_both_kept(
        phone: str, name: str, pair: list[bytes], a_first: bool) -> None:
    """One computer corrects the applicant's phone, another the respondent's name: each
    edit sends the whole list of parties, yet both corrections survive the merge (parties
    are written in place, field by field)."""
    base = base_case()
    a, b = replica(base, pair[0]), replica(base, pair[1])
    casedoc.edit_case(a, parties=[Party("applicant", "张建国", phone),
                                  Party("respondent", "李秀英")])
    casedoc.edit_case(b, parties=[Party("applicant", "张建国"), Party("respondent", name)])
    merged = copy_of(a if a_first else b)
    merged.merge(b if a_first else a)
    parties = Case.from_data("x", amdoc.read(merged)).parties
    assert [(p.role, p.name, p.phone) for p in parties] == [
        ("applicant", "张建国", phone), ("respondent", name, "")]


def test_a_party_added_and_one_removed() -> None:
    doc = base_case()
    casedoc.edit_case(doc, parties=[Party("applicant", "张建国"), Party("respondent", "李秀英"),
                                    Party("third", "王五")])
    assert [p.name for p in Case.from_data("x", amdoc.read(doc)).parties] == [
        "张建国", "李秀英", "王五"]
    casedoc.edit_case(doc, parties=[Party("applicant", "张建国")])
    assert [p.name for p in Case.from_data("x", amdoc.read(doc)).parties] == ["张建国"]
