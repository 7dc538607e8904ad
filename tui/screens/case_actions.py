"""The forms that move a case along: log a session, change status (only the moves the
life cycle allows), close (with the agreement when mediation succeeded), record a
follow-up visit, ask the linked judge.

Each takes the ``Case`` it works on (already loaded by the detail screen) and returns
the node's result to the caller on success."""

from __future__ import annotations

import datetime as dt
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Static, TextArea

from node.dates import check_day as node_check_day
from store import StoreError, ValidationError
from store.casedoc import MAX_TEXT, Case
from store.kinds import Consultation
from store.records import AGREED, CLOSED, MEDIATING, TRANSITIONS, check_satisfaction

from ..i18n import error_text, list_sep, status_label, t
from ..widgets.choice import Choice, Option
from ..widgets.fields import FormRow, TLabel
from .form import Errors, FormScreen


def _text(values: dict[str, Any], key: str) -> str:
    return str(values.get(key, "") or "")


class _CaseForm(FormScreen):
    prefix = "case"

    def __init__(self, case: Case) -> None:
        self.case = case
        super().__init__()
        self.draft_key = f"{self.prefix}-{case.doc_id}"

    def today(self) -> dt.date:
        return self.vc.today()

    def not_before(self) -> dt.date | None:
        """The first day a date of this form can be: the day the case was registered."""
        return _day_of(self.case.created_at)

    def day(self, values: dict[str, Any]) -> str:
        """The date as written (2026/11/5, 11月5日, 昨天...) as the ISO day to store;
        ValidationError when it cannot be true (see node/dates.py)."""
        today, first = self.today(), self.not_before()
        if first is not None and first > today:  # another machine's clock ran ahead
            first = None
        return node_check_day(str(values["date"]), today=today, not_before=first)

    def check_date(self, values: dict[str, Any], errors: Errors) -> None:
        try:
            self.day(values)
        except ValidationError as exc:
            errors["date"] = error_text(exc)


def _day_of(iso: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((iso or "")[:10])
    except ValueError:
        return None


# --- session ---------------------------------------------------------------------------
class SessionScreen(_CaseForm):
    prefix = "session"

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "session.heading", {"number": self.case.number}

    def compose_fields(self) -> ComposeResult:
        yield FormRow("session.date", Input(self.today().isoformat(), id="date",
                                            compact=True, max_length=16), name="date",
                      hint_key="form.date_hint")
        names = list_sep().join(p.name for p in self.case.parties)
        yield FormRow("session.participants", Input(names, id="participants", compact=True),
                      name="participants")
        yield FormRow("session.summary", TextArea(id="summary", compact=True), name="summary")
        yield Checkbox(t("session.judge"), id="judge", compact=True)

    def values(self) -> dict[str, Any]:
        return {"date": self.query_one("#date", Input).value,
                "participants": self.query_one("#participants", Input).value,
                "summary": self.query_one("#summary", TextArea).text,
                "judge": self.query_one("#judge", Checkbox).value}

    async def load(self, data: dict[str, Any]) -> None:
        self.query_one("#date", Input).value = _text(data, "date") or self.today().isoformat()
        self.query_one("#participants", Input).value = _text(data, "participants")
        self.query_one("#summary", TextArea).text = _text(data, "summary")
        self.query_one("#judge", Checkbox).value = bool(data.get("judge"))

    def focus_first(self) -> None:
        self.query_one("#summary").focus()

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        self.check_date(values, errors)
        summary = values["summary"].strip()
        if not summary:
            errors["summary"] = error_text("bad_summary")
        elif len(summary) > MAX_TEXT:
            errors["summary"] = error_text("too_long")
        return errors

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_date": "date", "bad_summary": "summary"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Case:
        return await self.vc.node.cases.log_session(
            self.case.doc_id, date=self.day(values), participants=values["participants"],
            summary=values["summary"], judge_consulted=bool(values["judge"]))

    def done_message(self, result: Any) -> str:
        return t("session.done", number=self.case.number)

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#judge", Checkbox).label = t("session.judge")


# --- status ------------------------------------------------------------------------------
def allowed_moves(status: str) -> list[str]:
    """The statuses a case may move to, in life-cycle order."""
    order = list(TRANSITIONS)
    return sorted(TRANSITIONS.get(status, frozenset()), key=order.index)


class StatusScreen(_CaseForm):
    prefix = "status"

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "status.heading", {"number": self.case.number}

    def compose_fields(self) -> ComposeResult:
        yield TLabel("status.now", status=status_label(self.case.status), id="status-now")
        if not allowed_moves(self.case.status):
            yield TLabel("status.final", classes="hint")
        yield FormRow("status.to", Choice(self.move_options(), blank="", columns=3, id="to"),
                      name="to")
        yield FormRow("status.note", Input(id="note", compact=True), name="note")

    def move_options(self) -> list[Option]:
        return [(str(i), status_label(code), code)
                for i, code in enumerate(allowed_moves(self.case.status), 1)]

    def values(self) -> dict[str, Any]:
        return {"to": self.query_one("#to", Choice).value or "",
                "note": self.query_one("#note", Input).value}

    async def load(self, data: dict[str, Any]) -> None:
        choice = self.query_one("#to", Choice)
        if data.get("to") in choice.values():
            choice.value = data["to"]
        else:
            choice.clear()
        self.query_one("#note", Input).value = _text(data, "note")

    def focus_first(self) -> None:
        self.query_one("#to").focus()

    def check(self, values: dict[str, Any]) -> Errors:
        if not values["to"]:
            if not allowed_moves(self.case.status):
                return {"form": t("status.final")}
            return {"to": error_text("no_status")}
        return {}

    async def submit(self, values: dict[str, Any]) -> Case:
        if values["to"] == CLOSED:
            return await self.vc.node.cases.close(self.case.doc_id, note=values["note"],
                                                  on=self.today())
        return await self.vc.node.cases.change_status(self.case.doc_id, values["to"],
                                                      note=values["note"])

    def done_message(self, result: Any) -> str:
        return t("status.done", number=self.case.number, status=status_label(result.status))

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#status-now", TLabel).set_key("status.now",
                                                      status=status_label(self.case.status))
        self.query_one("#to", Choice).set_options(self.move_options())


