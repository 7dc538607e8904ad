"""The language toggle: every visible string switches, and the choice is remembered."""

from __future__ import annotations

import re

from node import Node
from node.config import Home
from tui.app import make_app
from tui.screens.case_form import RegisterCaseScreen

from .conftest import SIZE, TODAY, screen_text, wait_for, wait_text

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
DATA = ("白云村", "F8 中文")  # record data; the toggle names the other language


def interface_cjk(text: str) -> list[str]:
    for word in DATA:
        text = text.replace(word, "")
    return [line for line in text.splitlines() if CJK.search(line)]


async def test_toggle_switches_every_page_and_form(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页", "F8 English")
        await pilot.press("f8")
        await wait_text(pilot, "F1 Home", "F2 Cases", "F8 中文", "Follow-up visits due")
        for key, needle in (("f1", "Open cases waiting"), ("f2", "Type a case number"),
                            ("f3", "No questions to the judge"), ("f4", "Screenings held"),
                            ("f5", "County server"), ("f6", "Mediation success")):
            await pilot.press(key)
            text = await wait_text(pilot, needle)
            assert interface_cjk(text) == [], text
        await pilot.press("f2", "ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen))
        text = await wait_text(pilot, "Register a dispute", "Ctrl+S Save", "ID number")
        assert interface_cjk(text) == [], text
        # Switching inside a form re-labels it in place and keeps what was typed.
        app.screen.query_one("#title").value = "Boundary wall"  # type: ignore[attr-defined]
        await pilot.press("f8")
        text = await wait_text(pilot, "登记新纠纷", "纠纷标题", "身份证号", "Ctrl+S 保存")
        assert "Boundary wall" in text and "Register" not in text
    assert Home(node.home.path).load().language == "zh"  # never changed


async def test_the_choice_is_the_tuis_and_leaves_the_command_line_alone(node: Node) -> None:
    app = make_app(node, clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页")
        await pilot.press("f8")
        await wait_text(pilot, "F1 Home")
    # The node's config (the command line's language) is as it was ...
    assert node.config.language == "zh"
    assert Home(node.home.path).load().language == "zh"
    assert '"language": "en"' in (node.home.path / "tui.json").read_text()
    app = make_app(node, clock=lambda: TODAY)  # ... and the TUI opens in its last choice
    async with app.run_test(size=SIZE) as pilot:
        text = await wait_text(pilot, "F1 Home")
        assert "首页" not in screen_text(app) and text
