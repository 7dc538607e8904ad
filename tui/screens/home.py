"""Home: today's work. Warnings from the county first (when there are any), then the
follow-up visits due today or late, the visits coming up this week and this month
(即将回访, in date order), new answers from the judge, and open cases waiting for
the director's next step. Enter on a row does that step."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from node import CaseRow, DueVisit
from node.followups import DUE_SOON_DAYS
from store.records import AGREED, FAILED, REGISTERED

from ..i18n import due_text, short_date, short_label, t
from ..widgets.case_table import fit
from ..widgets.fields import TLabel
from ..widgets.tables import NavTable
from .guard import when_shown
from .pane import Pane

WAITING = (REGISTERED, AGREED, FAILED)  # statuses where the next step is the director's
SHOWN = 4  # rows per list at 80x24: the three lists fit one screen; the rest scroll
CHROME = 16  # lines of a 24-line screen that are not list rows (tabs, headings, bars)


def rows_shown(height: int) -> int:
    """Rows per list for a terminal ``height`` lines high: a larger terminal shows more
    (the three lists share what is left after the headings and bars)."""
    return max(SHOWN, (height - CHROME) // 3)
UPCOMING_DAYS = 30  # 即将回访: the visits of the coming month (this week's marked 本周)
VISITS_COUNTED = 500  # due visits counted for the heading (a village has far fewer)
LISTED = 50  # rows put in each list (it scrolls); more is the Cases page's job


class HomePane(Pane):
    tab_id = "home"

    def __init__(self) -> None:
        super().__init__()
        self.visits: list[DueVisit] = []
        self.upcoming: list[DueVisit] = []
        self.waiting: list[CaseRow] = []
        self.answers: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="home-body"):
            yield Static(id="home-today")
            yield Static(id="home-warnings", classes="warning")
            yield TLabel("home.followups_n", classes="section", id="h-visits", n=0, late=0)
            yield NavTable([("number", "col.number", None), ("title", "col.title", 26),
                            ("visit", "col.visit", None), ("due", "col.due", None),
                            ("when", "col.status", None)],
                           id="home-visits", classes="home", header=False)
            yield TLabel("home.followups_none", classes="empty", id="home-visits-none")
            yield TLabel("home.upcoming_n", classes="section", id="h-upcoming", week=0, n=0)
            yield NavTable([("number", "col.number", None), ("title", "col.title", 26),
                            ("visit", "col.visit", None), ("due", "col.due", None),
                            ("when", "col.when", None)],
                           id="home-upcoming", classes="home", header=False)
            yield TLabel("home.upcoming_none", classes="empty", id="home-upcoming-none")
            yield TLabel("home.answers_n", classes="section", id="h-answers", n=0)
            yield NavTable([("number", "col.number", None), ("answer", "col.answer", 46),
                            ("when", "col.when", None)], id="home-answers", classes="home",
                           header=False)
            yield TLabel("home.answers_none", classes="empty", id="home-answers-none")
            yield TLabel("home.waiting_n", classes="section", id="h-waiting", n=0)
            yield NavTable([("number", "col.number", None), ("title", "col.title", 28),
                            ("status", "col.status", None), ("next", "col.next", None)],
                           id="home-waiting", classes="home", header=False)
            yield TLabel("home.waiting_none", classes="empty", id="home-waiting-none")

    def focus_default(self) -> None:
        for table in self.query(NavTable):
            if table.display and table.row_count:
                table.focus()
                return
        self.query_one("#home-body").focus()

    @work(exclusive=True, group="home")
    @when_shown
    async def reload(self) -> None:
        node = self.vc.node
        today = self.vc.today()
        planned = await node.followups.due(on=today, within_days=UPCOMING_DAYS,
                                           limit=VISITS_COUNTED)
        # Due today or late: to do now. The rest of the month: 即将回访, in date order.
        visits = [v for v in planned if v.days_overdue >= 0]
        upcoming = [v for v in planned if v.days_overdue < 0]
        answered = await node.consultations.newly_answered(limit=20)
        fresh = [c for c in answered if c.doc_id not in self.vc.state.seen_answers]
        waiting: list[CaseRow] = []
        waiting_total = 0
        for status in WAITING:
            waiting += await node.cases.search(status=status, limit=20)
            waiting_total += await node.cases.count(status=status)
        waiting.sort(key=lambda r: r.updated_at)  # longest waiting first
        warnings = await node.warnings(limit=5)

        self.query_one("#home-today", Static).update(
            Text(t("today_is", village=node.config.village_name, date=today.isoformat()),
                 style="bold"))
        box = self.query_one("#home-warnings", Static)
        box.display = bool(warnings)
        if warnings:
            text = Text(t("home.warnings") + "\n", style="bold")
            for w in warnings:
                text.append(f"⚠ {short_date(w.raised_at)}  {w.message}\n")
            box.update(text)

        self.visits = visits
        late = sum(1 for v in visits if v.overdue)
        many = len(visits) >= VISITS_COUNTED
        self.query_one("#h-visits", TLabel).set_key(
            "home.followups_n", n=f"{len(visits)}+" if many else len(visits),
            late=f"{late}+" if many else late)
        self._fill("home-visits", [
            (f"{v.doc_id}:{v.month}",
             [v.number, fit(v.title, 26), t("month_visit", m=v.month), v.due_date,
              Text(due_text(v.days_overdue), style="bold red" if v.overdue else "")])
            for v in visits[:LISTED]])
        self.upcoming = upcoming
        week = sum(1 for v in upcoming if -v.days_overdue <= DUE_SOON_DAYS)
        many = len(planned) >= VISITS_COUNTED
        self.query_one("#h-upcoming", TLabel).set_key(
            "home.upcoming_n", week=f"{week}+" if many else week,
            n=f"{len(upcoming)}+" if many else len(upcoming))
        self._fill("home-upcoming", [
            (f"{v.doc_id}:{v.month}",
             [v.number, fit(v.title, 26), t("month_visit", m=v.month), v.due_date,
              Text(t("home.this_week" if -v.days_overdue <= DUE_SOON_DAYS
                     else "home.this_month") + " · " + due_text(v.days_overdue),
                   style="bold" if -v.days_overdue <= DUE_SOON_DAYS else "")])
            for v in upcoming[:LISTED]])
        self.answers = [c.doc_id for c in fresh]
        self.query_one("#h-answers", TLabel).set_key("home.answers_n", n=len(fresh))
        self._fill("home-answers", [
            (c.doc_id, [c.case_number, fit(c.answer, 46), short_date(c.answered_at)])
            for c in fresh])
        self.waiting = waiting
        self.query_one("#h-waiting", TLabel).set_key("home.waiting_n", n=waiting_total)
        self._fill("home-waiting", [
            (r.doc_id, [r.number, fit(r.title, 28), short_label(r.status),
                        t(f"next.{r.status}")])
            for r in waiting])
        self.loaded()
        if self.vc.focused is None or self.vc.focused is self.query_one("#home-body"):
            self.focus_default()

    def _fill(self, table_id: str, rows: list[tuple[str, list[str | Text]]]) -> None:
        """All rows go in (the table scrolls); SHOWN of them are on screen at once."""
        table = self.query_one(f"#{table_id}", NavTable)
        table.set_rows(rows)
        table.display = bool(rows)
        table.styles.height = min(len(rows), rows_shown(self.app.size.height))
        self.query_one(f"#{table_id}-none").display = not rows

    def on_resize(self) -> None:
        for table in self.query(NavTable):
            if table.display:
                table.styles.height = min(table.row_count, rows_shown(self.app.size.height))

    @on(DataTable.RowSelected, "#home-visits")
    @on(DataTable.RowSelected, "#home-upcoming")
    def _visit(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value or "")
        doc_id, _, month = key.rpartition(":")
        self.vc.open_followup(doc_id, int(month))

    @on(DataTable.RowSelected, "#home-answers")
    def _answer(self, event: DataTable.RowSelected) -> None:
        self.vc.open_answer(str(event.row_key.value))

    @on(DataTable.RowSelected, "#home-waiting")
    def _case(self, event: DataTable.RowSelected) -> None:
        self.vc.open_case(str(event.row_key.value))
