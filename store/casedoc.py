"""The dispute case document: how each edit changes it, and how it reads back.

Layout of a case document (all keys at the root):

    number, category, title, mediator, status, outcome, village, county,
    created_at, created_by, closed_at                               scalars
    description, agreement                                          Text
    group (bool), headcount (int)
    parties   [ {role, name, phone, id_number} ]                    list of maps
    sessions  [ {at, date, participants, summary, judge_consulted, by} ]   appended only
    history   [ {at, from, to, note, by} ]                          appended only
    followups { m1_due, m1_done, m1_outcome, m1_satisfaction, m1_by, m3_due, ... }

Follow-ups are flat scalars inside the case (not a separate document, not nested maps):
two nodes that close the same case while apart both write the same keys, and a visit
recorded on either side survives the merge (see docs/decisions.md).
Each mutator validates first and writes second, inside one Automerge transaction; a
ValidationError leaves the document untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from automerge.core import ObjType

from . import amdoc
from .amdoc import ROOT, Document
from .errors import ValidationError
from .records import (
    AGREED,
    CLOSED,
    ESCALATED,
    FAILED,
    FOLLOWUP_MONTHS,
    MEDIATING,
    REGISTERED,
    Party,
    add_months,
    check_category,
    check_date,
    check_satisfaction,
    check_transition,
    now_iso,
)

MAX_TEXT = 20_000  # characters in a description or agreement; a page of prose is ~1,000
MAX_HEADCOUNT = 100_000


@dataclass
class Session:
    """A mediation session of a case."""
    date: str
    participants: str
    summary: str
    judge_consulted: bool
    at: str = ""
    by: str = ""


@dataclass
class HistoryEntry:
    """A status change of a case."""
    at: str
    from_status: str
    to_status: str
    note: str = ""
    by: str = ""


@dataclass
class Correction:
    """A registration corrected after it was saved: when, by whom, which fields."""

    at: str
    fields: list[str]
    by: str = ""


@dataclass
class FollowUp:
    """A follow-up visit of a closed case (month 1, 3, 6...)."""
    month: int
    due: str
    done: str = ""
    outcome: str = ""
    satisfaction: int | None = None
    by: str = ""


@dataclass
class Case:
    """A case as read from its document."""
    doc_id: str
    number: str
    category: str
    title: str
    description: str
    status: str
    parties: list[Party] = field(default_factory=list)
    group: bool = False
    headcount: int = 0
    mediator: str = ""
    agreement: str = ""
    outcome: str = ""
    village: str = ""
    county: str = ""
    created_at: str = ""
    created_by: str = ""
    closed_at: str = ""
    sessions: list[Session] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    followups: list[FollowUp] = field(default_factory=list)
    edits: list[Correction] = field(default_factory=list)

    @classmethod
    def from_data(cls, doc_id: str, d: dict[str, Any]) -> "Case":
        fu = d.get("followups") or {}
        followups = [
            FollowUp(
                month=m,
                due=str(fu.get(f"m{m}_due") or ""),
                done=str(fu.get(f"m{m}_done") or ""),
                outcome=str(fu.get(f"m{m}_outcome") or ""),
                satisfaction=fu.get(f"m{m}_satisfaction"),
                by=str(fu.get(f"m{m}_by") or ""),
            )
            for m in FOLLOWUP_MONTHS
            if fu.get(f"m{m}_due")
        ]
        return cls(
            doc_id=doc_id,
            number=str(d.get("number", "")),
            category=str(d.get("category", "other")),
            title=str(d.get("title", "")),
            description=str(d.get("description", "")),
            status=str(d.get("status", REGISTERED)),
            parties=[
                Party(
                    role=str(p.get("role", "")),
                    name=str(p.get("name", "")),
                    phone=str(p.get("phone", "")),
                    id_number=str(p.get("id_number", "")),
                )
                for p in d.get("parties") or []
                if isinstance(p, dict)
            ],
            group=bool(d.get("group", False)),
            headcount=int(d.get("headcount") or 0),
            mediator=str(d.get("mediator", "")),
            agreement=str(d.get("agreement", "")),
            outcome=str(d.get("outcome", "")),
            village=str(d.get("village", "")),
            county=str(d.get("county", "")),
            created_at=str(d.get("created_at", "")),
            created_by=str(d.get("created_by", "")),
            closed_at=str(d.get("closed_at", "")),
            sessions=[
                Session(
                    date=str(s.get("date", "")),
                    participants=str(s.get("participants", "")),
                    summary=str(s.get("summary", "")),
                    judge_consulted=bool(s.get("judge_consulted", False)),
                    at=str(s.get("at", "")),
                    by=str(s.get("by", "")),
                )
                for s in d.get("sessions") or []
                if isinstance(s, dict)
            ],
            history=[
                HistoryEntry(
                    at=str(h.get("at", "")),
                    from_status=str(h.get("from", "")),
                    to_status=str(h.get("to", "")),
                    note=str(h.get("note", "")),
                    by=str(h.get("by", "")),
                )
                for h in d.get("history") or []
                if isinstance(h, dict)
            ],
            followups=followups,
            edits=[
                Correction(at=str(e.get("at", "")),
                           fields=[f for f in str(e.get("fields", "")).split(",") if f],
                           by=str(e.get("by", "")))
                for e in _items(d.get("edits"))
                if isinstance(e, dict)
            ],
        )


def _check_text(value: str, what: str) -> str:
    value = amdoc.check_encodable(value or "")
    if len(value) > MAX_TEXT:
        raise ValidationError("too_long", f"{what} is longer than {MAX_TEXT} characters")
    return value


def _check_title(title: str) -> str:
    title = amdoc.check_encodable((title or "").strip())
    if not title:
        raise ValidationError("bad_title", "a case needs a short title")
    if len(title) > 200:
        raise ValidationError("bad_title", "a title is at most 200 characters")
    return title


def _check_headcount(group: bool, headcount: int) -> int:
    if not isinstance(headcount, int) or headcount < 0 or headcount > MAX_HEADCOUNT:
        raise ValidationError("bad_headcount", "headcount must be a whole number 0-100000")
    return headcount


PARTY_FIELDS = ("role", "name", "phone", "id_number")


def _put_parties(tx: Any, parties: list[Party]) -> None:
    list_id = tx.put_object(ROOT, "parties", ObjType.List)
    for i, p in enumerate(parties):
        item = tx.insert_object(list_id, i, ObjType.Map)
        for k in PARTY_FIELDS:
            amdoc.put(tx, item, k, getattr(p, k))


def _update_parties(tx: Any, parties: list[Party]) -> None:
    """Correct the parties in place, field by field: concurrent corrections of different
    parties (or of different fields of one) made on two computers both survive the merge.
    Extra parties are appended; parties beyond the new count are removed from the end."""
    got = tx.get(ROOT, "parties")
    if got is None or got[0] != ObjType.List:
        _put_parties(tx, parties)
        return
    list_id = got[1]
    for i, p in enumerate(parties):
        item = tx.get(list_id, i) if i < tx.length(list_id) else None
        if item is None or item[0] != ObjType.Map:
            if item is not None:
                tx.delete(list_id, i)  # not a party (a hostile peer's value): replace it
            item_id = tx.insert_object(list_id, i, ObjType.Map)
        else:
            item_id = item[1]
        for k in PARTY_FIELDS:
            value = getattr(p, k)
            cur = tx.get(item_id, k)
            if cur is None or isinstance(cur[0], ObjType) or cur[0][1] != value:
                amdoc.put(tx, item_id, k, value)
    for i in range(tx.length(list_id) - 1, len(parties) - 1, -1):
        tx.delete(list_id, i)


def check_new_case(*, category: str, title: str, description: str = "",
                   parties: Iterable[Party] = (), group: bool = False, headcount: int = 0,
                   ) -> tuple[str, str, list[Party], int]:
    """Validate a registration; returns the cleaned title, description, parties, headcount."""
    check_category(category)
    title = _check_title(title)
    description = _check_text(description, "description")
    checked = [p.validated() for p in parties]
    for p in checked:
        amdoc.check_encodable(p.name)
    if not checked:
        raise ValidationError("no_parties", "a case needs at least one party")
    return title, description, checked, _check_headcount(group, headcount)


def new_case(
    doc: Document,
    *,
    number: str,
    category: str,
    title: str,
    description: str = "",
    parties: Iterable[Party] = (),
    group: bool = False,
    headcount: int = 0,
    mediator: str = "",
    village: str = "",
    county: str = "",
    by: str = "",
    created_at: str | None = None,
) -> None:
    """Write a new case into an empty document."""
    title, description, checked, headcount = check_new_case(
        category=category, title=title, description=description, parties=parties,
        group=group, headcount=headcount)
    at = created_at or now_iso()
    with doc.transaction() as tx:
        for k, v in (
            ("number", number), ("category", category), ("title", title),
            ("status", REGISTERED), ("mediator", mediator.strip()), ("outcome", ""),
            ("village", village), ("county", county), ("created_at", at),
            ("created_by", by), ("closed_at", ""), ("group", bool(group)),
            ("headcount", headcount),
        ):
            amdoc.put(tx, ROOT, k, v)
        amdoc.set_text(tx, ROOT, "description", description)
        amdoc.set_text(tx, ROOT, "agreement", "")
        _put_parties(tx, checked)
        tx.put_object(ROOT, "sessions", ObjType.List)
        tx.put_object(ROOT, "history", ObjType.List)
        tx.put_object(ROOT, "followups", ObjType.Map)


EDITABLE = ("category", "title", "description", "mediator", "group", "headcount", "parties")


def edit_case(doc: Document, *, by: str = "", **changes: Any) -> None:
    """Change registration fields. Given parties are the whole new list; they are
    written in place, field by field (``_update_parties``). Each correction is recorded
    in ``edits`` (when, by whom, which fields): a court record keeps its corrections."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError("bad_field", f"cannot edit {', '.join(sorted(unknown))}")
    if "category" in changes:
        check_category(changes["category"])
    if "title" in changes:
        changes["title"] = _check_title(changes["title"])
    if "description" in changes:
        _check_text(changes["description"], "description")
    if "headcount" in changes:
        _check_headcount(bool(changes.get("group")), changes["headcount"])
    parties = None
    if "parties" in changes:
        parties = [p.validated() for p in changes["parties"]]
        if not parties:
            raise ValidationError("no_parties", "a case needs at least one party")
    before = amdoc.read(doc)
    written = {k: ([{f: getattr(p, f) for f in PARTY_FIELDS} for p in parties or []]
                   if k == "parties" else bool(v) if k == "group"
                   else str(v).strip() if k == "mediator" else v)
               for k, v in changes.items()}
    corrected = sorted(k for k, v in written.items() if before.get(k) != v)
    with doc.transaction() as tx:
        for k, v in changes.items():
            if k == "description":
                amdoc.set_text(tx, ROOT, "description", v)
            elif k == "parties":
                _update_parties(tx, parties or [])
            elif k == "group":
                amdoc.put(tx, ROOT, k, bool(v))
            elif k == "mediator":
                amdoc.put(tx, ROOT, k, str(v).strip())
            else:
                amdoc.put(tx, ROOT, k, v)
        if corrected:  # (writing a value that is already there changes nothing)
            amdoc.append_map(tx, ROOT, "edits", {"at": now_iso(), "by": by,
                                                 "fields": ",".join(corrected)})


