"""End-to-end walks through the director's work against a real store."""

from __future__ import annotations

import datetime as dt

from node import Node
from store import kinds, records
from tui.app import make_app
from tui.bridge import NodeBridge
from tui.screens.case_actions import CloseScreen, FollowupScreen, SessionScreen
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import RegisterCaseScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, id_number, screen_text, type_text, wait_for, wait_text


async def test_register_session_close_followup(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F1 首页", "近期没有要做的回访")
        # Register a case with two parties, by keys alone.
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen))
        await pilot.press("1", "tab")  # category: 1 邻里纠纷; party 1 (申请人)
        await type_text(pilot, f"王五 13912345678 {id_number()}")
        await pilot.press("tab")  # party 2 (被申请人)
        await type_text(pilot, "赵六 0570-3012345")
        await pilot.press("tab")
        await type_text(pilot, "赵六砌墙越过宅基地界址")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen), what="detail")
        text = await wait_text(pilot, "王五与赵六邻里纠纷", "赵六", "已登记")
        case = (await node.cases.search("王五"))[0]
        full = await node.cases.get(case.doc_id)
        assert [(p.role, p.name) for p in full.parties] == [("applicant", "王五"),
                                                             ("respondent", "赵六")]
        assert full.parties[0].id_number == id_number()
        assert full.parties[1].phone == "0570-3012345"
        assert case.number in text

        # Log a mediation session.
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen))
        await type_text(pilot, "双方到场，同意以确权图为准")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, "调解中", "双方到场")

        # Close with an agreement, on a day 40 days back (a paper case entered late).
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CloseScreen))
        await type_text(pilot, "赵六拆除越界围墙")
        closed_on = TODAY - dt.timedelta(days=40)
        await pilot.press("tab")  # to the date
        date_input = app.screen.query_one("#date")
        date_input.value = ""  # type: ignore[attr-defined]
        await type_text(pilot, closed_on.isoformat())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, "已结案", "赵六拆除越界围墙")
        full = await node.cases.get(case.doc_id)
        assert full.status == "closed" and full.outcome == "agreed"
        assert full.closed_at == closed_on.isoformat()

        # Back home: the 1-month visit is overdue.
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("f1")
        text = await wait_text(pilot, "要做的回访", case.number, "1个月回访", "逾期")
        # Enter on it opens the follow-up form for that visit.
        app.screen.query_one("#home-visits").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FollowupScreen))
        await type_text(pilot, "已按协议拆墙")
        await pilot.press("tab", "5")  # satisfaction 5 非常满意
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_text(pilot, "近期没有要做的回访")
        full = await node.cases.get(case.doc_id)
        m1 = next(f for f in full.followups if f.month == 1)
        assert m1.done == TODAY.isoformat() and m1.satisfaction == 5
        assert "已按协议拆墙" in m1.outcome
        assert screen_text(app)


async def test_a_warning_from_the_county_shows_on_the_home_page_live(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        text = await wait_text(pilot, "等您处理的案件")
        assert "风险预警" not in text
        # As sync would merge it from the relay.
        await node.store.create(
            records.WARNING, node.config.county_scope,
            lambda doc: kinds.new_warning(
                doc, village="BY", category="land", rule="spike", observed=7, expected=1.5,
                message="本月土地承包纠纷明显增多，请网格员提前走访。"))
        await wait_text(pilot, "风险预警", "本月土地承包纠纷明显增多")


async def test_the_mouse_works_too(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "F2 案件")
        await pilot.click("#tabs Tab#--content-tab-cases")
        await wait_text(pilot, "输入案号、姓名或关键词")
        app.new_case()
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen))
        await wait_text(pilot, "登记新纠纷", "身份证号")
        screen = app.screen
        await pilot.click("#title")
        await type_text(pilot, "鼠标登记的纠纷")
        await pilot.click("#category", offset=(14, 1))  # "7 消费纠纷": second row, 2nd
        assert screen.query_one("#category").value == "consumer"  # type: ignore[attr-defined]
        await pilot.click("#p0-party")
        await type_text(pilot, "钱九")
        await pilot.click("#p0-role")  # a click turns the role: 申请人 -> 被申请人
        await pilot.click("#form-save")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
    (row,) = await node.cases.search()
    case = await node.cases.get(row.doc_id)
    assert case.category == "consumer" and case.parties[0].role == "respondent"


async def test_news_from_the_node_while_the_pages_are_not_there_is_not_an_error(
        node: Node) -> None:
    # Seen in a fresh-clone run: a DataChanged handled while the main screen's pages were
    # not there (before it is composed, or as the app closes) ended the app with NoMatches.
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "等您处理的案件")
        news = NodeBridge.DataChanged(frozenset({records.CASE}), frozenset(), remote=True)
        not_composed = MainScreen()
        not_composed.on_data_changed(news)  # nothing to tell yet: no error
        await app.main().query_one("#tabs").remove()  # as when the app closes
        app.main().on_data_changed(news)
        await pilot.pause()
