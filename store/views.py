"""Named read-only queries on the projection (``records``, ``followups``) and the store's
own tables, for node services, sync and the relay.

The layers above never write SQL (tests/test_layering.py): they call one of these methods
by name, with plain parameters, and get plain rows back. Both backends run this one
``Views``: the SQL is what SQLite and PostgreSQL share (CASE WHEN rather than a sum of
booleans; week and day arithmetic done here in Python on the ISO strings), and the one
word that differs, the substring search (instr / strpos), is ``dialect``'s. The names,
the parameters and the rows are the same on both, so a caller works on either
(tests/store/contract/test_views_contract.py). The one exception is
the county dashboard's figures, whose SQL lives in one relay module
(relay/dashboard/queries.py) and runs through ``Store.query``.

A row is a tuple in the column order the method's docstring gives.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from .projection import Tokenizer, search_sql
from .records import CASE, CONSULTATION, CONTENT, SCREENING, VILLAGE, WARNING

Row = tuple[Any, ...]
FIND = {"sqlite": "instr", "postgresql": "strpos"}
"""The position-of-substring function of each SQL dialect."""
Run = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]

CASE_ROW = ("doc_id", "number", "title", "category", "status", "village", "created_at",
            "updated_at", "closed_at", "outcome")
"""The columns of a case row (``cases``)."""


@dataclass(frozen=True)
class CaseFilter:
    """Which cases: every word of ``text`` (store/projection.py's search rules), and the
    fields that are given. ``open_only``: not closed."""

    text: str = ""
    category: str | None = None
    status: str | None = None
    village: str | None = None
    open_only: bool = False


class Views:
    """The named queries on one store (see the module docstring)."""

    def __init__(self, run: Run, tok: Tokenizer, *, dialect: str = "sqlite") -> None:
        if dialect not in FIND:
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        self._q = run
        self._tok = tok
        self.dialect = dialect
        """The SQL dialect of the backend ("sqlite" or "postgresql"), for the one relay
        module that writes its own SQL (relay/dashboard/queries.py)."""
        self._find = FIND[dialect]

    # --- the store's own tables -------------------------------------------------------
    async def doc_count(self) -> int:
        """How many documents the store holds."""
        return int((await self._q("SELECT count(*) FROM docs", ()))[0][0])

    async def doc_exists(self, doc_id: str) -> bool:
        return bool(await self._q("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)))

    # --- any kind ---------------------------------------------------------------------
    async def count_kind(self, kind: str) -> int:
        return int((await self._q("SELECT count(*) FROM records WHERE kind = ?", (kind,)))[0][0])

    async def titles(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """doc_id -> (title, category) of the given records (those that exist)."""
        out: dict[str, tuple[str, str]] = {}
        ids = list(doc_ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for doc_id, title, category in await self._q(
                    f"SELECT doc_id, title, category FROM records WHERE doc_id IN "
                    f"({','.join('?' * len(part))})", part):
                out[str(doc_id)] = (title, category)
        return out

    # --- villages ---------------------------------------------------------------------
    async def village_profile_exists(self, village: str) -> bool:
        return bool(await self._q("SELECT 1 FROM records WHERE kind = ? AND village = ?",
                                  (VILLAGE, village)))

    async def village_titles(self) -> dict[str, str]:
        """village code -> its name, of every village profile with a name."""
        rows = await self._q("SELECT village, title FROM records WHERE kind = ? "
                             "AND village IS NOT NULL", (VILLAGE,))
        return {str(v): str(t) for v, t in rows if t}

    # --- cases ------------------------------------------------------------------------
    def _case_where(self, f: CaseFilter) -> tuple[str, list[Any]]:
        where = ["kind = ?"]
        args: list[Any] = [CASE]
        for col in ("category", "status", "village"):
            value = getattr(f, col)
            if value:
                where.append(f"{col} = ?")
                args.append(value)
        if f.open_only:
            where.append("status != 'closed'")
        # Every word: a substring of the text without personal data (works for Chinese
        # without a word segmenter), or a phone, ID number or party name by its token.
        terms, term_args = search_sql(f.text, self._tok, find=self._find)
        return " AND ".join(where + terms), args + term_args

    async def cases(self, f: CaseFilter, *, limit: int | None = None,
                    offset: int = 0) -> list[Row]:
        """Case rows (``CASE_ROW``) matching ``f``, newest activity first; every one when
        ``limit`` is None."""
        where, args = self._case_where(f)
        sql = (f"SELECT {', '.join(CASE_ROW)} FROM records WHERE {where} "
               "ORDER BY updated_at DESC, doc_id")
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, max(0, offset)]
        return await self._q(sql, args)

    async def case_count(self, f: CaseFilter) -> int:
        where, args = self._case_where(f)
        return int((await self._q(f"SELECT count(*) FROM records WHERE {where}", args))[0][0])

    async def find_case(self, ref: str, *, ignore_case: bool = True) -> str | None:
        """Doc id of the case whose doc id or case number is ``ref``."""
        if ignore_case:
            rows = await self._q("SELECT doc_id FROM records WHERE kind = ? AND "
                                 "(doc_id = ? OR upper(number) = ?) LIMIT 1",
                                 (CASE, ref, ref.upper()))
        else:
            rows = await self._q("SELECT doc_id FROM records WHERE kind = ? AND "
                                 "(doc_id = ? OR number = ?) LIMIT 1", (CASE, ref, ref))
        return str(rows[0][0]) if rows else None

    async def cases_numbered_like(self, pattern: str, *, limit: int) -> list[tuple[str, str]]:
        """(doc id, number) of the cases whose upper-cased number matches the LIKE
        ``pattern`` (``\\`` escapes), in number order, at most ``limit``."""
        rows = await self._q(
            "SELECT doc_id, number FROM records WHERE kind = ? AND upper(number) LIKE ? "
            "ESCAPE '\\' ORDER BY number, doc_id LIMIT ?", (CASE, pattern, limit))
        return [(str(d), str(n)) for d, n in rows]

    async def case_numbers(self, scope: str) -> list[str]:
        """The distinct case numbers held in ``scope``."""
        rows = await self._q("SELECT DISTINCT number FROM records WHERE kind = ? AND scope = ?",
                             (CASE, scope))
        return [str(r[0]) for r in rows if r[0] is not None]

    async def case_counts(self) -> list[Row]:
        """(category, status, count) of every case."""
        return await self._q("SELECT category, status, count(*) FROM records WHERE kind = ? "
                             "GROUP BY 1, 2", (CASE,))

    async def closed_and_agreed(self, *, closed: str, agreed: str) -> tuple[int, int]:
        """Cases with status ``closed``, and those of them with outcome ``agreed``."""
        (n, a), = await self._q("SELECT count(*), coalesce(sum(CASE WHEN outcome = ? THEN 1 "
                                "ELSE 0 END), 0) FROM records "
                                "WHERE kind = ? AND status = ?", (agreed, CASE, closed))
        return int(n), int(a)

    async def case_week_counts(self, start: str, end: str, *, tz_hours: int) -> list[Row]:
        """(village, category, Monday of the week in local time, count) of the cases
        registered in [start, end) (UTC ISO bounds)."""
        rows = await self._q(
            "SELECT village, category, created_at FROM records WHERE kind = ? "
            "AND created_at >= ? AND created_at < ? AND village IS NOT NULL",
            (CASE, start, end))
        counts = Counter((v, c, week_of(at, tz_hours)) for v, c, at in rows)
        return [(v, c, wk, n) for (v, c, wk), n in sorted(counts.items(), key=_group_key)]

    async def cases_since(self, start: str, *, tz_hours: int) -> list[Row]:
        """(doc_id, village, category, Monday of the week, seq of the document) of the
        cases registered since ``start`` (a UTC ISO bound)."""
        rows = await self._q(
            "SELECT r.doc_id, r.village, r.category, r.created_at, d.seq "
            "FROM records r JOIN docs d ON d.doc_id = r.doc_id "
            "WHERE r.kind = ? AND r.created_at >= ? ORDER BY r.doc_id", (CASE, start))
        return [(d, v, c, week_of(at, tz_hours), int(seq)) for d, v, c, at, seq in rows]

    # --- follow-up visits -------------------------------------------------------------
    async def due_visits(self, horizon: str, *, limit: int) -> list[Row]:
        """(doc_id, number, title, month, due_date) of visits not done and due by
        ``horizon``, most overdue first."""
        return await self._q(
            "SELECT f.doc_id, r.number, r.title, f.month, f.due_date FROM followups f "
            "JOIN records r ON r.doc_id = f.doc_id WHERE r.kind = ? AND f.done_date IS NULL "
            "AND f.due_date <= ? ORDER BY f.due_date, r.number, f.doc_id, f.month LIMIT ?",
            (CASE, horizon, limit))

    async def followup_figures(self, day: str, *, grace_days: int
                               ) -> tuple[int, int, int, float | None]:
        """Visits due by ``day``: (due, done, done within ``grace_days`` of the due date,
        mean satisfaction)."""
        (due, done, sat), = await self._q(
            "SELECT count(*), count(done_date), avg(satisfaction) FROM followups "
            "WHERE due_date <= ?", (day,))
        pairs = await self._q("SELECT due_date, done_date FROM followups WHERE due_date <= ? "
                              "AND done_date IS NOT NULL", (day,))
        on_time = sum(1 for due_on, done_on in pairs
                      if (lag := days_between(due_on, done_on)) is not None
                      and lag <= grace_days)
        # PostgreSQL's avg of integers is a numeric (Decimal); SQLite's a float.
        return int(due), int(done), on_time, None if sat is None else float(sat)

    # --- consultations ----------------------------------------------------------------
    async def consultations(self, *, status: str | None = None, parent: str | None = None,
                            limit: int | None = None, oldest_first: bool = False) -> list[str]:
        """Doc ids of consultations (of the case ``parent``, with ``status``); newest
        activity first, or in the order they were asked with ``oldest_first``."""
        where, args = ["kind = ?"], list[Any]([CONSULTATION])
        if status:
            where.append("status = ?")
            args.append(status)
        if parent:
            where.append("parent = ?")
            args.append(parent)
        order = ("created_at, doc_id" if oldest_first
                 else "coalesce(closed_at, created_at) DESC, doc_id")
        sql = f"SELECT doc_id FROM records WHERE {' AND '.join(where)} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [str(r[0]) for r in await self._q(sql, args)]

    async def answered_since(self, since: str, *, limit: int) -> list[str]:
        """Doc ids of consultations answered after ``since``, newest first."""
        rows = await self._q("SELECT doc_id FROM records WHERE kind = ? AND status = 'answered' "
                             "AND coalesce(closed_at, '') > ? "
                             "ORDER BY closed_at DESC, doc_id LIMIT ?",
                             (CONSULTATION, since, limit))
        return [str(r[0]) for r in rows]

    # --- warnings ---------------------------------------------------------------------
    async def warnings(self, *, status: str | None = None, handled: bool = False,
                       village: str | None = None, category: str | None = None,
                       limit: int | None = None, by_update: bool = False) -> list[str]:
        """Doc ids of warnings: with ``status`` (or, with ``handled``, any but 'open'),
        for ``village`` (a county-wide warning, village '*', counts for every village
        unless ``category`` is given too), newest first (by registration, or by last
        change with ``by_update``)."""
        where, args = ["kind = ?"], list[Any]([WARNING])
        if status:
            where.append("status = ?")
            args.append(status)
        elif handled:
            where.append("status != 'open'")
        if village and category:
            where.append("village = ? AND category = ?")
            args += [village, category]
        elif village:
            where.append("(village = ? OR village = '*')")
            args.append(village)
        order = "updated_at" if by_update else "created_at"
        sql = (f"SELECT doc_id FROM records WHERE {' AND '.join(where)} "
               f"ORDER BY {order} DESC, doc_id")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [str(r[0]) for r in await self._q(sql, args)]

    async def warnings_open_or_since(self, start: str) -> list[str]:
        """Doc ids of the open warnings and of those raised since ``start``."""
        rows = await self._q("SELECT doc_id FROM records WHERE kind = ? AND "
                             "(status = 'open' OR created_at >= ?)", (WARNING, start))
        return [str(r[0]) for r in rows]

    async def status_counts(self, kind: str) -> dict[str, int]:
        """status -> how many records of ``kind`` have it."""
        rows = await self._q("SELECT status, count(*) FROM records WHERE kind = ? "
                             "GROUP BY status", (kind,))
        return {str(s): int(n) for s, n in rows}

    async def open_counts(self, kinds: Sequence[str]) -> dict[str, int]:
        """kind -> how many records of it are 'open'."""
        marks = ",".join("?" * len(kinds))
        rows = await self._q(f"SELECT kind, count(*) FROM records WHERE kind IN ({marks}) "
                             "AND status = 'open' GROUP BY kind", list(kinds))
        return {str(k): int(n) for k, n in rows}

    async def raised_between(self, kind: str, start: str, end: str) -> int:
        """Records of ``kind`` registered in [start, end) (UTC ISO bounds)."""
        (n,), = await self._q("SELECT count(*) FROM records WHERE kind = ? AND created_at >= ? "
                              "AND created_at < ?", (kind, start, end))
        return int(n)

    # --- education content and screenings ---------------------------------------------
    async def content(self, *, published_only: bool = True, topic: str | None = None,
                      words: Sequence[str] = (), limit: int | None = None) -> list[Row]:
        """(doc_id, scope) of content items, newest first: published ones (or all), of
        ``topic``, whose text holds every one of ``words``."""
        where, args = ["kind = ?"], list[Any]([CONTENT])
        if published_only:
            where.append("status = 'published'")
        if topic:
            where.append("category = ?")
            args.append(topic)
        for word in words:
            where.append(f"{self._find}(search, ?) > 0")
            args.append(word)
        sql = f"SELECT doc_id, scope FROM records WHERE {' AND '.join(where)} " \
              "ORDER BY created_at DESC, doc_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return await self._q(sql, args)

    async def content_topics(self) -> list[tuple[str, int]]:
        """(topic, published items) by most items."""
        rows = await self._q("SELECT category, count(*) FROM records WHERE kind = ? AND "
                             "status = 'published' GROUP BY 1 ORDER BY 2 DESC, 1", (CONTENT,))
        return [(str(t), int(n)) for t, n in rows]

    async def screenings(self, *, limit: int) -> list[str]:
        rows = await self._q("SELECT doc_id FROM records WHERE kind = ? "
                             "ORDER BY created_at DESC, doc_id LIMIT ?", (SCREENING, limit))
        return [str(r[0]) for r in rows]

    async def screening_figures(self) -> tuple[int, int]:
        """(screenings, total attendance)."""
        (n, people), = await self._q(
            "SELECT count(*), coalesce(sum(CAST(number AS INTEGER)), 0) FROM records "
            "WHERE kind = ?", (SCREENING,))
        return int(n), int(people)


def _instant(value: Any) -> dt.datetime | None:
    """An ISO timestamp or date as a UTC datetime (no offset: UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None \
        else at.astimezone(dt.timezone.utc)


def week_of(value: Any, tz_hours: int) -> str | None:
    """The Monday (in local time, UTC + ``tz_hours``) of the week of an ISO timestamp, as
    an ISO date; None for a value that is not a timestamp."""
    at = _instant(value)
    if at is None:
        return None
    day = (at + dt.timedelta(hours=int(tz_hours))).date()
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def days_between(first: Any, then: Any) -> float | None:
    """Days from one ISO date or timestamp to another (fractions for times of day); None
    when either is not one."""
    a, b = _instant(first), _instant(then)
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 86400


def _group_key(item: tuple[tuple[Any, Any, Any], int]) -> tuple[str, ...]:
    """Order of (village, category, week) groups, None first (as SQLite's GROUP BY)."""
    return tuple("" if v is None else "\x01" + str(v) for v in item[0])
