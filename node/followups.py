"""Follow-up visits (案后回访) at 1, 3 and 6 months after a case closes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from store import Store

DUE_SOON_DAYS = 7  # "due" lists visits due within a week, like a director's weekly plan


@dataclass(frozen=True)
class DueVisit:
    """A follow-up visit overdue or due soon."""
    doc_id: str
    number: str
    title: str
    month: int
    due_date: str
    days_overdue: int  # negative: days left

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "overdue": self.overdue}


class FollowupService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def due(self, *, on: dt.date | None = None, within_days: int = DUE_SOON_DAYS,
                  limit: int = 500) -> list[DueVisit]:
        """Visits not yet done that are overdue or due within ``within_days``, most
        overdue first."""
        day = on or dt.date.today()
        horizon = (day + dt.timedelta(days=within_days)).isoformat()
        rows = await self._store.views.due_visits(horizon, limit=limit)
        return [
            DueVisit(doc_id, number or "", title or "", month, due,
                     (day - dt.date.fromisoformat(due)).days)
            for doc_id, number, title, month, due in rows
        ]
