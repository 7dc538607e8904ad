"""The directors' terminal UI: the App, its global keys, and navigation between screens.

``make_app(node, lang)`` is the one way to build it (the CLI, ``python -m tui`` and the
tests all use it). The node is opened by the caller on the loop the app runs on; every
node call runs in a worker, and node events reach the screens through ``NodeBridge``.

Screens:  MainScreen (tabs: home, cases, consult, education, sync, stats)
          CaseDetailScreen -> forms (register, session, status, close, follow-up, ask)
          ContentScreen -> ScreeningScreen
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from typing import Any, Callable

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from node import ConfigError, Node
from node.events import PeerSeen
from store.casedoc import Case

from . import i18n
from .bridge import NodeBridge
from .drafts import Drafts
from .screens.case_actions import AskJudgeScreen, FollowupScreen
from .screens.case_detail import CaseDetailScreen
from .screens.case_form import RegisterCaseScreen
from .screens.consult import ConsultPane
from .screens.education import ScreeningScreen
from .screens.form import FormScreen
from .screens.main import MainScreen
from .screens.pane import Pane
from .state import UiState

log = logging.getLogger(__name__)

HOLD_MAX_S = 15.0  # keys held for a form that never says it is ready go on after this


class VillageCourtApp(App[int]):
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False  # an English command list would only confuse
    BINDINGS = [
        # Tab moves the focus the moment the key arrives (priority), not after the keys
        # typed before it are handled: Textual hands each key to the widget focused on
        # arrival, so on a slow PC "张三<Tab>138..." would otherwise put the phone number
        # into the name field.
        Binding("tab", "focus_next", "key.next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "key.previous", show=False, priority=True),
        Binding("ctrl+q", "quit", "key.quit", priority=True, key_display="Ctrl+Q", id="quit"),
        Binding("f8", "toggle_language", "key.lang", key_display="F8", id="language"),
    ]

    def __init__(self, node: Node, lang: str | None = None, *,
                 clock: Callable[[], dt.date] | None = None) -> None:
        super().__init__()
        self.node = node
        self.today: Callable[[], dt.date] = clock or dt.date.today
        try:
            key: bytes | None = node.home.store_key()
        except ConfigError:  # the node opened, so the key exists; be safe anyway
            key = None
        self.drafts = Drafts(node.home.path / "drafts", key)
        self.state = UiState(node.home.path / "tui.json")
        # The language: asked for, else the last F8 choice, else the node's configured one.
        self.lang = i18n.set_language(lang or self.state.language or node.config.language)
        self.bridge = NodeBridge(self, node)
        self.lan_peers: dict[str, PeerSeen] = {}
        self._answered: set[str] | None = None
        self.title = i18n.t("app.title", village=node.config.village_name)
        # Set by run_tui (the one app of a process): after start, move everything built so
        # far (modules, styles, the main screen) out of the garbage collector's way; its
        # full collections showed as 100 ms hiccups while typing at 10,000 cases. Not in
        # tests, where one process builds many apps that must be collected.
        self.freeze_gc = False
        # Type-ahead: the keys that arrive while a form opens (see hold_keys).
        self._held: list[events.Key | events.Paste] | None = None
        self._hold_timer: Timer | None = None
        self.keys_replayed = 0  # how many keys were held and replayed (tests, bench)
        # The registration form, built once after the first page is on screen and shown
        # again on each Ctrl+N (see prebuild_forms).
        self._register_form: RegisterCaseScreen | None = None

    # --- life cycle --------------------------------------------------------------------
    def on_mount(self) -> None:
        self.bridge.start()
        self.push_screen(MainScreen())
        self._check_answers()
        if self.freeze_gc:
            self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        self.bridge.stop()

    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def active_tab(self) -> str:
        try:
            return self.main().active
        except StopIteration:
            return ""

    # --- type-ahead -------------------------------------------------------------------
    # Textual hands each key to the widget focused when the key is handled. While a form
    # opens (2-8 s on an old PC at 10,000 cases) nothing of it is focused yet, so keys
    # typed right after Ctrl+N went to the page below or nowhere. From the key that opens
    # a form (a priority binding: it acts the moment it arrives) until the form has put its
    # draft back and its cursor in the first field, every key and paste is held here; then
    # they are replayed in order, through the same routing as a key just typed.
    def hold_keys(self) -> None:
        """Hold keys and pastes until ``release_keys`` (idempotent)."""
        if self._held is None:
            self._held = []
            self._hold_timer = self.set_timer(HOLD_MAX_S, self._hold_expired)

    def release_keys(self) -> None:
        """Replay the held keys, after the events already waiting (which are held too,
        so the order is the order they were typed in)."""
        if self._held is not None:
            self.call_later(self._replay)

    @property
    def holding_keys(self) -> bool:
        return self._held is not None

    def _hold_expired(self) -> None:
        if self._held is not None:
            log.warning("a form did not get ready in %.0f s; %d held keys go on",
                        HOLD_MAX_S, len(self._held))
            self.call_later(self._replay)

    async def _replay(self) -> None:
        held, self._held = self._held, None
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        while held:
            event = held.pop(0)
            self.keys_replayed += 1
            await self._route(event)
            if self._held is not None:  # that key opened another form: hold the rest
                self._held[:0] = held
                return

    async def _route(self, event: events.Key | events.Paste) -> None:
        """What App.on_event does with a key or a paste that arrives."""
        if isinstance(event, events.Key):
            if await self._check_bindings(event.key, priority=True):
                return
        (self.focused or self.screen)._forward_event(event)

    async def on_event(self, event: events.Event) -> None:
        if (self._held is not None and isinstance(event, (events.Key, events.Paste))
                and not event.is_forwarded):
            self._held.append(event)
            return
        await super().on_event(event)

    def push_screen(self, screen: Screen[Any] | str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, FormScreen):  # released by the form once it is ready
            self.hold_keys()
        return super().push_screen(screen, *args, **kwargs)

    # --- node events -------------------------------------------------------------------
    def on_node_bridge_data_changed(self, message: NodeBridge.DataChanged) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, "on_data_changed", None)
            if handler is None:
                continue
            if screen is self.screen or isinstance(screen, MainScreen):
                handler(message)
            elif hasattr(screen, "stale"):
                screen.stale = True
        if "consultation" in message.kinds:
            self._check_answers()

    def on_node_bridge_sync_activity(self, message: NodeBridge.SyncActivity) -> None:
        event = message.event
        if isinstance(event, PeerSeen):
            if event.present:
                self.lan_peers[event.peer_id] = event
            else:
                self.lan_peers.pop(event.peer_id, None)
        try:
            self.main().on_sync_activity(message)
        except StopIteration:
            pass

    def on_node_bridge_media_activity(self, message: NodeBridge.MediaActivity) -> None:
        """Media progress: the education page and an item being read redraw its state."""
        for screen in self.screen_stack:
            target = (screen.pane("education") if isinstance(screen, MainScreen)
                      else screen)
            handler = getattr(target, "on_media_activity", None)
            if handler is not None:
                handler(message.event)

    @work(exclusive=True, group="answers")
    async def _check_answers(self) -> None:
        """Tell the director when the judge's answer arrives (a toast on any screen)."""
        answered = await self.node.consultations.newly_answered(limit=20)
        ids = {c.doc_id for c in answered}
        if self._answered is not None:
            for c in answered:
                if c.doc_id not in self._answered:
                    self.notify(i18n.t("notify.answer", number=c.case_number),
                                timeout=10)
        self._answered = ids

    def action_help_quit(self) -> None:
        """Ctrl+C (reflex of many users) does not quit; say which key does, in words."""
        self.notify(i18n.t("notify.quit_key"), timeout=4)

    # --- language ----------------------------------------------------------------------
    def action_toggle_language(self) -> None:
        self.set_language("en" if self.lang == "zh" else "zh")

    def set_language(self, lang: str) -> None:
        """Switch every visible string, and remember the choice for the TUI (tui.json;
        the node's config, and so the command line's language, stays as it is)."""
        self.lang = i18n.set_language(lang)
        self.title = i18n.t("app.title", village=self.node.config.village_name)
        self.state.set_language(self.lang)
        screens = list(self.screen_stack)
        if self._register_form is not None and self._register_form not in screens:
            screens.append(self._register_form)  # kept off screen: shown in the new one
        for screen in screens:
            for widget in screen.query("*"):
                retranslate = getattr(widget, "retranslate", None)
                if callable(retranslate):
                    retranslate()
            retranslate = getattr(screen, "retranslate", None)
            if callable(retranslate):
                retranslate()
            self._retranslate_errors(screen)
        self.notify(i18n.t("lang.now"), timeout=2)

    @staticmethod
    def _retranslate_errors(screen: object) -> None:
        """A form's errors on screen are said again in the new language: the form's own
        checks run again on what is typed (nothing moves, the focus stays)."""
        shown = getattr(screen, "_shown_errors", None)
        if not callable(shown) or not shown():
            return
        names = [name for name, _ in shown()]
        errors = screen.check(screen.values())  # type: ignore[attr-defined]
        for name in names:
            if name in errors:
                screen.set_error(name, errors[name])  # type: ignore[attr-defined]
        summary = screen.query_one("#form-error")  # type: ignore[attr-defined]
        if summary.text and errors and "form" not in names:
            summary.set_error(i18n.t("form.fix", n=len(errors)))
        elif summary.text and errors:
            summary.set_error(errors.get("form") or i18n.t("form.fix", n=len(errors)))

    # --- navigation (used by every screen) ---------------------------------------------
    def open_case(self, doc_id: str, case: Case | None = None) -> None:
        """The case's page; with ``case`` (just saved) it shows at once, unread."""
        self.push_screen(CaseDetailScreen(doc_id, case))

    def new_case(self) -> None:
        def registered(case: object) -> None:
            if isinstance(case, Case):
                self.open_case(case.doc_id, case)

        screen = self._register_form
        if screen is None or screen in self.screen_stack:
            screen = RegisterCaseScreen()
        else:
            screen.reopen()
        self.push_screen(screen, registered)

    def show_new_case(self, case: Case) -> None:
        """The page of a case just registered, in the place of the form (on top). The
        pages listing cases are out of date from now on (not from when the node's
        event, gathered for 100 ms, says so): each reads its list again as soon as it
        shows, e.g. on Esc from the case's page."""
        self.switch_screen(CaseDetailScreen(case.doc_id, case))
        self.call_after_refresh(self._lists_stale)  # (after the page's first frame)

    def _lists_stale(self) -> None:
        try:
            main = self.main()
        except StopIteration:
            return
        for pane in main.query(Pane).results(Pane):
            if not pane.kinds or "case" in pane.kinds:
                pane.stale = True
        main.stale_status = True

    # --- forms built ahead -------------------------------------------------------------
    # Composing and mounting the registration form's ~40 widgets cost 300 ms per Ctrl+N
    # (350 ms and more on a loaded PC), whatever the size of the store. It is built once,
    # in the background once the first page has its data on screen, and kept (an
    # installed screen is not removed when it is dismissed); each Ctrl+N empties it and
    # puts its draft back (FormScreen.reopen / reset), then shows it.
    def first_page_loaded(self) -> None:
        """A page of the main screen has its data on screen (called once per load)."""
        if self._register_form is None:
            self.call_after_refresh(self.prebuild_forms)

    def prebuild_forms(self) -> None:
        """Compose and mount the registration form now, while nothing waits for it."""
        if self._register_form is not None or not self.is_running:
            return
        screen = RegisterCaseScreen()
        screen.kept = True
        self.install_screen(screen, "register-case")
        self._register_form = screen
        # What push_screen does for a screen not running yet (Textual 8.2, pinned): it
        # starts its message loop, which composes and mounts its widgets off screen.
        self._register(self, screen)
        if self.freeze_gc:  # its widgets too, once mounted (see on_mount)
            self.set_timer(0.5, gc.freeze)

    def show_tab(self, tab: str) -> None:
        """Back to the main screen (leaving the case pages above it), on page ``tab``."""
        main = self.main()
        # The main screen gives the focus back to its last focused widget when it shows
        # again, and a focused widget brings its own tab forward: so the focus goes into
        # the page asked for first, then the case pages go.
        main.action_show_tab(tab)
        pane = main.pane(tab)
        first = next((w for w in pane.query("*") if w.can_focus), None)
        if first is not None:
            main.set_focus(first, scroll_visible=False)
        while self.screen is not main and len(self.screen_stack) > 2:
            self.pop_screen()
        pane.focus_default()

    def ask_judge(self) -> None:
        self.push_screen(AskJudgeScreen())

    def new_screening(self) -> None:
        self.push_screen(ScreeningScreen())

    @work(group="open")
    async def open_followup(self, doc_id: str, month: int) -> None:
        self.hold_keys()  # the case is read first: keys typed meanwhile wait too
        try:
            case = await self.node.cases.get(doc_id)
        except BaseException:
            self.release_keys()
            raise
        self.push_screen(FollowupScreen(case, month))

    def answer_seen(self, doc_id: str) -> None:
        """The director has read this answer: it is no longer new on the home page."""
        self.state.mark_seen(doc_id)
        self.main().pane("home").stale = True

    def open_answer(self, doc_id: str) -> None:
        main = self.main()
        pane = main.pane("consult")
        if isinstance(pane, ConsultPane):
            pane.select(doc_id)
        main.action_show_tab("consult")


def make_app(node: Node, lang: str | None = None, *,
             clock: Callable[[], dt.date] | None = None) -> VillageCourtApp:
    """The app for ``node`` in ``lang`` (default: the node's configured language).
    ``clock`` gives "today" (tests pass a fixed day)."""
    return VillageCourtApp(node, lang, clock=clock)
