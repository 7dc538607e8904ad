"""Screenings recorded offline reach the county's statistics (issue #8): one village by
network sync, another -- with no network -- on a USB stick; the dashboard's totals count
both, per village and for the county."""

from __future__ import annotations

from pathlib import Path

from relay.dashboard.queries import parse_filters, screening_list, screenings
from sync.bundle import export_bundle, import_bundle


async def test_screenings_reach_the_county_by_sync_and_by_stick(kc, make_node, bx,
                                                                tmp_path: Path) -> None:
    a = await make_node("a1", village="A")
    b = await make_node("b1", village="B")
    await a.education.record_screening(date="2026-03-01", place="村委会", items=["x"],
                                       attendance=40, notes="放映《以案说法》")
    await a.education.record_screening(date="2026-03-15", place="文化广场", items=["x"],
                                       attendance=25)
    await b.education.record_screening(date="2026-03-08", place="祠堂", items=["y"],
                                       attendance=60)
    march = parse_filters({"period": "custom", "from": "2026-03-01", "to": "2026-03-31"})
    assert (await screenings(kc.store, march, "KC")).count == 0

    assert (await bx.sync(a)).ok  # village A: over the network
    me = bx.node_signer(b)  # village B: no network, a stick
    await export_bundle(b.store, me, tmp_path / "stick")
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, tmp_path / "stick",
                            decrypt_key=kc.signer.box)
    assert not r.refused

    county = await screenings(kc.store, march, "KC")
    assert (county.count, county.attendance) == (3, 125)
    only_a = parse_filters({"period": "custom", "from": "2026-03-01", "to": "2026-03-31",
                            "village": "A"})
    assert (await screenings(kc.store, only_a, "KC")).attendance == 65
    rows = await screening_list(kc.store, march, "KC")
    assert [(r["village"], r["place"], r["attendance"]) for r in rows] == [
        ("A", "文化广场", 25), ("B", "祠堂", 60), ("A", "村委会", 40)]
    # counted by the day it was held, not the day it reached the county
    april = parse_filters({"period": "custom", "from": "2026-04-01", "to": "2026-04-30"})
    assert (await screenings(kc.store, april, "KC")).count == 0
