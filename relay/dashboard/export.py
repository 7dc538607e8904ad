"""CSV export of every table the dashboard shows, with the page's filters.

UTF-8 with a byte-order mark (so Excel on a Chinese Windows opens it as UTF-8), a header
row in the viewer's language, one file per table:

    villages.csv  categories.csv  cases.csv  followups.csv  consultations.csv
    warnings.csv  screenings.csv  audit.csv (operators)

No file holds a phone or ID number: the projection they are read from has none. Each
export is noted in the audit log (who took which table with which filters).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

from aiohttp import web

from . import i18n
from . import queries as q
from .common import county_of, lang_of, store_of
from .keys import ACCOUNTS, DCONFIG
from .security import need, viewer_of
from .warnings_view import warning_rows

MAX_ROWS = 200_000  # a county's year of cases fits; beyond that, narrow the filters
TABLES = ("villages", "categories", "cases", "followups", "consultations", "warnings",
          "screenings", "audit")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """OWASP's CSV injection advice: a text cell a spreadsheet would read as a formula
    (starting with = + - @, a tab or a carriage return) gets a leading single quote, so it
    shows as the text it is. Numbers, and text that is a plain negative number, stay."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def _csv(header: list[str], rows: list[list[Any]], name: str) -> web.Response:
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([safe_cell(c) for c in header])
    w.writerows([safe_cell(c) for c in row] for row in rows)
    return web.Response(
        body=buf.getvalue().encode("utf-8"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def export(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_of(request)
    table = request.match_info["table"]
    if table not in TABLES:
        raise web.HTTPNotFound()
    lang = await lang_of(request)

    def t(key: str, **kw: Any) -> str:
        return i18n.t(lang, key, **kw)

    def tz(key: str, **kw: Any) -> str:  # a time column: China time, and it says so
        return t("in_china_time", col=t(key, **kw))

    store, county = store_of(request), county_of(request)
    f = q.parse_filters(request.query)
    cfg = request.config_dict[DCONFIG]
    names = await q.village_names(store)

    def vname(code: str) -> str:
        return i18n.t(lang, "all_county") if code == "*" else names.get(code, code)

    # The period's last day (China time), not the exclusive end: no tomorrow in the name.
    name = (f"{county}-{table}-{f.start.isoformat()}-"
            f"{(f.end - dt.timedelta(days=1)).isoformat()}.csv")
    header: list[str]
    rows: list[list[Any]] = []
    if table == "villages":
        header = [t("col_village"), t("col_code"), tz("col_last_sync"), t("col_stale"),
                  t("col_cases_year"), t("col_cases_month"), t("col_cases_period"),
                  t("col_open"), t("col_closed_period"), t("col_agreed_period"),
                  t("col_success"), t("col_overdue"), t("col_waiting"), t("col_warnings")]
        for v in await q.villages(store, county, f, stale_hours=cfg.stale_after_hours):
            rows.append([v.name, v.code, q.local_time(v.last_seen) or t("never"),
                         t("stale") if v.stale else t("fresh"), v.cases_year,
                         v.cases_month, v.cases_period, v.open_cases, v.closed_period,
                         v.agreed_period, "" if v.success_rate is None
                         else round(v.success_rate, 4), v.followups_overdue,
                         v.consultations_waiting, v.warnings_open])
    elif table == "categories":
        starts, series = await q.category_series(store, f)
        header = [t("col_category"), *[d.isoformat() for d in starts], t("total")]
        rows = [[i18n.category(lang, c), *v, sum(v)] for c, v in series.items()]
    elif table == "cases":
        status = request.query.get("status", "")
        cases, _ = await q.case_list(store, f, status=status, page_size=MAX_ROWS,
                                     period=request.query.get("all") != "1")
        header = [t("col_number"), t("col_title"), t("col_category"), t("col_status"),
                  t("col_village"), tz("col_registered"), t("col_closed"),
                  t("col_outcome"), t("col_doc_id")]
        rows = [[c["number"], c["title"], i18n.category(lang, c["category"] or ""),
                 i18n.status(lang, c["status"] or ""), vname(c["village"]),
                 q.local_time(c["created_at"]), c["closed_at"] or "",
                 i18n.status(lang, c["outcome"]) if c["outcome"] else "",
                 c["doc_id"]] for c in cases]
    elif table == "followups":
        header = [t("col_visit"), t("col_overdue_visits"),
                  t("col_due_soon", days=q.FOLLOWUP_SOON_DAYS), t("col_done"),
                  t("col_satisfaction")]
        rows = [[t("followup_month", month=r.month), r.overdue, r.due_soon, r.done_period,
                 "" if r.satisfaction is None else round(r.satisfaction, 2)]
                for r in await q.followups(store, f)]
    elif table == "consultations":
        header = [t("col_doc_id"), t("col_village"), t("col_case"), t("col_question"),
                  tz("col_asked"), tz("col_answered"), t("col_hours")]
        for r in await q.waiting(store, village=f.village, county=county, limit=MAX_ROWS):
            rows.append([r["doc_id"], vname(r["village"]), r["case_number"], r["question"],
                         q.local_time(r["asked_at"]), "", round(r["age_hours"], 1)])
        for r in await q.answered_recently(store, limit=MAX_ROWS):
            if f.village and r["village"] != f.village:
                continue
            rows.append([r["doc_id"], vname(r["village"]), r["case_number"], r["question"],
                         q.local_time(r["asked_at"]), q.local_time(r["answered_at"]),
                         "" if r["hours"] is None else round(r["hours"], 1)])
    elif table == "warnings":
        header = [t("col_doc_id"), t("col_village"), t("col_category"), t("col_week"),
                  t("col_rule"), t("col_observed"), t("col_expected"), t("col_statistic"),
                  t("col_status_w"), tz("col_raised"), t("col_note"), t("col_message")]
        for w in await warning_rows(request, village=f.village, limit=MAX_ROWS):
            rows.append([w["doc_id"], vname(w["village"]), i18n.category(lang, w["category"]),
                         w["last_week"], t("rule_" + w["rule"]), w["observed"],
                         round(w["expected"], 2), w["statistic"], t("w_" + w["status"]),
                         q.local_time(w["raised_at"]), w["note"], w["message"]])
    elif table == "screenings":
        header = [t("col_date"), t("col_village"), t("col_place"), t("col_attendance")]
        rows = [[s["date"], vname(s["village"]), s["place"], s["attendance"]]
                for s in await q.screening_list(store, f, county, limit=MAX_ROWS)]
    else:  # audit
        await need(request, "operator")
        header = [tz("col_at"), t("col_user"), t("col_event"), t("col_remote"),
                  t("col_detail")]
        rows = [[q.local_time(a["at"]), a["user"], t("ev_" + a["event"]), a["remote"],
                 i18n.audit_detail_text(lang, a["detail"], names)]
                for a in request.config_dict[ACCOUNTS].audit_log(limit=MAX_ROWS)]
    request.config_dict[ACCOUNTS].audit(viewer.name, "export", remote=request.remote or "-",
                                        table=table, filters=f.query(), rows=len(rows))
    return _csv(header, rows, name)
