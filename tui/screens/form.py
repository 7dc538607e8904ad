"""The form screen every data-entry form builds on.

What a form gets from here:

1. Drafts. Every change saves the field values under ``draft_key`` (see ``tui.drafts``);
   opening the form again restores them and says so; a successful save deletes the draft;
   Esc keeps it (a press of Esc must never throw away a director's typing).
2. Inline errors in plain words. ``check()`` validates on the client first (the same
   store.records rules the node applies) and returns *all* problems at once, by field;
   an error the node still raises is put next to the field ``error_field()`` names.
3. Saving in a worker: the node call never blocks the screen; Ctrl+S twice saves once.

A subclass provides ``heading()``, ``compose_fields()``, ``values()``, ``load()``,
``check()`` and ``submit()``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, SelectionList, TextArea

from store import StoreError, ValidationError
from store.records import check_date

from ..i18n import error_text, t
from ..widgets.choice import Choice
from ..widgets.fields import ErrorLine, FormRow, PartyRow, TLabel
from ..widgets.footer import TFooter
from .guard import when_shown

if TYPE_CHECKING:
    from ..app import VillageCourtApp

Errors = dict[str, str]  # field name -> message already in words


def check_day(value: str, *, not_after: dt.date | None = None) -> str | None:
    """The error text for a YYYY-MM-DD field, or None."""
    try:
        day = dt.date.fromisoformat(check_date(value.strip()))
    except ValidationError as exc:
        return error_text(exc)
    if not_after is not None and day > not_after:
        return t("err.future_date")
    return None


def _button(label: str, *, id: str, variant: Any = "default") -> Button:
    """A form button the mouse presses and Tab passes by."""
    button = Button(label, variant=variant, id=id, compact=True)
    button.can_focus = False
    return button


class FormScreen(Screen[Any]):
    """Base class; see the module docstring."""

    BINDINGS = [
        # Not a priority binding: Ctrl+S then waits its turn behind the characters typed
        # just before it, so a fast typist's last characters are saved too.
        Binding("ctrl+s", "save", "key.save", key_display="Ctrl+S"),
        Binding("escape", "cancel", "key.cancel", key_display="Esc"),
        Binding("ctrl+l", "clear", "key.clear_form", key_display="Ctrl+L"),
    ]

    draft_key = "form"

    def __init__(self) -> None:
        super().__init__()
        self._last_saved: dict[str, Any] | None = None
        self._saving = False
        self.ready = False  # restored, the cursor in its field, held keys let in
        # A kept form is built once and shown again on each open (the registration
        # form: composing its ~40 widgets took 300 ms per Ctrl+N). ``reopen()`` before
        # each push; the form is emptied and its draft restored when it shows.
        self.kept = False
        self._reopening = False
        self._css_seen = -1
        self._resetting = asyncio.Lock()

    @property
    def vc(self) -> "VillageCourtApp":
        return cast("VillageCourtApp", self.app)

    # --- to override -------------------------------------------------------------------
    def heading(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def compose_fields(self) -> ComposeResult:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    async def load(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def check(self, values: dict[str, Any]) -> Errors:
        return {}

    async def submit(self, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def error_field(self, exc: StoreError) -> str | None:
        """Which field a node error belongs to (None: the form as a whole)."""
        return None

    def done_message(self, result: Any) -> str:
        return ""

    # --- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        key, values = self.heading()
        yield TLabel(key, id="form-heading", **values)
        yield TLabel("form.draft_restored", id="form-restored")
        body = VerticalScroll(id="form-body")
        body.can_focus = False  # Tab goes from field to field, never to the frame
        with body:
            yield from self.compose_fields()
            with Horizontal(id="form-buttons"):
                # Out of the Tab order (Ctrl+S and Esc do it, the mouse clicks them): text
                # typed on a focused button vanished, e.g. after Shift+Tab from the first
                # field following a failed save.
                yield _button(t("form.save"), variant="primary", id="form-save")
                yield _button(t("form.cancel"), id="form-cancel")
            yield ErrorLine(id="form-error")
        yield TFooter()

    async def on_mount(self) -> None:
        self.query_one("#form-restored").display = False
        if self.kept:  # opened when shown (on_screen_resume), maybe much later
            return
        try:
            self.focus_first()
            await self._open()
        except NoMatches:  # a field row not composed yet: once everything is mounted
            self.call_after_refresh(self._open)

    async def _open(self) -> None:
        """Restore, then let the keys typed while the form opened in (the app held them
        from the key that opened it: see ``VillageCourtApp.hold_keys``)."""
        try:
            await self.restore()
        finally:
            self.ready = True
            self.vc.release_keys()

    def on_unmount(self) -> None:
        self.vc.release_keys()  # never leave keys held for a form that is gone

    # --- a kept form, shown again --------------------------------------------------------
    def reopen(self) -> None:
        """Before a kept form is pushed again: it opens afresh when it shows."""
        self.ready = False
        self._reopening = True

    async def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual calls this before Screen's own handler (and instead of an
        # ``on_screen_resume`` here), which restyles every widget of the screen: 20-30 ms
        # for this form, for nothing when a kept form shows again with the app's CSS as
        # it was (a change of theme or CSS counts in ``_css_update_count``; focus and
        # class changes restyle their own widgets).
        css = self.app._css_update_count
        if self.kept and self._reopening and self._css_seen == css:
            event.refresh_styles = False
        self._css_seen = css
        if not self._reopening:
            return
        self._reopening = False
        try:
            async with self._resetting:
                await self.reset()
            self.focus_first()
        except NoMatches:  # first shown before its fields were mounted: once they are
            self.call_after_refresh(self._reset_and_open)
            return
        await self._open()

    async def _reset_and_open(self) -> None:
        async with self._resetting:
            await self.reset()
        self.focus_first()
        await self._open()

    def on_screen_suspend(self) -> None:
        if self.kept:  # as on_unmount for a form that is built for each open
            self.vc.release_keys()
            # The cursor leaves its field now, not when the form shows again: leaving a
            # field checks it (_on_blur), and that check would then land on the next
            # opening's values.
            self.set_focus(None)
            # Emptied now, while it is off screen (after a save its fields were full):
            # showing it again then changes nothing but what the draft puts back. No
            # draft is written meanwhile (nothing is saved while _last_saved is None).
            self.call_later(self._reset_hidden)

    async def _reset_hidden(self) -> None:
        async with self._resetting:  # (showing again meanwhile waits for this one)
            if self.app.screen is not self and self.is_attached and not self._reopening:
                await self.reset()

    async def reset(self) -> None:
        """Empty the form as if it had just been built: no value, no error, no notice
        of a previous opening (its draft, if any, is restored after this)."""
        self._last_saved = None
        self._saving = False
        await self.load({})
        self.clear_errors()
        self.query_one("#form-restored").display = False
        self.query_one("#form-save", Button).disabled = False
        self.query_one("#form-body", VerticalScroll).scroll_home(animate=False)

    async def prepare(self) -> None:
        """Fill what the form needs from the node before a draft is restored."""

    async def restore(self) -> None:
        await self.prepare()
        draft = self.vc.drafts.load(self.draft_key)
        if draft:
            await self.load(draft)
            self.query_one("#form-restored").display = True
        self._last_saved = self.values()
        if self.focused is None or draft:
            self.focus_first()

    @property
    def focus_chain(self) -> list[Widget]:
        """Fields in the order they are composed (top to bottom, left to right), not by
        their place on screen: a party line just added by Ctrl+P has no place yet, and
        Textual's order put it first, so a Tab typed right after it jumped to the top."""
        return [w for w in self.walk_children(Widget, with_self=False)
                if w.focusable and all(a.display for a in w.ancestors_with_self
                                       if isinstance(a, Widget))]

    def focus_first(self) -> None:
        for widget in self.query("#form-body *"):
            if widget.focusable:
                widget.focus()
                return

    def retranslate(self) -> None:
        self.query_one("#form-save", Button).label = t("form.save")
        self.query_one("#form-cancel", Button).label = t("form.cancel")

    # --- drafts ------------------------------------------------------------------------
    def _changed(self) -> None:
        if self._last_saved is None:  # still loading
            return
        values = self.values()
        if values != self._last_saved:
            self._last_saved = values
            self.vc.drafts.save(self.draft_key, values)
            self.on_values_changed(values)

    def on_values_changed(self, values: dict[str, Any]) -> None:
        """After a change: clear errors that are now fixed (errors never appear while the
        director is still typing, only on save and on leaving a field)."""
        shown = {name for name, _ in self._shown_errors()}
        if shown:
            errors = self.check(values)
            for name in shown:
                if name not in errors:
                    self.set_error(name, None)

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Choice.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    def _on_field_changed(self) -> None:
        self._changed()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter in a field goes to the next one, as on a paper form (Ctrl+S saves)."""
        event.stop()
        self.focus_next()

    @on(Input.Blurred)
    def _on_blur(self, event: Input.Blurred) -> None:
        """Leaving a field checks it, so a wrong phone number shows at once."""
        name = self.field_of(event.input)
        if name is None or not event.input.value.strip() or not self.ready \
                or self.app.screen is not self:
            return  # (a kept form closing or opening again: no field was left)
        errors = self.check(self.values())
        if name in errors:
            self.set_error(name, errors[name])

    def field_of(self, widget: Any) -> str | None:
        for ancestor in widget.ancestors_with_self:
            if isinstance(ancestor, (FormRow, PartyRow)) and ancestor.id:
                return ancestor.id.removeprefix("row-")
        return None

    # --- errors ------------------------------------------------------------------------
    def _shown_errors(self) -> list[tuple[str, ErrorLine]]:
        out = []
        for line in self.query(ErrorLine):
            if line.has_class("-shown") and line.parent is not None and line.parent.id:
                out.append((line.parent.id.removeprefix("row-"), line))
        return out

    def set_error(self, name: str, text: str | None) -> None:
        if name == "form":
            self.query_one("#form-error", ErrorLine).set_error(text)
            return
        for selector in (f"#row-{name}", f"#{name}"):
            found = self.query(selector)
            if found:
                widget = found.first()
                if isinstance(widget, (FormRow, PartyRow)):
                    widget.set_error(text)
                    return
        self.query_one("#form-error", ErrorLine).set_error(text)

    def clear_errors(self) -> None:
        for line in self.query(ErrorLine):
            line.set_error(None)

    def show_errors(self, errors: Errors) -> None:
        self.clear_errors()
        for name, text in errors.items():
            self.set_error(name, text)
        if len(errors) > 1 or "form" not in errors:
            summary = t("form.fix", n=len(errors))
            if "form" in errors:
                summary = errors["form"]
            self.query_one("#form-error", ErrorLine).set_error(summary)
        first = next(iter(errors))
        for selector in (f"#row-{first}", f"#{first}"):
            found = self.query(selector)
            if found:
                for widget in found.first().query("*"):
                    if widget.focusable:
                        widget.focus()
                        widget.scroll_visible()
                        return

    # --- actions -----------------------------------------------------------------------
    @on(Button.Pressed, "#form-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        if self._saving:
            return
        values = self.values()
        errors = self.check(values)
        if errors:
            self.show_errors(errors)
            return
        self.clear_errors()
        self._saving = True
        self.query_one("#form-save", Button).disabled = True
        self._save(values)

    @work(exclusive=True, group="form-save")
    @when_shown
    async def _save(self, values: dict[str, Any]) -> None:
        try:
            result = await self.submit(values)
        except StoreError as exc:
            field = self.error_field(exc) or "form"
            self.show_errors({field: error_text(exc)})
            return
        except Exception as exc:  # noqa: BLE001 — never lose the form to a crash: say it, keep the draft
            self.log.error("save failed", exc)
            self.show_errors({"form": error_text(exc)})
            return
        finally:
            self._saving = False
            if self.is_attached:
                self.query_one("#form-save", Button).disabled = False
        self.vc.drafts.delete(self.draft_key)
        message = self.done_message(result)
        if message:
            self.notify(message)
        self.done(result)

    def done(self, result: Any) -> None:
        """Saved: close with the result (to the callback of whoever opened the form)."""
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def action_clear(self) -> None:
        self.vc.drafts.delete(self.draft_key)
        self._last_saved = None
        await self.load({})
        self._last_saved = self.values()
        self.clear_errors()
        self.query_one("#form-restored").display = False
        self.focus_first()
