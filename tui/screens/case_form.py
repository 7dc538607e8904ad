"""Register a dispute as fast as it is told on the phone: the category, the parties,
one sentence; the rest can wait.

The cursor starts on the category (all ten on screen; the digit picks one, 1 邻里纠纷 ...
0 其他, full-width digits too). Each party is one line: the role (第1位 申请人, 第2位
被申请人; a new one 第三人; Ctrl+R or a click turns it, Tab passes it by) and one field
for name, phone and ID number (``张三 13912345678``; the numbers are optional and told
apart by their length, see ``widgets.fields.split_party``). Then 案情简述. Below come the
fields that can wait: the title (suggested from the parties and the category as they are
typed, 张三与李四邻里纠纷, until the director writes one), group dispute, mediator.
Ctrl+P adds a party, Ctrl+S saves from anywhere; a blank party line is ignored. Phone and
ID numbers are checked when the director leaves the field, with the store's rules.

Personal data: the suggested title holds the parties' names like a typed one does; it is
stored sealed with the case, and the index the lists come from has them masked (张某与李某
邻里纠纷, store/projection.py).

``EditCaseScreen`` is the same form opened on a saved case (E on the case screen) to
correct its registration; it saves only the fields the director changed (see there)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalGroup
from textual.widgets import Button, Checkbox, Input, TextArea

from store import StoreError, ValidationError, casedoc
from store.casedoc import Case
from store.records import CATEGORIES, Party, check_category, normalize_id_number, normalize_phone

from ..i18n import category_label, error_text, language, short_label, t
from ..widgets.choice import Choice, Option
from ..widgets.fields import ErrorLine, FormRow, PartyRow, Tick, TLabel
from .form import Errors, FormScreen

# The digit typed to pick each category in the list (0 for "other", last).
CATEGORY_KEYS = {code: str((i + 1) % 10) for i, code in enumerate(CATEGORIES)}
DEFAULT_ROLES = ("applicant", "respondent")
MAX_PARTIES = 20


def category_options() -> list[Option]:
    return [(CATEGORY_KEYS[c], short_label(c), c) for c in CATEGORIES]


def is_filled(p: dict[str, Any]) -> bool:
    """A party row with anything typed in it (a blank row is ignored)."""
    return any(str(p.get(k, "")).strip() for k in ("name", "phone", "id_number"))


def filled_parties(values: dict[str, Any]) -> list[Party]:
    return [Party(role=p["role"], name=p["name"], phone=p["phone"], id_number=p["id_number"])
            for p in values["parties"] if is_filled(p)]


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


MAX_TITLE = 200
_NAMES_IN_TITLE = 2  # 张三、李四等与王五...


def suggest_title(category: str, parties: list[dict[str, Any]]) -> str:
    """A title from the parties and the category: 张三与李四邻里纠纷, 张三、李四、王五等
    与赵六土地承包纠纷, 张三的婚姻家庭纠纷 (one side only), 张三与李四的纠纷 (no category,
    or "other"); in English "Zhang San v. Li Si (Neighbour)". '' while no party has a
    name."""
    zh = language() == "zh"

    def side(role: str) -> str:
        names = [p["name"].strip() for p in parties
                 if p.get("role") == role and str(p.get("name", "")).strip()]
        text = ("、" if zh else ", ").join(names[:_NAMES_IN_TITLE])
        if len(names) > _NAMES_IN_TITLE:
            text += "等" if zh else " et al."
        return text

    applicants, respondents = side("applicant"), side("respondent")
    both = bool(applicants and respondents)
    who = (applicants + ("与" if zh else " v. ") + respondents if both
           else applicants or respondents or side("third"))
    if not who:
        return ""
    if zh:
        label = category_label(category) if category in CATEGORIES and category != "other" \
            else "纠纷"
        if not label.endswith(("纠纷", "争议")):
            label += "纠纷"
        title = who + ("" if both and label != "纠纷" else "的") + label
    else:
        title = who + (f" ({short_label(category)})" if category in CATEGORIES else "")
    return title[:MAX_TITLE]


class RegisterCaseScreen(FormScreen):
    draft_key = "register"
    BINDINGS = [
        # Priority: the new line gets the cursor the moment Ctrl+P arrives, so the name
        # typed right after it goes there, not into the line before.
        Binding("ctrl+p", "add_party", "key.add_party", key_display="Ctrl+P", priority=True),
        Binding("ctrl+r", "next_role", "key.next_role", key_display="Ctrl+R", priority=True),
    ]
    suggest_titles = True  # a new case: the title follows parties and category

    def __init__(self) -> None:
        super().__init__()
        self._party_count = len(DEFAULT_ROLES)
        self._max_parties = MAX_PARTIES
        self._suggested = ""  # the title last suggested (still the director's choice)

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "reg.heading", {}

    async def reset(self) -> None:
        self._suggested = ""
        await super().reset()

    def compose_fields(self) -> ComposeResult:
        yield FormRow("reg.category", Choice(category_options(), blank="", columns=5,
                                             id="category"), name="category")
        with Horizontal(id="party-head"):
            yield TLabel("reg.parties", classes="party-n")
            yield TLabel("reg.parties_hint", classes="hint")
        for i, role in enumerate(DEFAULT_ROLES):
            yield PartyRow(i, role)
        add = Button(t("reg.add_party"), id="add-party", compact=True)
        add.can_focus = False  # Ctrl+P; Tab goes from the last party to 案情简述
        yield add
        yield FormRow("reg.description", TextArea(id="description", compact=True,
                                                  show_line_numbers=False),
                      name="description")
        yield TLabel("reg.later", id="reg-later")
        yield FormRow("reg.title", Input(id="title", placeholder=t("reg.title_ph"),
                                         max_length=MAX_TITLE, compact=True), name="title")
        with VerticalGroup(id="row-headcount"):  # the headcount's error goes under it
            with Horizontal(id="group-row"):
                yield Tick(t("reg.group"), id="group", compact=True)
                yield TLabel("reg.headcount", classes="inline-label")
                yield Input(id="headcount", compact=True, max_length=6, type="integer",
                            disabled=True)
            yield ErrorLine()
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
        if self._party_count >= self._max_parties:
            return None
        row = PartyRow(self._party_count, role)
        self._party_count += 1
        rows = self.parties()
        await self.query_one("#form-body").mount(row, after=rows[-1])
        return row

    async def action_add_party(self) -> None:
        row = await self.add_party()
        if row is not None:
            # At once (Widget.focus waits its turn): the keys typed after Ctrl+P go here.
            self.set_focus(row.field)
            self._changed()

    def action_next_role(self) -> None:
        """Ctrl+R: the next role for the party whose line has the cursor."""
        focused = self.focused
        row = next((a for a in focused.ancestors_with_self if isinstance(a, PartyRow)),
                   None) if focused is not None else None
        if row is not None:
            row.next_role()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_role":  # offered on a party's line only
            focused = self.focused
            return focused is not None and any(isinstance(a, PartyRow)
                                               for a in focused.ancestors_with_self)
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # Ctrl+R shows in the key line on a party's line only

    # --- the suggested title -------------------------------------------------------------
    def title_value(self, values: dict[str, Any]) -> str:
        """The title saved: the one written, or else the suggestion."""
        return values["title"].strip() or (
            suggest_title(values["category"], values["parties"]) if self.suggest_titles
            else "")

    def on_values_changed(self, values: dict[str, Any]) -> None:
        super().on_values_changed(values)
        self._suggest(values)

    def _suggest(self, values: dict[str, Any]) -> None:
        """Keep the title field on the suggestion until the director writes another."""
        if not self.suggest_titles:
            return
        field = self.query_one("#title", Input)
        if field.value.strip() not in ("", self._suggested):
            return  # the director's own title
        self._suggested = suggest_title(values["category"], values["parties"])
        if field.value != self._suggested:
            field.value = self._suggested

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
        title = str(data.get("title", ""))
        self.query_one("#title", Input).value = title
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
            if await self.add_party() is None:
                break
        for i, row in enumerate(self.parties()):
            default = {"role": DEFAULT_ROLES[i] if i < len(DEFAULT_ROLES) else "third"}
            row.load(parties[i] if i < len(parties) else default)
        description = self.query_one("#description", TextArea)
        if description.text != str(data.get("description", "")):  # (a reload of its text
            description.text = str(data.get("description", ""))  # redraws it whole)
        self.query_one("#group", Checkbox).value = bool(data.get("group", False))
        self.query_one("#headcount", Input).disabled = not data.get("group", False)
        self.query_one("#headcount", Input).value = str(data.get("headcount", ""))
        self.query_one("#mediator", Input).value = str(data.get("mediator", ""))
        if self.suggest_titles:  # a restored draft: its title was suggested, or written
            self._suggested = suggest_title(
                data.get("category") if isinstance(data.get("category"), str) else "",
                [row.values() for row in self.parties()])
            if not title.strip() or title == self._suggested:
                self.query_one("#title", Input).value = self._suggested

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        title = self.title_value(values)
        if len(title) > MAX_TITLE or not title and not (
                self.suggest_titles and not any(map(is_filled, values["parties"]))):
            # (no party yet: the suggestion comes with the first name; say only that)
            errors["title"] = error_text("bad_title")
        try:
            check_category(values["category"])
        except ValidationError as exc:
            errors["category"] = error_text(exc)
        filled = 0
        for i, p in enumerate(values["parties"]):
            if not is_filled(p):
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
        if name == "headcount":  # the headcount sits beside the checkbox, not in a FormRow
            self.query_one("#row-headcount").query_one(ErrorLine).set_error(text)
            return
        super().set_error(name, text)

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_title": "title", "bad_category": "category",
                "no_parties": "party-0", "too_long": "description"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Case:
        group = bool(values["group"])
        return await self.vc.node.cases.register(
            category=values["category"], title=self.title_value(values),
            parties=filled_parties(values),
            description=values["description"], group=group,
            headcount=int(values["headcount"] or 0) if group else 0,
            mediator=values["mediator"])

    def done_message(self, result: Any) -> str:
        return t("reg.done", number=result.number)

    def done(self, result: Any) -> None:
        """The new case's page takes the form's place at once: the page below (the
        list, or another case) is not drawn again in between, and reloads only when it
        shows again."""
        if isinstance(result, Case) and self.app.screen is self:
            self.vc.show_new_case(result)
        else:
            super().done(result)

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#category", Choice).set_options(category_options())
        self.query_one("#title", Input).placeholder = t("reg.title_ph")
        self.query_one("#add-party", Button).label = t("reg.add_party")
        values = self.values()  # a suggested title follows the language
        if self.suggest_titles and values["title"].strip() == self._suggested:
            self._suggested = ""
            self._suggest(values)
        self.query_one("#group", Checkbox).label = t("reg.group")


# --- correcting a registration -------------------------------------------------------------
def case_values(case: Case) -> dict[str, Any]:
    """A saved case's registration in the shape of the form's ``values()``."""
    return {
        "title": case.title,
        "category": case.category,
        "parties": [{"role": p.role, "name": p.name, "phone": p.phone,
                     "id_number": p.id_number} for p in case.parties],
        "description": case.description,
        "group": case.group,
        "headcount": str(case.headcount) if case.group or case.headcount else "",
        "mediator": case.mediator,
    }


class EditCaseScreen(RegisterCaseScreen):
    """The registration form on a saved case, filled with its registration.

    Saving writes **only the fields the director changed** (``changes()``): two computers
    of a village may correct the same case while apart, and Automerge keeps edits of
    different fields; writing a field unchanged would make this computer's value win
    over the other's correction for nothing. A field counts as changed when the
    director touched it *and* its clean value (title stripped, phone normalised...)
    differs from the stored one. Parties are replaced whole when they changed (the
    contract of ``casedoc.edit_case``). Nothing changed: the form closes saying so and
    nothing is written.

    The draft is the case's own (``edit-<doc id>``), never the new-case draft, and keeps
    the values the form opened with (``base``) beside the typed ones: when it is
    restored, only the fields the director had changed are put back, over the case as it
    is now, so a correction that arrived by sync meanwhile is not undone. Ctrl+L goes
    back to the saved values.

    A closed case can be corrected too (the follow-up visits need the right phone); the
    store allows it. Should the node refuse an edit, its reason shows on the form."""

    BINDINGS = [Binding("ctrl+l", "clear", "key.revert", key_display="Ctrl+L")]
    suggest_titles = False  # the saved title stays as it is unless the director edits it

    def __init__(self, case: Case) -> None:
        super().__init__()
        self.case = case
        self.draft_key = f"edit-{case.doc_id}"
        self._max_parties = max(MAX_PARTIES, len(case.parties))
        self._base: dict[str, Any] | None = None  # values() as the form opened

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "edit.heading", {"number": self.case.number}

    def focus_first(self) -> None:
        # The cursor lands in the saved title: a key pressed there by mistake must not
        # replace the whole title (as a selected text would be).
        self.query_one("#title", Input).select_on_focus = False
        super().focus_first()

    # --- draft and prefill -------------------------------------------------------------
    async def prepare(self) -> None:
        await self.load(case_values(self.case))
        self._base = self.values()

    async def restore(self) -> None:
        await self.prepare()
        draft = self.vc.drafts.load(self.draft_key)
        typed = self.rebase(draft) if draft else None
        if typed is not None:
            await self.load(typed)
            restored = self.query_one("#form-restored", TLabel)
            restored.set_key("edit.draft_restored")
            restored.display = True
        elif draft is not None:
            self.vc.drafts.delete(self.draft_key)
        self._last_saved = self.values()
        self.focus_first()

    def rebase(self, draft: dict[str, Any]) -> dict[str, Any] | None:
        """The fields the director had changed in ``draft``, over the case as it is now;
        None when nothing is left to restore."""
        base, typed = draft.get("base"), draft.get("values")
        if self._base is None or not isinstance(base, dict) or not isinstance(typed, dict):
            return None
        merged = dict(self._base)
        for key in merged:
            if key in typed and typed[key] != base.get(key):
                merged[key] = typed[key]
        return merged if merged != self._base else None

    def _changed(self) -> None:
        """As the base form, with the values the form opened with kept in the draft."""
        if self._last_saved is None or self._base is None:  # still loading
            return
        values = self.values()
        if values == self._last_saved:
            return
        self._last_saved = values
        if values == self._base:
            self.vc.drafts.delete(self.draft_key)
        else:
            self.vc.drafts.save(self.draft_key, {"base": self._base, "values": values})
        self.on_values_changed(values)

    async def action_clear(self) -> None:
        """Ctrl+L: back to the saved values (not an empty form)."""
        self.vc.drafts.delete(self.draft_key)
        self._last_saved = None
        await self.load(case_values(self.case))
        self._last_saved = self.values()
        self.clear_errors()
        self.query_one("#form-restored").display = False
        self.focus_first()

    # --- saving ------------------------------------------------------------------------
    def changes(self, values: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of ``node.cases.edit``: the changed fields only."""
        base = self._base if self._base is not None else case_values(self.case)
        case = self.case
        group = bool(values["group"])
        new: dict[str, Any] = {
            "title": values["title"].strip(),
            "category": values["category"],
            "description": values["description"],
            "mediator": values["mediator"].strip(),
            "group": group,
            "headcount": int(values["headcount"] or 0) if group else 0,
            "parties": [p.validated() for p in filled_parties(values)],
        }
        stored: dict[str, Any] = {
            "title": case.title, "category": case.category,
            "description": case.description, "mediator": case.mediator,
            "group": case.group, "headcount": case.headcount, "parties": list(case.parties),
        }
        touched = {key for key in new if values.get(key) != base.get(key)}
        if "group" in touched:  # no group: no headcount (as when registering)
            touched.add("headcount")
        return {key: new[key] for key in casedoc.EDITABLE
                if key in touched and new[key] != stored[key]}

    async def submit(self, values: dict[str, Any]) -> Case | None:
        changes = self.changes(values)
        if not changes:
            return None
        return await self.vc.node.cases.edit(self.case.doc_id, **changes)

    def done_message(self, result: Any) -> str:
        return t("edit.done" if result is not None else "edit.unchanged")
