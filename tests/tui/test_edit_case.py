"""Correcting a case's registration (E on the case screen): the form opens filled with the
case, saves only what the director changed, refuses what registration refuses, writes
nothing when nothing changed, and leaves on Esc without saving. Real app, real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from node import Node
from store import Incoming
from store.casedoc import Case
from store.records import Party
from tui.app import VillageCourtApp, make_app
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_form import EditCaseScreen

from .conftest import TODAY, id_number, type_text, wait_for, wait_text
from .test_snapshots import fix_wide_chars, svg_text

SIZE = (100, 30)  # the party rows and the footer whole on one screen
ID = id_number()
BAD_ID = ID[:17] + ("0" if ID[17] != "0" else "1")  # wrong check digit


async def rich_case(node: Node) -> Case:
    """A case with every registration field filled."""
    return await node.cases.register(
        category="neighbour", title="张三与李四宅基地纠纷",
        parties=[Party("applicant", "张三", "13800138000", ID),
                 Party("respondent", "李四", "0570-3012345")],
        description="李四翻建院墙，越过界址约半米。", group=True, headcount=12,
        mediator="周国平")


async def open_edit(app: VillageCourtApp, pilot: Pilot[Any], case: Case) -> EditCaseScreen:
    """The case screen (unless it is on screen already), then E; returns the form once it
    is filled."""
    here = app.screen
    if not (isinstance(here, CaseDetailScreen) and here.doc_id == case.doc_id):
        app.open_case(case.doc_id)
        await wait_text(pilot, case.number, case.title)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, EditCaseScreen), what="edit form")
    screen = app.screen
    assert isinstance(screen, EditCaseScreen)
    await wait_for(pilot, lambda: screen._last_saved is not None, what="form filled")
    return screen


async def retype(pilot: Pilot[Any], screen: EditCaseScreen, selector: str, text: str) -> None:
    """Empty a one-line field and type ``text`` into it, as a director correcting it."""
    field = screen.query_one(selector)
    field.focus()
    await pilot.pause()
    field.value = ""  # type: ignore[attr-defined]
    await type_text(pilot, text)


def notes(app: VillageCourtApp) -> list[str]:
    """The notices (toasts) shown so far (they are not part of ``screen_text``)."""
    return [n.message for n in app._notifications]


async def saved(pilot: Pilot[Any], notice: str) -> None:
    """Back on the case screen, having said ``notice``."""
    app = pilot.app
    assert isinstance(app, VillageCourtApp)
    await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen), what="case screen")
    await wait_for(pilot, lambda: notice in notes(app), what=notice)


def value(screen: EditCaseScreen, selector: str) -> Any:
    return screen.query_one(selector).value  # type: ignore[attr-defined]


async def copy_case(src: Node, dst: Node, doc_id: str) -> None:
    """``dst`` receives the case as ``src`` holds it now (what a sync would carry)."""
    meta = await src.store.meta(doc_id)
    await dst.store.merge([Incoming(doc_id, meta.kind, meta.scope,
                                    await src.store.saved_bytes(doc_id), meta.heads)],
                          origin=src.store.store_id)


async def test_e_opens_the_form_filled_with_the_case(node: Node, tmp_path: Path) -> None:
    case = await rich_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        app.open_case(case.doc_id)
        await wait_text(pilot, case.number, "E 修改登记")
        screen = await open_edit(app, pilot, case)
        assert value(screen, "#title") == "张三与李四宅基地纠纷"
        assert value(screen, "#category") == "neighbour"
        assert [row.values() for row in screen.parties()] == [
            {"role": "applicant", "name": "张三", "phone": "13800138000", "id_number": ID},
            {"role": "respondent", "name": "李四", "phone": "0570-3012345", "id_number": ""},
        ]
        assert screen.query_one("#description").text == "李四翻建院墙，越过界址约半米。"  # type: ignore[attr-defined]
        assert value(screen, "#group") is True
        assert value(screen, "#headcount") == "12"
        assert not screen.query_one("#headcount").disabled
        assert value(screen, "#mediator") == "周国平"

        # As a person sees it: an edit of this case, not a new registration.
        text = await wait_text(pilot, f"修改登记 · 案件 {case.number}", "Ctrl+L 还原")
        assert "登记新纠纷" not in text and "已恢复" not in text
        svg_path = Path(app.save_screenshot("edit-zh.svg", str(tmp_path)))
        svg = fix_wide_chars(svg_path.read_text(encoding="utf-8"))
        svg_path.write_text(svg, encoding="utf-8")
        shown = svg_text(svg)
        for needle in (f"修改登记·案件{case.number}", "张三与李四宅基地纠纷", "13800138000",
                       "0570-3012345", ID, "周国平"):
            assert needle in shown, needle


async def test_a_changed_phone_is_the_only_field_written(node: Node, tmp_path: Path) -> None:
    """While the form is open, another computer's correction of the title and category
    arrives by sync; the director corrects a phone and saves. Only the parties are
    written: the other correction stands (a form writing every field would put the old
    title and category back)."""
    case = await rich_case(node)
    other = await Node.create(tmp_path / "other", village="BY", village_name="白云村",
                              county="KC")
    try:
        await copy_case(node, other, case.doc_id)
        app = make_app(node, "zh", clock=lambda: TODAY)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_edit(app, pilot, case)
            await other.cases.edit(case.doc_id, title="李四越界砌墙纠纷", category="land")
            await copy_case(other, node, case.doc_id)
            arrived = await node.cases.get(case.doc_id)
            assert arrived.title == "李四越界砌墙纠纷"
            await retype(pilot, screen, "#p1-party", "李四 13912345678")
            await pilot.press("ctrl+s")
            await saved(pilot, "已保存修改")
            await wait_text(pilot, "13912345678", "李四越界砌墙纠纷", "土地承包",
                            "修改登记：当事人")  # the timeline keeps each correction
        edited = await node.cases.get(case.doc_id)
        assert [(p.role, p.name, p.phone, p.id_number) for p in edited.parties] == [
            ("applicant", "张三", "13800138000", ID), ("respondent", "李四", "13912345678", "")]
        for field in ("title", "category", "description", "group", "headcount", "mediator",
                      "status", "created_at"):
            assert getattr(edited, field) == getattr(arrived, field), field
    finally:
        await other.close()


async def test_unchanged_parties_are_not_rewritten(node: Node, tmp_path: Path) -> None:
    """Two computers apart: the other corrects the applicant's phone, this one the title
    in the form. After they merge both corrections stand. (Parties are replaced whole
    when written; had the form rewritten them unchanged, this computer's list, written
    later with higher operation counters, would win and the phone would be lost.)"""
    case = await rich_case(node)
    other = await Node.create(tmp_path / "other", village="BY", village_name="白云村",
                              county="KC")
    try:
        await copy_case(node, other, case.doc_id)
        fixed = [Party("applicant", "张三", "13812345678", ID),
                 Party("respondent", "李四", "0570-3012345")]
        await other.cases.edit(case.doc_id, parties=fixed)
        await node.cases.log_session(case.doc_id, date="2026-05-18", participants="张三、李四",
                                     summary="现场查看界址")
        app = make_app(node, "zh", clock=lambda: TODAY)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_edit(app, pilot, case)
            await retype(pilot, screen, "#title", "李四越界砌墙纠纷")
            await pilot.press("ctrl+s")
            await saved(pilot, "已保存修改")
            await wait_text(pilot, "李四越界砌墙纠纷")
            await copy_case(other, node, case.doc_id)  # they meet
            await wait_text(pilot, "13812345678", "李四越界砌墙纠纷")
        merged = await node.cases.get(case.doc_id)
        assert merged.title == "李四越界砌墙纠纷"
        assert merged.parties == fixed
        assert len(merged.sessions) == 1 and merged.status == "mediating"
    finally:
        await other.close()


async def test_bad_input_gets_the_registration_errors_and_saves_nothing(node: Node) -> None:
    case = await rich_case(node)
    seq = await node.store.current_seq()
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_edit(app, pilot, case)
        await retype(pilot, screen, "#p0-party", f"张三 13800138000 {BAD_ID}")
        await pilot.press("tab")  # leaving the field checks it
        await wait_text(pilot, "身份证号不对")
        screen.query_one("#title").value = "  "  # type: ignore[attr-defined]
        screen.query_one("#headcount").value = "200000"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_text(pilot, "身份证号不对", "请写一个简短的标题", "人数请填0到100000之间的整数",
                        "有 3 处要改")
        await pilot.pause(0.1)
        assert app.screen is screen
    assert await node.store.current_seq() == seq
    assert (await node.cases.get(case.doc_id)).parties[0].id_number == ID


async def test_no_change_writes_nothing(node: Node) -> None:
    case = await rich_case(node)
    seq = await node.store.current_seq()
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_edit(app, pilot, case)
        await pilot.press("ctrl+s")
        await saved(pilot, "没有修改")
        assert await node.store.current_seq() == seq

        # Touched but the same once cleaned (a trailing space, the phone with +86):
        # still nothing to write.
        screen = await open_edit(app, pilot, case)
        await retype(pilot, screen, "#title", case.title + " ")
        await retype(pilot, screen, "#p0-party", f"张三 +86 138 0013 8000 {ID}")
        app._notifications.clear()
        await pilot.press("ctrl+s")
        await saved(pilot, "没有修改")
        assert await node.store.current_seq() == seq
        assert not app.drafts.exists(f"edit-{case.doc_id}")

    # A case whose stored values the form cannot say as they are (a headcount without the
    # group flag, written by another program): untouched, they are not "corrected".
    odd = await node.cases.register(category="land", title="承包地边界", headcount=5,
                                    parties=[Party("applicant", "王五")])
    seq = await node.store.current_seq()
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await open_edit(app, pilot, odd)
        await pilot.press("ctrl+s")
        await saved(pilot, "没有修改")
    assert await node.store.current_seq() == seq
    assert (await node.cases.get(odd.doc_id)).headcount == 5


async def test_escape_leaves_without_saving(node: Node) -> None:
    """Esc writes nothing and keeps the typing in the case's own draft (never the
    new-case draft); reopened later, only the changed field comes back, over the case as
    it is by then, and Ctrl+L goes back to the saved values."""
    case = await rich_case(node)
    seq = await node.store.current_seq()
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        new_case_draft = {"title": "半截子的纠纷", "category": "family"}
        app.drafts.save("register", new_case_draft)
        screen = await open_edit(app, pilot, case)
        await retype(pilot, screen, "#p0-party", f"张三 13912345678 {ID}")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        text = await wait_text(pilot, "13800138000")
        assert "13912345678" not in text
        assert await node.store.current_seq() == seq
        assert app.drafts.load("register") == new_case_draft

        # Meanwhile the title is corrected (another program, or a sync).
        await node.cases.edit(case.doc_id, title="李四越界砌墙纠纷")
        await wait_text(pilot, "李四越界砌墙纠纷")
        screen = await open_edit(app, pilot, case)
        await wait_text(pilot, "已恢复上次没保存的修改")
        assert screen.parties()[0].values()["phone"] == "13912345678"
        assert value(screen, "#title") == "李四越界砌墙纠纷"  # not the draft's old title
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: screen.parties()[0].values()["phone"] == "13800138000")
        assert value(screen, "#title") == "李四越界砌墙纠纷"
        assert not app.drafts.exists(f"edit-{case.doc_id}")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
    assert (await node.cases.get(case.doc_id)).parties[0].phone == "13800138000"
    assert app.drafts.load("register") == new_case_draft


async def test_english_and_a_closed_case(node: Node) -> None:
    """After F8 the key, the form and the notice are in English; a closed case can still
    be corrected (the follow-up visits need the right phone)."""
    case = await rich_case(node)
    await node.cases.change_status(case.doc_id, "escalated")
    await node.cases.close(case.doc_id)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        app.open_case(case.doc_id)
        await wait_text(pilot, case.number, "已结案", "E 修改登记")
        await pilot.press("f8")
        await wait_text(pilot, "Closed", "E Edit", "F8 中文")
        screen = await open_edit(app, pilot, case)
        text = await wait_text(pilot, f"Edit registration · case {case.number}", "Title",
                               "Parties", "ID number", "Ctrl+L Reset")
        for label in ("纠纷标题", "当事人", "电话", "保存", "修改登记"):
            assert label not in text, label
        await retype(pilot, screen, "#p1-party", "李四 13912345678")
        await pilot.press("ctrl+s")
        await saved(pilot, "Changes saved")
        await wait_text(pilot, "13912345678")
    edited = await node.cases.get(case.doc_id)
    assert edited.status == "closed" and edited.parties[1].phone == "13912345678"
