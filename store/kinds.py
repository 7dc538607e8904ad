"""Documents other than cases: village profile, consultation, content item, screening,
warning. Each has a writer (validating first) and a reader to a dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automerge.core import ObjType, ScalarType

from . import amdoc
from .amdoc import ROOT, Document
from .casedoc import MAX_TEXT
from .errors import ValidationError
from .records import (
    CONSULT_ANSWERED,
    CONSULT_OPEN,
    CONTENT_KINDS,
    check_code,
    check_date,
    now_iso,
)


def _text(value: str, what: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError("missing_" + what, f"{what} is required")
    if len(value) > MAX_TEXT:
        raise ValidationError("too_long", f"{what} is longer than {MAX_TEXT} characters")
    return value


# --- village profile ---------------------------------------------------------------------
@dataclass
class Village:
    """A village's profile."""
    code: str
    name: str
    county: str
    director: str = ""


def new_village(doc: Document, *, code: str, name: str, county: str, director: str = "") -> None:
    check_code(code, "village")
    name = _text(name, "name", required=True)
    with doc.transaction() as tx:
        for k, v in (("code", code), ("name", name), ("county", county),
                     ("director", director)):
            amdoc.put(tx, ROOT, k, v)


def read_village(data: dict[str, Any]) -> Village:
    return Village(code=str(data.get("code", "")), name=str(data.get("name", "")),
                   county=str(data.get("county", "")), director=str(data.get("director", "")))


# --- consultation with the linked judge ---------------------------------------------------
@dataclass
class Consultation:
    """A question to the linked judge, and the answer."""
    doc_id: str
    case_id: str
    case_number: str
    question: str
    asked_by: str
    asked_at: str
    answer: str = ""
    answered_by: str = ""
    answered_at: str = ""

    @property
    def status(self) -> str:
        return CONSULT_ANSWERED if self.answer else CONSULT_OPEN


def new_consultation(doc: Document, *, case_id: str, case_number: str, question: str,
                     by: str) -> None:
    question = _text(question, "question", required=True)
    with doc.transaction() as tx:
        for k, v in (("case_id", case_id), ("case_number", case_number),
                     ("asked_by", by), ("asked_at", now_iso()), ("answered_by", ""),
                     ("answered_at", "")):
            amdoc.put(tx, ROOT, k, v)
        amdoc.set_text(tx, ROOT, "question", question)
        amdoc.set_text(tx, ROOT, "answer", "")


def answer_consultation(doc: Document, *, answer: str, by: str) -> None:
    answer = _text(answer, "answer", required=True)
    with doc.transaction() as tx:
        amdoc.set_text(tx, ROOT, "answer", answer)
        amdoc.put(tx, ROOT, "answered_by", by)
        amdoc.put(tx, ROOT, "answered_at", now_iso())


def read_consultation(doc_id: str, d: dict[str, Any]) -> Consultation:
    return Consultation(
        doc_id=doc_id, case_id=str(d.get("case_id", "")),
        case_number=str(d.get("case_number", "")), question=str(d.get("question", "")),
        asked_by=str(d.get("asked_by", "")), asked_at=str(d.get("asked_at", "")),
        answer=str(d.get("answer", "")), answered_by=str(d.get("answered_by", "")),
        answered_at=str(d.get("answered_at", "")),
    )


# --- legal-education content --------------------------------------------------------------
@dataclass
class ContentItem:
    """An item of the county's legal education content."""
    doc_id: str
    title: str
    topic: str
    content_kind: str
    summary: str = ""
    body: str = ""
    published_at: str = ""
    withdrawn: bool = False
    media: list[dict[str, Any]] = field(default_factory=list)


