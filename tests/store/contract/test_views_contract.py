"""Every named query of store/views.py gives the same rows on SQLite and on PostgreSQL.

One village node is filled with the demo data (node/demo.py: cases with sessions and
follow-up visits, consultations, content, screenings) and a few warnings, and every one of
its documents is merged, as a peer would send it, into a fresh PostgreSQL store with the
same key: the two stores hold the same documents, so each query must answer the same.
Two things are each store's own: the feed's seq, and a record's ``updated_at`` (the time
the store last wrote the document, not a field of it); the copy is given the SQLite
store's ``updated_at`` so that "newest activity first" can be compared.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio
from automerge.core import ROOT

from node.demo import fill_demo
from node.node import Node
from store import DocumentStore, amdoc, kinds, records
from store.pg.store import PgStore
from store.scopeset import ScopeSet
from store.types import Incoming
from store.views import CaseFilter, days_between, week_of

from ...pgcluster import Cluster, database

TODAY = dt.date(2026, 6, 15)
START = "2026-01-01T00:00:00+00:00"  # a UTC bound inside the demo's months
END = "2026-06-01T00:00:00+00:00"


class Pair:
    def __init__(self, node: Node, pg: PgStore) -> None:
        self.node = node
        self.sqlite: DocumentStore = node.store
        self.pg = pg


async def _copy(src: DocumentStore, dst: DocumentStore) -> int:
    """Every document of ``src`` merged into ``dst`` whole, as a peer sends it."""
    seq, n = 0, 0
    while True:
        page = await src.changes_since(seq, readable=ScopeSet.of("*"), limit=200)
        saved = await src.saved_many([m.doc_id for m in page.entries])
        await dst.merge([Incoming(m.doc_id, m.kind, m.scope, saved[m.doc_id])
                         for m in page.entries], origin=src.store_id)
        n += len(page.entries)
        seq = page.upto
        if not page.more:
            return n


def _set_status(status: str) -> Callable[[Any], None]:
    def write(doc: Any) -> None:
        with doc.transaction() as tx:
            amdoc.put(tx, ROOT, "status", status)
    return write


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory,
               pg_cluster: Cluster) -> AsyncIterator[Pair]:
    home = tmp_path_factory.mktemp("views")
    node = await Node.create(home / "node", village="BY", village_name="白云村", county="KC")
    try:
        await fill_demo(node, cases=120, seed=7, today=TODAY)
        county = node.config.county_scope
        for village, category, status in (("BY", "land", "open"), ("BY", "debt", "open"),
                                          ("*", "land", "open"), ("HS", "family", "open"),
                                          ("BY", "neighbour", "acknowledged")):
            meta = await node.store.create(records.WARNING, county, lambda doc, v=village,
                                           c=category: kinds.new_warning(
                doc, village=v, category=c, rule="spike", observed=7, expected=1.5,
                message="本月纠纷明显增多，请网格员提前走访。"))
            if status != "open":
                await node.store.edit(meta.doc_id, _set_status(status))
        async with database(pg_cluster) as dsn:
            pg = await PgStore.open(dsn, key=node.home.store_key(), path=home / "side")
            try:
                assert await _copy(node.store, pg) == await node.store.views.doc_count()
                stamps = await node.store.query("SELECT updated_at, doc_id FROM records")
                conn = await asyncpg.connect(dsn)
                try:
                    await conn.executemany(
                        "UPDATE records SET updated_at = $1 WHERE doc_id = $2", stamps)
                finally:
                    await conn.close()
                yield Pair(node, pg)
            finally:
                await pg.close()
    finally:
        await node.close()


Query = Callable[[Any], Awaitable[Any]]


def _queries(p: dict[str, Any]) -> dict[str, Query]:
    """Each named query with parameters taken from the data (``p``); several calls per
    name where the parameters choose different SQL."""
    f_all = CaseFilter()
    f_word = CaseFilter(text=p["word"])
    f_some = CaseFilter(category=p["category"], open_only=True)
    f_none = CaseFilter(text="   ")
    return {
        "doc_count": lambda v: v.doc_count(),
        "doc_exists": lambda v: v.doc_exists(p["case_id"]),
        "doc_exists_missing": lambda v: v.doc_exists("no-such-doc"),
        "count_kind": lambda v: v.count_kind(records.CASE),
        "titles": lambda v: v.titles(p["case_ids"]),
        "village_profile_exists": lambda v: v.village_profile_exists("BY"),
        "village_titles": lambda v: v.village_titles(),
        "cases_all": lambda v: v.cases(f_all),
        "cases_word": lambda v: v.cases(f_word),
        # a party's full name and an ID number: matched by token (the tokens column)
        "cases_name": lambda v: v.cases(CaseFilter(text=p["name"])),
        "cases_id_number": lambda v: v.cases(CaseFilter(text=p["id_number"])),
        "cases_page": lambda v: v.cases(f_some, limit=7, offset=3),
        "cases_blank": lambda v: v.cases(f_none, limit=5),
        "case_count": lambda v: v.case_count(f_word),
        "find_case": lambda v: v.find_case(p["number"].lower()),
        "find_case_exact": lambda v: v.find_case(p["number"], ignore_case=False),
        "cases_numbered_like": lambda v: v.cases_numbered_like(p["like"], limit=10),
        "case_numbers": lambda v: v.case_numbers(p["scope"]),
        "case_counts": lambda v: v.case_counts(),
        "closed_and_agreed": lambda v: v.closed_and_agreed(closed="closed", agreed="agreed"),
        "case_week_counts": lambda v: v.case_week_counts(START, END, tz_hours=8),
        "cases_since": lambda v: v.cases_since(START, tz_hours=8),
        "due_visits": lambda v: v.due_visits("2027-01-01", limit=20),
        "followup_figures": lambda v: v.followup_figures(TODAY.isoformat(), grace_days=7),
        "consultations": lambda v: v.consultations(),
        "consultations_answered": lambda v: v.consultations(status="answered", limit=5,
                                                            oldest_first=True),
        "answered_since": lambda v: v.answered_since(START, limit=50),
        "warnings": lambda v: v.warnings(),
        "warnings_village": lambda v: v.warnings(village="BY", by_update=True),
        "warnings_handled": lambda v: v.warnings(handled=True, village="BY", category="neighbour"),
        "warnings_open_or_since": lambda v: v.warnings_open_or_since(START),
        "status_counts": lambda v: v.status_counts(records.CASE),
        "open_counts": lambda v: v.open_counts([records.CASE, records.WARNING]),
        "raised_between": lambda v: v.raised_between(records.CASE, START, END),
        "content": lambda v: v.content(),
        "content_words": lambda v: v.content(published_only=False, words=[p["content_word"]],
                                             limit=5),
        "content_topics": lambda v: v.content_topics(),
        "screenings": lambda v: v.screenings(limit=10),
        "screening_figures": lambda v: v.screening_figures(),
    }


QUERIES = list(_queries({k: "" for k in ("word", "category", "case_id", "case_ids", "number",
                                          "like", "scope", "content_word", "name",
                                          "id_number")}))
# Answers that are rightly empty or zero on the demo data (the rest must hold something,
# so that two empty answers do not pass for two equal ones).
EMPTY = {"doc_exists_missing"}
UNORDERED = {"case_counts", "titles", "village_titles", "case_numbers", "warnings_open_or_since",
             "status_counts", "open_counts"}  # no ORDER BY: compared as sets


async def _params(pair: Pair) -> dict[str, Any]:
    v = pair.sqlite.views
    rows = await v.cases(CaseFilter())
    first = rows[0]
    content = await v.content(published_only=False)
    text = (await pair.sqlite.read(content[0][0]))
    party = (await pair.sqlite.read(str(first[0])))["parties"][0]
    assert party["name"] and party["id_number"]
    return {
        "word": str(first[2])[:2],  # two characters of a Chinese title
        "category": str(first[3]),
        "case_id": str(first[0]),
        "case_ids": [str(r[0]) for r in rows[:30]] + ["no-such-doc"],
        "number": str(first[1]),
        "like": str(first[1]).upper()[:-1] + "%",
        "scope": pair.node.config.scope,
        "content_word": str(text.get("title", ""))[:2],
        "name": str(party["name"]),
        "id_number": str(party["id_number"]),
    }


def _canon(name: str, answer: Any) -> Any:
    if name in UNORDERED and isinstance(answer, list):
        return sorted(answer, key=repr)
    return answer


def test_every_named_query_is_listed() -> None:
    from store.protocol import Projections
    named = {n for n in vars(Projections) if not n.startswith("_")}
    covered = {n for q in QUERIES for n in named if q == n or q.startswith(n + "_")}
    assert named - covered == set()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", QUERIES)
async def test_the_same_answer_on_both_backends(pair: Pair, name: str) -> None:
    query = _queries(await _params(pair))[name]
    on_sqlite = await query(pair.sqlite.views)
    on_pg = await query(pair.pg.views)
    if name == "cases_since":  # the feed's seq is each store's own
        assert [r[4] for r in on_sqlite] == [(await pair.sqlite.meta(r[0])).seq
                                             for r in on_sqlite]
        assert [r[4] for r in on_pg] == [(await pair.pg.meta(r[0])).seq for r in on_pg]
        on_sqlite = [r[:4] for r in on_sqlite]
        on_pg = [r[:4] for r in on_pg]
    assert _canon(name, on_pg) == _canon(name, on_sqlite)
    assert type(on_pg) is type(on_sqlite)
    if name not in EMPTY:
        assert on_sqlite and on_sqlite not in ((0, 0), (0, 0, 0, None)), on_sqlite
    else:
        assert not on_sqlite


def test_week_of_and_days_between() -> None:
    # 2026-06-14 is a Sunday; 17:00 UTC is already Monday the 15th in China.
    assert week_of("2026-06-14T15:59:59+00:00", 8) == "2026-06-08"
    assert week_of("2026-06-14T16:00:00+00:00", 8) == "2026-06-15"
    assert week_of("2026-06-15T08:00:00+08:00", 0) == "2026-06-15"
    assert week_of("not a date", 8) is None and week_of(None, 8) is None
    assert days_between("2026-06-01", "2026-06-08") == 7
    assert days_between("2026-06-01", "2026-06-01T12:00:00") == 0.5
    assert days_between("2026-06-01", "") is None


def test_an_unknown_dialect_is_refused(tmp_path: Path) -> None:
    from store.projection import Tokenizer
    from store.views import Views

    async def run(sql: str, args: Any) -> list[Any]:  # pragma: no cover - never called
        return []
    with pytest.raises(ValueError, match="dialect"):
        Views(run, Tokenizer(b"k" * 32), dialect="oracle")


@pytest.mark.asyncio(loop_scope="module")
async def test_the_python_date_arithmetic_answers_as_sqlites_did(pair: Pair) -> None:
    """The week and day arithmetic moved out of SQL gives what SQLite's date() and
    julianday() gave (the SQL the named queries had before)."""
    q = pair.sqlite.query
    week = "date(created_at, '+8 hours', '-6 days', 'weekday 1')"
    before = await q(f"SELECT village, category, {week} AS wk, count(*) FROM records "
                     "WHERE kind = ? AND created_at >= ? AND created_at < ? AND village IS NOT "
                     "NULL GROUP BY village, category, wk", (records.CASE, START, END))
    assert await pair.sqlite.views.case_week_counts(START, END, tz_hours=8) == before
    weeks = dict(await q(f"SELECT doc_id, {week} FROM records WHERE kind = ? "
                         "AND created_at >= ?", (records.CASE, START)))
    since = await pair.sqlite.views.cases_since(START, tz_hours=8)
    assert {r[0]: r[3] for r in since} == weeks and len(weeks) > 10
    for grace in (0, 3, 7, 30):
        (on_time,), = await q(
            "SELECT coalesce(sum(done_date IS NOT NULL AND julianday(done_date) - "
            "julianday(due_date) <= ?), 0) FROM followups WHERE due_date <= ?",
            (grace, TODAY.isoformat()))
        figures = await pair.sqlite.views.followup_figures(TODAY.isoformat(), grace_days=grace)
        assert figures[2] == on_time
    assert 0 < figures[2] <= figures[1] <= figures[0]
