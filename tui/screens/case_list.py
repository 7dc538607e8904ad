"""Cases: a list that filters as the director types, paged from the projection.

At 10,000 cases the list never loads documents and never loads every row: a keystroke
runs one ``node.cases.search(limit=PAGE)`` and one ``count``, and scrolling near the end
fetches the next page. Searches never pile up: the first keystroke searches at once;
keys typed while a search runs are folded into one more search when it ends (so fast
typing costs two queries, not five, and the last key is always searched).

What is typed is matched against case number, title, party names, description and
session notes; a word that is exactly a category or status name ("邻里纠纷", "调解中",
"closed") filters by it instead, as do the two drop-downs."""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input

from store.records import CATEGORIES, STATUSES

from ..i18n import category_label, status_label, t
from ..widgets.case_table import CaseTable
from ..widgets.choice import Choice, Option
from ..widgets.fields import TLabel
from .guard import when_shown
from .pane import Pane

PAGE = 50  # rows per query: 3 screens of a 24-line terminal; filling the table is the
# larger part of a keystroke's cost (a search at 10,000 cases takes 1-12 ms)
MORE_AT = 15  # fetch the next page when the cursor is this close to the end


def category_named(word: str) -> str | None:
    """The category a typed word names: its code, its label, or the start of one label
    only (`邻里` for 邻里纠纷, `neighb` for Neighbour disputes), so `邻里` and `邻里纠纷`
    find the same cases."""
    w = word.lower()
    exact = [c for c, (zh, en) in CATEGORIES.items() if w in (c, zh, en.lower())]
    if exact:
        return exact[0]
    if len(w) < (2 if not w.isascii() else 4):
        return None
    starts = [c for c, (zh, en) in CATEGORIES.items()
              if zh.startswith(w) or en.lower().startswith(w)]
    return starts[0] if len(starts) == 1 else None


def split_query(text: str) -> tuple[str, str | None, str | None]:
    """(free text, category, status): words naming a category or status become filters."""
    words, category, status = [], None, None
    for word in text.split():
        w = word.lower()
        cat = category_named(w)
        st = next((s for s, (zh, en) in STATUSES.items() if w in (s, zh, en.lower())), None)
        if cat and category is None:
            category = cat
        elif st and status is None:
            status = st
        else:
            words.append(word)
    return " ".join(words), category, status


def category_filter_options() -> list[Option]:
    return [("", t("cases.all_categories"), ""), *(("", category_label(c), c)
                                                  for c in CATEGORIES)]


def status_filter_options() -> list[Option]:
    return [("", t("cases.all_statuses"), ""), *(("", status_label(s), s) for s in STATUSES)]


class CasesPane(Pane):
    tab_id = "cases"
    kinds = frozenset({"case"})
    BINDINGS = [Binding("down", "to_list", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.applied: tuple[str, str | None, str | None] | None = None  # what is shown
        self.searches = 0  # searches whose rows are in the list (the benchmark waits on it)
        self._dirty = False  # the filter changed since the running search started
        self._searching = False
        self._loading_more = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="case-filters"):
            yield Input(placeholder=t("cases.filter"), id="case-filter", compact=True)
            yield Choice(category_filter_options(), compact=True, id="case-category")
            yield Choice(status_filter_options(), compact=True, id="case-status")
        yield TLabel("cases.count", id="case-count", count=0)
        yield CaseTable(id="case-table")

    @property
    def table(self) -> CaseTable:
        return self.query_one(CaseTable)

    def focus_default(self) -> None:
        self.query_one("#case-filter").focus()

    def query_now(self) -> tuple[str, str | None, str | None]:
        text, category, status = split_query(self.query_one("#case-filter", Input).value)
        cat = self.query_one("#case-category", Choice).value
        st = self.query_one("#case-status", Choice).value
        return (text, cat or category, st or status)

    # --- filtering ---------------------------------------------------------------------
    @on(Input.Changed, "#case-filter")
    def _typed(self) -> None:
        self.reload()

    @on(Choice.Changed)
    def _picked(self) -> None:
        self.reload()

    def action_to_list(self) -> None:
        if self.table.row_count:
            self.table.focus()

    def on_key(self, event: events.Key) -> None:
        """Typing while in the list goes on in the filter: no need to go back to it."""
        if (self.app.focused is self.table and event.character and event.is_printable
                and not event.character.isspace()):
            event.stop()
            event.prevent_default()
            field = self.query_one("#case-filter", Input)
            field.focus()
            field.insert_text_at_cursor(event.character)

    @on(Input.Submitted, "#case-filter")
    def _submitted(self) -> None:
        if self.table.row_count:
            self.table.focus()

    def reload(self) -> None:
        self._dirty = True
        if not self._searching:
            self._searching = True
            self._search()

    @work(group="cases")
    @when_shown
    async def _search(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                await self._search_once()
        finally:
            self._searching = False

    async def _search_once(self) -> None:
        query = self.query_now()
        text, category, status = query
        cases = self.vc.node.cases
        rows = await cases.search(text, category=category, status=status, limit=PAGE)
        self.table.show_rows(rows)
        self.applied = query  # the list is redrawn while the count below runs
        self.searches += 1
        self.total = await cases.count(text, category=category, status=status)
        self._count()
        self.loaded()

    def _count(self) -> None:
        label = self.query_one("#case-count", TLabel)
        if self.total == 0:
            label.set_key("cases.none")
        elif self.table.loaded < self.total:
            label.set_key("cases.count_shown", count=self.total, shown=self.table.loaded)
        else:
            label.set_key("cases.count", count=self.total)

    @on(DataTable.RowHighlighted, "#case-table")
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        table = self.table
        if (not self._loading_more and table.loaded < self.total
                and event.cursor_row >= table.loaded - MORE_AT):
            self._loading_more = True
            self._more(table.loaded)

    @work(group="cases-more")
    @when_shown
    async def _more(self, offset: int) -> None:
        try:
            text, category, status = self.applied or self.query_now()
            rows = await self.vc.node.cases.search(text, category=category, status=status,
                                                   limit=PAGE, offset=offset)
            if self.table.loaded == offset:  # not replaced by a new search meanwhile
                self.table.show_rows(rows, append=True)
                self._count()
        finally:
            self._loading_more = False

    @on(DataTable.RowSelected, "#case-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.vc.open_case(str(event.row_key.value))

    def retranslate(self) -> None:
        self.query_one("#case-filter", Input).placeholder = t("cases.filter")
        self.query_one("#case-category", Choice).set_options(category_filter_options())
        self.query_one("#case-status", Choice).set_options(status_filter_options())
        self._count()

