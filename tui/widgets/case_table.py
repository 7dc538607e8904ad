"""The case list table: number, title, category, status, last change.

Rows are ``node.CaseRow`` (projected fields only; no document is loaded to list cases).
The title column takes the width left over, and titles are cut by terminal cells with an
ellipsis, so Chinese titles never push the other columns out of line."""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from node import CaseRow

from ..i18n import short_date, short_label, t

FIXED = ("number", "category", "status", "updated")


def fit(text: str, width: int) -> Text:
    """``text`` on one line, cut to ``width`` cells with an ellipsis if it is longer.

    Cut by cells, not characters: a Chinese character is two cells, and the ellipsis
    goes right after the last whole character (no stray space before it)."""
    plain = " ".join(text.split())
    if cell_len(plain) <= width:
        return Text(plain)
    used, kept = 0, []
    for ch in plain:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        kept.append(ch)
        used += w
    return Text("".join(kept) + "…")


class CaseTable(DataTable[object]):
    """A DataTable of cases keyed by doc id."""

    BINDINGS = [Binding("enter", "select_cursor", "key.open", key_display="Enter")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: list[CaseRow] = []
        self._title_w = 24

    def on_mount(self) -> None:
        self._build_columns()

    def _widths(self) -> dict[str, int]:
        from store.records import CATEGORIES, STATUSES

        number_w = max([11, *(cell_len(r.number) for r in self._rows[:200])])
        return {
            "number": number_w,
            "category": max(cell_len(short_label(c)) for c in CATEGORIES),
            "status": max(cell_len(short_label(s)) for s in STATUSES),
            "updated": 10,
        }

    def _build_columns(self) -> None:
        widths = self._widths()
        # 2 cells of padding per column, 2 for the scroll bar.
        spare = self.size.width - sum(widths.values()) - 2 * (len(widths) + 1) - 2
        self._title_w = max(12, spare)
        self.clear(columns=True)
        self.add_column(t("col.number"), key="number", width=widths["number"])
        self.add_column(t("col.title"), key="title", width=self._title_w)
        self.add_column(t("col.category"), key="category", width=widths["category"])
        self.add_column(t("col.status"), key="status", width=widths["status"])
        self.add_column(t("col.updated"), key="updated", width=widths["updated"])

    def _add(self, rows: Iterable[CaseRow]) -> None:
        for r in rows:
            self.add_row(
                r.number, fit(r.title, self._title_w), short_label(r.category),
                short_label(r.status), short_date(r.updated_at), key=r.doc_id)

    def show_rows(self, rows: Sequence[CaseRow], *, append: bool = False) -> None:
        """Replace the rows (keeping the cursor on the same case if it is still there), or
        append a further page."""
        if append:
            self._rows.extend(rows)
            self._add(rows)
            return
        current = self.current_doc_id()
        self._rows = list(rows)
        self.clear()
        self._add(self._rows)
        if current is not None:
            for i, r in enumerate(self._rows):
                if r.doc_id == current:
                    self.move_cursor(row=i, animate=False)
                    break

    @property
    def loaded(self) -> int:
        return len(self._rows)

    def current_doc_id(self) -> str | None:
        if not self._rows or not 0 <= self.cursor_row < len(self._rows):
            return None
        return self._rows[self.cursor_row].doc_id

    def retranslate(self) -> None:
        self._build_columns()
        self._add(self._rows)

    def on_resize(self, event: events.Resize) -> None:
        current = self.cursor_row
        self._build_columns()
        self._add(self._rows)
        if self._rows:
            self.move_cursor(row=min(current, len(self._rows) - 1), animate=False)
