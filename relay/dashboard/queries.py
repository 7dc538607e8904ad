"""The county's figures, computed from the projection (``records``, ``followups``) and the
relay's peer table — never by loading every document.

Every function takes the store and a ``Filters`` (period, village, category, grain) and
returns plain data for a template or a CSV file. Time: case registration is
``records.created_at`` (a UTC timestamp) compared with the UTC instants of local (China
time) midnights, so the indexes serve the ranges; closing days and follow-up days are
local dates already. Figures:

    mediation success rate   closed cases with outcome "agreed" ÷ cases closed, by closing day
    follow-ups               per visit (1, 3, 6 months): overdue (due before today, not done),
                             due within FOLLOWUP_SOON_DAYS, done in the period, mean
                             satisfaction of the visits done in the period
    consultations            waiting (no answer yet) with their age; answered in the
                             period with the time from question to answer
    stale village            no sync session for ``stale_after_hours`` (or never)

The SQL runs on both backends (the SQLite file and PostgreSQL, issue #13) with the same
results (tests/relay/test_dashboard_backends.py): sums of ``CASE WHEN`` rather than of
booleans, date arithmetic in Python on the ISO strings (as store/views.py does), ties in
an order broken by ``doc_id``. What differs is only how SQLite is steered onto an index
(a unary ``+`` on a column, ``CROSS JOIN`` to fix the loop order), which PostgreSQL's
planner does not need and its grammar does not take: ``_Sql`` writes either form, from
``store.views.dialect``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Protocol

from store import DocumentStore
from store.records import CASE, CATEGORIES, CONSULTATION, SCREENING, STATUSES, VILLAGE, WARNING
from store.views import days_between

from ..warning_pass import OPEN, TZ, TZ_HOURS, local_today, utc_bound, week_start

FOLLOWUP_SOON_DAYS = 14
PERIODS = ("month", "quarter", "year", "12w", "all", "custom")
GRAINS = ("week", "month")
PAGE_SIZE = 50
STATUSES_ALL = tuple(STATUSES)
MAX_BUCKETS = 120  # points on a time chart (e.g. all history by week would be too many)


class Store(DocumentStore, Protocol):
    """A document store that also runs this module's read-only SQL (``?`` placeholders):
    store/docs.py's ``Store`` and store/pg's ``PgStore`` both do."""

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class _Sql:
    """The few words of SQL the two dialects write differently (see the module docstring)."""

    sqlite: bool

    @classmethod
    def of(cls, store: Store) -> "_Sql":
        return cls(store.views.dialect == "sqlite")

    def plain(self, column: str) -> str:
        """``column`` kept off an index (SQLite's unary plus); as is on PostgreSQL."""
        return f"+{column}" if self.sqlite else column

    @property
    def fixed_join(self) -> str:
        """A join whose loop order is the written one in SQLite (CROSS JOIN ... ON)."""
        return "CROSS JOIN" if self.sqlite else "JOIN"


def _count_if(cond: str) -> str:
    return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"


@dataclass(frozen=True)
class Filters:
    period: str
    start: dt.date  # inclusive, local
    end: dt.date  # exclusive, local
    village: str = ""
    category: str = ""
    grain: str = "week"
    today: dt.date = field(default_factory=local_today)

    def query(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (for links and exports)."""
        f = replace(self, **changes) if changes else self
        q = {"period": f.period, "grain": f.grain}
        if f.period == "custom":
            q["from"], q["to"] = f.start.isoformat(), (f.end - dt.timedelta(days=1)).isoformat()
        if f.village:
            q["village"] = f.village
        if f.category:
            q["category"] = f.category
        return q


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def period_bounds(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    tomorrow = today + dt.timedelta(days=1)
    if period == "month":
        return _month_start(today), tomorrow
    if period == "quarter":
        return _add_months(_month_start(today), -((today.month - 1) % 3)), tomorrow
    if period == "12w":
        return week_start(today) - dt.timedelta(weeks=11), tomorrow
    if period == "all":
        return dt.date(2000, 1, 1), tomorrow
    return dt.date(today.year, 1, 1), tomorrow  # "year" (the default)


def parse_filters(q: Mapping[str, str], today: dt.date | None = None, *,
                  default_period: str = "year") -> Filters:
    """Filters from query parameters; anything malformed falls back to the default."""
    today = today or local_today()
    period = q.get("period", default_period)
    if period not in PERIODS:
        period = default_period
    start, end = period_bounds(period, today)
    if period == "custom":
        try:
            start = dt.date.fromisoformat(q.get("from", ""))
            end = dt.date.fromisoformat(q.get("to", "")) + dt.timedelta(days=1)
            if end <= start or (end - start).days > 3660:
                raise ValueError
        except ValueError:
            period = default_period
            start, end = period_bounds(period, today)
    category = q.get("category", "")
    village = q.get("village", "")
    grain = q.get("grain", "")
    if grain not in GRAINS:
        grain = "week" if (end - start).days <= 200 else "month"
    return Filters(period, start, end,
                   village=village if village.replace("-", "").replace("_", "").isalnum()
                   and len(village) <= 32 else "",
                   category=category if category in CATEGORIES else "", grain=grain,
                   today=today)


def _case_where(f: Filters, *, period: bool = True, alias: str = "") -> tuple[str, list[Any]]:
    a = f"{alias}." if alias else ""
    where, args = [f"{a}kind = ?"], [CASE]
    if period:
        where.append(f"{a}created_at >= ? AND {a}created_at < ?")
        args += [utc_bound(f.start), utc_bound(f.end)]
    if f.village:
        where.append(f"{a}village = ?")
        args.append(f.village)
    if f.category:
        where.append(f"{a}category = ?")
        args.append(f.category)
    return " AND ".join(where), args


def village_of_scope(scope: str) -> str:
    return scope.rsplit("/", 1)[-1] if scope.startswith("village:") else ""


# --- villages --------------------------------------------------------------------------
async def village_names(store: Store) -> dict[str, str]:
    rows = await store.query("SELECT village, title FROM records WHERE kind = ? "
                             "AND village IS NOT NULL", (VILLAGE,))
    return {str(v): str(t or v) for v, t in rows}


async def last_seen(store: Store, county: str) -> dict[str, str]:
    """Village code -> last time a node of it synced with the relay (ISO, UTC)."""
    prefix = f"director:{county}/"
    rows = await store.query(
        "SELECT label, last_seen FROM peers WHERE label >= ? AND label < ? "
        "AND last_seen IS NOT NULL", (prefix, prefix[:-1] + "0"))
    out: dict[str, str] = {}
    for label, seen in rows:
        code = str(label)[len(prefix):].split(":", 1)[0]
        if code and (code not in out or str(seen) > out[code]):
            out[code] = str(seen)
    return out


def is_stale(seen: str | None, now: dt.datetime, hours: int) -> bool:
    if not seen:
        return True
    try:
        t = dt.datetime.fromisoformat(seen)
    except ValueError:
        return True
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return now - t > dt.timedelta(hours=hours)


@dataclass
class VillageRow:
    code: str
    name: str
    last_seen: str | None
    stale: bool
    cases_year: int = 0
    cases_month: int = 0
    cases_period: int = 0
    open_cases: int = 0
    closed_period: int = 0
    agreed_period: int = 0
    followups_overdue: int = 0
    consultations_waiting: int = 0
    warnings_open: int = 0

    @property
    def success_rate(self) -> float | None:
        return self.agreed_period / self.closed_period if self.closed_period else None


async def case_matrix(store: Store, f: Filters) -> list[tuple[Any, ...]]:
    """One scan of the county's cases: per (village, category), cases registered this
    year, this month and in the period; cases open now; cases closed, and closed with an
    agreement, in the period. Every per-village and per-category total of the overview is
    a sum over these rows."""
    year0 = utc_bound(dt.date(f.today.year, 1, 1))
    month0 = utc_bound(_month_start(f.today))
    where, args = _case_where(f, period=False)
    closed_lo, closed_hi = f.start.isoformat(), f.end.isoformat()
    counts = ", ".join(_count_if(c) for c in (
        "created_at >= ?", "created_at >= ?", "created_at >= ? AND created_at < ?",
        "status != 'closed'", "status = 'closed' AND closed_at >= ? AND closed_at < ?",
        "status = 'closed' AND outcome = 'agreed' AND closed_at >= ? AND closed_at < ?"))
    sql = (f"SELECT village, category, {counts} "
           f"FROM records WHERE {where} GROUP BY village, category")
    rows = await store.query(sql, (year0, month0, utc_bound(f.start), utc_bound(f.end),
                                   closed_lo, closed_hi, closed_lo, closed_hi, *args))
    return list(rows)


async def villages(store: Store, county: str, f: Filters, *, stale_hours: int,
                   now: dt.datetime | None = None,
                   matrix: list[tuple[Any, ...]] | None = None) -> list[VillageRow]:
    now = now or dt.datetime.now(dt.timezone.utc)
    names = await village_names(store)
    seen = await last_seen(store, county)
    matrix = matrix if matrix is not None else await case_matrix(store, f)
    rows: dict[str, VillageRow] = {}

    def row(code: str) -> VillageRow:
        if code not in rows:
            rows[code] = VillageRow(code, names.get(code, code), seen.get(code),
                                    is_stale(seen.get(code), now, stale_hours))
        return rows[code]

    for code in names:
        row(code)
    for village, _cat, year, month, period, open_, closed, agreed in matrix:
        if not village:
            continue
        r = row(str(village))
        r.cases_year += year or 0
        r.cases_month += month or 0
        r.cases_period += period or 0
        r.open_cases += open_ or 0
        r.closed_period += closed or 0
        r.agreed_period += agreed or 0
    for code, n in (await overdue_by_village(store, f)).items():
        row(code).followups_overdue = n
    for code, n in (await waiting_by_village(store)).items():
        row(code).consultations_waiting = n
    for code, n in (await warnings_by_village(store)).items():
        if code != "*":  # county-wide warnings are not a village's
            row(code).warnings_open = n
    out = [r for r in rows.values() if not f.village or r.code == f.village]
    return sorted(out, key=lambda r: r.code)


def _followups_from(f: Filters, sql: _Sql) -> tuple[str, str, list[Any]]:
    """(FROM clause, extra WHERE, args) for follow-ups of the filter's village/category.
    With a filter the loop starts at the village's cases (index on records) and looks
    their visits up (CROSS JOIN fixes that order in SQLite); without one it reads the
    follow-up indexes alone."""
    if not (f.village or f.category):
        return "followups f", "", []
    # (the callers write sql.plain("f.done_date"): a unary plus keeps SQLite from scanning
    # the follow-up index of the whole county for each of the village's cases)
    where, args = ["r.kind = ?"], [CASE]
    if f.village:
        where.append("r.village = ?")
        args.append(f.village)
    if f.category:
        where.append("r.category = ?")
        args.append(f.category)
    return (f"records r {sql.fixed_join} followups f ON f.doc_id = r.doc_id",
            " AND " + " AND ".join(where), args)


async def overdue_by_village(store: Store, f: Filters) -> dict[str, int]:
    if f.village:
        sql = _Sql.of(store)
        src, extra, args = _followups_from(f, sql)
        rows = await store.query(
            f"SELECT count(*) FROM {src} WHERE {sql.plain('f.done_date')} IS NULL AND "
            f"{sql.plain('f.due_date')} < ?{extra}", (f.today.isoformat(), *args))
        return {f.village: int(rows[0][0])}
    where, args = ["f.done_date IS NULL", "f.due_date < ?"], [f.today.isoformat()]
    if f.category:
        where.append("r.category = ?")
        args.append(f.category)
    rows = await store.query(
        "SELECT r.village, count(*) FROM followups f JOIN records r ON r.doc_id = f.doc_id "
        f"WHERE {' AND '.join(where)} GROUP BY r.village", args)
    return {str(v): int(n) for v, n in rows if v}


async def waiting_by_village(store: Store) -> dict[str, int]:
    rows = await store.query("SELECT scope, count(*) FROM records WHERE kind = ? AND "
                             "status = 'open' GROUP BY scope", (CONSULTATION,))
    return {village_of_scope(str(s)): int(n) for s, n in rows}


async def warnings_by_village(store: Store) -> dict[str, int]:
    rows = await store.query("SELECT village, count(*) FROM records WHERE kind = ? AND "
                             "status = ? GROUP BY village", (WARNING, OPEN))
    return {str(v): int(n) for v, n in rows if v}


# --- totals ----------------------------------------------------------------------------
@dataclass
class Totals:
    cases_year: int = 0
    cases_month: int = 0
    cases_period: int = 0
    open_cases: int = 0
    closed_period: int = 0
    agreed_period: int = 0
    by_category: dict[str, int] = field(default_factory=dict)  # in the period

    @property
    def success_rate(self) -> float | None:
        return self.agreed_period / self.closed_period if self.closed_period else None


def totals(matrix: list[tuple[Any, ...]], village: str = "") -> Totals:
    t = Totals()
    for v, cat, year, month, period, open_, closed, agreed in matrix:
        if village and v != village:
            continue
        t.cases_year += year or 0
        t.cases_month += month or 0
        t.cases_period += period or 0
        t.open_cases += open_ or 0
        t.closed_period += closed or 0
        t.agreed_period += agreed or 0
        if period:
            t.by_category[str(cat)] = t.by_category.get(str(cat), 0) + period
    return t


# --- time series -----------------------------------------------------------------------
def buckets(f: Filters) -> list[dt.date]:
    """Bucket starts (Mondays or first days of months) covering the period."""
    out: list[dt.date] = []
    if f.grain == "month":
        d = _month_start(f.start)
        while d < f.end:
            out.append(d)
            d = _add_months(d, 1)
    else:
        d = week_start(f.start)
        while d < f.end:
            out.append(d)
            d += dt.timedelta(weeks=1)
    return out[-MAX_BUCKETS:]


async def category_series(store: Store, f: Filters) -> tuple[list[dt.date], dict[str, list[int]]]:
    """Cases per category per week (or month) of the period."""
    starts = buckets(f)
    if not starts:
        return [], {}
    f2 = replace(f, start=max(f.start, starts[0]))
    where, args = _case_where(f2)
    # Counted per UTC day and half of it (before or from 16:00 UTC, midnight China
    # time): few rows, and the local day of each is then plain date arithmetic here.
    rows = await store.query(
        "SELECT category, substr(created_at, 1, 10) AS d, "
        f"CASE WHEN substr(created_at, 12, 2) >= '{24 - TZ_HOURS:02d}' THEN 1 ELSE 0 END AS late, "
        f"count(*) FROM records WHERE {where} GROUP BY category, d, late", args)
    index = {d: i for i, d in enumerate(starts)}
    series: dict[str, list[int]] = {}
    for cat, day, late, n in rows:
        b = _bucket_of(day, int(late or 0), f.grain)
        i = index.get(b) if b is not None else None
        if i is not None and cat in CATEGORIES:
            series.setdefault(str(cat), [0] * len(starts))[i] += int(n)
    ordered = {c: series[c] for c in CATEGORIES if c in series}
    return starts, ordered


def _bucket_of(utc_day: Any, late: int, grain: str) -> dt.date | None:
    """The bucket (Monday, or first of the month) of a case registered on ``utc_day``
    (UTC), ``late`` = at or after midnight China time; None for a malformed day."""
    try:
        day = dt.date.fromisoformat(str(utc_day)) + dt.timedelta(days=late)
    except ValueError:
        return None
    return _month_start(day) if grain == "month" else week_start(day)


# --- follow-ups ------------------------------------------------------------------------
@dataclass
class FollowupRow:
    month: int
    overdue: int = 0
    due_soon: int = 0
    done_period: int = 0
    satisfaction: float | None = None


async def followups(store: Store, f: Filters) -> list[FollowupRow]:
    today = f.today.isoformat()
    soon = (f.today + dt.timedelta(days=FOLLOWUP_SOON_DAYS)).isoformat()
    sql = _Sql.of(store)
    src, extra, args = _followups_from(f, sql)

    def p(column: str) -> str:
        return sql.plain(column) if extra else column

    out = {m: FollowupRow(m) for m in (1, 3, 6)}
    rows = await store.query(
        f"SELECT f.month, {_count_if('f.due_date < ?')}, {_count_if('f.due_date >= ?')} "
        f"FROM {src} WHERE {p('f.done_date')} IS NULL AND {p('f.due_date')} < ?{extra} "
        "GROUP BY f.month", (today, today, soon, *args))
    for m, overdue, due in rows:
        if m in out:
            out[m].overdue, out[m].due_soon = int(overdue or 0), int(due or 0)
    rows = await store.query(
        f"SELECT f.month, count(*), avg(f.satisfaction) FROM {src} "
        f"WHERE {p('f.done_date')} >= ? AND {p('f.done_date')} < ?{extra} GROUP BY f.month",
        (f.start.isoformat(), f.end.isoformat(), *args))
    for m, n, sat in rows:
        if m in out:
            out[m].done_period = int(n)
            out[m].satisfaction = float(sat) if sat is not None else None
    return list(out.values())


# --- consultations ---------------------------------------------------------------------
def _age_hours(asked: str, now: dt.datetime) -> float:
    try:
        t = dt.datetime.fromisoformat(asked)
    except (TypeError, ValueError):
        return 0.0
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (now - t).total_seconds() / 3600)


async def waiting(store: Store, *, village: str = "", county: str = "",
                  limit: int = 500, offset: int = 0, now: dt.datetime | None = None
                  ) -> list[dict[str, Any]]:
    """Consultations without an answer, oldest first, with their age in hours (``offset``
    for the inbox's pages)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    where, args = ["kind = ?", "status = 'open'"], [CONSULTATION]
    if village and county:
        where.append("scope = ?")
        args.append(f"village:{county}/{village}")
    # "+created_at" (SQLite): sort the few waiting ones; do not walk an index of every record.
    rows = await store.query(
        f"SELECT doc_id, scope, parent, number, title, created_at FROM records "
        f"WHERE {' AND '.join(where)} ORDER BY {_Sql.of(store).plain('created_at')}, doc_id "
        "LIMIT ? OFFSET ?",
        (*args, limit, offset))
    return [{"doc_id": d, "village": village_of_scope(s), "case_id": p, "case_number": n,
             "question": t, "asked_at": a, "age_hours": _age_hours(a, now)}
            for d, s, p, n, t, a in rows]


@dataclass
class AnswerTimes:
    answered: int
    median_hours: float | None
    mean_hours: float | None
    within_48h: float | None  # share answered within two days


async def answer_times(store: Store, f: Filters, county: str = "") -> AnswerTimes:
    """Time from question to answer of the consultations answered in the period."""
    where, args = ["kind = ?", "status = 'answered'", "closed_at >= ?", "closed_at < ?"], [
        CONSULTATION, utc_bound(f.start), utc_bound(f.end)]
    if f.village and county:
        where.append("scope = ?")
        args.append(f"village:{county}/{f.village}")
    rows = await store.query(
        f"SELECT created_at, closed_at FROM records WHERE {' AND '.join(where)}", args)
    hours = sorted(h for h in (_hours_between(a, c) for a, c in rows)
                   if h is not None and h >= 0)
    if not hours:
        return AnswerTimes(0, None, None, None)
    return AnswerTimes(len(hours), statistics.median(hours), statistics.fmean(hours),
                       sum(h <= 48 for h in hours) / len(hours))


def _hours_between(first: Any, then: Any) -> float | None:
    days = days_between(first, then)
    return None if days is None else days * 24


async def answered_recently(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    rows = await store.query(
        "SELECT doc_id, scope, parent, number, title, created_at, closed_at FROM records "
        "WHERE kind = ? AND status = 'answered' ORDER BY closed_at DESC NULLS LAST, "
        "doc_id DESC LIMIT ?",
        (CONSULTATION, limit))
    out = []
    for d, s, p, n, t, a, c in rows:
        hours = None
        try:
            hours = (dt.datetime.fromisoformat(c) - dt.datetime.fromisoformat(a)
                     ).total_seconds() / 3600
        except (TypeError, ValueError):
            pass
        out.append({"doc_id": d, "village": village_of_scope(s), "case_id": p,
                    "case_number": n, "question": t, "asked_at": a, "answered_at": c,
                    "hours": hours})
    return out


# --- warnings, screenings --------------------------------------------------------------
async def open_warnings(store: Store, village: str = "", limit: int = 200
                        ) -> list[dict[str, Any]]:
    where, args = ["kind = ?", "status = ?"], [WARNING, OPEN]
    if village:
        where.append("(village = ? OR village = '*')")
        args.append(village)
    rows = await store.query(
        f"SELECT doc_id, village, category, title, created_at FROM records WHERE "
        f"{' AND '.join(where)} ORDER BY created_at DESC NULLS LAST, doc_id DESC LIMIT ?",
        (*args, limit))
    return [{"doc_id": d, "village": v, "category": c, "message": t, "raised_at": a}
            for d, v, c, t, a in rows]


@dataclass
class ScreeningTotals:
    count: int
    attendance: int


def _screening_where(f: Filters, county: str) -> tuple[list[str], list[Any]]:
    """Screenings held in the period (``created_at`` is the day held), of one village."""
    where = ["kind = ?", "created_at >= ?", "created_at < ?"]
    args: list[Any] = [SCREENING, f.start.isoformat(), f.end.isoformat()]
    if f.village and county:
        where.append("scope = ?")
        args.append(f"village:{county}/{f.village}")
    return where, args


async def screenings(store: Store, f: Filters, county: str = "") -> ScreeningTotals:
    where, args = _screening_where(f, county)
    rows = await store.query(
        "SELECT count(*), sum(CAST(number AS INTEGER)) FROM records WHERE "
        + " AND ".join(where), args)
    n, people = rows[0] if rows else (0, 0)
    return ScreeningTotals(int(n or 0), int(people or 0))


async def screening_list(store: Store, f: Filters, county: str, limit: int = 500
                         ) -> list[dict[str, Any]]:
    where, args = _screening_where(f, county)
    rows = await store.query(
        f"SELECT doc_id, scope, created_at, title, number FROM records WHERE "
        f"{' AND '.join(where)} ORDER BY created_at DESC NULLS LAST, doc_id DESC LIMIT ?",
        (*args, limit))
    return [{"doc_id": d, "village": village_of_scope(s), "date": a, "place": t,
             "attendance": int(n or 0)} for d, s, a, t, n in rows]


# --- case lists ------------------------------------------------------------------------
async def case_list(store: Store, f: Filters, *, status: str = "", page: int = 1,
                    page_size: int = PAGE_SIZE, period: bool = True
                    ) -> tuple[list[dict[str, Any]], int]:
    """One page of cases (newest first) and how many match."""
    where, args = _case_where(f, period=period)
    if status == "open":
        where += " AND status != 'closed'"
    elif status:
        where += " AND status = ?"
        args.append(status)
    (total,), = await store.query(f"SELECT count(*) FROM records WHERE {where}", args)
    rows = await store.query(
        "SELECT doc_id, number, title, category, status, village, created_at, closed_at, "
        f"outcome FROM records WHERE {where} ORDER BY created_at DESC NULLS LAST, doc_id DESC "
        "LIMIT ? OFFSET ?",
        (*args, page_size, max(0, page - 1) * page_size))
    keys = ("doc_id", "number", "title", "category", "status", "village", "created_at",
            "closed_at", "outcome")
    return [dict(zip(keys, r)) for r in rows], int(total)


def local_time(iso: str | None) -> str:
    """A stored UTC timestamp as China time, minutes precision ('' if none)."""
    if not iso:
        return ""
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        return t.isoformat(sep=" ", timespec="minutes")
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M")

