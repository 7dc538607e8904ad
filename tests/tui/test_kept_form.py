"""The registration form is built once and shown again on each Ctrl+N (its ~40 widgets
took 300 ms to compose each time): a form shown again must look exactly like a new one —
nothing of a previous opening (values, extra party lines, errors, the "restored"
notice) unless it is the draft, and in the language of the moment."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, TextArea

from node import Node
from tui.app import VillageCourtApp, make_app
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import RegisterCaseScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, type_text, wait_for, wait_text


async def open_form(app: VillageCourtApp, pilot: Any) -> RegisterCaseScreen:
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen)
                   and app.screen.ready, what="the form ready")
    return app.screen  # type: ignore[return-value]


async def back_home(app: VillageCourtApp, pilot: Any) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the home page")


def assert_empty(form: RegisterCaseScreen) -> None:
    values = form.values()
    assert values["title"] == "" and values["category"] == ""
    assert values["description"] == "" and values["mediator"] == ""
    assert values["headcount"] == "" and values["group"] is False
    assert [(p["role"], p["name"], p["phone"]) for p in values["parties"]] == [
        ("applicant", "", ""), ("respondent", "", "")]
    assert form.query_one("#headcount", Input).disabled
    assert not form.query_one("#form-restored").display
    assert not form._shown_errors()
    assert app_focus_is_first(form)


def app_focus_is_first(form: RegisterCaseScreen) -> bool:
    return form.focused is form.query_one("#category")


async def test_the_form_shown_again_is_empty_after_cancel_and_after_save(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页")
        await wait_for(pilot, lambda: app._register_form is not None
                       and app._register_form.is_mounted, what="the form built ahead")
        kept = app._register_form
        form = await open_form(app, pilot)
        assert form is kept  # shown, not built again
        assert_empty(form)

        # Typed, a third party line, a wrong phone shown as an error; then Esc.
        await pilot.press("3", "tab")
        await type_text(pilot, "王五 1391234")
        await pilot.press("ctrl+p")
        await type_text(pilot, "赵六")
        await pilot.press("tab")
        await type_text(pilot, "地界不清")
        await pilot.press("ctrl+s")
        await wait_text(pilot, "电话不对")
        await back_home(app, pilot)
        # Esc keeps the draft: shown again, the form puts it back and says so.
        form = await open_form(app, pilot)
        assert form is kept
        await wait_text(pilot, "已恢复", "王五", "赵六")
        assert len(form.parties()) == 3
        assert not form._shown_errors()  # the errors were of the other opening
        # Without a draft, nothing of that opening is left.
        await back_home(app, pilot)
        app.drafts.delete("register")
        form = await open_form(app, pilot)
        assert form is kept
        assert_empty(form)
        assert "王五" not in await wait_text(pilot, "登记新纠纷")

        # Saved: the case's page; Ctrl+N there shows the form empty again.
        await pilot.press("1", "tab")
        await type_text(pilot, "张三")
        await pilot.press("tab")
        await type_text(pilot, "李四")
        await pilot.press("ctrl+p")
        await type_text(pilot, "孙七")
        await pilot.press("tab")
        await type_text(pilot, "院墙越界")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen),
                       what="the case page")
        await wait_text(pilot, "张三与李四", "院墙越界")
        assert [s for s in app.screen_stack if isinstance(s, RegisterCaseScreen)] == []
        form = await open_form(app, pilot)
        assert form is kept
        assert_empty(form)
        assert form.query_one("#description", TextArea).text == ""
        assert not (node.home.path / "drafts" / "register.draft").exists()
    (row,) = await node.cases.search()
    case = await node.cases.get(row.doc_id)
    assert [p.name for p in case.parties] == ["张三", "李四", "孙七"]


async def test_the_kept_form_follows_the_language(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页")
        await wait_for(pilot, lambda: app._register_form is not None
                       and app._register_form.is_mounted, what="the form built ahead")
        form = await open_form(app, pilot)
        await wait_text(pilot, "登记新纠纷")
        await back_home(app, pilot)
        # F8 while the form is off screen: shown again, it speaks English.
        await pilot.press("f8")
        await wait_text(pilot, "F1 Home")
        form = await open_form(app, pilot)
        assert form is app._register_form
        await wait_text(pilot, "Register a dispute", "Ctrl+S")
        # ... and F8 on the form itself turns it back.
        await pilot.press("f8")
        await wait_text(pilot, "登记新纠纷")
        await pilot.press("tab")
        await type_text(pilot, "张三")
        await pilot.press("tab")
        await type_text(pilot, "李四")
        await wait_for(pilot, lambda: form.query_one("#title", Input).value
                       == "张三与李四的纠纷", what="the suggested title")


async def test_the_list_holds_the_new_case_when_shown_again(node: Node) -> None:
    """Registered from the case list: Esc on the new case's page shows the list with it,
    without waiting for the node's change event (held back here for the whole test)."""
    app = make_app(node, "zh", clock=lambda: TODAY)
    app.bridge._delay = 60.0  # the gathered change event would come after the test
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页")
        await pilot.press("f2")
        await wait_text(pilot, "没有")  # an empty list
        await open_form(app, pilot)
        await pilot.press("1", "tab")
        await type_text(pilot, "张三")
        await pilot.press("tab")
        await type_text(pilot, "李四")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen),
                       what="the case page")
        number = app.screen.case.number  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the list")
        await wait_text(pilot, number, "张某与李某邻里纠纷")
