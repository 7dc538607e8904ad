"""The read pages: county overview, village, case (with reveal), monthly report, audit log.

Aggregates come from ``queries`` (the projection); only the case page loads a document.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from aiohttp import web

from store import DocNotFound, kinds
from store.casedoc import Case
from store.records import CASE, CATEGORIES, CONSULTATION, WARNING

from ..warning_pass import local_today
from . import i18n
from . import queries as q
from .common import cached, county_of, lang_of, mask_id, mask_phone, render, store_of
from .config import DashboardConfig
from .keys import ACCOUNTS, DCONFIG
from .security import need, viewer_of

log = logging.getLogger("relay.dashboard")
MAX_PAGE = 1_000_000  # a SQLite OFFSET far below its 64-bit limit


def chart_payload(starts: list[dt.date], series: dict[str, list[int]], lang: str,
                  grain: str) -> str:
    """The JSON a <script type="application/json"> block hands to charts.js."""
    from . import i18n

    labels = [d.strftime("%m-%d") if grain == "week" else d.strftime("%Y-%m") for d in starts]
    return json.dumps({
        "labels": labels,
        "datasets": [{"label": i18n.category(lang, c), "data": v, "key": c}
                     for c, v in series.items()],
    }, ensure_ascii=False)


async def overview_data(store: q.Store, county: str, cfg: DashboardConfig,
                        f: q.Filters) -> dict[str, Any]:
    """Everything the overview shows (also computed ahead by the dashboard's warmer)."""
    matrix = await q.case_matrix(store, f)
    villages = await q.villages(store, county, f, stale_hours=cfg.stale_after_hours,
                                matrix=matrix)
    starts, series = await q.category_series(store, f)
    waiting = await q.waiting_by_village(store)
    return {
        "matrix": matrix, "villages": villages, "totals": q.totals(matrix),
        "starts": starts, "series": series,
        "followups": await q.followups(store, f),
        "waiting": await q.waiting(store, village=f.village, county=county, limit=20),
        "waiting_count": (waiting.get(f.village, 0) if f.village
                          else sum(waiting.values())),
        "answer_times": await q.answer_times(store, f, county),
        "warnings": await q.open_warnings(store, f.village),
        "screenings": await q.screenings(store, f, county),
        "names": await q.village_names(store),
    }


async def overview(request: web.Request) -> web.StreamResponse:
    await viewer_of(request)
    f = q.parse_filters(request.query)
    data = await cached(request, ("overview", f), lambda: overview_data(
        store_of(request), county_of(request), request.config_dict[DCONFIG], f))
    lang = await lang_of(request)
    villages = data["villages"]
    return await render(request, "overview.html", {
        **data, "f": f, "stale_count": sum(v.stale for v in villages),
        "chart": chart_payload(data["starts"], data["series"], lang, f.grain),
        "oldest": data["waiting"][0] if data["waiting"] else None,
        "overdue_total": sum(r.overdue for r in data["followups"]),
        "due_total": sum(r.due_soon for r in data["followups"]),
        "satisfaction": _mean_satisfaction(data["followups"]),
        "soon_days": q.FOLLOWUP_SOON_DAYS, "query": f.query(),
        "all_villages": sorted(data["names"].items()),
    })


def _mean_satisfaction(rows: list[q.FollowupRow]) -> float | None:
    total = sum(r.done_period for r in rows if r.satisfaction is not None)
    if not total:
        return None
    return sum(r.satisfaction * r.done_period for r in rows  # type: ignore[operator]
               if r.satisfaction is not None) / total


async def village(request: web.Request) -> web.StreamResponse:
    await viewer_of(request)
    store, county = store_of(request), county_of(request)
    code = request.match_info["code"]
    names = await q.village_names(store)
    f = q.parse_filters({**request.query, "village": code})
    if f.village != code:
        raise web.HTTPNotFound()
    status = request.query.get("status", "")
    if status not in ("", "open", *q.STATUSES_ALL):
        status = ""
    cfg = request.config_dict[DCONFIG]
    matrix = await q.case_matrix(store, f)
    vrows = await q.villages(store, county, f, stale_hours=cfg.stale_after_hours,
                             matrix=matrix)
    if code not in names and not matrix:  # neither a profile nor a case: no such village
        raise web.HTTPNotFound()
    vrow = vrows[0] if vrows else None
    period = request.query.get("all") != "1"
    raw = request.query.get("page", "1")
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else 0
    if not 1 <= page <= MAX_PAGE:  # past the last page is an empty page; beyond, 400
        return await bad_request(request, "bad_page", pages=MAX_PAGE)
    cases, total = await q.case_list(store, f, status=status, page=page, period=period)
    starts, series = await q.category_series(store, f)
    lang = await lang_of(request)
    return await render(request, "village.html", {
        "code": code, "name": names.get(code, code), "v": vrow, "f": f,
        "totals": q.totals(matrix, code), "cases": cases, "total": total, "page": page,
        "pages": max(1, math.ceil(total / q.PAGE_SIZE)), "status": status,
        "chart": chart_payload(starts, series, lang, f.grain), "starts": starts,
        "series": series, "followups": await q.followups(store, f),
        "waiting": await q.waiting(store, village=code, county=county),
        "answer_times": await q.answer_times(store, f, county),
        "warnings": await q.open_warnings(store, code),
        "screening_rows": await q.screening_list(store, f, county, limit=50),
        "screenings": await q.screenings(store, f, county),
        "query": f.query(), "all_villages": sorted(names.items()),
        "soon_days": q.FOLLOWUP_SOON_DAYS,
    })


async def _case(request: web.Request) -> tuple[Case, dict[str, Any]]:
    store = store_of(request)
    doc_id = request.match_info["doc_id"]
    try:
        meta = await store.meta(doc_id)
    except DocNotFound:
        raise web.HTTPNotFound() from None
    if meta.kind != CASE or not meta.scope.startswith(f"village:{county_of(request)}/"):
        raise web.HTTPNotFound()
    data = await store.read(doc_id)
    return Case.from_data(doc_id, data), data


async def _timeline(request: web.Request, case: Case) -> tuple[list[dict[str, Any]],
                                                                list[kinds.Consultation]]:
    store = store_of(request)
    ids = await store.views.consultations(parent=case.doc_id, oldest_first=True)
    consultations = [kinds.read_consultation(i, await store.read(i)) for i in ids]
    events: list[dict[str, Any]] = [{"at": case.created_at, "kind": "registered",
                                     "by": case.created_by, "text": ""}]
    for s in case.sessions:
        events.append({"at": s.at or s.date, "date": s.date, "kind": "session", "by": s.by,
                       "text": s.summary, "judge": s.judge_consulted,
                       "who": s.participants})
    for h in case.history:
        events.append({"at": h.at, "kind": "status", "by": h.by, "from": h.from_status,
                       "to": h.to_status, "text": h.note})
    today = local_today().isoformat()
    for fu in case.followups:
        if fu.done:
            events.append({"at": fu.done, "kind": "followup", "by": fu.by, "month": fu.month,
                           "text": fu.outcome, "satisfaction": fu.satisfaction})
        else:
            events.append({"at": fu.due, "kind": "followup_due", "month": fu.month,
                           "overdue": fu.due < today, "by": "", "text": ""})
    for c in consultations:
        events.append({"at": c.asked_at, "kind": "consultation", "by": c.asked_by,
                       "text": c.question})
        if c.answer:
            events.append({"at": c.answered_at, "kind": "answer", "by": c.answered_by,
                           "text": c.answer})

    def key(e: dict[str, Any]) -> str:
        at = str(e.get("at") or "")
        return q.local_time(at) if "T" in at else at

    for e in events:
        e["when"] = key(e)
    events.sort(key=lambda e: e["when"])
    return events, consultations


async def case_page(request: web.Request, *, revealed: bool = False) -> web.StreamResponse:
    viewer = await viewer_of(request)
    case, _ = await _case(request)
    events, consultations = await _timeline(request, case)
    parties = [{"role": p.role, "name": p.name,
                "phone": p.phone if revealed else mask_phone(p.phone),
                "id_number": p.id_number if revealed else mask_id(p.id_number)}
               for p in case.parties]
    names = await q.village_names(store_of(request))
    return await render(request, "case.html", {
        "case": case, "parties": parties, "events": events, "consultations": consultations,
        "revealed": revealed, "may_reveal": viewer.may_reveal(request),
        "here": f"/dashboard/cases/{case.doc_id}",  # the revealed page is a POST's answer
        "village_name": names.get(case.village, case.village),
        "revealed_at": q.local_time(dt.datetime.now(dt.timezone.utc).isoformat()),
    })


async def reveal(request: web.Request) -> web.StreamResponse:
    """POST: the case page with phones and ID numbers in full, for roles allowed to see
    them; the reveal is in the audit log before the page is sent."""
    viewer = await viewer_of(request)
    if not viewer.may_reveal(request):
        request.config_dict[ACCOUNTS].audit(viewer.name, "reveal_refused",
                                            remote=request.remote or "-",
                                            doc_id=request.match_info["doc_id"])
        raise web.HTTPForbidden(text="your role may not reveal personal data / "
                                     "您的角色不能查看完整个人信息")
    case, _ = await _case(request)
    request.config_dict[ACCOUNTS].audit(viewer.name, "reveal", remote=request.remote or "-",
                                        doc_id=case.doc_id, number=case.number,
                                        village=case.village, fields="phone,id_number")
    return await case_page(request, revealed=True)


async def case_view(request: web.Request) -> web.StreamResponse:
    return await case_page(request)


async def bad_request(request: web.Request, key: str, **kw: Any) -> web.StreamResponse:
    """400 with a page in the viewer's language saying what was wrong with the address."""
    lang = await lang_of(request)
    log.info("event=bad_request path=%s reason=%s", request.path, key)
    return await render(request, "error.html", {"message": i18n.t(lang, key, **kw)},
                        status=400)


async def report(request: web.Request) -> web.StreamResponse:
    """A printable monthly report (?month=YYYY-MM, default this month)."""
    await viewer_of(request)
    store, county = store_of(request), county_of(request)
    today = local_today()
    raw = request.query.get("month", "")
    if not raw:
        first = today.replace(day=1)
    else:
        try:
            first = dt.date.fromisoformat(raw + "-01")
        except ValueError:
            return await bad_request(request, "bad_month")
        if not 2000 <= first.year <= today.year + 1:
            return await bad_request(request, "bad_month")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    f = q.Filters("custom", first, nxt, grain="week", today=min(today, nxt - dt.timedelta(
        days=1)))
    cfg = request.config_dict[DCONFIG]
    matrix = await q.case_matrix(store, f)
    villages = await q.villages(store, county, f, stale_hours=cfg.stale_after_hours,
                                matrix=matrix)
    asked = await store.views.raised_between(CONSULTATION, q.utc_bound(first), q.utc_bound(nxt))
    raised = await store.views.raised_between(WARNING, q.utc_bound(first), q.utc_bound(nxt))
    followups = await q.followups(store, f)
    months = []
    m = today.replace(day=1)
    for _ in range(12):
        months.append(m.strftime("%Y-%m"))
        m = (m - dt.timedelta(days=1)).replace(day=1)
    return await render(request, "report.html", {
        "first": first, "f": f, "totals": q.totals(matrix), "villages": villages,
        "answer_times": await q.answer_times(store, f, county), "asked": asked,
        "raised": raised, "followups": followups,
        "done": sum(r.done_period for r in followups),
        "satisfaction": _mean_satisfaction(followups),
        "screenings": await q.screenings(store, f, county), "months": months,
        "month": first.strftime("%Y-%m"), "category_order": list(CATEGORIES),
    })


async def audit_page(request: web.Request) -> web.StreamResponse:
    await need(request, "operator")
    event = request.query.get("event") or None
    rows = request.config_dict[ACCOUNTS].audit_log(limit=500, event=event)
    lang = await lang_of(request)
    names = await q.village_names(store_of(request))
    return await render(request, "audit.html", {
        "rows": rows, "event": event or "", "events": AUDIT_EVENTS,
        "audit_detail": lambda d: i18n.audit_detail(lang, d, names)})


AUDIT_EVENTS = ("login", "login_failed", "login_throttled", "logout", "reveal", "reveal_refused",
                "answer_consultation", "warning_acknowledged", "warning_closed",
                "warning_pass", "export", "user_added", "user_disabled", "user_enabled",
                "password_set")