# --- close -------------------------------------------------------------------------------
class CloseScreen(_CaseForm):
    """Close the case. From mediating or agreed the agreement text is asked for (and is
    required); a failed or escalated case closes without one."""

    prefix = "close"

    @property
    def with_agreement(self) -> bool:
        return self.case.status in (MEDIATING, AGREED)

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "close.heading", {"number": self.case.number}

    def compose_fields(self) -> ComposeResult:
        if self.with_agreement:
            yield FormRow("close.agreement", TextArea(id="agreement", compact=True),
                          name="agreement", hint_key="close.agreement_hint")
        yield FormRow("close.date", Input(self.today().isoformat(), id="date", compact=True,
                                          max_length=16), name="date",
                      hint_key="form.date_hint")
        yield FormRow("close.note", Input(id="note", compact=True), name="note")

    def values(self) -> dict[str, Any]:
        agreement = (self.query_one("#agreement", TextArea).text if self.with_agreement
                     else "")
        return {"agreement": agreement, "date": self.query_one("#date", Input).value,
                "note": self.query_one("#note", Input).value}

    async def load(self, data: dict[str, Any]) -> None:
        if self.with_agreement:
            self.query_one("#agreement", TextArea).text = _text(data, "agreement")
        self.query_one("#date", Input).value = _text(data, "date") or self.today().isoformat()
        self.query_one("#note", Input).value = _text(data, "note")

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        if self.with_agreement and not values["agreement"].strip():
            errors["agreement"] = error_text("bad_agreement")
        self.check_date(values, errors)
        return errors

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_agreement": "agreement", "bad_date": "date"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Case:
        on = dt.date.fromisoformat(self.day(values))
        agreement = values["agreement"].strip() if self.with_agreement else None
        return await self.vc.node.cases.close(self.case.doc_id, agreement=agreement,
                                              note=values["note"], on=on)

    def done_message(self, result: Any) -> str:
        dates = list_sep().join(f.due for f in result.followups)
        return t("close.done", number=self.case.number, dates=dates)


# --- follow-up ---------------------------------------------------------------------------
NOT_ASKED = 0  # the satisfaction option "not asked" (the node stores None)


def satisfaction_options() -> list[Option]:
    # "5 非常满意" ... "1 很不满意", "0 没问": the digit picks it.
    return [*((str(n), t(f"sat.{n}"), n) for n in (5, 4, 3, 2, 1)),
            ("0", t("fu.sat_none"), NOT_ASKED)]


