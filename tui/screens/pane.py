"""A page of the main screen (one tab). Loads its data in a worker when shown, marks
itself stale when records change while hidden, and reloads when shown again."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.containers import Vertical

from ..bridge import NodeBridge

if TYPE_CHECKING:
    from ..app import VillageCourtApp


class Pane(Vertical):
    tab_id = "pane"
    kinds: frozenset[str] = frozenset()  # record kinds whose change this page shows

    def __init__(self) -> None:
        super().__init__(id=f"pane-{self.tab_id}", classes="pane")
        self.stale = True
        self.loads = 0  # completed loads (tests and the benchmark wait on it)

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    @property
    def active(self) -> bool:
        return self.vc.active_tab() == self.tab_id

    def shown(self) -> None:
        """The tab became visible."""
        if self.stale:
            self.stale = False
            self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def loaded(self) -> None:
        self.loads += 1
        self.vc.first_page_loaded()

    def focus_default(self) -> None:
        for widget in self.query("*"):
            if widget.focusable:
                widget.focus()
                return

    def on_data_changed(self, message: NodeBridge.DataChanged) -> None:
        if self.kinds and not (self.kinds & message.kinds):
            return
        if self.active and self.vc.screen is self.screen:
            self.reload()
        else:
            self.stale = True

    def retranslate(self) -> None:
        if self.active:
            self.reload()
        else:
            self.stale = True
