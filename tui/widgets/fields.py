"""Form building blocks: a translated label, a field row with its inline error, and a
party row (role, name, phone, ID number)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from store.records import PARTY_ROLES

from ..i18n import role_label, t
from .choice import Choice, Option


class TLabel(Label):
    """A label that holds an i18n key and re-renders when the language changes."""

    def __init__(self, key: str, *, id: str | None = None, classes: str | None = None,
                 **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(t(key, **values), id=id, classes=classes)

    def set_key(self, key: str, **values: Any) -> None:
        self.key, self.values = key, values
        self.retranslate()

    def retranslate(self) -> None:
        self.update(t(self.key, **self.values))


class ErrorLine(Static):
    """A red line under a field, hidden while there is no error."""

    DEFAULT_CSS = """
    ErrorLine {
        color: $error;
        height: auto;
        display: none;
    }
    ErrorLine.-shown { display: block; }
    """

    def set_error(self, text: str | None) -> None:
        self.update(text or "")
        self.set_class(bool(text), "-shown")

    @property
    def text(self) -> str:
        return str(self.render()) if self.has_class("-shown") else ""


class FormRow(Vertical):
    """``label  control`` on one line and the field's error under it."""

    DEFAULT_CSS = """
    FormRow { height: auto; }
    FormRow > Horizontal { height: auto; }
    FormRow > Horizontal > .label { width: 14; padding: 0 1 0 0; }
    FormRow > ErrorLine, FormRow > .hint { margin: 0 0 0 14; }
    FormRow.-stacked > ErrorLine, FormRow.-stacked > .hint { margin: 0; }
    """

    def __init__(self, label_key: str, control: Widget, *, name: str,
                 hint_key: str | None = None, stacked: bool = False) -> None:
        super().__init__(id=f"row-{name}", classes="-stacked" if stacked else "")
        self._label_key = label_key
        self._control = control
        self._hint_key = hint_key
        self._stacked = stacked

    def compose(self) -> ComposeResult:
        if self._stacked:  # big controls (lists) take the full width under their label
            yield TLabel(self._label_key, classes="label")
            yield self._control
        else:
            with Horizontal():
                yield TLabel(self._label_key, classes="label")
                yield self._control
        if self._hint_key:
            yield TLabel(self._hint_key, classes="hint")
        yield ErrorLine()

    def set_error(self, text: str | None) -> None:
        self.query_one(ErrorLine).set_error(text)


def role_options() -> list[Option]:
    # The digit picks the role: 1 申请人, 2 被申请人, 3 第三人.
    return [(str(i), role_label(code), code) for i, code in enumerate(PARTY_ROLES, 1)]


class PartyRow(Vertical):
    """One party: role, name, phone, ID number, and the row's error."""

    DEFAULT_CSS = """
    PartyRow { height: auto; }
    PartyRow > Horizontal { height: 1; }
    PartyRow .party-n { width: 8; }
    PartyRow Choice.-compact { width: 17; margin: 0 1 0 0; }
    PartyRow .p-name { width: 13; margin: 0 1 0 0; }
    PartyRow .p-phone { width: 15; margin: 0 1 0 0; }
    PartyRow .p-id { width: 20; }
    PartyRow > ErrorLine { margin: 0 0 0 8; }
    """

    def __init__(self, index: int, role: str = "applicant") -> None:
        super().__init__(id=f"party-{index}", classes="party")
        self.index = index
        self._role = role

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield TLabel("party.n", n=self.index + 1, classes="party-n")
            yield Choice(role_options(), value=self._role, compact=True,
                         id=f"p{self.index}-role")
            yield Input(classes="p-name", compact=True, id=f"p{self.index}-name",
                        placeholder=t("party.name"))
            yield Input(classes="p-phone", compact=True, id=f"p{self.index}-phone",
                        placeholder=t("party.phone"), max_length=20)
            yield Input(classes="p-id", compact=True, id=f"p{self.index}-id",
                        placeholder=t("party.id"), max_length=18)
        yield ErrorLine()

    def values(self) -> dict[str, str]:
        role = self.query_one(Choice).value
        return {
            "role": role if isinstance(role, str) else "applicant",
            "name": self.query_one(f"#p{self.index}-name", Input).value,
            "phone": self.query_one(f"#p{self.index}-phone", Input).value,
            "id_number": self.query_one(f"#p{self.index}-id", Input).value,
        }

    def load(self, data: dict[str, Any]) -> None:
        role = data.get("role")
        if role in PARTY_ROLES:
            self.query_one(Choice).value = role
        self.query_one(f"#p{self.index}-name", Input).value = str(data.get("name", ""))
        self.query_one(f"#p{self.index}-phone", Input).value = str(data.get("phone", ""))
        self.query_one(f"#p{self.index}-id", Input).value = str(data.get("id_number", ""))

    def is_blank(self) -> bool:
        v = self.values()
        return not (v["name"].strip() or v["phone"].strip() or v["id_number"].strip())

    def set_error(self, text: str | None) -> None:
        self.query_one(ErrorLine).set_error(text)

    def retranslate(self) -> None:
        self.query_one(Choice).set_options(role_options())
        self.query_one(f"#p{self.index}-name", Input).placeholder = t("party.name")
        self.query_one(f"#p{self.index}-phone", Input).placeholder = t("party.phone")
        self.query_one(f"#p{self.index}-id", Input).placeholder = t("party.id")
