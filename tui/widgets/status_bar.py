"""One line at the bottom: online or not, last sync, changes not yet at the relay, LAN
peers. Fed from ``node.sync_status()`` by the main screen (never fetched here)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..i18n import ago, t


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._status: Any = None
        self._lan = 0

    def show(self, status: Any, lan_peers: int) -> None:
        """Show a ``node.SyncStatus`` and how many LAN peers are in sight now."""
        self._status = status
        self._lan = lan_peers
        self.retranslate()

    def retranslate(self) -> None:
        s = self._status
        if s is None:
            self.update(t("loading"))
            return
        text = Text()
        if s.online:
            text.append(t("sync.online"), style="bold green")
        else:
            text.append(t("sync.offline"), style="bold yellow")
        text.append("  │  ")
        text.append(t("bar.last_sync", when=ago(s.last_sync) if s.last_sync else
                      t("sync.never")))
        text.append("  │  ")
        text.append(t("bar.pending", n=s.pending_to_relay),
                    style="bold" if s.pending_to_relay else "")
        text.append("  │  ")
        text.append(t("bar.peers", n=self._lan))
        self.update(text)
