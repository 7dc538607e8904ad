"""On a case page: F1-F6 go to the main screen's pages, Ctrl+N registers a case, and the
keys that open a form (S T C V A E) act on arrival, so what is typed right after them
lands in the form (real app, real store)."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import TextArea

from node import Node
from tui.app import make_app
from tui.screens.case_actions import AskJudgeScreen, SessionScreen
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import RegisterCaseScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, add_case, wait_for, wait_text


async def on_case_page(pilot: Pilot[Any], doc_id: str) -> CaseDetailScreen:
    app: Any = pilot.app
    await wait_text(pilot, "F1")
    app.open_case(doc_id)
    await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen)
                   and app.screen.case is not None, what="the case page")
    return app.screen


def burst(pilot: Pilot[Any], keys: list[str]) -> None:
    """Every key queued at once, before the app handles the first (a slow PC)."""
    driver = pilot.app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(pilot.app)
        driver.send_message(event)


@pytest.mark.parametrize(("key", "tab"), [("f1", "home"), ("f2", "cases"),
                                          ("f3", "consult"), ("f4", "education"),
                                          ("f5", "sync"), ("f6", "stats")])
async def test_f_keys_go_to_the_main_pages(node: Node, key: str, tab: str) -> None:
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1")
        # The page shown before is not the one asked for (F1 from cases, else home).
        start = "cases" if tab == "home" else "home"
        app.main().action_show_tab(start)
        await wait_for(pilot, lambda: app.main().active == start, what="the first page")
        await on_case_page(pilot, case.doc_id)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen)
                       and app.main().active == tab, what=f"the {tab} page")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_ctrl_n_on_a_case_page_registers(node: Node, lang: str) -> None:
    case = await add_case(node)
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await on_case_page(pilot, case.doc_id)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen),
                       what="the registration form")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen),
                       what="back on the case page")


async def test_keys_typed_right_after_s_land_in_the_session_form(node: Node) -> None:
    case = await add_case(node)
    await node.cases.change_status(case.doc_id, "mediating")
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await on_case_page(pilot, case.doc_id)
        burst(pilot, ["s", *"tcvae"])  # letters that are also this page's keys
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen)
                       and not app.holding_keys
                       and app.screen.query_one("#summary", TextArea).text == "tcvae",
                       what="the letters in the session's summary")
        assert app.keys_replayed == 5
        await pilot.pause(0.2)
        assert len(app.screen_stack) == 4  # no other form opened by the letters


async def test_keys_typed_right_after_a_land_in_the_question(node: Node) -> None:
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await on_case_page(pilot, case.doc_id)
        burst(pilot, ["a", *"set"])
        await wait_for(pilot, lambda: isinstance(app.screen, AskJudgeScreen)
                       and not app.holding_keys and "set" in str(app.screen.values()),
                       what="the typed question")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AskJudgeScreen)
