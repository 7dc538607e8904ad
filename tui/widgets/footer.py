"""The key-hint footer, translated: bindings carry an i18n id as their description."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ..i18n import t


class TFooter(Footer):
    """Textual's Footer, with each binding's description and tooltip looked up in i18n.

    Bindings are declared ``Binding("ctrl+n", "new_case", "key.new_case")``; when the
    language changes the app calls ``retranslate()`` on every footer."""

    class Retranslate(Message):
        """Rebuild the keys (handled in the footer's own context: compose binds data to
        the footer, which must be the active message pump)."""

    def retranslate(self) -> None:
        self.post_message(self.Retranslate())

    async def on_tfooter_retranslate(self, message: Retranslate) -> None:
        message.stop()
        await self.recompose()

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.description = t(widget.description) if widget.description else ""
                if widget.tooltip and isinstance(widget.tooltip, str):
                    widget.tooltip = t(widget.tooltip)
            yield widget
