"""The county's figures are the same on both backends (issue #13): one demo county, built
once into a SQLite relay store and copied document by document (and peer by peer) into a
PostgreSQL store; every dashboard query, the overview's and a village page's data, and a
warning pass then give equal results on both. "Today" is a fixed day in the past, so the
demo and every figure are the same on every run."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import types
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

import node.demo as vocab
from relay.config import RelayHome
from relay.dashboard import queries as q
from relay.dashboard.config import DashboardConfig
from relay.dashboard.pages import overview_data
from relay.demo_county import build_county
from relay.warning_pass import TZ, WarningPass
from relay.warnings import WarningConfig
from store import DocumentStore, Incoming, ScopeSet, open_store
from store.docs import Store
from store.pg.store import PgStore

TODAY = dt.date(2026, 5, 13)  # a Wednesday
NOW = dt.datetime.combine(TODAY, dt.time(23, 59), TZ).astimezone(dt.timezone.utc)


@pytest.fixture(scope="module")
def sqlite_county(tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    path = tmp_path_factory.mktemp("county-backends") / "relay"
    demo = asyncio.run(build_county(RelayHome(path), vocab, villages=8, cases=(25, 50),
                                    today=TODAY, users=False))
    return types.SimpleNamespace(home=RelayHome(path), demo=demo)


async def copy_store(src: DocumentStore, dst: DocumentStore) -> int:
    """Every document of ``src`` (its saved bytes) and every peer's label and last sync,
    into ``dst``."""
    seq, n = 0, 0
    everything = ScopeSet.of("*")
    while True:
        page = await src.changes_since(seq, readable=everything, limit=500)
        saved = await src.saved_many([m.doc_id for m in page.entries])
        await dst.merge([Incoming(m.doc_id, m.kind, m.scope, saved[m.doc_id])
                         for m in page.entries], origin="copy")
        n += len(page.entries)
        seq = page.upto
        if not page.more:
            break
    for p in await src.peers():
        await dst.record_peer(p["peer_id"], label=p["label"], seen_at=p["last_seen"],
                              seen=p["last_seen"] is not None)
    return n


@pytest_asyncio.fixture
async def stores(sqlite_county: types.SimpleNamespace, pg_dsn: str, tmp_path: Path
                 ) -> AsyncIterator[tuple[Store, PgStore, str]]:
    home: RelayHome = sqlite_county.home
    # A copy of the built store for each test (the warning pass writes to it).
    db = tmp_path / "store.db"
    shutil.copyfile(home.store_file, db)
    lite = await open_store(db, key=home.store_key())
    pg = await open_store(pg_dsn, key=home.store_key(), side_dir=tmp_path / "side")
    assert isinstance(lite, Store) and isinstance(pg, PgStore)
    try:
        copied = await copy_store(lite, pg)
        assert copied == await lite.views.doc_count() == await pg.views.doc_count() > 200
        yield lite, pg, sqlite_county.demo.county
    finally:
        await lite.close()
        await pg.close()


def plain(value: Any) -> Any:
    """Dataclasses as dicts, so two results compare field by field (and print so)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def filters(sqlite_county: types.SimpleNamespace) -> list[q.Filters]:
    codes = [c for c, _ in sqlite_county.demo.villages]
    out = [q.parse_filters({"period": p}, TODAY) for p in ("year", "month", "12w", "all")]
    out += [q.parse_filters({"period": "year", "grain": "month"}, TODAY),
            q.parse_filters({"period": "custom", "from": "2025-11-01", "to": "2026-02-28"},
                            TODAY),
            q.parse_filters({"period": "year", "category": "land"}, TODAY)]
    out += [q.parse_filters({"period": "year", "village": c}, TODAY) for c in codes[:3]]
    out.append(q.parse_filters({"period": "12w", "village": codes[0], "category": "family"},
                               TODAY))
    return out


