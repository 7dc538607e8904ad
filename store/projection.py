"""The indexed projection of a document: the few fields needed to list, filter, search and
count records without loading documents. Written in the same transaction as the document,
so the projection never disagrees with what is stored.

Phone and ID numbers are never projected; party names are, so a director can search them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .records import CASE, CONSULTATION, CONTENT, FOLLOWUP_MONTHS, SCREENING, VILLAGE, WARNING


@dataclass
class Projection:
    row: dict[str, Any]
    followups: list[tuple[int, str, str | None, int | None]] = field(default_factory=list)


def _search(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p).lower()


def _items(value: Any) -> list[Any]:
    """A list field as a list; anything else a peer put there (a number, a map) as empty."""
    return value if isinstance(value, list) else []


def project(kind: str, data: dict[str, Any], updated_at: str) -> Projection:
    """Projection of one document's current state."""
    row: dict[str, Any] = {
        "parent": None, "number": None, "title": None, "category": None, "status": None,
        "village": None, "created_at": None, "updated_at": updated_at, "closed_at": None,
        "outcome": None, "search": "",
    }
    followups: list[tuple[int, str, str | None, int | None]] = []
    if kind == CASE:
        parties = [p for p in _items(data.get("parties")) if isinstance(p, dict)]
        sessions = [s for s in _items(data.get("sessions")) if isinstance(s, dict)]
        row.update(
            number=data.get("number"), title=data.get("title"),
            category=data.get("category"), status=data.get("status"),
            village=data.get("village"), created_at=data.get("created_at"),
            closed_at=data.get("closed_at") or None, outcome=data.get("outcome") or None,
            search=_search(
                data.get("number"), data.get("title"), data.get("description"),
                data.get("mediator"), data.get("agreement"),
                *(p.get("name") for p in parties), *(s.get("summary") for s in sessions),
            ),
        )
        fu = data.get("followups")
        fu = fu if isinstance(fu, dict) else {}
        for m in FOLLOWUP_MONTHS:
            due = fu.get(f"m{m}_due")
            if due:
                sat = fu.get(f"m{m}_satisfaction")
                done = fu.get(f"m{m}_done")
                followups.append((m, str(due), str(done) if done else None,
                                  sat if isinstance(sat, int) and -2**63 <= sat < 2**63
                                  else None))
    elif kind == CONSULTATION:
        answered = bool(data.get("answer"))
        row.update(
            parent=data.get("case_id"), number=data.get("case_number"),
            title=str(data.get("question", ""))[:80],
            status="answered" if answered else "open",
            created_at=data.get("asked_at"), closed_at=data.get("answered_at") or None,
            search=_search(data.get("case_number"), data.get("question"), data.get("answer")),
        )
    elif kind == CONTENT:
        row.update(
            title=data.get("title"), category=data.get("topic"),
            status="withdrawn" if data.get("withdrawn") else "published",
            outcome=data.get("content_kind"), created_at=data.get("published_at"),
            search=_search(data.get("title"), data.get("topic"), data.get("summary"),
                           data.get("body")),
        )
    elif kind == SCREENING:
        row.update(
            title=data.get("place"), created_at=data.get("date"),
            number=str(data.get("attendance", 0)),
            search=_search(data.get("place"), data.get("notes"), *_items(data.get("items"))),
        )
    elif kind == WARNING:
        row.update(
            title=data.get("message"), category=data.get("category"),
            status=data.get("status"), village=data.get("village"),
            created_at=data.get("raised_at"), search=_search(data.get("message")),
        )
    elif kind == VILLAGE:
        row.update(title=data.get("name"), village=data.get("code"),
                   search=_search(data.get("name"), data.get("code")))
    # Anything else (and any non-string a hostile peer slipped in) projects as text.
    for k in ("parent", "number", "title", "category", "status", "village", "created_at",
              "closed_at", "outcome"):
        if row[k] is not None and not isinstance(row[k], str):
            row[k] = str(row[k])
    return Projection(row=row, followups=followups)
