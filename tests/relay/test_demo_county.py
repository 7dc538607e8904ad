"""The demo county (``villagecourt demo --county``): 20+ villages, a year of history, the
injected spikes found by the warning rules; and the vendored chart library is the pinned
file."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import relay
from relay.warning_pass import TZ, read_county_warning
from store import Store
from store.casedoc import Case
from store.records import CASE, CONSULTATION, SCREENING, VILLAGE, WARNING

CHART_JS = "chart-4.6.1.umd.min.js"
CHART_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"


async def test_demo_county_has_a_year_of_twenty_villages(county_template) -> None:
    demo = county_template.demo
    assert demo.counts["villages"] >= 20 and demo.counts["cases"] >= 20 * 30
    home = demo.home
    store = await Store.open(home.store_file, key=home.store_key())
    try:
        (villages,), = await store.query("SELECT count(*) FROM records WHERE kind = ?",
                                         (VILLAGE,))
        assert villages == demo.counts["villages"]
        (first, last), = await store.query(
            "SELECT min(created_at), max(created_at) FROM records WHERE kind = ?", (CASE,))
        span = dt.datetime.fromisoformat(last) - dt.datetime.fromisoformat(first)
        assert span.days >= 330
        assert dt.datetime.fromisoformat(last) <= dt.datetime.now(TZ)  # nothing in the future
        statuses = dict(await store.query(
            "SELECT status, count(*) FROM records WHERE kind = ? GROUP BY status", (CASE,)))
        assert set(statuses) == {"registered", "mediating", "agreed", "failed", "escalated",
                                 "closed"}
        assert dict(await store.query(
            "SELECT status, count(*) FROM records WHERE kind = ? GROUP BY status",
            (CONSULTATION,))).keys() == {"open", "answered"}
        (screenings,), = await store.query("SELECT count(*) FROM records WHERE kind = ?",
                                           (SCREENING,))
        assert screenings >= 20
        rows = await store.query("SELECT doc_id FROM records WHERE kind = ? AND status = 'open'",
                                 (WARNING,))
        open_ = [read_county_warning(r[0], await store.read(r[0])) for r in rows]
        found = {(w["village"], w["category"]) for w in open_}
        recent = [s for s in demo.spikes if s.weeks_ago <= 1]
        for s in recent:
            assert (s.village, s.category) in found, (s, found)
        assert any(w["village"] == demo.group_village and w["rule"] == "group_dispute"
                   for w in open_)
        # The spike of a quarter ago raised a warning an operator has handled.
        rows = await store.query("SELECT doc_id FROM records WHERE kind = ? AND status != 'open'",
                                 (WARNING,))
        handled = [read_county_warning(r[0], await store.read(r[0])) for r in rows]
        old = [s for s in demo.spikes if s.weeks_ago > 1]
        for s in old:
            assert any((w["village"], w["category"]) == (s.village, s.category)
                       and w["status"] == "acknowledged" and w["note"] for w in handled)
        peers = await store.query("SELECT count(*) FROM peers WHERE label LIKE 'director:%'")
        assert peers[0][0] == demo.counts["villages"] - 1  # one village never synced
    finally:
        await store.close()


def test_the_vendored_chart_library_is_the_pinned_file() -> None:
    path = Path(relay.__file__).parent / "static" / CHART_JS
    assert hashlib.sha256(path.read_bytes()).hexdigest() == CHART_SHA256
    assert (Path(relay.__file__).parent / "static" / "chart-LICENSE.md").exists()


def _at(iso: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(iso)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


async def test_demo_county_does_not_contradict_itself(county_template) -> None:
    """Nothing a village wrote is dated after its last sync (the relay could not hold it)
    nor after today; a village that never synced holds only its profile; the judge's
    answers (written at the relay) took hours or days, not none."""
    home = county_template.demo.home
    store = await Store.open(home.store_file, key=home.store_key())
    try:
        seen = {str(label).split("/", 1)[1].split(":", 1)[0]: _at(str(at))
                for label, at in await store.query(
                    "SELECT label, last_seen FROM peers WHERE label LIKE 'director:%'")}
        codes = [c for c, _ in county_template.demo.villages]
        never = [c for c in codes if c not in seen]
        assert len(never) == 1
        rows = await store.query("SELECT kind, count(*) FROM records WHERE scope = ? "
                                 "GROUP BY kind", (f"village:KC/{never[0]}",))
        assert dict(rows) == {VILLAGE: 1}, rows
        today = dt.datetime.now(TZ).date()
        checked = 0
        for (doc_id, village) in await store.query(
                "SELECT doc_id, village FROM records WHERE kind = ?", (CASE,)):
            case = Case.from_data(doc_id, await store.read(doc_id))
            last = seen[village]
            last_day = last.astimezone(TZ).date()
            assert _at(case.created_at) <= last, (case.number, case.created_at, last)
            opened = _at(case.created_at)
            for s in case.sessions:
                assert dt.date.fromisoformat(s.date) <= min(today, last_day), (case.number, s)
                assert opened <= _at(s.at) <= last, (case.number, s)
            for h in case.history:
                assert opened <= _at(h.at) <= last, (case.number, h)
            for fu in case.followups:
                assert not fu.done or dt.date.fromisoformat(fu.done) <= last_day
            if case.closed_at:
                assert dt.date.fromisoformat(case.closed_at[:10]) <= last_day
            checked += 1
        assert checked >= 20 * 30
        took: list[float] = []
        for (doc_id, scope) in await store.query(
                "SELECT doc_id, scope FROM records WHERE kind = ?", (CONSULTATION,)):
            c = await store.read(doc_id)
            last = seen[scope.rsplit("/", 1)[1]]
            assert _at(c["asked_at"]) <= last
            if c.get("answered_at"):  # at the relay: after the last sync, never after now
                assert _at(c["answered_at"]) <= dt.datetime.now(dt.timezone.utc)
                took.append((_at(c["answered_at"]) - _at(c["asked_at"])).total_seconds() / 3600)
        assert took and min(took) >= 1.0, sorted(took)[:5]
        for (doc_id, scope) in await store.query(
                "SELECT doc_id, scope FROM records WHERE kind = ?", (SCREENING,)):
            held = dt.date.fromisoformat((await store.read(doc_id))["date"])
            assert held <= seen[scope.rsplit("/", 1)[1]].astimezone(TZ).date()
    finally:
        await store.close()