async def figures(store: Store | PgStore, county: str, f: q.Filters) -> dict[str, Any]:
    matrix = await q.case_matrix(store, f)
    out: dict[str, Any] = {
        "matrix": sorted(matrix, key=repr),
        "villages": await q.villages(store, county, f, stale_hours=72, now=NOW,
                                     matrix=matrix),
        "totals": q.totals(matrix, f.village),
        "series": await q.category_series(store, f),
        "followups": await q.followups(store, f),
        "overdue": await q.overdue_by_village(store, f),
        "answer_times": await q.answer_times(store, f, county),
        "screenings": await q.screenings(store, f, county),
        "screening_list": await q.screening_list(store, f, county),
        "warnings": await q.open_warnings(store, f.village),
    }
    for status in ("", "open", "closed"):
        for page in (1, 2):
            out[f"cases {status} {page}"] = await q.case_list(store, f, status=status,
                                                              page=page, page_size=20)
    out["cases all"] = await q.case_list(store, f, period=False, page_size=500)
    return plain(out)


async def test_every_dashboard_figure_is_the_same_on_both_backends(
        stores: tuple[Store, PgStore, str], sqlite_county: types.SimpleNamespace) -> None:
    lite, pg, county = stores
    assert lite.views.dialect == "sqlite" and pg.views.dialect == "postgresql"
    for f in filters(sqlite_county):
        a, b = await figures(lite, county, f), await figures(pg, county, f)
        for key in a:
            assert a[key] == b[key], (f.query(), key)
        # (a county with nothing in the figures would prove nothing)
        if not f.village and not f.category and f.period == "year":
            assert a["totals"]["cases_period"] > 50 and a["followups"][0]["done_period"] > 0
            assert sum(sum(s) for s in a["series"][1].values()) == a["totals"]["cases_period"]
            assert a["answer_times"]["answered"] > 0 and a["screenings"]["count"] > 0
            assert a["warnings"] and a["overdue"]


async def test_the_county_wide_lists_are_the_same_on_both_backends(
        stores: tuple[Store, PgStore, str], sqlite_county: types.SimpleNamespace) -> None:
    lite, pg, county = stores
    for store_fn in (q.village_names, q.waiting_by_village, q.warnings_by_village):
        assert await store_fn(lite) == await store_fn(pg), store_fn.__name__
    assert await q.last_seen(lite, county) == await q.last_seen(pg, county)
    assert len(await q.last_seen(lite, county)) >= 6
    for village in ("", sqlite_county.demo.villages[1][0]):
        for offset in (0, 3):
            a = await q.waiting(lite, village=village, county=county, limit=5, offset=offset,
                                now=NOW)
            assert a == await q.waiting(pg, village=village, county=county, limit=5,
                                        offset=offset, now=NOW)
    assert await q.waiting(lite, county=county, now=NOW)
    a = await q.answered_recently(lite, limit=15)
    assert a and a == await q.answered_recently(pg, limit=15)


async def test_the_overview_and_a_village_page_have_the_same_data(
        stores: tuple[Store, PgStore, str], sqlite_county: types.SimpleNamespace) -> None:
    lite, pg, county = stores
    code = sqlite_county.demo.villages[0][0]
    for f in (q.parse_filters({}, TODAY), q.parse_filters({"village": code}, TODAY)):
        a, b = [plain(await overview_data(s, county, DashboardConfig(), f))
                for s in (lite, pg)]
        # The inbox's ages count from the clock, read at two moments: not a figure.
        for row in a["waiting"] + b["waiting"]:
            row.pop("age_hours")
        a["villages"] = [dict(v, stale=None) for v in a["villages"]]
        b["villages"] = [dict(v, stale=None) for v in b["villages"]]
        a["matrix"], b["matrix"] = sorted(a["matrix"], key=repr), sorted(b["matrix"], key=repr)
        assert a == b


async def test_a_warning_pass_writes_the_same_warnings_on_both_backends(
        stores: tuple[Store, PgStore, str]) -> None:
    lite, pg, county = stores
    reports = [await WarningPass(s, county, WarningConfig()).run(today=TODAY)
               for s in (lite, pg)]
    assert reports[0].weeks == reports[1].weeks
    assert plain(reports[0].signals) == plain(reports[1].signals)
    assert reports[0].signals, "the demo's spikes fire this week"
    assert (reports[0].created, reports[0].updated) == (reports[1].created, reports[1].updated)
    for day in (TODAY + dt.timedelta(days=7), TODAY + dt.timedelta(days=14)):
        a, b = [await WarningPass(s, county, WarningConfig()).run(today=day)
                for s in (lite, pg)]
        assert plain(a.signals) == plain(b.signals) and a.created == b.created
    assert await q.open_warnings(lite) == await q.open_warnings(pg)
    assert await q.warnings_by_village(lite) == await q.warnings_by_village(pg)
