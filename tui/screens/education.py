"""Legal education (普法): the county's content by topic and words, one item to read,
and screenings held in the village (date, place, items shown, attendance).

Media (issue #8): the list shows whether each item's video is here (已下载 / 43 % /
等待下载), refreshed when the page is shown and as a background media pass reports
progress (``MediaProgress`` through the bridge, at most once a second); the page says in
plain words when downloads are paused because the disk is nearly full. Reading an item
with a video, O opens it with the system's player ($VILLAGECOURT_PLAYER, else xdg-open /
open / os.startfile), started detached; the UI never waits for it. All of it reads
``node.media`` (a ``node.media.MediaService``) and simply shows nothing without one."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, SelectionList, Static
from textual.widgets.data_table import CellDoesNotExist

from store import StoreError
from store.kinds import ContentItem, Screening

from ..i18n import error_text, list_sep, short_date, t
from ..widgets.case_table import fit
from ..widgets.choice import Choice
from ..widgets.fields import FormRow, TLabel
from ..widgets.footer import TFooter
from ..widgets.tables import NavTable
from .form import Errors, FormScreen, check_day
from .guard import when_shown
from .pane import Pane

if TYPE_CHECKING:
    from node.events import MediaProgress
    from node.media import Availability, MediaService

    from ..app import VillageCourtApp

CONTENT_LIMIT = 100
SCREENINGS_SHOWN = 20
DEBOUNCE_S = 0.05
MEDIA_REFRESH_S = 1.0  # availability redrawn at most once a second during a download
MEDIA_POLL_S = 10.0  # ... and this often while something is missing (another program
#                      of the node, `villagecourt serve`, may be the one downloading)
PLAYER_CHECK_S = 1.5  # a player that fails at once (no program for the file) is reported
PLAYER_ENV = "VILLAGECOURT_PLAYER"
TITLE_MAX, TITLE_MIN, MEDIA_W = 40, 12, 8
PENDING = ("partial", "waiting")
MIB = 1024 * 1024


def kind_label(kind: str) -> str:
    return t(f"kind.{kind}") if kind else t("none")


def media_label(a: "Availability | None") -> Text:
    """An item's media in the list: 已下载 / 43 % / 等待下载, or nothing (no media, or
    not known yet)."""
    if a is None or a.state == "none":
        return Text("")
    if a.state == "ready":
        return Text(t("media.ready"), style="green")
    if a.state == "waiting":
        return Text(t("media.waiting"), style="dim")
    return Text(t("media.percent", n=a.percent), style="yellow")


def the_media(app: "VillageCourtApp") -> "MediaService | None":
    """The node's open media service, or None (not started, closed, or a test without)."""
    media = getattr(app.node, "media", None)
    return media if media is not None and getattr(media, "blobs", None) is not None else None


class Throttle:
    """Run ``fn`` now, or once at the end of ``every`` seconds since the last run: a
    download reports every block, the screen redraws at most once per ``every``."""

    def __init__(self, owner: DOMNode, fn: Callable[[], object], every: float) -> None:
        self.owner, self.fn, self.every = owner, fn, every
        self.last = -every
        self.runs = 0
        self._timer: Timer | None = None

    def __call__(self) -> None:
        if self._timer is not None:
            return  # a run is already due
        wait = self.last + self.every - time.monotonic()
        if wait <= 0:
            self.run()
        else:
            self._timer = self.owner.set_timer(wait, self.run)

    def run(self) -> None:
        self._timer = None
        self.last = time.monotonic()
        self.runs += 1
        self.fn()


# --- opening a file with the system's player ----------------------------------------------
def player_command(path: Path) -> list[str] | None:
    """The command that opens ``path``: $VILLAGECOURT_PLAYER (split like a shell does,
    the path appended), else the system's opener; None on Windows (``os.startfile``)."""
    custom = os.environ.get(PLAYER_ENV, "").strip()
    if custom:
        return [*shlex.split(custom), str(path)]
    if sys.platform == "win32":
        return None
    return ["open" if sys.platform == "darwin" else "xdg-open", str(path)]


