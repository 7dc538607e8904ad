"""Asking the judge (the answer arrives while the screen is open) and recording a
普法 screening."""

from __future__ import annotations

from node import Node
from tui.app import make_app
from tui.screens.case_actions import AskJudgeScreen
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.education import ContentScreen, ScreeningScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, add_case, add_content, type_text, wait_for, wait_text


async def test_answer_from_the_judge_appears_live(node: Node) -> None:
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        app.open_case(case.doc_id)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, case.number)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AskJudgeScreen))
        await type_text(pilot, "宅基地确权图与现场界桩不一致时以哪个为准？")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, "问法官：宅基地确权图")
        (question,) = await node.consultations.list()
        assert question.case_id == case.doc_id and not question.answer

        # The answer is written elsewhere (the judge, through sync) while the case is open.
        await node.consultations.answer(question.doc_id, "以确权图为准，界桩可作参考。",
                                        by="王法官")
        await wait_text(pilot, "法官答复：以确权图为准")

        # The consult page and the home page show it too, without a key press.
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_text(pilot, "法官的新答复", "以确权图为准")
        await pilot.press("f3")
        await wait_text(pilot, "已答复", "王法官 答", "以确权图为准，界桩可作参考。")
        # Having read it, it no longer counts as new on the home page.
        assert question.doc_id in app.state.seen_answers
        await pilot.press("f1")
        await wait_text(pilot, "没有新的答复")


async def test_new_question_on_the_consult_page_validates_the_case_number(node: Node) -> None:
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_text(pilot, "还没有向法官提过问题")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, AskJudgeScreen))
        await type_text(pilot, "BY-XXX-9999")
        await pilot.press("tab")
        await type_text(pilot, "借条没写利息，能要利息吗？")
        await pilot.press("ctrl+s")
        await wait_text(pilot, "找不到这个案号")
        app.screen.query_one("#case").value = case.number.lower()  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_text(pilot, case.number, "等待答复")


async def test_record_a_screening(node: Node) -> None:
    titles = await add_content(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await wait_text(pilot, titles[0], "还没有记录过放映")
        # Search narrows the list as one types.
        await type_text(pilot, "宅基地")
        await wait_for(pilot, lambda: app.screen.query_one("#edu-table").row_count == 1)
        await pilot.press("enter")  # from the search field to the list
        await pilot.press("enter")  # read the item
        await wait_for(pilot, lambda: isinstance(app.screen, ContentScreen))
        await wait_text(pilot, "以案说法：宅基地界址纠纷", "以确权图为准")
        await pilot.press("ctrl+n")  # a screening of this item
        await wait_for(pilot, lambda: isinstance(app.screen, ScreeningScreen))
        await pilot.press("tab")
        await type_text(pilot, "村文化礼堂")
        await pilot.press("tab")
        await type_text(pilot, "85")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ContentScreen))
        (shown,) = await node.education.screenings()
        assert shown.place == "村文化礼堂" and shown.attendance == 85
        assert shown.items == ["以案说法：宅基地界址纠纷"] and shown.date == TODAY.isoformat()
        await pilot.press("escape")
        await wait_text(pilot, "放映记录", "村文化礼堂", "85")
