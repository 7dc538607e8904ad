"""The key-hint footer, translated: bindings carry an i18n id as their description."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
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

    def bindings_changed(self, screen: Screen) -> None:
        """As Textual's, but the keys are rebuilt in the footer's own queue, one rebuild
        after another. Textual runs its rebuild later in the screen's task; beside a
        retranslate (the footer's task) the two removed and mounted keys at the same time,
        and the key line could end up with the old language's keys or none (seen in CI
        after F8 on a case page)."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
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