def log_session(
    doc: Document,
    *,
    date: str,
    participants: str,
    summary: str,
    judge_consulted: bool = False,
    by: str = "",
) -> None:
    """Log a mediation session. A registered case moves to mediating with it."""
    check_date(date, "session date")
    summary = _check_text(summary, "summary").strip()
    if not summary:
        raise ValidationError("bad_summary", "a session needs a short summary")
    status = amdoc.get_str(doc, "status", REGISTERED)
    if status == CLOSED:
        raise ValidationError("case_closed", "a closed case takes no more sessions")
    at = now_iso()
    with doc.transaction() as tx:
        amdoc.append_map(
            tx, ROOT, "sessions",
            {"at": at, "date": date, "participants": participants.strip(),
             "summary": summary, "judge_consulted": bool(judge_consulted), "by": by},
        )
        if status == REGISTERED:
            _transition(tx, REGISTERED, MEDIATING, "", by, at)


def _transition(tx: Any, old: str, new: str, note: str, by: str, at: str) -> None:
    amdoc.put(tx, ROOT, "status", new)
    amdoc.append_map(tx, ROOT, "history", {"at": at, "from": old, "to": new, "note": note,
                                           "by": by})


def change_status(doc: Document, new: str, *, note: str = "", by: str = "",
                  on: dt.date | None = None) -> None:
    """Move the case along its life cycle; an illegal move raises ValidationError.

    Closing schedules the follow-up visits (see close_case)."""
    old = amdoc.get_str(doc, "status", REGISTERED)
    check_transition(old, new)
    if new == CLOSED:
        close_case(doc, note=note, by=by, on=on)
        return
    at = now_iso()
    with doc.transaction() as tx:
        if new in (AGREED, FAILED):
            amdoc.put(tx, ROOT, "outcome", new)
        _transition(tx, old, new, note, by, at)


