"""Legal education (普法): the county's content by topic and words, one item to read,
and screenings held in the village (date, place, items shown, attendance)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, SelectionList, Static

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
    from ..app import VillageCourtApp

CONTENT_LIMIT = 100
SCREENINGS_SHOWN = 20
DEBOUNCE_S = 0.05


def kind_label(kind: str) -> str:
    return t(f"kind.{kind}") if kind else t("none")


class EducationPane(Pane):
    tab_id = "education"
    kinds = frozenset({"content", "screening"})

    def __init__(self) -> None:
        super().__init__()
        self.items: list[ContentItem] = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="edu-filters"):
            yield Input(placeholder=t("edu.search"), id="edu-search", compact=True)
            yield Choice([("", t("edu.all_topics"), "")], compact=True, id="edu-topic")
        yield NavTable([("title", "col.title", 40), ("kind", "col.kind", None),
                        ("topic", "col.topic", None), ("date", "col.date", None)],
                       id="edu-table")
        yield TLabel("edu.none", classes="empty", id="edu-none")
        yield TLabel("edu.screenings", classes="section")
        yield NavTable([("date", "col.date", None), ("place", "col.place", 16),
                        ("attendance", "col.attendance", None), ("items", "col.items", 30)],
                       id="edu-screenings")
        yield TLabel("edu.screenings_none", classes="empty", id="edu-screenings-none")

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
        table = self.query_one("#edu-table", NavTable)
        table.set_rows([(c.doc_id, [fit(c.title, 40), kind_label(c.content_kind), c.topic,
                                    short_date(c.published_at)]) for c in items])
        self.query_one("#edu-none").display = not items
        shows = self.query_one("#edu-screenings", NavTable)
        shows.set_rows([(s.doc_id, [s.date, fit(s.place, 16), str(s.attendance),
                                    fit(list_sep().join(s.items), 30)]) for s in screenings])
        shows.display = bool(screenings)
        self.query_one("#edu-screenings-none").display = not screenings
        self.loaded()

    @on(DataTable.RowSelected, "#edu-table")
    def _read(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(ContentScreen(str(event.row_key.value)))

    def retranslate(self) -> None:
        self.query_one("#edu-search", Input).placeholder = t("edu.search")
        super().retranslate()


class ContentScreen(Screen[None]):
    """One content item to read (to the villagers, or before a screening)."""

    BINDINGS = [
        Binding("escape", "back", "key.back", key_display="Esc"),
        Binding("ctrl+n", "screening", "key.new_screening", key_display="Ctrl+N"),
    ]

    def __init__(self, doc_id: str) -> None:
        super().__init__()
        self.doc_id = doc_id
        self.item: ContentItem | None = None

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="content-body"):
            yield Static(t("loading"), id="content-text")
        yield TFooter()

    def on_mount(self) -> None:
        self.query_one("#content-body").focus()
        self.load()

    @work(exclusive=True)
    @when_shown
    async def load(self) -> None:
        try:
            self.item = await self.vc.node.education.get(self.doc_id)
        except StoreError as exc:
            self.query_one("#content-text", Static).update(error_text(exc))
            return
        self.render_item()

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
        if c.summary:
            parts += [Text(c.summary, style="italic"), Text("")]
        parts.append(Text(c.body))
        names = [str(m.get("name") or m.get("filename") or "") for m in c.media]
        if any(names):
            parts += [Text(""), Text(t("item.media", names=list_sep().join(filter(None, names))),
                                     style="dim")]
        self.query_one("#content-text", Static).update(Group(*parts))

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
            except Exception:  # an item withdrawn since the draft was saved
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
