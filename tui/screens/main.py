"""The main screen: six pages in tabs (F1-F6), the sync status line, the key hints.

Keys that act on a page live here with ``check_action`` deciding which page they belong
to, so they work wherever the focus is and the footer shows only what applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import TabbedContent, TabPane

from ..bridge import NodeBridge
from ..i18n import t
from ..widgets.footer import TFooter
from ..widgets.status_bar import StatusBar
from .case_list import CasesPane
from .consult import ConsultPane
from .education import EducationPane
from .guard import when_shown
from .home import HomePane
from .pane import Pane
from .stats import StatsPane
from .sync import SyncPane

if TYPE_CHECKING:
    from ..app import VillageCourtApp

TABS: tuple[tuple[str, str, str, type[Pane]], ...] = (
    # tab id, key, i18n id, page
    ("home", "f1", "tab.home", HomePane),
    ("cases", "f2", "tab.cases", CasesPane),
    ("consult", "f3", "tab.consult", ConsultPane),
    ("education", "f4", "tab.education", EducationPane),
    ("sync", "f5", "tab.sync", SyncPane),
    ("stats", "f6", "tab.stats", StatsPane),
)
STATUS_EVERY_S = 30  # status line refresh; two small queries
PAGE_ACTIONS = {
    "new_case": ("home", "cases"),
    "find": ("cases", "education"),
    "new_question": ("consult",),
    "new_screening": ("education",),
    "sync_now": ("sync",),
}


def tab_label(key: str, label_id: str) -> str:
    return f"{key.upper()} {t(label_id)}"


class MainScreen(Screen[None]):
    BINDINGS = [
        *(Binding(key, f"show_tab('{tab}')", label, show=False, id=f"tab-{tab}")
          for tab, key, label, _ in TABS),
        # Priority: a form opens the moment Ctrl+N arrives, and the keys typed after it
        # are held for the form (VillageCourtApp.hold_keys) instead of reaching this page.
        Binding("ctrl+n", "new_case", "key.new_case", key_display="Ctrl+N", id="new-case",
                priority=True),
        Binding("ctrl+n", "new_question", "key.new_question", key_display="Ctrl+N",
                priority=True),
        Binding("ctrl+n", "new_screening", "key.new_screening", key_display="Ctrl+N",
                priority=True),
        Binding("ctrl+f", "find", "key.find", key_display="Ctrl+F"),
        Binding("s", "sync_now", "key.sync_now", key_display="S"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stale_status = True
        self._tabs: TabbedContent | None = None

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial="home"):
            for tab, key, label, pane in TABS:
                with TabPane(tab_label(key, label), id=tab):
                    yield pane()
        yield StatusBar(id="status-bar")
        yield TFooter()

    def on_mount(self) -> None:
        self.pane("home").shown()
        self.pane("home").focus_default()
        self.reload_status()
        # "last sync 3 min ago" ages, and the daemon may go on or offline without an event.
        self.set_interval(STATUS_EVERY_S, self.reload_status)

    # --- pages -------------------------------------------------------------------------
    @property
    def active(self) -> str:
        # Asked by every page at each change of the data: the tabs are found once (a
        # query walks the whole screen, a few ms with a full case list).
        tabs = self._tabs
        if tabs is None or not tabs.is_attached:
            found = self.query(TabbedContent)  # none before compose, or as the app closes
            if not found:
                return ""
            tabs = self._tabs = found.first()
        return tabs.active

    def pane(self, tab: str) -> Pane:
        return self.query_one(f"#pane-{tab}", Pane)

    def active_pane(self) -> Pane:
        return self.pane(self.active)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    def _activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.active_pane()
        pane.shown()
        focused = self.focused
        if focused is None or pane not in focused.ancestors:
            pane.focus_default()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = PAGE_ACTIONS.get(action)
        if tabs is None:
            return True
        return self.active in tabs

    # --- live data ---------------------------------------------------------------------
    def _live(self) -> bool:
        """Whether the pages are there to be told: the node may speak before this screen
        is composed, or while the app is closing and its widgets are being removed."""
        return self.is_attached and bool(self.query(StatusBar))

    def on_data_changed(self, message: NodeBridge.DataChanged) -> None:
        if not self._live():
            return  # each page loads afresh when it is composed
        for pane in self.query(Pane).results(Pane):
            pane.on_data_changed(message)
        self.reload_status()

    def on_sync_activity(self, message: NodeBridge.SyncActivity) -> None:
        if not self._live():
            return
        for pane in self.query(SyncPane).results(SyncPane):
            pane.on_sync_activity(message.event)
        self.reload_status()

    def on_screen_resume(self) -> None:
        pane = self.active_pane()
        if pane.stale:
            pane.shown()
        if self.stale_status:
            self.reload_status()

    @work(exclusive=True, group="status-bar")
    @when_shown
    async def reload_status(self) -> None:
        status = await self.vc.node.sync_status()
        for bar in self.query(StatusBar).results(StatusBar):  # none while the app closes
            bar.show(status, len(self.vc.lan_peers))
        self.stale_status = False

    def retranslate(self) -> None:
        tabs = self.query_one(TabbedContent)
        for tab, key, label, _ in TABS:
            tabs.get_tab(tab).label = tab_label(key, label)

    # --- page actions ------------------------------------------------------------------
    def action_new_case(self) -> None:
        self.vc.new_case()

    def action_new_question(self) -> None:
        self.vc.ask_judge()

    def action_new_screening(self) -> None:
        self.vc.new_screening()

    def action_find(self) -> None:
        if self.active == "cases":
            self.query_one("#case-filter").focus()
        elif self.active == "education":
            self.query_one("#edu-search").focus()

    def action_sync_now(self) -> None:
        cast(SyncPane, self.pane("sync")).sync_now()
