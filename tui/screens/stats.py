"""Statistics: totals and rates a director reports upward (mediation success, follow-ups
on time, satisfaction, screenings), and counts by category and by status as bars."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from node import Stats
from store.records import CATEGORIES, CLOSED, STATUSES

from ..i18n import short_label, t
from ..widgets.bars import BarChart, bar
from ..widgets.fields import TLabel
from .guard import when_shown
from .pane import Pane

RATE_BAR = 16  # cells for a 0-100 % bar


def percent(rate: float | None) -> str:
    return t("none") if rate is None else f"{rate * 100:.0f}%"


def rate_bar(rate: float | None) -> Text:
    if rate is None:
        return Text("")
    filled = bar(rate, 1.0, RATE_BAR)
    return Text(filled, style="green").append("░" * (RATE_BAR - len(filled)), style="dim")


def summary(s: Stats) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="ellipsis", no_wrap=True, style="dim")
    open_n = s.total - s.by_status.get(CLOSED, 0)
    grid.add_row(t("stats.total"), str(s.total), "", t("stats.open", n=open_n))
    grid.add_row(t("stats.success"), percent(s.success_rate), rate_bar(s.success_rate),
                 t("stats.success_detail", closed=s.closed, agreed=s.agreed))
    grid.add_row(t("stats.followups"), percent(s.followup_on_time_rate),
                 rate_bar(s.followup_on_time_rate),
                 t("stats.followups_detail", due=s.followups_due_total,
                   done=s.followups_done, on_time=s.followups_on_time))
    sat = t("none") if s.mean_satisfaction is None else f"{s.mean_satisfaction:.1f}"
    grid.add_row(t("stats.satisfaction"), sat,
                 rate_bar(None if s.mean_satisfaction is None else s.mean_satisfaction / 5),
                 "" if s.mean_satisfaction is None else "/ 5")
    grid.add_row(t("stats.screenings"), str(s.screenings), "",
                 t("stats.screenings_detail", n=s.screenings, people=s.attendance))
    return grid


class StatsPane(Pane):
    tab_id = "stats"

    def __init__(self) -> None:
        super().__init__()
        self.stats: Stats | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="stats-body"):
            yield Static(id="stats-summary")
            with Horizontal(id="stats-charts"):
                with Vertical():
                    yield TLabel("stats.by_category", classes="section")
                    yield BarChart(id="stats-categories")
                with Vertical():
                    yield TLabel("stats.by_status", classes="section")
                    yield BarChart(id="stats-statuses", style="cyan")

    def focus_default(self) -> None:
        self.query_one("#stats-body").focus()

    @work(exclusive=True, group="stats")
    @when_shown
    async def reload(self) -> None:
        self.stats = await self.vc.node.stats(on=self.vc.today())
        self.render_stats()
        self.loaded()

    def render_stats(self) -> None:
        s = self.stats
        if s is None:
            return
        self.query_one("#stats-summary", Static).update(summary(s))
        self.query_one("#stats-categories", BarChart).rows = [
            (short_label(c), s.by_category.get(c, 0)) for c in CATEGORIES]
        self.query_one("#stats-statuses", BarChart).rows = [
            (short_label(st), s.by_status.get(st, 0)) for st in STATUSES]

    def retranslate(self) -> None:
        self.render_stats()
        super().retranslate()
