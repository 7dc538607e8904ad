"""The warning pass: weekly counts from the projection in, warning documents out.

What it owns
    Reading the weekly case counts of the county (one GROUP BY over the ``records``
    projection, never a load of every document), the group-dispute flags of recent cases,
    calling the pure rules of ``relay/warnings.py``, and writing WARNING documents; and
    the operator's acknowledge / close edits of those documents.

Rules
1. One open warning per village × category (per county × category for county rules).
   A rule that fires again while one is open updates it (newest week, observed,
   expected, rule) instead of raising a second one.
2. A week is warned about once: after an operator acknowledged or closed a warning, the
   same village × category raises a new one only for a later week.
3. A village's warning lives in that village's scope (``village:<county>/<village>``), so
   the next sync delivers it to the village's nodes; the county sees it because the relay
   and the county's judges read every village scope. A county-level warning lives in
   ``county:<county>``, which every village reads. (docs/warnings.md argues for one
   document rather than a second, county copy.)
4. Weeks are Monday to Sunday in China time (UTC+8); the current week (so far) and the
   one before are evaluated on each pass, so a spike that builds late in a week is still
   caught after the week ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType

from store import DocumentStore, ValidationError, amdoc, kinds, records
from store.records import CATEGORIES, WARNING

from .warnings import (
    COUNTY,
    COUNTY_C2,
    COUNTY_CUSUM,
    GROUP,
    VILLAGE_SPIKE,
    CaseFlag,
    Signal,
    WarningConfig,
    evaluate,
)

log = logging.getLogger("relay.warnings")

TZ_HOURS = 8
TZ = dt.timezone(dt.timedelta(hours=TZ_HOURS))  # China Standard Time, no daylight saving
OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
WARNING_STATUSES = (OPEN, ACKNOWLEDGED, CLOSED)
RAISED_BY = "县级预警中心"  # who a warning document says raised it
FLAG_CACHE_MAX = 200_000  # recent cases whose group flag is remembered between passes


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(TZ).date()


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def utc_bound(day: dt.date) -> str:
    """Midnight China time of ``day`` as the UTC ISO string case timestamps compare with."""
    local = dt.datetime(day.year, day.month, day.day, tzinfo=TZ)
    return local.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class PassReport:
    weeks: list[str]
    signals: list[Signal]
    created: int = 0
    updated: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


class WarningPass:
    """Runs the rules over a relay's store. Keeps a small cache of group flags between
    passes (a case is loaded again only when its document changed)."""

    def __init__(self, store: DocumentStore, county: str, cfg: WarningConfig) -> None:
        self.store = store
        self.county = county
        self.cfg = cfg
        self._flags: dict[str, tuple[int, bool, int]] = {}  # doc_id -> (seq, group, headcount)
        self.last_report: PassReport | None = None

    # --- reading -------------------------------------------------------------------------
    async def weekly_counts(self, first_week: dt.date, weeks: int
                            ) -> dict[tuple[str, str], list[int]]:
        """Cases per (village, category) per week, ``weeks`` weeks from ``first_week``."""
        end = first_week + dt.timedelta(weeks=weeks)
        rows = await self.store.views.case_week_counts(utc_bound(first_week), utc_bound(end),
                                                       tz_hours=TZ_HOURS)
        series: dict[tuple[str, str], list[int]] = {}
        for village, category, wk, n in rows:
            try:
                i = (dt.date.fromisoformat(wk) - first_week).days // 7
            except (TypeError, ValueError):
                continue
            if 0 <= i < weeks and category in CATEGORIES:
                series.setdefault((village, category), [0] * weeks)[i] += n
        return series

    async def recent_flags(self, since: dt.date) -> list[CaseFlag]:
        """Group flag and headcount of the cases registered since ``since`` (read from
        their documents: the projection does not hold them; only changed documents are
        loaded again)."""
        rows = await self.store.views.cases_since(utc_bound(since), tz_hours=TZ_HOURS)
        stale = [r[0] for r in rows if self._flags.get(r[0], (-1,))[0] != r[4]]
        if stale:
            saved = await self.store.saved_many(stale)
            seqs = {r[0]: r[4] for r in rows}
            for doc_id, data in saved.items():
                doc = Document.load(data)
                group = doc.get(ROOT, "group")
                head = doc.get(ROOT, "headcount")
                g = bool(group[0][1]) if group and not isinstance(group[0], ObjType) else False
                h = head[0][1] if head and not isinstance(head[0], ObjType) else 0
                self._flags[doc_id] = (seqs[doc_id], g, h if isinstance(h, int) else 0)
        if len(self._flags) > FLAG_CACHE_MAX:
            keep = {r[0] for r in rows}
            self._flags = {k: v for k, v in self._flags.items() if k in keep}
        out = []
        for doc_id, village, category, wk, _seq in rows:
            if doc_id in self._flags and village and category in CATEGORIES:
                _, g, h = self._flags[doc_id]
                out.append(CaseFlag(doc_id, village, category, wk, g, h))
        return out

    async def village_names(self) -> dict[str, str]:
        return await self.store.views.village_titles()

    async def existing(self, today: dt.date) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Warnings per (village, category): open ones and those of the last weeks."""
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for doc_id in await self.store.views.warnings_open_or_since(
                utc_bound(today - dt.timedelta(weeks=4))):
            data = await self.store.read(doc_id)
            data["doc_id"] = doc_id
            out.setdefault((str(data.get("village", "")), str(data.get("category", ""))),
                           []).append(data)
        return out

    # --- the pass ------------------------------------------------------------------------
    async def run(self, *, today: dt.date | None = None) -> PassReport:
        """Evaluate the current week and the one before; write what fired."""
        started = time.perf_counter()
        today = today or local_today()
        this_week = week_start(today)
        weeks = [this_week - dt.timedelta(weeks=1), this_week]
        n = self.cfg.history_weeks + 2
        first = this_week - dt.timedelta(weeks=n - 1)
        t0 = time.perf_counter()
        series = await self.weekly_counts(first, n)
        t1 = time.perf_counter()
        flags = await self.recent_flags(weeks[0])
        t2 = time.perf_counter()
        signals: list[Signal] = []
        for k, wk in enumerate(weeks):
            upto = n - (len(weeks) - 1 - k)  # series up to and including wk
            cut = {key: counts[:upto] for key, counts in series.items()}
            signals += evaluate(cut, wk.isoformat(), self.cfg,
                                [f for f in flags if f.week == wk.isoformat()])
        t3 = time.perf_counter()
        report = PassReport([w.isoformat() for w in weeks], signals)
        if signals:
            names = await self.village_names()
            have = await self.existing(today)
            for sig in signals:
                outcome = await self._apply(sig, have, names)
                if outcome == "created":
                    report.created += 1
                elif outcome == "updated":
                    report.updated += 1
        report.seconds = time.perf_counter() - started
        report.timings = {"counts": t1 - t0, "flags": t2 - t1, "rules": t3 - t2,
                          "write": time.perf_counter() - t3}
        self.last_report = report
        log.info("event=warning_pass weeks=%s signals=%d created=%d updated=%d seconds=%.3f",
                 ",".join(report.weeks), len(signals), report.created, report.updated,
                 report.seconds)
        return report

    async def _apply(self, sig: Signal, have: dict[tuple[str, str], list[dict[str, Any]]],
                     names: dict[str, str]) -> str:
        key = (sig.village, sig.category)
        mine = have.setdefault(key, [])
        # Rule 2: a week already warned about (open or handled) raises nothing new.
        if any(str(w.get("last_week", "")) > sig.week for w in mine):
            return "skipped"
        handled = [w for w in mine if w.get("status") != OPEN]
        if any(str(w.get("last_week", "")) >= sig.week for w in handled):
            return "skipped"
        message = warning_message(sig, names)
        current = next((w for w in mine if w.get("status") == OPEN), None)
        if current is not None:
            same = (str(current.get("last_week")) == sig.week
                    and int(current.get("observed") or 0) >= sig.observed
                    and current.get("rule") == sig.rule)
            if same:
                return "skipped"
            await self.store.edit(current["doc_id"], lambda d: refire(d, sig, message))
            current.update(last_week=sig.week, observed=sig.observed, rule=sig.rule)
            return "updated"
        scope = self._scope(sig)
        if scope is None:
            return "skipped"
        meta = await self.store.create(
            WARNING, scope, lambda d: new_county_warning(d, sig, message, self.county))
        mine.append({"doc_id": meta.doc_id, "status": OPEN, "last_week": sig.week,
                     "observed": sig.observed, "rule": sig.rule})
        return "created"

    def _scope(self, sig: Signal) -> str | None:
        if sig.village == COUNTY:
            return records.county_scope(self.county)
        try:
            return records.village_scope(self.county, sig.village)
        except ValidationError:
            log.warning("event=warning_skipped reason=bad_village_code")
            return None


