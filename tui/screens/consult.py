"""Ask the judge (连线法官): the questions asked and, under the list, the question and
answer of the highlighted row. An answer that arrives by sync shows up without a key
press; an answer the director has looked at stops counting as new on the home page."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from store.kinds import Consultation

from ..i18n import short_date, t
from ..widgets.case_table import fit
from ..widgets.fields import TLabel
from ..widgets.tables import NavTable
from .guard import when_shown
from .pane import Pane

LIST_LIMIT = 200


def qa_text(c: Consultation) -> Group:
    parts = [Text(t("consult.q", date=short_date(c.asked_at)), style="bold"),
             Text(c.question)]
    if c.answer:
        parts += [Text(""), Text(t("consult.a", by=c.answered_by or "",
                                   date=short_date(c.answered_at)), style="bold green"),
                  Text(c.answer)]
    else:
        parts += [Text(""), Text(t("consult.waiting"), style="dim")]
    return Group(*parts)


class ConsultPane(Pane):
    tab_id = "consult"
    kinds = frozenset({"consultation"})

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Consultation] = {}
        self.pick: str | None = None  # a consultation to put the cursor on after loading

    def compose(self) -> ComposeResult:
        yield NavTable([("number", "col.number", None), ("question", "col.question", 36),
                        ("asked", "col.asked", None), ("status", "col.status", None)],
                       id="consult-table")
        yield TLabel("consult.none", classes="empty", id="consult-none")
        with VerticalScroll(id="consult-detail"):
            yield Static(t("consult.pick"), id="consult-qa")

    @work(exclusive=True, group="consult")
    @when_shown
    async def reload(self) -> None:
        items = await self.vc.node.consultations.list(limit=LIST_LIMIT)
        self.items = {c.doc_id: c for c in items}
        seen = self.vc.state.seen_answers
        rows = []
        for c in items:
            if c.answer:
                status = Text(t("consult.answered"), style="green")
                if c.doc_id not in seen:
                    status.append(" " + t("consult.new"), style="bold reverse")
            else:
                status = Text(t("consult.open"), style="yellow")
            rows.append((c.doc_id, [c.case_number, fit(c.question, 36),
                                    short_date(c.asked_at), status]))
        table = self.query_one("#consult-table", NavTable)
        table.set_rows(rows)
        if self.pick is not None:
            keys = [key for key, _ in rows]
            if self.pick in keys:
                table.move_cursor(row=keys.index(self.pick), animate=False)
            self.pick = None
        self.query_one("#consult-none").display = not rows
        self._show(table.current_key())
        self.loaded()

    def _show(self, doc_id: str | None) -> None:
        qa = self.query_one("#consult-qa", Static)
        c = self.items.get(doc_id or "")
        if c is None:
            qa.update(t("consult.pick"))
            return
        qa.update(qa_text(c))
        if c.answer and self.active and c.doc_id not in self.vc.state.seen_answers:
            self.vc.answer_seen(c.doc_id)

    def select(self, doc_id: str) -> None:
        """Show ``doc_id`` (from the home page's list of new answers)."""
        self.pick = doc_id
        self.stale = True

    @on(DataTable.RowHighlighted, "#consult-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(str(event.row_key.value) if event.row_key else None)

    @on(DataTable.RowSelected, "#consult-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        c = self.items.get(str(event.row_key.value))
        if c is not None:
            self.vc.open_case(c.case_id)
