"""Dispute cases: register, edit, log sessions, move along the life cycle, close, search.

Every method validates before it writes, and returns only after the store has committed,
so what it returns is saved. Cases are addressed by doc id or by case number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from store import DocNotFound, Store, ValidationError, casedoc, records
from store.casedoc import Case
from store.records import CASE, Party
from store.views import CaseFilter

from .config import NodeConfig

MAX_PAGE = 500
AMBIGUOUS_SHOWN = 5  # case numbers named when a short number matches several


@dataclass(frozen=True)
class CaseRow:
    """A case as listed: only projected fields, no document load."""

    doc_id: str
    number: str
    title: str
    category: str
    status: str
    village: str
    created_at: str
    updated_at: str
    closed_at: str
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's timeline (registered, a session, a status change...)."""
    at: str  # sortable date or timestamp
    kind: str  # registered | session | status | edited | consultation | answer |
    #            followup_due | followup
    text: str
    detail: dict[str, Any]



def case_timeline(case: Case) -> list[TimelineEntry]:
    """The timeline held in the case's own record (registration, sessions, status
    changes, edits, follow-ups), oldest first: all of it but the consultations, which
    are records of their own (``Cases.timeline`` adds them)."""
    out = [TimelineEntry(case.created_at, "registered", case.title,
                         {"by": case.created_by})]
    for s in case.sessions:
        out.append(TimelineEntry(s.at or s.date, "session", s.summary, s.__dict__))
    for h in case.history:
        out.append(TimelineEntry(h.at, "status", h.note,
                                 {"from": h.from_status, "to": h.to_status}))
    for e in case.edits:
        out.append(TimelineEntry(e.at, "edited", ",".join(e.fields),
                                 {"fields": e.fields, "by": e.by}))
    for f in case.followups:
        if f.done:
            out.append(TimelineEntry(f.done, "followup", f.outcome, f.__dict__))
        else:
            out.append(TimelineEntry(f.due, "followup_due", "", f.__dict__))
    out.sort(key=lambda e: casedoc.timeline_key(e.at or ""))
    return out


def _row(r: tuple[Any, ...]) -> CaseRow:
    return CaseRow(*(x if x is not None else "" for x in r))