# --- the warning document ------------------------------------------------------------------
def warning_message(sig: Signal, names: dict[str, str]) -> str:
    """The sentence a director reads on the home screen (Chinese: the villages' language;
    the dashboard renders its own text from the fields in either language)."""
    cat = CATEGORIES.get(sig.category, (sig.category, sig.category))[0]
    where = "全县" if sig.village == COUNTY else names.get(sig.village, sig.village)
    if sig.rule == GROUP:
        return (f"{where}出现群体性纠纷（{cat}，{sig.observed}件，最多涉及"
                f"{int(sig.statistic)}人），请网格员立即关注并上报。")
    week = dt.date.fromisoformat(sig.week)
    when = f"{week.month}月{week.day}日起的一周"
    if sig.rule == VILLAGE_SPIKE:
        return (f"{where}“{cat}”类纠纷{when}有{sig.observed}件，此前几周平均每周"
                f"{sig.expected:.1f}件（泊松检验 p={sig.statistic:.1g}），请网格员关注。")
    label = "EARS C2 得分" if sig.rule == COUNTY_C2 else "CUSUM 累计"
    return (f"{where}“{cat}”类纠纷{when}有{sig.observed}件，基线平均每周"
            f"{sig.expected:.1f}件（{label} {sig.statistic:.1f}），请各村关注。")


