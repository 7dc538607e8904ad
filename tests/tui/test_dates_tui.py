"""Dates in the case forms are read the ways people write them (2026/5/3, 5月3日, 昨天)
and days that cannot be true are refused in plain words, in Chinese and in English."""

from __future__ import annotations

import datetime as dt

import pytest

from node import Node
from store.records import Party
from tui.app import make_app
from tui.screens.case_actions import SessionScreen
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, type_text, wait_for, wait_text

REGISTERED = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.timezone.utc)


async def old_case(node: Node):  # type: ignore[no-untyped-def]
    return await node.cases.register(
        category="neighbour", title="张三与李四宅基地纠纷",
        parties=[Party(role="applicant", name="张三"), Party(role="respondent", name="李四")],
        created_at=REGISTERED.isoformat())


async def session_with_date(app, pilot, doc_id: str, date: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    app.open_case(doc_id)
    await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
    await wait_text(pilot, "张三与李四宅基地纠纷", "S ")
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen))
    await type_text(pilot, "双方到场")
    await pilot.press("shift+tab", "shift+tab")  # summary -> participants -> date
    assert app.focused is app.screen.query_one("#date")
    app.focused.value = ""
    await type_text(pilot, date)
    await pilot.press("ctrl+s")


@pytest.mark.parametrize(("written", "stored"), [
    ("2026/5/3", "2026-05-03"), ("2026-5-3", "2026-05-03"), ("5月3日", "2026-05-03"),
    ("2026年5月3日", "2026-05-03"), ("昨天", "2026-05-19"), ("前天", "2026-05-18")])
async def test_a_session_date_as_people_write_it(node: Node, written: str,
                                                 stored: str) -> None:
    case = await old_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await session_with_date(app, pilot, case.doc_id, written)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
    full = await node.cases.get(case.doc_id)
    assert [s.date for s in full.sessions] == [stored]


@pytest.mark.parametrize(("lang", "written", "said"), [
    ("zh", "2026-02-30", "没有这一天：2026年2月只有28天"),
    ("zh", "2020-01-01", "日期不能早于本案登记的那天（2026-03-10）"),
    ("zh", "2026-05-21", "日期不能晚于今天（2026-05-20）"),
    ("zh", "下周", "看不懂这个日期"),
    ("en", "2026-02-30", "month 2 of 2026 has only 28 days"),
    ("en", "2020-01-01", "before the case was registered (2026-03-10)"),
    ("en", "2026-05-21", "cannot be after today (2026-05-20)"),
    ("en", "next week", "Not a date"),
])
async def test_a_day_that_cannot_be_true_is_refused_in_words(node: Node, lang: str,
                                                             written: str, said: str) -> None:
    case = await old_case(node)
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        await session_with_date(app, pilot, case.doc_id, written)
        await wait_text(pilot, said)
        assert isinstance(app.screen, SessionScreen)
    assert (await node.cases.get(case.doc_id)).sessions == []  # nothing stored


@pytest.mark.parametrize(("first", "then_said"), [
    ("zh", "The date cannot be after today (2026-05-20)"),
    ("en", "日期不能晚于今天（2026-05-20）"),
])
async def test_an_error_shown_is_said_again_after_f8(node: Node, first: str,
                                                     then_said: str) -> None:
    case = await old_case(node)
    app = make_app(node, first, clock=lambda: TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        await session_with_date(app, pilot, case.doc_id, "2026-05-21")
        await wait_text(pilot, "2026-05-20")
        await pilot.press("f8")
        text = await wait_text(pilot, then_said)
        assert ("日期不能晚于今天" in text) == (first == "en")
