"""Home's 即将回访: the follow-up visits of this week and this month, in date order, beside
those due or late; visits further off are not listed (real app, real store)."""

from __future__ import annotations

import datetime as dt

import pytest

from node import Node
from tui.app import make_app

from .conftest import SIZE, TODAY, add_case, screen_text, wait_for

DAY = dt.timedelta(days=1)


async def closed_with_visit_on(node: Node, title: str, due: dt.date) -> str:
    """A closed case whose 1-month visit falls on ``due``; returns its number."""
    case = await add_case(node, title)
    await node.cases.change_status(case.doc_id, "mediating")
    # The 1-month visit is due a month after the closing day.
    closed = dt.date(due.year, due.month - 1, due.day) if due.month > 1 else due
    await node.cases.close(case.doc_id, agreement="双方和解", on=closed)
    got = await node.cases.get(case.doc_id)
    assert next(f for f in got.followups if f.month == 1).due == due.isoformat()
    return case.number


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_upcoming_visits_this_week_and_month(node: Node, lang: str) -> None:
    later = await closed_with_visit_on(node, "远的回访", TODAY + 40 * DAY)
    month = await closed_with_visit_on(node, "本月的回访", TODAY + 20 * DAY)
    week2 = await closed_with_visit_on(node, "本周第二", TODAY + 6 * DAY)
    week1 = await closed_with_visit_on(node, "本周第一", TODAY + 2 * DAY)
    late = await closed_with_visit_on(node, "逾期的回访", TODAY - 3 * DAY)

    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.main().pane("home")
        await wait_for(pilot, lambda: bool(pane.upcoming), what="upcoming visits")
        table = pane.query_one("#home-upcoming")
        keys = [str(k.value).split(":")[0] for k in table.rows]
        numbers = [(await node.cases.get(k)).number for k in keys]
        assert numbers == [week1, week2, month]  # date order; 40 days off: not listed
        due = [(await node.cases.get(str(k.value).split(":")[0])).number
               for k in pane.query_one("#home-visits").rows]
        assert due == [late]  # the late one is to do now, not "coming up"
        text = screen_text(app)
        heading = ("即将回访 · 本周 2 次，本月共 3 次" if lang == "zh"
                   else "Coming up · 2 this week, 3 this month")
        assert heading in text
        week_word, month_word = (("本周", "本月") if lang == "zh"
                                 else ("this week", "this month"))
        lines = {n: next(ln for ln in text.splitlines() if n in ln)
                 for n in (week1, week2, month)}
        assert week_word in lines[week1] and week_word in lines[week2]
        assert month_word in lines[month] and week_word not in lines[month]
        assert (TODAY + 2 * DAY).isoformat() in lines[week1]
        assert later not in text


async def test_no_upcoming_visit_says_so(node: Node) -> None:
    await closed_with_visit_on(node, "远的回访", TODAY + 40 * DAY)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "这个月没有安排回访" in screen_text(app),
                       what="the empty upcoming list")
