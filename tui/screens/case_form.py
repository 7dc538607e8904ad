"""Register a dispute: title, category, parties (role, name, phone, ID number), what
happened, group dispute, mediator.

Built to be done in under a minute by someone who has never seen it: the cursor starts
in the title; all ten categories are on screen and the digit picks one (1 邻里纠纷 ...
0 其他); two party rows (applicant, respondent) are already there; a blank row is
ignored; Ctrl+S saves from anywhere. Phone and ID numbers are checked when the director leaves the
field, with the same rules the store applies."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, TextArea

from store import StoreError, ValidationError, casedoc
from store.casedoc import Case
from store.records import CATEGORIES, Party, check_category, normalize_id_number, normalize_phone

from ..i18n import error_text, short_label, t
from ..widgets.choice import Choice, Option
from ..widgets.fields import FormRow, PartyRow, TLabel
from .form import Errors, FormScreen

# The digit typed to pick each category in the list (0 for "other", last).
CATEGORY_KEYS = {code: str((i + 1) % 10) for i, code in enumerate(CATEGORIES)}
DEFAULT_ROLES = ("applicant", "respondent")
MAX_PARTIES = 20


def category_options() -> list[Option]:
    return [(CATEGORY_KEYS[c], short_label(c), c) for c in CATEGORIES]


def party_errors(p: dict[str, str]) -> str | None:
    """All problems of one party row, in one line (None if it is fine)."""
    problems: list[str] = []
    if not p.get("name", "").strip():
        problems.append(error_text("bad_party"))
    for check, key in ((normalize_phone, "phone"), (normalize_id_number, "id_number")):
        try:
            check(p.get(key, ""))
        except ValidationError as exc:
            problems.append(error_text(exc))
    return " ".join(problems) or None


class RegisterCaseScreen(FormScreen):
    draft_key = "register"
    BINDINGS = [Binding("ctrl+p", "add_party", "key.add_party", key_display="Ctrl+P")]

    def __init__(self) -> None:
        super().__init__()
        self._party_count = len(DEFAULT_ROLES)

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "reg.heading", {}

    def compose_fields(self) -> ComposeResult:
        yield FormRow("reg.title", Input(id="title", placeholder=t("reg.title_ph"),
                                         max_length=200, compact=True), name="title")
        yield FormRow("reg.category", Choice(category_options(), blank="", columns=5,
                                             id="category"), name="category")
        with Horizontal(id="party-head"):
            yield TLabel("reg.parties", classes="party-n")
            yield TLabel("party.role", classes="h-role")
            yield TLabel("party.name", classes="h-name")
            yield TLabel("party.phone", classes="h-phone")
            yield TLabel("party.id", classes="h-id")
        for i, role in enumerate(DEFAULT_ROLES):
            yield PartyRow(i, role)
        yield Button(t("reg.add_party"), id="add-party", compact=True)
        yield FormRow("reg.description", TextArea(id="description", compact=True,
                                                  show_line_numbers=False),
                      name="description")
        with Horizontal(id="group-row"):
            yield Checkbox(t("reg.group"), id="group", compact=True)
            yield TLabel("reg.headcount", classes="inline-label")
            yield Input(id="headcount", compact=True, max_length=6, type="integer",
                        disabled=True)
        yield FormRow("reg.mediator", Input(id="mediator", compact=True, max_length=64),
                      name="mediator")

    @on(Checkbox.Changed, "#group")
    def _group(self, event: Checkbox.Changed) -> None:
        """The headcount is asked only for a group dispute (one Tab less otherwise)."""
        self.query_one("#headcount", Input).disabled = not event.value

    # --- parties -----------------------------------------------------------------------
    def parties(self) -> list[PartyRow]:
        return list(self.query(PartyRow))

    async def add_party(self, role: str = "third") -> PartyRow | None:
        if self._party_count >= MAX_PARTIES:
            return None
        row = PartyRow(self._party_count, role)
        self._party_count += 1
        rows = self.parties()
        await self.query_one("#form-body").mount(row, after=rows[-1])
        return row

    async def action_add_party(self) -> None:
        row = await self.add_party()
        if row is not None:
            row.query_one(Input).focus()
            self._changed()

    @on(Button.Pressed, "#add-party")
    async def _add_pressed(self) -> None:
        await self.action_add_party()

    # --- values ------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        category = self.query_one("#category", Choice).value
        return {
            "title": self.query_one("#title", Input).value,
            "category": category if isinstance(category, str) else "",
            "parties": [row.values() for row in self.parties()],
            "description": self.query_one("#description", TextArea).text,
            "group": self.query_one("#group", Checkbox).value,
            "headcount": self.query_one("#headcount", Input).value,
            "mediator": self.query_one("#mediator", Input).value,
        }

    async def load(self, data: dict[str, Any]) -> None:
        self.query_one("#title", Input).value = str(data.get("title", ""))
        choice = self.query_one("#category", Choice)
        category = data.get("category")
        if category in CATEGORIES:
            choice.value = category
        else:
            choice.clear()
        parties = [p for p in data.get("parties") or [] if isinstance(p, dict)]
        for row in self.parties()[len(DEFAULT_ROLES):]:  # back to the two default rows
            await row.remove()
        self._party_count = len(DEFAULT_ROLES)
        while len(self.parties()) < len(parties):
            await self.add_party()
        for i, row in enumerate(self.parties()):
            default = {"role": DEFAULT_ROLES[i] if i < len(DEFAULT_ROLES) else "third"}
            row.load(parties[i] if i < len(parties) else default)
        self.query_one("#description", TextArea).text = str(data.get("description", ""))
        self.query_one("#group", Checkbox).value = bool(data.get("group", False))
        self.query_one("#headcount", Input).disabled = not data.get("group", False)
        self.query_one("#headcount", Input).value = str(data.get("headcount", ""))
        self.query_one("#mediator", Input).value = str(data.get("mediator", ""))

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        title = values["title"].strip()
        if not title or len(title) > 200:
            errors["title"] = error_text("bad_title")
        try:
            check_category(values["category"])
        except ValidationError as exc:
            errors["category"] = error_text(exc)
        filled = 0
        for i, p in enumerate(values["parties"]):
            if not any(str(p.get(k, "")).strip() for k in ("name", "phone", "id_number")):
                continue
            filled += 1
            problem = party_errors(p)
            if problem:
                errors[f"party-{i}"] = problem
        if not filled:
            errors["party-0"] = error_text("no_parties")
        if values["group"] or values["headcount"].strip():
            try:
                n = int(values["headcount"] or 0)
            except ValueError:
                errors["headcount"] = error_text("bad_number")
            else:
                if not 0 <= n <= casedoc.MAX_HEADCOUNT:
                    errors["headcount"] = error_text("bad_headcount")
        if len(values["description"]) > casedoc.MAX_TEXT:
            errors["description"] = error_text("too_long")
        return errors

    def set_error(self, name: str, text: str | None) -> None:
        if name == "headcount":  # the headcount sits beside the checkbox, not in a row
            name = "form"
        super().set_error(name, text)

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_title": "title", "bad_category": "category",
                "no_parties": "party-0", "too_long": "description"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Case:
        parties = [Party(role=p["role"], name=p["name"], phone=p["phone"],
                         id_number=p["id_number"])
                   for p in values["parties"]
                   if any(str(p.get(k, "")).strip() for k in ("name", "phone", "id_number"))]
        group = bool(values["group"])
        return await self.vc.node.cases.register(
            category=values["category"], title=values["title"], parties=parties,
            description=values["description"], group=group,
            headcount=int(values["headcount"] or 0) if group else 0,
            mediator=values["mediator"])

    def done_message(self, result: Any) -> str:
        return t("reg.done", number=result.number)

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#category", Choice).set_options(category_options())
        self.query_one("#title", Input).placeholder = t("reg.title_ph")
        self.query_one("#add-party", Button).label = t("reg.add_party")
        self.query_one("#group", Checkbox).label = t("reg.group")