def end_of_day(day: dt.date) -> str:
    """The last second of ``day`` as a timestamp (UTC, like ``now_iso``)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), dt.timezone.utc).isoformat()


def timeline_key(at: str) -> str:
    """Sort key for a date or timestamp: a bare day (older stores, session dates) goes
    after the timestamps of that day, so the day's events keep their order."""
    return at if len(at) > 10 else end_of_day(dt.date.fromisoformat(at)) if _is_day(at) else at


def _is_day(at: str) -> bool:
    try:
        dt.date.fromisoformat(at)
    except ValueError:
        return False
    return True


def close_case(doc: Document, *, agreement: str | None = None, note: str = "",
               by: str = "", on: dt.date | None = None) -> None:
    """Close the case; with ``agreement`` text, first record that mediation succeeded.

    From mediating, an agreement moves the case through agreed to closed in one edit.
    Follow-up visits are scheduled 1, 3 and 6 months after the closing day."""
    old = amdoc.get_str(doc, "status", REGISTERED)
    if agreement is not None:
        agreement = _check_text(agreement, "agreement").strip()
        if not agreement:
            raise ValidationError("bad_agreement", "write what the parties agreed")
        if old not in (MEDIATING, AGREED):
            check_transition(old, AGREED)  # raises with the allowed moves
    else:
        check_transition(old, CLOSED)
    day = on or dt.date.today()
    # A full timestamp always (a bare day sorted before the day's timestamps, so the
    # closing listed above the registration). A closing entered later for an earlier day
    # sits at the end of that day, after what happened on it.
    at = now_iso()
    if on is not None and at[:10] != day.isoformat():
        at = end_of_day(day)
    with doc.transaction() as tx:
        status = old
        if agreement is not None:
            amdoc.set_text(tx, ROOT, "agreement", agreement)
            amdoc.put(tx, ROOT, "outcome", AGREED)
            if status == MEDIATING:
                _transition(tx, MEDIATING, AGREED, "", by, at)
                status = AGREED
        elif status == ESCALATED:
            amdoc.put(tx, ROOT, "outcome", ESCALATED)
        elif status == FAILED:
            amdoc.put(tx, ROOT, "outcome", FAILED)
        _transition(tx, status, CLOSED, note, by, at)
        amdoc.put(tx, ROOT, "closed_at", day.isoformat())
        fu = amdoc.get_obj(tx, ROOT, "followups", ObjType.Map)
        for m in FOLLOWUP_MONTHS:
            amdoc.put(tx, fu, f"m{m}_due", add_months(day, m).isoformat())


def record_followup(doc: Document, month: int, *, done: str, outcome: str,
                    satisfaction: int | None, by: str = "") -> None:
    """Record the visit of ``month`` (1, 3 or 6) after closing."""
    if month not in FOLLOWUP_MONTHS:
        raise ValidationError("bad_followup", "follow-up visits are at 1, 3 and 6 months",
                              value=month)
    check_date(done, "visit date")
    check_satisfaction(satisfaction)
    outcome = _check_text(outcome, "outcome").strip()
    fu_data = (amdoc.read(doc).get("followups") or {})
    if not fu_data.get(f"m{month}_due"):
        raise ValidationError("no_followup", "this case has no follow-up planned; close it first")
    with doc.transaction() as tx:
        fu = amdoc.get_obj(tx, ROOT, "followups", ObjType.Map)
        amdoc.put(tx, fu, f"m{month}_done", done)
        amdoc.put(tx, fu, f"m{month}_outcome", outcome)
        amdoc.put(tx, fu, f"m{month}_satisfaction", satisfaction)
        amdoc.put(tx, fu, f"m{month}_by", by)


def _items(value: Any) -> list[Any]:
    """A list field as read, or no items if it is missing or not a list."""
    return value if isinstance(value, list) else []