def new_content(doc: Document, *, title: str, topic: str, content_kind: str,
                summary: str = "", body: str = "", by: str = "") -> None:
    title = _text(title, "title", required=True)
    topic = _text(topic, "topic", required=True)
    if content_kind not in CONTENT_KINDS:
        raise ValidationError("bad_content_kind",
                              f"content kind must be one of {', '.join(CONTENT_KINDS)}")
    with doc.transaction() as tx:
        for k, v in (("title", title), ("topic", topic), ("content_kind", content_kind),
                     ("summary", _text(summary, "summary")), ("published_at", now_iso()),
                     ("published_by", by), ("withdrawn", False)):
            amdoc.put(tx, ROOT, k, v)
        amdoc.set_text(tx, ROOT, "body", _text(body, "body"))
        tx.put_object(ROOT, "media", ObjType.List)


def read_content(doc_id: str, d: dict[str, Any]) -> ContentItem:
    return ContentItem(
        doc_id=doc_id, title=str(d.get("title", "")), topic=str(d.get("topic", "")),
        content_kind=str(d.get("content_kind", "")), summary=str(d.get("summary", "")),
        body=str(d.get("body", "")), published_at=str(d.get("published_at", "")),
        withdrawn=bool(d.get("withdrawn", False)),
        media=[m for m in d.get("media") or [] if isinstance(m, dict)],
    )


# --- screening (普法 session for villagers) -------------------------------------------------
@dataclass
class Screening:
    """A screening of legal education content in the village."""
    doc_id: str
    date: str
    place: str
    items: list[str]
    attendance: int
    notes: str = ""
    by: str = ""


def new_screening(doc: Document, *, date: str, place: str, items: list[str], attendance: int,
                  notes: str = "", by: str = "") -> None:
    check_date(date, "screening date")
    place = _text(place, "place", required=True)
    if not isinstance(attendance, int) or not 0 <= attendance <= 100_000:
        raise ValidationError("bad_attendance", "attendance must be a whole number 0-100000")
    if not items:
        raise ValidationError("no_items", "name at least one item shown")
    with doc.transaction() as tx:
        for k, v in (("date", date), ("place", place), ("attendance", attendance),
                     ("notes", _text(notes, "notes")), ("by", by), ("at", now_iso())):
            amdoc.put(tx, ROOT, k, v)
        lst = tx.put_object(ROOT, "items", ObjType.List)
        for i, item in enumerate(items):
            tx.insert(lst, i, ScalarType.Str, str(item))


def read_screening(doc_id: str, d: dict[str, Any]) -> Screening:
    return Screening(
        doc_id=doc_id, date=str(d.get("date", "")), place=str(d.get("place", "")),
        items=[str(i) for i in d.get("items") or []], attendance=int(d.get("attendance") or 0),
        notes=str(d.get("notes", "")), by=str(d.get("by", "")),
    )


# --- risk warning --------------------------------------------------------------------------
@dataclass
class Warning:
    """A county warning raised for a village."""
    doc_id: str
    village: str
    category: str
    rule: str
    observed: int
    expected: float
    message: str
    status: str = "open"
    raised_at: str = ""
    note: str = ""


def new_warning(doc: Document, *, village: str, category: str, rule: str, observed: int,
                expected: float, message: str) -> None:
    with doc.transaction() as tx:
        for k, v in (("village", village), ("category", category), ("rule", rule),
                     ("observed", int(observed)), ("expected", float(expected)),
                     ("message", _text(message, "message", required=True)),
                     ("status", "open"), ("raised_at", now_iso()), ("note", "")):
            amdoc.put(tx, ROOT, k, v)


def read_warning(doc_id: str, d: dict[str, Any]) -> Warning:
    return Warning(
        doc_id=doc_id, village=str(d.get("village", "")), category=str(d.get("category", "")),
        rule=str(d.get("rule", "")), observed=int(d.get("observed") or 0),
        expected=float(d.get("expected") or 0.0), message=str(d.get("message", "")),
        status=str(d.get("status", "open")), raised_at=str(d.get("raised_at", "")),
        note=str(d.get("note", "")),
    )