class FollowupScreen(_CaseForm):
    prefix = "followup"

    def __init__(self, case: Case, month: int | None = None) -> None:
        super().__init__(case)
        self.month = month

    def pending(self) -> list[tuple[int, str]]:
        return [(f.month, f.due) for f in self.case.followups if not f.done]

    def month_options(self) -> list[Option]:
        return [("", t("fu.month_opt", m=m, due=due), m) for m, due in self.pending()]

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "fu.heading", {"number": self.case.number}

    def not_before(self) -> dt.date | None:
        return _day_of(self.case.closed_at) or super().not_before()

    def compose_fields(self) -> ComposeResult:
        pending = self.pending()
        month = self.month if self.month in [m for m, _ in pending] else (
            pending[0][0] if pending else None)
        if pending:
            yield FormRow("fu.month", Choice(self.month_options(), value=month, compact=True,
                                             id="month"), name="month")
        else:
            yield TLabel("fu.none", classes="hint")
        yield FormRow("fu.date", Input(self.today().isoformat(), id="date", compact=True,
                                       max_length=16), name="date", hint_key="form.date_hint")
        yield FormRow("fu.outcome", Input(id="outcome", placeholder=t("fu.outcome_ph"),
                                          compact=True), name="outcome")
        yield FormRow("fu.satisfaction", Choice(satisfaction_options(), columns=3, blank="",
                                                id="satisfaction"), name="satisfaction")

    def values(self) -> dict[str, Any]:
        month = self.query("#month")
        m = month.first(Choice).value if month else None
        sat = self.query_one("#satisfaction", Choice).value
        return {"month": m if isinstance(m, int) else None,
                "date": self.query_one("#date", Input).value,
                "outcome": self.query_one("#outcome", Input).value,
                "satisfaction": sat or None}

    async def load(self, data: dict[str, Any]) -> None:
        month = self.query("#month")
        if month and data.get("month") in [m for m, _ in self.pending()]:
            month.first(Choice).value = data["month"]
        self.query_one("#date", Input).value = _text(data, "date") or self.today().isoformat()
        self.query_one("#outcome", Input).value = _text(data, "outcome")
        sat = self.query_one("#satisfaction", Choice)
        if data.get("satisfaction") in (1, 2, 3, 4, 5):
            sat.value = data["satisfaction"]
        else:
            sat.clear()

    def focus_first(self) -> None:
        self.query_one("#outcome").focus()

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        if values["month"] is None:
            errors["form"] = error_text("no_followup")
        self.check_date(values, errors)
        try:
            check_satisfaction(values["satisfaction"])
        except ValidationError as exc:
            errors["satisfaction"] = error_text(exc)
        return errors

    def error_field(self, exc: StoreError) -> str | None:
        return {"bad_date": "date", "bad_satisfaction": "satisfaction"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Case:
        return await self.vc.node.cases.record_followup(
            self.case.doc_id, values["month"], done=self.day(values),
            outcome=values["outcome"], satisfaction=values["satisfaction"])

    def done_message(self, result: Any) -> str:
        return t("fu.done", number=self.case.number, m=self._saved_month)

    _saved_month = 0

    def action_save(self) -> None:
        self._saved_month = self.values()["month"] or 0
        super().action_save()

    def retranslate(self) -> None:
        super().retranslate()
        month = self.query("#month")
        if month:
            month.first(Choice).set_options(self.month_options())
        self.query_one("#satisfaction", Choice).set_options(satisfaction_options())
        self.query_one("#outcome", Input).placeholder = t("fu.outcome_ph")


# --- ask the judge -------------------------------------------------------------------------
class AskJudgeScreen(FormScreen):
    """A question to the linked judge, on a case given or typed by its number."""

    def __init__(self, case: Case | None = None) -> None:
        self.case = case
        super().__init__()
        self.draft_key = f"ask-{case.doc_id}" if case else "ask"

    def heading(self) -> tuple[str, dict[str, Any]]:
        return "ask.heading", {}

    def compose_fields(self) -> ComposeResult:
        number = self.case.number if self.case else ""
        yield FormRow("ask.case", Input(number, id="case", placeholder=t("ask.case_ph"),
                                        compact=True, disabled=self.case is not None),
                      name="case")
        if self.case is not None:
            yield Static(self.case.title, classes="hint", markup=False)
        yield FormRow("ask.question", TextArea(id="question", compact=True), name="question")

    def values(self) -> dict[str, Any]:
        return {"case": self.query_one("#case", Input).value,
                "question": self.query_one("#question", TextArea).text}

    async def load(self, data: dict[str, Any]) -> None:
        if self.case is None:
            self.query_one("#case", Input).value = _text(data, "case")
        self.query_one("#question", TextArea).text = _text(data, "question")

    def focus_first(self) -> None:
        if self.case is None:
            self.query_one("#case").focus()
        else:
            self.query_one("#question").focus()

    def check(self, values: dict[str, Any]) -> Errors:
        errors: Errors = {}
        if not values["case"].strip():
            errors["case"] = error_text("doc_not_found")
        if not values["question"].strip():
            errors["question"] = error_text("missing_question")
        return errors

    def error_field(self, exc: StoreError) -> str | None:
        return {"doc_not_found": "case", "ambiguous_case": "case",
                "missing_question": "question",
                "too_long": "question"}.get(exc.code)

    async def submit(self, values: dict[str, Any]) -> Consultation:
        ref = self.case.doc_id if self.case else values["case"].strip()
        return await self.vc.node.consultations.ask(ref, values["question"])

    def done_message(self, result: Any) -> str:
        return t("ask.done")

    def retranslate(self) -> None:
        super().retranslate()
        self.query_one("#case", Input).placeholder = t("ask.case_ph")
