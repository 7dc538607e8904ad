"""Notices (toasts) at 80x24 leave the status line, the key hints and a case page's
下一步 hint visible, and a notice with dates is not folded in the middle of one."""

from __future__ import annotations

import re

import pytest

from node import Node
from tui import i18n
from tui.app import make_app
from tui.screens.case_detail import CaseDetailScreen

from .conftest import SIZE, TODAY, add_case, wait_for, wait_text

DATES = ("2026-06-20", "2026-08-20", "2026-11-20")


def close_notice(number: str) -> str:
    return i18n.t("close.done", number=number, dates=i18n.list_sep().join(DATES))


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_notice_leaves_the_status_line_and_keys_visible(node: Node,
                                                                lang: str) -> None:
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        offline = "离线" if lang == "zh" else "Offline"
        before = await wait_text(pilot, offline, "F8")
        bottom = before.splitlines()[-2:]  # the status line and the key hints
        assert offline in bottom[0]
        app.notify(close_notice("BY-M6J-0001"), timeout=30)
        text = await wait_text(pilot, DATES[0], DATES[-1])
        assert text.splitlines()[-2:] == bottom  # not covered, not a cell changed
        line = next(ln for ln in text.splitlines() if DATES[0] in ln)
        assert all(d in line for d in DATES)  # one line: no date folded


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_notice_leaves_the_next_step_hint_visible(node: Node, lang: str) -> None:
    case = await add_case(node)
    await node.cases.change_status(case.doc_id, "mediating")
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_text(pilot, "F1")
        app.open_case(case.doc_id)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen)
                       and app.screen.case is not None, what="the case page")
        hint = i18n.t("detail.hint_mediating")
        before = await wait_text(pilot, hint[:12], i18n.t("key.edit_case"), "F8")
        lines = before.splitlines()
        first = next(i for i, ln in enumerate(lines) if hint[:12] in ln)
        bottom = lines[first:]  # the hint (one or two lines) and the key hints
        app.screen.notify(close_notice(case.number), timeout=30)
        text = await wait_text(pilot, DATES[-1])
        assert text.splitlines()[first:] == bottom
        line = next(ln for ln in text.splitlines() if DATES[0] in ln)
        assert all(d in line for d in DATES)
        assert re.search(r"\d{4}-\d{2}\s*$", line) is None
