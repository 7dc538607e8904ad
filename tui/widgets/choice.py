"""Choice: pick one of a few options without a pop-up menu.

Why not Textual's Select: its menu is an overlay drawn over the widgets below it, and
where the overlay's edge or a widget edge below falls inside a Chinese character
(two cells wide), Textual's compositor blanks both halves: "婚姻家庭" shows as "婚姻  庭".
A director would see a garbled menu. A Choice never overlaps anything:

- grid (default): every option is on screen ("1 邻里纠纷  2 婚姻家庭 ..."); the digit
  picks it, arrows move, a click picks; nothing is picked until the director picks;
- compact: one line "‹ 申请人 ›"; the digit picks, Space or ←/→ or a click turns to the
  next option.

Enter moves on to the next field, as in a paper form.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

V = TypeVar("V")

Option = tuple[str, str, Any]  # (key: a digit or "", label, value)


class Choice(Widget, Generic[V], can_focus=True):
    DEFAULT_CSS = """
    Choice {
        height: auto;
        width: 1fr;
        background: $boost;
    }
    Choice:focus {
        background: $surface-lighten-1;
    }
    Choice.-compact {
        width: auto;
        min-width: 12;
    }
    """

    BINDINGS = [
        Binding("right", "move(1)", show=False),
        Binding("left", "move(-1)", show=False),
        Binding("space", "move(1)", show=False),
        Binding("enter", "app.focus_next", show=False),
    ]

    @dataclass
    class Changed(Message):
        choice: "Choice[Any]"
        value: Any

        @property
        def control(self) -> "Choice[Any]":
            return self.choice

    def __init__(self, options: Sequence[Option], *, value: V | None = None,
                 compact: bool = False, columns: int = 5, blank: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._options: list[Option] = list(options)
        self._value: V | None = value
        self._columns = max(1, columns)  # at most; fewer when the screen is narrow
        self._cols = self._columns
        self._blank = blank  # label shown when nothing is chosen (None: always a value)
        self.set_class(compact, "-compact")
        self._compact = compact
        self._hits: list[tuple[int, int, int, int]] = []  # (row, x0, x1, option index)
        if value is None and blank is None and self._options:
            self._value = self._options[0][2]

    # --- value -------------------------------------------------------------------------
    @property
    def value(self) -> V | None:
        return self._value

    @value.setter
    def value(self, value: V | None) -> None:
        if value is not None and value not in self.values():
            return
        if value is None and self._blank is None:
            return
        if value != self._value:
            self._value = value
            self.refresh(layout=True)
            self.post_message(self.Changed(self, value))

    def values(self) -> list[Any]:
        return [v for _, _, v in self._options]

    def clear(self) -> None:
        self.value = None

    def set_options(self, options: Sequence[Option], *, blank: str | None = None) -> None:
        """New labels (e.g. another language); keeps the value if it is still offered."""
        self._options = list(options)
        if blank is not None:
            self._blank = blank
        if self._value not in self.values():
            self._value = None if self._blank is not None else (
                self._options[0][2] if self._options else None)
        self.refresh(layout=True)

    def _index(self) -> int:
        values = self.values()
        return values.index(self._value) if self._value in values else -1

    # --- keys and mouse ----------------------------------------------------------------
    def action_move(self, step: int) -> None:
        if not self._options:
            return
        index = self._index()
        n = len(self._options)
        index = (0 if step > 0 else n - 1) if index < 0 else (index + step) % n
        self.value = self._options[index][2]

    def on_key(self, event: events.Key) -> None:
        if not self._compact and event.key in ("up", "down") and self._index() >= 0:
            target = self._index() + (self._cols if event.key == "down" else -self._cols)
            if 0 <= target < len(self._options):
                event.stop()
                event.prevent_default()
                self.value = self._options[target][2]
            return
        if event.character and event.is_printable:
            # An input method in full-width mode sends "１" for 1: NFKC makes it "1".
            typed = unicodedata.normalize("NFKC", event.character)
            for key, _, value in self._options:
                if key and key == typed:
                    event.stop()
                    event.prevent_default()
                    self.value = value
                    return

    def on_click(self, event: events.Click) -> None:
        if self._compact:
            self.action_move(1)
            return
        for row, x0, x1, index in self._hits:
            if event.y == row and x0 <= event.x < x1:
                self.value = self._options[index][2]
                return

    # --- rendering ---------------------------------------------------------------------
    def _label(self, option: Option) -> str:
        key, label, _ = option
        return f"{key} {label}" if key else label

    def _cell_width(self) -> int:
        return max((cell_len(self._label(o)) for o in self._options), default=0)

    def _columns_for(self, width: int) -> int:
        """As many columns as fit in ``width`` cells, at most the number asked for."""
        return max(1, min(self._columns, (width + 2) // (self._cell_width() + 2)))

    def render(self) -> Text:
        index = self._index()
        if self._compact:
            label = (self._label(self._options[index]) if index >= 0
                     else (self._blank or ""))
            text = Text("‹ ", style="dim")
            text.append(label, style="bold" if index >= 0 else "dim")
            text.append(" ›", style="dim")
            return text
        width = self._cell_width()
        self._cols = self._columns_for(self.content_size.width or 80)
        text = Text()
        self._hits = []
        for i, option in enumerate(self._options):
            row, col = divmod(i, self._cols)
            if col == 0 and i:
                text.append("\n")
            x0 = col * (width + 2)
            label = self._label(option)
            cell = label + " " * (width - cell_len(label))
            text.append(cell, style="reverse bold" if i == index else "")
            if col < self._cols - 1 and i < len(self._options) - 1:
                text.append("  ")
            self._hits.append((row, x0, x0 + width, i))
        return text

    def get_content_width(self, container: Any, viewport: Any) -> int:
        if self._compact:
            labels = [self._label(o) for o in self._options] + [self._blank or ""]
            return max(cell_len(label) for label in labels) + 4
        columns = min(self._columns, len(self._options)) or 1
        return columns * (self._cell_width() + 2) - 2

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        if self._compact:
            return 1
        return -(-len(self._options) // self._columns_for(width)) if self._options else 1
