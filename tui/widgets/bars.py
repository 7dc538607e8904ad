"""A horizontal bar chart of block characters, aligned for Chinese labels.

Labels are padded by terminal cell width (a Chinese character takes two cells), so the
bars start in one column whatever the language."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, maximum: float, width: int) -> str:
    """A bar of ``width`` cells at most, in eighths of a cell."""
    if maximum <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = max(1, round(value / maximum * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells."""
    return text + " " * max(0, width - cell_len(text))


class _Chart:
    def __init__(self, rows: list[tuple[str, int]], style: str) -> None:
        self.rows = rows
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.rows:
            return
        label_w = max(cell_len(label) for label, _ in self.rows)
        num_w = max(len(str(v)) for _, v in self.rows)
        top = max(v for _, v in self.rows)
        bar_w = max(4, options.max_width - label_w - num_w - 3)
        for label, value in self.rows:
            line = Text(pad(label, label_w) + " ")
            line.append(pad(bar(value, top, bar_w), bar_w), style=self.style)
            line.append(" " + str(value).rjust(num_w))
            yield line


class BarChart(Widget):
    """Rows of ``label ████▍ value``; set ``rows`` to redraw."""

    DEFAULT_CSS = """
    BarChart {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, style: str = "green") -> None:
        super().__init__(id=id)
        self._rows: list[tuple[str, int]] = []
        self._style = style

    @property
    def rows(self) -> list[tuple[str, int]]:
        return self._rows

    @rows.setter
    def rows(self, rows: list[tuple[str, int]]) -> None:
        self._rows = list(rows)
        self.refresh(layout=True)

    def render(self) -> _Chart:  # type: ignore[override]
        return _Chart(self._rows, self._style)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._rows)
