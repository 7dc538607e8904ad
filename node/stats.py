"""Statistics a director and the county ask for, from the projection alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from store import Store
from store.records import AGREED, CATEGORIES, CLOSED, STATUSES


@dataclass
class Stats:
    """The village's counts and rates (villagecourt stats)."""
    total: int
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    agreed: int = 0
    success_rate: float | None = None  # agreed ÷ closed (调解成功率)
    followups_due_total: int = 0  # visits whose date has come
    followups_done: int = 0
    followups_on_time: int = 0
    followup_on_time_rate: float | None = None
    mean_satisfaction: float | None = None
    screenings: int = 0
    attendance: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def compute(store: Store, *, on: dt.date | None = None,
                  grace_days: int = 7) -> Stats:
    """Counts by category and status; mediation success rate; follow-ups done on time
    (within ``grace_days`` after the due date) out of those due by ``on``."""
    day = (on or dt.date.today()).isoformat()
    by_cat = {c: 0 for c in CATEGORIES}
    by_status = {s: 0 for s in STATUSES}
    for cat, status, n in await store.views.case_counts():
        by_cat[cat] = by_cat.get(cat, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    total = sum(by_status.values())
    closed, agreed = await store.views.closed_and_agreed(closed=CLOSED, agreed=AGREED)
    due, done, on_time, sat = await store.views.followup_figures(day, grace_days=grace_days)
    screenings, attendance = await store.views.screening_figures()
    return Stats(
        total=total, by_category=by_cat, by_status=by_status, closed=closed, agreed=agreed,
        success_rate=(agreed / closed) if closed else None,
        followups_due_total=due, followups_done=done, followups_on_time=on_time,
        followup_on_time_rate=(on_time / due) if due else None,
        mean_satisfaction=round(sat, 2) if sat is not None else None,
        screenings=screenings, attendance=attendance,
    )
