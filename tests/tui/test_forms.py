"""Forms: inline errors in plain Chinese, drafts that survive closing the app, status
changes limited to the life cycle's allowed moves."""

from __future__ import annotations

from node import Node
from tui.app import make_app
from tui.screens.case_actions import CloseScreen, StatusScreen
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import RegisterCaseScreen
from tui.screens.main import MainScreen

from .conftest import SIZE, TODAY, add_case, id_number, type_text, wait_for, wait_text


async def open_register(app, pilot) -> RegisterCaseScreen:  # type: ignore[no-untyped-def]
    await wait_text(pilot, "F1 首页")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(app.screen, RegisterCaseScreen))
    return app.screen  # type: ignore[no-any-return]


async def test_inline_errors_are_in_plain_chinese(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_register(app, pilot)
        await pilot.press("ctrl+s")  # everything empty
        text = await wait_text(pilot, "请选择纠纷类型", "请至少填写一位当事人的姓名",
                               "有 2 处要改")
        # No title asked for: it is made from the parties once there is one.
        assert "bad_title" not in text and "请写一个简短的标题" not in text
        assert await node.cases.count() == 0

        # A wrong phone shows as soon as the director leaves the field.
        assert app.focused is screen.query_one("#category")  # the first error
        await pilot.press("tab")  # past the role, to the party's one field
        assert app.focused is screen.query_one("#p0-party")
        await type_text(pilot, "王五 1391234")
        await pilot.press("tab")
        await wait_text(pilot, "电话不对：应是11位手机号")
        # ... and an ID number with a wrong check digit.
        bad_id = id_number()[:17] + ("0" if id_number()[17] != "0" else "1")
        await pilot.press("shift+tab")
        await type_text(pilot, " " + bad_id)
        await pilot.press("tab")
        await wait_text(pilot, "电话不对", "身份证号不对")
        # Fixing them clears the error line while typing.
        field = screen.query_one("#p0-party")
        field.value = f"王五 13912345678 {id_number()}"  # type: ignore[attr-defined]
        await pilot.pause()
        text = await wait_text(pilot, "王五")
        assert "电话不对" not in text and "身份证号不对" not in text


async def test_draft_survives_closing_the_app(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_register(app, pilot)
        await pilot.press("2", "tab")  # category 2 婚姻家庭; the first party
        await type_text(pilot, "孙七")
        await pilot.press("ctrl+p")  # a third party
        await type_text(pilot, "周八")
        await pilot.press("tab", "tab")  # past 案情简述 to the (suggested) title
        await type_text(pilot, "半截子的纠纷")  # the director's own title replaces it
        await pilot.press("ctrl+q")  # the app closes with the form half filled
    drafts = list((node.home.path / "drafts").glob("*.draft"))
    assert [p.name for p in drafts] == ["register.draft"]
    assert "孙七".encode() not in drafts[0].read_bytes()  # sealed, like the store

    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_register(app, pilot)
        text = await wait_text(pilot, "已恢复上次没填完的内容", "半截子的纠纷", "孙七",
                               "周八", "婚姻家庭")
        assert text
        assert screen.query_one("#title").value == "半截子的纠纷"  # type: ignore[attr-defined]
        assert len(screen.parties()) == 3
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
    (row,) = await node.cases.search()
    case = await node.cases.get(row.doc_id)
    assert case.category == "family"
    assert [p.name for p in case.parties] == ["孙七", "周八"]
    assert [p.role for p in case.parties] == ["applicant", "third"]
    assert not list((node.home.path / "drafts").glob("*.draft"))  # saved: draft gone


async def test_escape_keeps_the_draft_and_ctrl_l_clears_it(node: Node) -> None:
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_register(app, pilot)
        await pilot.press("tab")
        await type_text(pilot, "按错了Esc")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        screen = await open_register(app, pilot)
        await wait_text(pilot, "按错了Esc", "已恢复")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: screen.query_one("#title").value == "")  # type: ignore
    assert not (node.home.path / "drafts" / "register.draft").exists()


async def test_status_offers_only_allowed_moves(node: Node) -> None:
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        app.open_case(case.doc_id)
        await wait_text(pilot, case.number, "已登记")
        # A registered case cannot be closed: the key is not offered.
        assert "C 结案" not in await wait_text(pilot, "S 记调解")
        await pilot.press("c")
        assert isinstance(app.screen, CaseDetailScreen)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await wait_text(pilot, "1 调解中", "2 已转递")
        assert "已结案" not in await wait_text(pilot, "改为")
        await pilot.press("ctrl+s")
        await wait_text(pilot, "请选择要改成的状态")
        await pilot.press("2", "tab")  # 已转递, then the note
        await type_text(pilot, "涉及宅基地确权，转法院")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, "已转递", "涉及宅基地确权")
        # Escalated: close without an agreement.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CloseScreen))
        assert not app.screen.query("#agreement")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        await wait_text(pilot, "已结案")
    closed = await node.cases.get(case.doc_id)
    assert closed.status == "closed" and closed.outcome == "escalated"


async def test_node_errors_land_next_to_the_field(node: Node) -> None:
    """A rule only the node knows (here: a closed case takes no session) still shows in
    words, and the form stays open with what was typed."""
    case = await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        app.open_case(case.doc_id)
        await wait_text(pilot, case.number)
        await pilot.press("s")
        await wait_text(pilot, "记录调解")
        await type_text(pilot, "第二次调解")
        await node.cases.change_status(case.doc_id, "escalated")
        await node.cases.close(case.doc_id)  # closed elsewhere meanwhile
        await pilot.press("ctrl+s")
        await wait_text(pilot, "这个案件已经结案了，不能再修改", "第二次调解")