def _put_signal(tx: Any, sig: Signal) -> None:
    amdoc.put(tx, ROOT, "last_week", sig.week)
    amdoc.put(tx, ROOT, "statistic", float(sig.statistic))
    cases = tx.put_object(ROOT, "cases", ObjType.List)
    for i, doc_id in enumerate(sig.cases):
        tx.insert(cases, i, ScalarType.Str, doc_id)


def new_county_warning(doc: Document, sig: Signal, message: str, county: str) -> None:
    """A new warning document: the shared layout of ``store.kinds.new_warning`` plus what
    the county adds (weeks, statistic, the cases behind a group warning)."""
    kinds.new_warning(doc, village=sig.village, category=sig.category, rule=sig.rule,
                      observed=sig.observed, expected=sig.expected, message=message)
    with doc.transaction() as tx:
        amdoc.put(tx, ROOT, "county", county)
        amdoc.put(tx, ROOT, "week", sig.week)
        amdoc.put(tx, ROOT, "raised_by", RAISED_BY)
        amdoc.put(tx, ROOT, "fired", 1)
        amdoc.put(tx, ROOT, "acted_by", "")
        amdoc.put(tx, ROOT, "acted_at", "")
        _put_signal(tx, sig)


def refire(doc: Document, sig: Signal, message: str) -> None:
    """The rule fired again while the warning is open: newest figures, one document."""
    data = amdoc.read(doc)
    with doc.transaction() as tx:
        amdoc.put(tx, ROOT, "rule", sig.rule)
        amdoc.put(tx, ROOT, "observed", int(sig.observed))
        amdoc.put(tx, ROOT, "expected", float(sig.expected))
        amdoc.put(tx, ROOT, "message", message)
        if str(data.get("last_week", "")) != sig.week:
            amdoc.put(tx, ROOT, "fired", int(data.get("fired") or 1) + 1)
        _put_signal(tx, sig)


MAX_NOTE = 2000


def act_on_warning(doc: Document, *, status: str, note: str, by: str) -> None:
    """An operator acknowledges or closes a warning, with a note (required)."""
    if status not in (ACKNOWLEDGED, CLOSED):
        raise ValidationError("bad_status", "a warning can be acknowledged or closed")
    note = (note or "").strip()
    if not note:
        raise ValidationError("missing_note", "write a note: what was done or why")
    if len(note) > MAX_NOTE:
        raise ValidationError("too_long", f"a note is at most {MAX_NOTE} characters")
    current = amdoc.get_str(doc, "status", OPEN)
    if current == CLOSED:
        raise ValidationError("warning_closed", "this warning is already closed")
    if current == status:
        raise ValidationError("warning_same", f"this warning is already {status}")
    with doc.transaction() as tx:
        amdoc.put(tx, ROOT, "status", status)
        amdoc.put(tx, ROOT, "note", note)
        amdoc.put(tx, ROOT, "acted_by", by)
        amdoc.put(tx, ROOT, "acted_at", records.now_iso())


def read_county_warning(doc_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A warning as the dashboard shows it: the shared fields plus the county's."""
    w = kinds.read_warning(doc_id, data)
    return {
        "doc_id": doc_id, "village": w.village, "category": w.category, "rule": w.rule,
        "observed": w.observed, "expected": w.expected, "message": w.message,
        "status": w.status, "raised_at": w.raised_at, "note": w.note,
        "week": str(data.get("week", "")), "last_week": str(data.get("last_week", "")),
        "statistic": float(data.get("statistic") or 0.0),
        "fired": int(data.get("fired") or 1), "acted_by": str(data.get("acted_by", "")),
        "acted_at": str(data.get("acted_at", "")),
        "cases": [str(c) for c in data.get("cases") or []],
    }


__all__ = [
    "ACKNOWLEDGED", "CLOSED", "COUNTY_CUSUM", "OPEN", "PassReport", "WarningPass",
    "act_on_warning", "local_today", "read_county_warning", "week_start",
]
