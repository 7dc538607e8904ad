"""The county dashboard of a relay whose documents are in PostgreSQL (issue #13), over real
HTTP with the login form: the overview and a village page show the county's figures, the
village page lists its cases, and the CSV exports hold the same rows as the queries."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest_asyncio

import node.demo as vocab
from relay import keys
from relay.config import RelayHome
from relay.dashboard import queries as q
from relay.demo_county import build_county
from relay.warning_pass import local_today
from store.pg.store import PgStore


@pytest_asyncio.fixture
async def county_home(pg_dsn: str, tmp_path: Path) -> RelayHome:
    """(Overrides the conftest's SQLite county for this module: ``dash`` serves this one.)"""
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", store=pg_dsn)
    # The dashboard counts "this month" from the clock: the county is built up to today.
    await build_county(home, vocab, villages=6, cases=(25, 45), today=local_today())
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    assert not await _has_docs(home)
    return home


@pytest_asyncio.fixture
async def pg_dash(dash: Any) -> Any:
    assert isinstance(dash.client.app[keys.STORE], PgStore)
    return dash


async def _has_docs(home: RelayHome) -> bool:
    """Whether the relay home's SQLite file holds documents (it holds only media's index)."""
    if not home.store_file.exists():
        return False
    with sqlite3.connect(home.store_file) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        return "docs" in tables and db.execute("SELECT count(*) FROM docs").fetchone()[0] > 0


def kpi(body: str, name: str) -> str:
    marker = f'data-kpi="{name}">'
    assert marker in body, name
    return body.split(marker, 1)[1].split("<", 1)[0].strip()


async def test_overview_and_village_page_on_postgresql(pg_dash: Any) -> None:
    store = pg_dash.client.app[keys.STORE]
    county = pg_dash.client.app[keys.CONFIG].county
    r = await pg_dash.login("operator")
    assert r.status == 302 and r.headers["Location"] == "/dashboard/"

    f = q.parse_filters({})
    totals = q.totals(await q.case_matrix(store, f))
    assert totals.cases_year > 20
    r = await pg_dash.get("/dashboard/")
    body = await r.text()
    assert r.status == 200 and "全县总览" in body
    assert kpi(body, "cases_year") == str(totals.cases_year)
    assert kpi(body, "cases_month") == str(totals.cases_month)
    names = await q.village_names(store)
    assert len(names) == 6 and all(name in body for name in names.values())

    code = sorted(names)[0]
    fv = q.parse_filters({"village": code})
    cases, total = await q.case_list(store, fv)
    assert total > 0
    r = await pg_dash.get(f"/dashboard/villages/{code}")
    body = await r.text()
    assert r.status == 200, body[:500]
    assert names[code] in body
    assert all(str(c["number"]) in body for c in cases[:10])
    for path in (f"/dashboard/villages/{code}?status=open&page=2",
                 "/dashboard/?period=12w&category=land", "/dashboard/inbox",
                 "/dashboard/warnings", "/dashboard/report"):
        r = await pg_dash.get(path)
        assert r.status == 200, (path, (await r.text())[:500])
    assert (await pg_dash.get("/dashboard/villages/NOPE")).status == 404
    # The English pages too.
    assert (await pg_dash.get("/dashboard/lang/en")).status == 302
    assert "County overview" in await (await pg_dash.get("/dashboard/")).text()
    assert county == "KC"


async def test_exports_on_postgresql(pg_dash: Any) -> None:
    store = pg_dash.client.app[keys.STORE]
    await pg_dash.login("operator")
    r = await pg_dash.get("/dashboard/export/villages.csv")
    assert r.status == 200
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    names = await q.village_names(store)
    assert len(rows) == 1 + len(names)
    assert {(row[1], row[0]) for row in rows[1:]} == set(names.items())  # code, name
    r = await pg_dash.get("/dashboard/export/cases.csv?period=all")
    assert r.status == 200
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    cases, total = await q.case_list(store, q.parse_filters({"period": "all"}),
                                     page_size=10_000)
    assert len(rows) == 1 + total > 100
    assert [row[-1] for row in rows[1:]] == [c["doc_id"] for c in cases]