class CaseService:
    def __init__(self, store: Store, config: NodeConfig) -> None:
        self._store = store
        self._cfg = config

    @property
    def _by(self) -> str:
        return self._cfg.director or self._cfg.node_id

    @property
    def _counter(self) -> str:
        return f"case:{self._cfg.village}:{self._cfg.short_id}"

    def _number(self, n: int) -> str:
        return f"{self._cfg.village}-{self._cfg.short_id}-{n:04d}"

    async def register(self, *, category: str, title: str, parties: list[Party],
                       description: str = "", group: bool = False, headcount: int = 0,
                       mediator: str = "", created_at: str | None = None) -> Case:
        title, description, checked, headcount = casedoc.check_new_case(
            category=category, title=title, description=description, parties=parties,
            group=group, headcount=headcount)
        meta = await self._store.create(
            CASE, self._cfg.scope,
            lambda doc, n: casedoc.new_case(
                doc, number=self._number(n), category=category, title=title,
                description=description, parties=checked, group=group, headcount=headcount,
                mediator=mediator, village=self._cfg.village, county=self._cfg.county,
                by=self._by, created_at=created_at,
            ),
            counter=self._counter,
        )
        return await self.get(meta.doc_id)

    async def resolve(self, ref: str) -> str:
        """Doc id of a case given its doc id or its case number (case-insensitive)."""
        found = await self._store.views.find_case(ref)
        if found is not None:
            return found
        return await self._resolve_short(ref)

    async def _resolve_short(self, ref: str) -> str:
        """A case by the end of its number: ``241`` or ``0241`` (the sequence number),
        ``M6J-0241`` (a suffix). Several matches: ValidationError ``ambiguous_case``
        with the numbers that match (at most AMBIGUOUS_SHOWN)."""
        short = ref.strip().upper()
        if not short or len(short) > 64:
            raise DocNotFound(f"no case {ref}", ref=ref)
        escaped = short.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        if short.isdigit():
            pattern = "%-" + escaped.zfill(4) if len(short) <= 4 else "%-" + escaped
        else:
            head, dash, tail = escaped.rpartition("-")
            if dash and tail.isdigit() and len(tail) <= 4:  # ZZ9-1 is ZZ9-0001
                escaped = f"{head}-{tail.zfill(4)}"
            pattern = "%" + (escaped if escaped.startswith("-") else "-" + escaped)
        rows = await self._store.views.cases_numbered_like(pattern, limit=AMBIGUOUS_SHOWN + 1)
        if not rows:
            raise DocNotFound(f"no case {ref}", ref=ref)
        if len(rows) > 1:
            numbers = [str(r[1]) for r in rows[:AMBIGUOUS_SHOWN]]
            raise ValidationError("ambiguous_case", f"{ref} matches several cases",
                                  ref=ref, numbers=numbers, more=len(rows) > AMBIGUOUS_SHOWN)
        return str(rows[0][0])

    async def get(self, ref: str) -> Case:
        doc_id = await self.resolve(ref)
        return Case.from_data(doc_id, await self._store.read(doc_id))

    async def _edit(self, ref: str, fn: Any) -> Case:
        doc_id = await self.resolve(ref)
        await self._store.edit(doc_id, fn)
        return await self.get(doc_id)

    async def edit(self, ref: str, **changes: Any) -> Case:
        return await self._edit(ref, lambda doc: casedoc.edit_case(doc, by=self._by,
                                                                    **changes))

    async def log_session(self, ref: str, *, date: str, participants: str, summary: str,
                          judge_consulted: bool = False) -> Case:
        return await self._edit(ref, lambda doc: casedoc.log_session(
            doc, date=date, participants=participants, summary=summary,
            judge_consulted=judge_consulted, by=self._by))

    async def change_status(self, ref: str, new: str, *, note: str = "",
                            on: dt.date | None = None) -> Case:
        return await self._edit(ref, lambda doc: casedoc.change_status(
            doc, new, note=note, by=self._by, on=on))

    async def close(self, ref: str, *, agreement: str | None = None, note: str = "",
                    on: dt.date | None = None) -> Case:
        """Close the case (with the agreement text if mediation succeeded); schedules the
        1, 3 and 6-month follow-up visits."""
        return await self._edit(ref, lambda doc: casedoc.close_case(
            doc, agreement=agreement, note=note, by=self._by, on=on))

    async def record_followup(self, ref: str, month: int, *, done: str, outcome: str,
                              satisfaction: int | None) -> Case:
        return await self._edit(ref, lambda doc: casedoc.record_followup(
            doc, month, done=done, outcome=outcome, satisfaction=satisfaction, by=self._by))

    def _filters(self, query: str, category: str | None, status: str | None,
                 open_only: bool) -> CaseFilter:
        if category:
            records.check_category(category)
        if status:
            records.check_status(status)
        return CaseFilter(query, category, status, open_only=open_only)

    async def search(self, query: str = "", *, category: str | None = None,
                     status: str | None = None, open_only: bool = False, limit: int = 50,
                     offset: int = 0) -> list[CaseRow]:
        """Cases matching every word of ``query`` (case number, title, description,
        sessions, agreement; a party's full name, surname, phone, its last 4 digits or ID
        number), newest activity first."""
        rows = await self._store.views.cases(self._filters(query, category, status, open_only),
                                             limit=max(1, min(limit, MAX_PAGE)), offset=offset)
        return [_row(r) for r in rows]

    async def count(self, query: str = "", *, category: str | None = None,
                    status: str | None = None, open_only: bool = False) -> int:
        return await self._store.views.case_count(
            self._filters(query, category, status, open_only))

    async def timeline(self, ref: str, *, case: Case | None = None) -> list[TimelineEntry]:
        """Everything that happened to a case, oldest first: ``case_timeline`` and the
        consultations asked about it. ``case``: the case already read (not read again)."""
        if case is None:
            case = await self.get(ref)
        out = case_timeline(case)
        consults = await self._store.views.consultations(parent=case.doc_id)
        from store.kinds import read_consultation

        for cid in consults:
            c = read_consultation(cid, await self._store.read(cid))
            out.append(TimelineEntry(c.asked_at, "consultation", c.question, {"id": cid}))
            if c.answer:
                out.append(TimelineEntry(c.answered_at, "answer", c.answer,
                                         {"id": cid, "by": c.answered_by}))
        out.sort(key=lambda e: casedoc.timeline_key(e.at or ""))
        return out

    async def require_open(self, ref: str) -> None:
        case = await self.get(ref)
        if case.status == records.CLOSED:
            raise ValidationError("case_closed", "the case is closed")
