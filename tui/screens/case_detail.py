"""One case: who, what, where it stands, everything that happened (the timeline), and
one key for each next step. Only the steps the case's status allows are offered; E
(correct the registration) is offered in every status, a closed case included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from node import TimelineEntry
from node.cases import case_timeline
from store import StoreError
from store.casedoc import Case, timeline_key
from store.records import AGREED, CLOSED, ESCALATED, FAILED, MEDIATING

from ..bridge import NodeBridge
from ..i18n import (
    category_label,
    error_text,
    list_sep,
    role_label,
    short_date,
    status_label,
    t,
)
from ..widgets.fields import TLabel
from ..widgets.footer import TFooter
from .case_actions import AskJudgeScreen, CloseScreen, FollowupScreen, SessionScreen, StatusScreen
from .case_form import EditCaseScreen
from .guard import when_shown

if TYPE_CHECKING:
    from ..app import VillageCourtApp


def mask_id(id_number: str) -> str:
    """An ID number with the birth date hidden (shown on screen, where others may look)."""
    if len(id_number) != 18:
        return id_number
    return id_number[:6] + "********" + id_number[14:]


def event_day(entry: TimelineEntry, case: Case) -> str:
    """The day a timeline entry happened, as the director thinks of it.

    ``timeline()`` dates entries by when they were written; a session logged today for
    last week carries its own date, and closing "on" a past day carries ``closed_at``."""
    if entry.kind == "session" and entry.detail.get("date"):
        return str(entry.detail["date"])
    if entry.kind == "status" and entry.detail.get("to") == CLOSED and case.closed_at:
        return case.closed_at
    return entry.at[:10]


def timeline_text(entry: TimelineEntry) -> str:
    d = entry.detail
    if entry.kind == "registered":
        return t("tl.registered", text=entry.text)
    if entry.kind == "session":
        key = "tl.session_judge" if d.get("judge_consulted") else "tl.session"
        return t(key, text=entry.text)
    if entry.kind == "status":
        line = t("tl.status", old=status_label(str(d.get("from", ""))),
                 new=status_label(str(d.get("to", ""))))
        return f"{line}  {entry.text}" if entry.text else line
    if entry.kind == "edited":
        names = [(t(f"tl.field.{f}"), f) for f in d.get("fields") or []]
        return t("tl.edited", fields=list_sep().join(
            name if name != f"tl.field.{f}" else f for name, f in names))
    if entry.kind == "consultation":
        return t("tl.consultation", text=entry.text)
    if entry.kind == "answer":
        return t("tl.answer", text=entry.text)
    if entry.kind == "followup_due":
        return t("tl.followup_due", m=d.get("month", ""))
    if entry.kind == "followup":
        line = t("tl.followup", m=d.get("month", ""), text=entry.text or t("none"))
        if d.get("satisfaction"):
            line += t("tl.satisfaction", n=d["satisfaction"])
        return line
    return entry.text


# The actions that need the case loaded first.
CASE_ACTIONS = ("session", "status", "close_case", "followup", "ask", "edit")


# The main screen's pages, by key (as on its tabs): here too F1-F6 go to them.
PAGE_KEYS = (("f1", "home"), ("f2", "cases"), ("f3", "consult"), ("f4", "education"),
             ("f5", "sync"), ("f6", "stats"))


class CaseDetailScreen(Screen[None]):
    # The keys that open a form are priority bindings: they act the moment they arrive,
    # so the keys typed right after them are held for the form (VillageCourtApp.hold_keys)
    # instead of reaching this page while the form is being built. This screen has no
    # field of its own that a letter could be meant for.
    BINDINGS = [
        Binding("escape", "back", "key.back", key_display="Esc"),
        Binding("s", "session", "key.session", key_display="S", priority=True),
        Binding("t", "status", "key.status", key_display="T", priority=True),
        Binding("c", "close_case", "key.close_case", key_display="C", priority=True),
        Binding("v", "followup", "key.followup", key_display="V", priority=True),
        Binding("a", "ask", "key.ask", key_display="A", priority=True),
        Binding("e", "edit", "key.edit_case", key_display="E", priority=True),
        Binding("ctrl+n", "new_case", "key.new_case", key_display="Ctrl+N", show=False,
                priority=True),
        *(Binding(key, f"show_tab('{tab}')", f"tab.{tab}", show=False, priority=True)
          for key, tab in PAGE_KEYS),
    ]

    def __init__(self, doc_id: str, case: Case | None = None) -> None:
        super().__init__()
        self.doc_id = doc_id
        # A case just saved comes with the page (nothing to read before it shows).
        self._given = case if case is not None and case.doc_id == doc_id else None
        self.case: Case | None = None
        self.timeline: list[TimelineEntry] = []
        self.timeline_loaded = False  # the full timeline is on screen (tests, bench)
        self.stale = False

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(t("loading"), id="detail-head")
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-summary")
            yield TLabel("detail.timeline", classes="section")
            yield Static(id="detail-timeline")
        yield Static(id="detail-hint")
        # Compact (one space between keys): a case in mediation offers seven keys besides
        # the app's two, which at 80 columns would otherwise push F8 off the line.
        yield TFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        if self._given is not None:  # on screen in the page's first frame
            self._show(self._given)
            self._given = None
            self._load_timeline()
        else:
            self.reload()

    # What shows first: the case as read (head, parties, registration), with the
    # timeline it already holds (registration, sessions, status changes...). The
    # consultations of the timeline are other records: they are read after that first
    # frame, and the timeline is drawn again with them.
    @work(exclusive=True, group="detail")
    @when_shown
    async def reload(self) -> None:
        try:
            case = await self.vc.node.cases.get(self.doc_id)
        except StoreError as exc:
            self.query_one("#detail-head", Static).update(error_text(exc))
            return
        self._show(case)
        self.call_after_refresh(self._load_timeline)

    def _show(self, case: Case) -> None:
        self.case = case
        # The consultations already on screen stay while they are read again.
        asked = [e for e in self.timeline if e.kind in ("consultation", "answer")]
        self.timeline = sorted(case_timeline(case) + asked,
                               key=lambda e: timeline_key(e.at or ""))
        self.render_case()
        self.refresh_bindings()

    @work(exclusive=True, group="detail-timeline")
    @when_shown
    async def _load_timeline(self) -> None:
        try:
            timeline = await self.vc.node.cases.timeline(self.doc_id, case=self.case)
        except StoreError as exc:
            self.query_one("#detail-head", Static).update(error_text(exc))
            return
        self.timeline = timeline
        self.timeline_loaded = True
        self.render_case()

    def render_case(self) -> None:
        case = self.case
        if case is None or self not in self.app.screen_stack:
            return  # (a read that ends after the page was closed: nowhere to show it)
        head = Text()
        head.append(t("detail.heading", number=case.number), style="bold")
        head.append("  ")
        head.append(category_label(case.category))
        head.append("  ")
        head.append(f" {status_label(case.status)} ", style="reverse")
        head.append("\n")
        head.append(case.title, style="bold")
        self.query_one("#detail-head", Static).update(head)

        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")  # Chinese has no spaces to wrap at
        parties = Table.grid(padding=(0, 2))
        for _ in range(4):  # role, name, phone, ID: aligned in columns
            parties.add_column(no_wrap=True)
        for p in case.parties:
            parties.add_row(role_label(p.role), p.name, p.phone or t("detail.no_phone"),
                            mask_id(p.id_number))
        grid.add_row(t("detail.parties"), parties)
        if case.group:
            grid.add_row("", t("detail.group", n=case.headcount))
        grid.add_row(t("detail.registered"), short_date(case.created_at))
        if case.mediator:
            grid.add_row(t("detail.mediator"), case.mediator)
        if case.description:
            grid.add_row(t("detail.description"), case.description)
        if case.agreement:
            grid.add_row(t("detail.agreement"), case.agreement)
        self.query_one("#detail-summary", Static).update(grid)

        lines = Table.grid(padding=(0, 1), expand=True)
        lines.add_column(style="dim", no_wrap=True)
        lines.add_column(ratio=1, overflow="fold")
        days = [event_day(e, case) for e in self.timeline]
        for day, entry in sorted(zip(days, self.timeline), key=lambda pair: pair[0]):
            style = "yellow" if entry.kind in ("answer", "followup_due") else ""
            lines.add_row(day, Text(timeline_text(entry), style=style))
        self.query_one("#detail-timeline", Static).update(lines)
        self.query_one("#detail-hint", Static).update(t(f"detail.hint_{case.status}"))

    def retranslate(self) -> None:
        self.render_case()

    # --- live updates ------------------------------------------------------------------
    def on_data_changed(self, message: NodeBridge.DataChanged) -> None:
        if self.doc_id in message.doc_ids or "consultation" in message.kinds:
            self.reload()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.reload()

    # --- actions -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        case = self.case
        if action in CASE_ACTIONS and case is None:
            return False
        if action in ("session", "status"):
            return case is not None and case.status != CLOSED
        if action == "close_case":
            return case is not None and case.status in (MEDIATING, AGREED, FAILED, ESCALATED)
        if action == "followup":
            return case is not None and any(not f.done for f in case.followups)
        return True

    def _open(self, screen: Screen[Any]) -> None:
        self.app.push_screen(screen, lambda _result: self.reload())

    def action_back(self) -> None:
        self.dismiss(None)

    def action_show_tab(self, tab: str) -> None:
        """F1-F6: back to the main screen, on that page."""
        self.vc.show_tab(tab)

    def action_new_case(self) -> None:
        self.vc.new_case()

    def action_session(self) -> None:
        if self.case:
            self._open(SessionScreen(self.case))

    def action_status(self) -> None:
        if self.case:
            self._open(StatusScreen(self.case))

    def action_close_case(self) -> None:
        if self.case:
            self._open(CloseScreen(self.case))

    def action_followup(self) -> None:
        if self.case:
            self._open(FollowupScreen(self.case))

    def action_ask(self) -> None:
        if self.case:
            self._open(AskJudgeScreen(self.case))

    def action_edit(self) -> None:
        if self.case:
            self._open(EditCaseScreen(self.case))
