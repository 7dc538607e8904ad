"""Form building blocks: a translated label, a field row with its inline error, and a
party row (role, name, phone, ID number)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Static

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


class Tick(Checkbox):
    """A checkbox whose box is empty until ticked (Textual's shows a dim X either way,
    which reads as ticked in a plain terminal)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802
        return "✓" if self.value else " "


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


# --- one field per party: "张三 13912345678 330802198503151230" ---------------------------
# A number: digits (full-width too), with the dashes and brackets of a landline and a
# resident ID's final X; "+86" before a mobile is dropped by normalize_phone.
_NUMBER = re.compile(r"[+＋(（]?\d[\d()（）\-－]*[\dXxＸｘ]|\d")
# Words a director may write before a number ("电话：139...") are not part of the name.
_LABELS = re.compile(r"(电话|手机|座机|身份证号码|身份证号|身份证|tel|phone|id)\s*[:：]?",
                     re.IGNORECASE)
_SEPARATORS = re.compile(r"[，,;；:：/、|]")
ID_LEN = 18


def split_party(text: str) -> dict[str, str]:
    """A party field's text as name, phone and ID number (each '' when not written).

    Numbers are told apart by length: 15 characters or more (or ending in X) is an ID
    number, anything shorter a phone; both are NFKC-normalised (full-width digits from an
    input method count). The rest, without labels such as 电话：, is the name. Two phones
    (or two IDs) are kept together, so that the store's check says the phone is wrong."""
    phones: list[str] = []
    ids: list[str] = []
    rest: list[str] = []
    last = 0
    for m in _NUMBER.finditer(text):
        token = unicodedata.normalize("NFKC", m.group())
        rest.append(text[last:m.start()])
        last = m.end()
        if token in ("+86", "86", "(86", "(+86"):
            continue
        digits = sum(c.isdigit() for c in token)
        (ids if digits >= 15 or token[-1] in "Xx" else phones).append(token)
    rest.append(text[last:])
    name = _SEPARATORS.sub(" ", _LABELS.sub(" ", "".join(rest)))
    return {"name": " ".join(name.split()), "phone": " ".join(phones),
            "id_number": " ".join(ids)}


def join_party(data: dict[str, Any]) -> str:
    """The field's text for a stored party (the inverse of ``split_party``)."""
    return " ".join(str(data.get(k) or "").strip() for k in ("name", "phone", "id_number")
                    if str(data.get(k) or "").strip())


class PartyRow(Vertical):
    """One party on one line: the role (Ctrl+R or a click turns it; Tab passes it by)
    and one field for name, phone and ID number, with the row's error under it."""

    DEFAULT_CSS = """
    PartyRow { height: auto; }
    PartyRow > Horizontal { height: 1; }
    PartyRow .party-n { width: 6; }
    PartyRow Choice.-compact { width: 14; margin: 0 1 0 0; }
    PartyRow .p-party { width: 1fr; }
    PartyRow > ErrorLine { margin: 0 0 0 21; }
    """

    def __init__(self, index: int, role: str = "applicant") -> None:
        super().__init__(id=f"party-{index}", classes="party")
        self.index = index
        self._role = role

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield TLabel("party.n", n=self.index + 1, classes="party-n")
            role = Choice(role_options(), value=self._role, compact=True,
                          id=f"p{self.index}-role")
            role.can_focus = False  # Tab goes from name to name; Ctrl+R turns the role
            yield role
            yield Input(classes="p-party", compact=True, id=f"p{self.index}-party",
                        placeholder=t("party.ph"), max_length=120,
                        select_on_focus=False)  # a key must not wipe the line
        yield ErrorLine()

    @property
    def field(self) -> Input:
        return self.query_one(f"#p{self.index}-party", Input)

    def values(self) -> dict[str, str]:
        role = self.query_one(Choice).value
        return {"role": role if isinstance(role, str) else "applicant",
                **split_party(self.field.value)}

    def load(self, data: dict[str, Any]) -> None:
        role = data.get("role")
        if role in PARTY_ROLES:
            self.query_one(Choice).value = role
        self.field.value = join_party(data)

    def next_role(self) -> None:
        self.query_one(Choice).action_move(1)

    def is_blank(self) -> bool:
        return not self.field.value.strip()

    def set_error(self, text: str | None) -> None:
        self.query_one(ErrorLine).set_error(text)

    def retranslate(self) -> None:
        self.query_one(Choice).set_options(role_options())
        self.field.placeholder = t("party.ph")
