"""A row-cursor table whose Enter shows in the footer ("Enter 打开")."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class NavTable(DataTable[object]):
    """DataTable with row cursor, zebra stripes and a visible Enter hint; translatable
    column headers (``columns`` holds (key, i18n id, width or None))."""

    BINDINGS = [Binding("enter", "select_cursor", "key.open", key_display="Enter")]

    def __init__(self, columns: list[tuple[str, str, int | None]], *, id: str | None = None,
                 classes: str | None = None, header: bool = True) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True,
                         show_header=header)
        self._spec = columns
        self._keyed: list[tuple[str, list[str | Text]]] = []

    def on_mount(self) -> None:
        self._build()

    def _build(self) -> None:
        from ..i18n import t

        self.clear(columns=True)
        for key, label, width in self._spec:
            self.add_column(t(label), key=key, width=width)

    def set_rows(self, rows: list[tuple[str, list[str | Text]]]) -> None:
        """Replace the rows: (row key, cells). Keeps the cursor on the same key."""
        current = self.current_key()
        self._keyed = rows
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if current is not None:
            for i, (key, _) in enumerate(rows):
                if key == current:
                    self.move_cursor(row=i, animate=False)
                    break

    def current_key(self) -> str | None:
        if not self._keyed or not 0 <= self.cursor_row < len(self._keyed):
            return None
        return self._keyed[self.cursor_row][0]

    def retranslate(self) -> None:
        """Rebuild headers; the owner re-fills rows (their cells hold translated words)."""
        self._build()
