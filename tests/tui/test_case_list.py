"""The case list: instant filter, category/status words, paging instead of loading all."""

from __future__ import annotations

import pytest

from node import Node
from tui.app import make_app
from tui.screens import case_list
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.case_list import CasesPane, split_query
from tui.widgets.case_table import CaseTable

from .conftest import SIZE, TODAY, add_case, type_text, wait_for, wait_text


def test_split_query_turns_category_and_status_words_into_filters() -> None:
    assert split_query("邻里纠纷 张三") == ("张三", "neighbour", None)
    assert split_query("调解中") == ("", None, "mediating")
    assert split_query("closed Family wall") == ("wall", "family", "closed")
    assert split_query("BY-7Q2") == ("BY-7Q2", None, None)


async def test_filter_as_you_type_and_open(node: Node) -> None:
    await add_case(node, "张三与李四宅基地纠纷", names=("张三", "李四"))
    await add_case(node, "王五借款纠纷", category="loan", names=("王五", "钱九"))
    target = await add_case(node, "赵六彩礼返还纠纷", category="family", names=("赵六", "孙七"))
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_text(pilot, "共 3 件")
        pane = app.screen.query_one(CasesPane)
        await type_text(pilot, "孙七", keys=True)  # a party's name
        await wait_for(pilot, lambda: pane.applied == ("孙七", None, None))
        # Lists show the title from the index, where party names are masked (issue #12).
        text = await wait_text(pilot, "共 1 件", "赵某彩礼返还纠纷")
        assert "王某借款纠纷" not in text and "赵六" not in text
        await pilot.press("enter", "enter")  # to the list, open the case
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        assert app.screen.doc_id == target.doc_id  # type: ignore[attr-defined]
        await pilot.press("escape")
        pane.query_one("#case-filter").value = "民间借贷"  # type: ignore[attr-defined]
        await wait_text(pilot, "共 1 件", "王某借款纠纷")
        pane.query_one("#case-filter").value = "没有这个人"  # type: ignore[attr-defined]
        await wait_text(pilot, "没有符合条件的案件")


async def test_pages_are_fetched_as_the_cursor_nears_the_end(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_list, "PAGE", 10)
    monkeypatch.setattr(case_list, "MORE_AT", 3)
    for i in range(25):
        await add_case(node, f"第{i:02d}号纠纷")
    calls: list[int] = []
    search = node.cases.search

    async def counting_search(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not kwargs.get("status"):  # the home page asks for a few cases by status
            calls.append(kwargs.get("limit", 0))
        return await search(*args, **kwargs)

    monkeypatch.setattr(node.cases, "search", counting_search)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_text(pilot, "共 25 件，已列出 10 件")
        table = app.screen.query_one(CaseTable)
        assert table.row_count == 10
        table.focus()
        for _ in range(9):
            await pilot.press("down")
        await wait_for(pilot, lambda: table.row_count == 20, what="second page")
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.row_count == 25, what="last page")
        await wait_text(pilot, "共 25 件")
        assert max(calls) == 10  # never more than a page at a time