async def start_player(path: Path) -> "asyncio.subprocess.Process | None":
    """Start the player on ``path``, detached (its own session, no terminal I/O: it must
    not draw over the UI, and it outlives the app); nobody waits for it. Raises OSError
    (FileNotFoundError: no such program) or ValueError ($VILLAGECOURT_PLAYER that does
    not split). None when Windows' ``os.startfile`` opened it."""
    argv = player_command(path)
    if argv is None:
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 -- Windows only
        return None
    extra: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
    return await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, **extra)


async def failed_at_once(proc: "asyncio.subprocess.Process") -> bool:
    """Whether the player ended with an error within ``PLAYER_CHECK_S`` (xdg-open: "no
    method available for opening", 3); one still running, or done with 0, is fine."""
    try:
        code = await asyncio.wait_for(proc.wait(), PLAYER_CHECK_S)
    except asyncio.TimeoutError:
        return False
    return code != 0


class EducationPane(Pane):
    tab_id = "education"
    kinds = frozenset({"content", "screening"})

    DEFAULT_CSS = """
    #edu-disk {
        background: $warning 25%;
        padding: 0 1;
        width: 100%;
        height: auto;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: list[ContentItem] = []
        self.avail: dict[str, Availability] = {}  # doc id -> its media, as last read
        self._timer: Timer | None = None
        self.throttle = Throttle(self, self.refresh_media, MEDIA_REFRESH_S)

    def compose(self) -> ComposeResult:
        with Horizontal(id="edu-filters"):
            yield Input(placeholder=t("edu.search"), id="edu-search", compact=True)
            yield Choice([("", t("edu.all_topics"), "")], compact=True, id="edu-topic")
        yield TLabel("media.disk_full", id="edu-disk", mb=0)
        # The title's width follows the terminal's (see _title_width).
        yield NavTable([("title", "col.title", None), ("kind", "col.kind", None),
                        ("topic", "col.topic", None), ("date", "col.date", None),
                        ("media", "col.media", MEDIA_W)],
                       id="edu-table")
        yield TLabel("edu.none", classes="empty", id="edu-none")
        yield TLabel("edu.screenings", classes="section")
        yield NavTable([("date", "col.date", None), ("place", "col.place", 16),
                        ("attendance", "col.attendance", None), ("items", "col.items", 30)],
                       id="edu-screenings")
        yield TLabel("edu.screenings_none", classes="empty", id="edu-screenings-none")

    def on_mount(self) -> None:
        self.set_interval(MEDIA_POLL_S, self._poll)

    def focus_default(self) -> None:
        self.query_one("#edu-search").focus()

    @on(Input.Changed, "#edu-search")
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self.reload)

    @on(Choice.Changed, "#edu-topic")
    def _topic(self) -> None:
        self.reload()

    @on(Input.Submitted, "#edu-search")
    def _submitted(self) -> None:
        self.query_one("#edu-table").focus()

    def shown(self) -> None:
        if self.stale:
            super().shown()  # reloads, availability included
        else:
            self.refresh_media()  # a download may have moved while another page showed

    @work(exclusive=True, group="education")
    @when_shown
    async def reload(self) -> None:
        edu = self.vc.node.education
        topic = self.query_one("#edu-topic", Choice).value
        query = self.query_one("#edu-search", Input).value
        topics = await edu.topics()
        items = await edu.search(query, topic=topic or None, limit=CONTENT_LIMIT)
        screenings = await edu.screenings(limit=SCREENINGS_SHOWN)
        self.query_one("#edu-topic", Choice).set_options(
            [("", t("edu.all_topics"), ""), *(("", f"{name} ({n})", name) for name, n in topics)])
        self.items = items
        self._fill()
        self.query_one("#edu-none").display = not items
        shows = self.query_one("#edu-screenings", NavTable)
        shows.set_rows([(s.doc_id, [s.date, fit(s.place, 16), str(s.attendance),
                                    fit(list_sep().join(s.items), 30)]) for s in screenings])
        shows.display = bool(screenings)
        self.query_one("#edu-screenings-none").display = not screenings
        self.loaded()
        # The list is on screen at once (typing stays quick); media states follow.
        self.throttle()

    def _fill(self) -> None:
        """(Re)draw the content rows from ``items`` and ``avail`` (no node call)."""
        width = self._title_width()
        rows: list[tuple[str, list[str | Text]]] = [
            (c.doc_id, [fit(c.title, width), kind_label(c.content_kind), c.topic,
                        short_date(c.published_at), media_label(self.avail.get(c.doc_id))])
            for c in self.items]
        table = self.query_one("#edu-table", NavTable)
        # DataTable only ever widens a column to fit its cells: give each its width for
        # these rows (narrower after the terminal shrank, or in the other language).
        for i, column in enumerate(table.ordered_columns):
            if column.auto_width:
                column.content_width = max([column.label.cell_len,
                                            *(cell_len(str(cells[i])) for _, cells in rows)])
        table.set_rows(rows)

    def _title_width(self) -> int:
        """What the other columns leave of the table's width (40 at most): at 80 columns
        a long title is cut with "…" rather than pushing the download state off screen."""
        table = self.query_one("#edu-table", NavTable)
        width = table.size.width or self.app.size.width - 2

        def widest(header: str, cells: list[str]) -> int:
            return max([cell_len(t(header)), *(cell_len(c) for c in cells)])

        others = (widest("col.kind", [kind_label(c.content_kind) for c in self.items])
                  + widest("col.topic", [c.topic for c in self.items])
                  + widest("col.date", ["0000-00-00"]) + MEDIA_W)
        padding = 2 * 5 + 1  # a cell's padding each side, five columns; the scroll bar
        return max(TITLE_MIN, min(TITLE_MAX, width - others - padding))

    def on_resize(self, event: events.Resize) -> None:
        if self.items:
            self._fill()

    # --- media ---------------------------------------------------------------------------
    def on_media_activity(self, event: "MediaProgress") -> None:
        """A background media pass verified blocks, or ended (from the bridge)."""
        if self.active and self.vc.screen is self.screen:
            self.throttle()
        else:
            self.stale = True  # read again when shown

    def _poll(self) -> None:
        if (self.active and self.vc.screen is self.screen and the_media(self.vc) is not None
                and any(a.state in PENDING for a in self.avail.values())):
            self.throttle()

    @work(exclusive=True, group="education-media")
    @when_shown
    async def refresh_media(self) -> None:
        """Read the availability of the items listed whose media may still change (not
        known yet, waiting or partial), redraw their cells, and the disk-full line."""
        media = the_media(self.vc)
        if media is None:
            self._disk_line(None)
            return
        table = self.query_one("#edu-table", NavTable)
        for c in list(self.items):
            old = self.avail.get(c.doc_id)
            if old is not None and old.state not in PENDING:
                continue  # ready stays ready; an item without media has none
            try:
                now = await media.availability(c.doc_id)
            except StoreError:
                continue
            self.avail[c.doc_id] = now
            if now != old:
                try:
                    table.update_cell(c.doc_id, "media", media_label(now))
                except CellDoesNotExist:
                    pass  # the list was reloaded meanwhile; its rows hold the new state
        self._disk_line(media)

    def _disk_line(self, media: "MediaService | None") -> None:
        """Downloads paused because the disk is nearly full: the last media pass hit the
        free-space floor, or (another program of the node downloading) there is less free
        space than the floor while media is still missing."""
        line = self.query_one("#edu-disk", TLabel)
        full = False
        if media is not None:
            full = media.paused_code == "no_space"
            if not full and media.floor and media.blobs is not None and any(
                    a.state in PENDING for a in self.avail.values()):
                try:
                    full = media.blobs.free_bytes() < media.floor
                except OSError:
                    full = False
        if full and media is not None:
            line.set_key("media.disk_full",
                         mb=media.floor // MIB or self.vc.node.config.media_free_mb)
        line.display = full

    @on(DataTable.RowSelected, "#edu-table")
    def _read(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(ContentScreen(str(event.row_key.value)))

    def retranslate(self) -> None:
        self.query_one("#edu-search", Input).placeholder = t("edu.search")
        super().retranslate()


class ContentScreen(Screen[None]):
    """One content item to read (to the villagers, or before a screening); O opens its
    video with the system's player once the video is here."""

    BINDINGS = [
        Binding("escape", "back", "key.back", key_display="Esc"),
        Binding("o", "play", "key.play", key_display="O"),
        Binding("ctrl+n", "screening", "key.new_screening", key_display="Ctrl+N"),
    ]

    DEFAULT_CSS = """
    #content-media {
        height: auto;
        padding: 0 2;
        background: $primary 15%;
        display: none;
    }
    """

    def __init__(self, doc_id: str) -> None:
        super().__init__()
        self.doc_id = doc_id
        self.item: ContentItem | None = None
        self.avail: Availability | None = None
        self.note: tuple[str, dict[str, Any]] | None = None  # said after O, kept on screen
        self.launched: list[Path] = []  # files handed to the player (tests)
        self.opening = False
        self.throttle = Throttle(self, self.refresh_media, MEDIA_REFRESH_S)

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="content-body"):
            yield Static(t("loading"), id="content-text")
        yield Static("", id="content-media")
        yield TFooter()

    def on_mount(self) -> None:
        self.query_one("#content-body").focus()
        self.load()

    def on_screen_resume(self) -> None:
        if self.item is not None:
            self.refresh_media()

    @work(exclusive=True)
    @when_shown
    async def load(self) -> None:
        try:
            self.item = await self.vc.node.education.get(self.doc_id)
        except StoreError as exc:
            self.query_one("#content-text", Static).update(error_text(exc))
            return
        self.render_item()
        self.refresh_bindings()
        self.refresh_media()

    def render_item(self) -> None:
        c = self.item
        if c is None:
            return
        parts: list[Any] = [
            Text(c.title, style="bold"),
            Text(t("item.meta", kind=kind_label(c.content_kind), topic=c.topic,
                   date=short_date(c.published_at)), style="dim"),
            Text(""),
        ]
        if c.summary and not c.body.strip().startswith(c.summary.strip()):
            parts += [Text(c.summary, style="italic"), Text("")]  # (not twice in a row)
        parts.append(Text(c.body))
        names = [str(m.get("name") or m.get("filename") or "") for m in c.media]
        if any(names):
            parts += [Text(""), Text(t("item.media", names=list_sep().join(filter(None, names))),
                                     style="dim")]
        self.query_one("#content-text", Static).update(Group(*parts))
        self.render_media()

    # --- media ---------------------------------------------------------------------------
    def on_media_activity(self, event: "MediaProgress") -> None:
        if self.item is not None and self.item.media:
            self.throttle()

    @work(exclusive=True, group="content-media")
    @when_shown
    async def refresh_media(self) -> None:
        media = the_media(self.vc)
        if media is None or self.item is None or not self.item.media:
            return
        try:
            now = await media.availability(self.doc_id)
        except StoreError:
            return
        if self.avail is not None and now.state != self.avail.state:
            self.note = None  # "still downloading" is out of date
        self.avail = now
        self.render_media()

    def media_text(self) -> str:
        """The line under the item about its video (empty: no line)."""
        if self.note is not None:
            return t(self.note[0], **self.note[1])
        a = self.avail
        if a is None or a.state == "none":
            return ""
        if a.state == "ready":
            return t("media.line_ready")
        if a.state == "waiting":
            return t("media.line_waiting")
        return t("media.line_partial", n=a.percent)

    def render_media(self) -> None:
        text = self.media_text()
        line = self.query_one("#content-media", Static)
        line.update(text)
        line.display = bool(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "play":
            return self.item is not None and bool(self.item.media)
        return True

    def action_play(self) -> None:
        if not self.opening:  # a second O while the first is on its way: one player
            self.play()

    @work(group="play")
    @when_shown
    async def play(self) -> None:
        """Open the first complete file with the player; never a partial one."""
        self.opening = True
        try:
            await self._play()
        finally:
            self.opening = False

    async def _play(self) -> None:
        c = self.item
        media = the_media(self.vc)
        if c is None or not c.media:
            return
        if media is None:
            self.note = ("media.no_service", {})
            self.render_media()
            self._say("media.no_service", severity="warning")
            return
        try:
            files = await media.playable(self.doc_id)
            self.avail = await media.availability(self.doc_id)
        except StoreError as exc:
            self.notify(error_text(exc), severity="error")
            return
        self.note = None
        if not files:
            self.render_media()
            self._say("media.line_waiting" if self.avail.state == "waiting"
                      else "media.line_partial", n=self.avail.percent)
            return
        path = files[0]
        self.render_media()
        try:
            proc = await start_player(path)
        except (OSError, ValueError):
            self._no_player(path)
            return
        self.launched.append(path)
        self._say("media.opening", name=path.name)
        if proc is not None and await failed_at_once(proc):
            self._no_player(path)

    def _no_player(self, path: Path) -> None:
        """No program for it (no xdg-open, the player set in VILLAGECOURT_PLAYER is not
        there, or it failed at once): say where the file is, to copy it to a phone."""
        self.note = ("media.no_player", {"path": str(path)})
        self.render_media()
        self._say("media.no_player", severity="warning", timeout=15, path=str(path))

    def _say(self, key: str, *, severity: str = "information", timeout: float = 5,
             **values: Any) -> None:
        self.notify(t(key, **values), severity=severity,  # type: ignore[arg-type]
                    timeout=timeout)

    def retranslate(self) -> None:
        self.render_item()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_screening(self) -> None:
        if self.item is not None:
            self.app.push_screen(ScreeningScreen(preselect=[self.item.title]))


class ScreeningScreen(FormScreen):
    """Record a screening: date, place, items shown (ticked from the content list),
    attendance, notes."""

    draft_key = "screening"

    def __init__(self, preselect: list[str] | None = None) -> None:
        super().__init__()
        self.preselect = preselect or []

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "scr.heading", {}

    def compose_fields(self) -> ComposeResult:
        yield FormRow("scr.date", Input(self.vc.today().isoformat(), id="date", compact=True,
                                        max_length=10), name="date", hint_key="form.date_hint")
        yield FormRow("scr.place", Input(id="place", placeholder=t("scr.place_ph"),
                                         compact=True), name="place")
        yield FormRow("scr.attendance", Input(id="attendance", compact=True, max_length=6,
                                              type="integer"), name="attendance")
        yield FormRow("scr.items", SelectionList[str](id="items"), name="items", stacked=True)
        yield FormRow("scr.notes", Input(id="notes", compact=True), name="notes")

    async def prepare(self) -> None:
        titles = [c.title for c in await self.vc.node.education.search(limit=CONTENT_LIMIT)]
        for extra in self.preselect:
            if extra not in titles:
                titles.insert(0, extra)
        items = self.query_one("#items", SelectionList)
        items.add_options([(title, title, title in self.preselect) for title in titles])

    def values(self) -> dict[str, Any]:
        return {"date": self.query_one("#date", Input).value,
                "place": self.query_one("#place", Input).value,
                "attendance": self.query_one("#attendance", Input).value,
                "items": list(self.query_one("#items", SelectionList).selected),
                "notes": self.query_one("#notes", Input).value}

    async def load(self, data: dict[str, Any]) -> None:
        self.query_one("#date", Input).value = (str(data.get("date") or "")
                                                or self.vc.today().isoformat())
        self.query_one("#place", Input).value = str(data.get("place", ""))
        self.query_one("#attendance", Input).value = str(data.get("attendance", ""))
        items = self.query_one("#items", SelectionList)
        chosen = set(data.get("items") or self.preselect)
        items.deselect_all()
        for title in chosen:
            try:
                items.select(title)
            except Exception:  # noqa: BLE001 — an item withdrawn since the draft was saved
                pass
        self.query_one("#notes", Input).value = str(data.get("notes", ""))

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        problem = check_day(values["date"], not_after=self.vc.today())
        if problem:
            errors["date"] = problem
        if not values["place"].strip():
            errors["place"] = error_text("missing_place")
        try:
            n = int(values["attendance"])
            if not 0 <= n <= 100_000:
                raise ValueError
        except ValueError:
            errors["attendance"] = error_text("bad_attendance")
        if not values["items"]:
            errors["items"] = error_text("no_items")
        return errors

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_date": "date", "missing_place": "place", "bad_attendance": "attendance",
                "no_items": "items"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Screening:
        return await self.vc.node.education.record_screening(
            date=values["date"].strip(), place=values["place"], items=values["items"],
            attendance=int(values["attendance"]), notes=values["notes"])

    def done_message(self, result: Any) -> str:
        return t("scr.done", n=result.attendance)

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#place", Input).placeholder = t("scr.place_ph")
