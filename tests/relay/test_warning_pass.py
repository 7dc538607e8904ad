"""The warning pass over a real relay store: counts from the projection, one open warning
per village × category, refiring, acknowledging, county-level warnings, group disputes,
and the warning reaching the village's node (and only that village's) by sync."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from node import Node
from node.daemon import node_identity
from relay.config import RelayHome
from relay.warning_pass import (
    ACKNOWLEDGED,
    CLOSED,
    WarningPass,
    act_on_warning,
    read_county_warning,
    utc_bound,
    week_start,
)
from relay.warnings import COUNTY_C2, GROUP, VILLAGE_SPIKE, WarningConfig
from store import Store, ValidationError, casedoc
from store.records import CASE, WARNING, Party, village_scope
from sync.driver import sync_as_client, sync_as_server
from sync.transport import memory_pair

TODAY = dt.date(2026, 3, 18)  # Wednesday
MONDAY = week_start(TODAY)
PARTIES = [Party("applicant", "张三", "13800138000"), Party("respondent", "李四")]


@pytest.fixture
async def relay(tmp_path: Path):
    home = RelayHome(tmp_path / "relay")
    cfg = home.init("KC", host="127.0.0.1")
    store = await Store.open(home.store_file, key=home.store_key())
    try:
        yield store, cfg.identity
    finally:
        await store.close()


async def add_cases(store: Store, village: str, category: str, day: dt.date, n: int, *,
                    group: bool = False, headcount: int = 0) -> list[str]:
    ids = []
    for i in range(n):
        at = dt.datetime.fromisoformat(utc_bound(day)) + dt.timedelta(hours=2, minutes=i)
        meta = await store.create(CASE, village_scope("KC", village), lambda d: casedoc.new_case(
            d, number=f"{village}-T-{day:%m%d}-{i}", category=category, title="测试纠纷",
            parties=PARTIES, village=village, county="KC", group=group, headcount=headcount,
            created_at=at.isoformat()))
        ids.append(meta.doc_id)
    return ids


async def background(store: Store, villages=("BY", "QS", "SM")) -> None:
    """Eight quiet weeks: one land case a fortnight per village."""
    for v in villages:
        for k in range(1, 9, 2):
            await add_cases(store, v, "land", MONDAY - dt.timedelta(weeks=k), 1)


async def warnings_of(store: Store) -> list[dict]:
    rows = await store.query("SELECT doc_id FROM records WHERE kind = ? ORDER BY created_at",
                             (WARNING,))
    return [read_county_warning(r[0], await store.read(r[0])) for r in rows]


async def test_a_spike_raises_one_warning_in_the_village_scope(relay) -> None:
    store, _ = relay
    await background(store)
    await add_cases(store, "BY", "land", MONDAY, 6)
    wp = WarningPass(store, "KC", WarningConfig())
    report = await wp.run(today=TODAY)
    assert report.weeks == [(MONDAY - dt.timedelta(weeks=1)).isoformat(), MONDAY.isoformat()]
    spikes = [s for s in report.signals if s.rule == VILLAGE_SPIKE]
    assert [(s.village, s.category, s.observed) for s in spikes] == [("BY", "land", 6)]
    ws = await warnings_of(store)
    by = [w for w in ws if w["village"] == "BY"]
    assert len(by) == 1 and report.created == len(ws)
    w = by[0]
    assert (w["rule"], w["observed"], w["status"], w["week"]) == (
        VILLAGE_SPIKE, 6, "open", MONDAY.isoformat())
    assert w["expected"] == pytest.approx(0.5)
    assert "6件" in w["message"] and "泊松检验" in w["message"]
    meta = await store.meta(w["doc_id"])
    assert meta.scope == "village:KC/BY"

    # The same pass again changes nothing; two more cases update the same warning.
    again = await wp.run(today=TODAY)
    assert again.created == 0 and again.updated == 0
    await add_cases(store, "BY", "land", TODAY, 2)
    third = await wp.run(today=TODAY)
    assert third.updated == 1  # (the county's land total may now warn as well)
    assert all(s.village in ("BY", "*") for s in third.signals)
    ws = [w for w in await warnings_of(store) if w["village"] == "BY"]
    assert len(ws) == 1 and ws[0]["observed"] == 8 and ws[0]["fired"] == 1


async def test_acknowledged_warnings_rise_again_only_for_a_later_week(relay) -> None:
    store, _ = relay
    await background(store)
    await add_cases(store, "QS", "labour", MONDAY, 5)
    wp = WarningPass(store, "KC", WarningConfig())
    await wp.run(today=TODAY)
    (w,) = [w for w in await warnings_of(store) if w["village"] == "QS"]
    with pytest.raises(ValidationError):
        await store.edit(w["doc_id"], lambda d: act_on_warning(d, status=ACKNOWLEDGED,
                                                               note="  ", by="操作员"))
    await store.edit(w["doc_id"], lambda d: act_on_warning(d, status=ACKNOWLEDGED,
                                                           note="已派网格员", by="操作员"))
    # Same week, more cases: handled, so no new warning.
    await add_cases(store, "QS", "labour", TODAY, 3)
    assert (await wp.run(today=TODAY)).created == 0
    # Next week, another spike: a new warning, the old one stays acknowledged.
    nxt = MONDAY + dt.timedelta(weeks=1)
    await add_cases(store, "QS", "labour", nxt, 9)
    assert (await wp.run(today=nxt + dt.timedelta(days=2))).created >= 1
    qs = [w for w in await warnings_of(store) if w["village"] == "QS"]
    assert sorted(w["status"] for w in qs) == ["acknowledged", "open"]
    await store.edit(qs[0]["doc_id"], lambda d: act_on_warning(d, status=CLOSED,
                                                               note="已化解", by="操作员"))
    with pytest.raises(ValidationError):
        await store.edit(qs[0]["doc_id"], lambda d: act_on_warning(
            d, status=ACKNOWLEDGED, note="x", by="操作员"))


async def test_group_dispute_warns_at_once_and_county_rule_sees_the_sum(relay) -> None:
    store, _ = relay
    villages = [f"V{i:02d}" for i in range(12)]
    for v in villages:  # a steady county: two labour cases a week in each village
        for k in range(1, 10):
            await add_cases(store, v, "labour", MONDAY - dt.timedelta(weeks=k), 2)
    # This week: every village a little up (no single village unusual), and one crowd.
    for v in villages:
        await add_cases(store, v, "labour", MONDAY, 4)
    crowd = await add_cases(store, "V03", "environment", TODAY, 1, headcount=60)
    report = await WarningPass(store, "KC", WarningConfig()).run(today=TODAY)
    rules = {(s.rule, s.village, s.category) for s in report.signals}
    assert (GROUP, "V03", "environment") in rules
    assert (COUNTY_C2, "*", "labour") in rules
    assert not [s for s in report.signals if s.rule == VILLAGE_SPIKE]
    ws = await warnings_of(store)
    group = next(w for w in ws if w["rule"] == GROUP)
    assert group["cases"] == crowd and "60人" in group["message"]
    county = next(w for w in ws if w["rule"] == COUNTY_C2)
    assert (await store.meta(county["doc_id"])).scope == "county:KC"


async def test_the_warning_reaches_its_village_and_no_other(relay, tmp_path: Path) -> None:
    store, relay_id = relay
    await background(store, ("BY", "QS"))
    await add_cases(store, "BY", "family", MONDAY, 5)
    await WarningPass(store, "KC", WarningConfig()).run(today=TODAY)
    nodes = {}
    for v in ("BY", "QS"):
        node = await Node.create(tmp_path / v, village=v, village_name=f"{v}村", county="KC")
        nodes[v] = node
        c_end, s_end = memory_pair("relay", v)
        results = await asyncio.gather(
            sync_as_client(c_end, node.store, node_identity(node), label="relay"),
            sync_as_server(s_end, store, relay_id))
        assert all(r.ok for r in results), results
    try:
        by = await nodes["BY"].warnings()
        assert [(w.village, w.category, w.rule, w.observed) for w in by
                if w.village != "*"] == [("BY", "family", VILLAGE_SPIKE, 5)]
        # QS sees county-wide warnings (every village reads county:KC), never BY's.
        qs = await nodes["QS"].warnings()
        assert all(w.village == "*" for w in qs)
        assert {w.doc_id for w in qs} == {w.doc_id for w in by if w.village == "*"}
    finally:
        for node in nodes.values():
            await node.close()
