"""Searching from the cases page: a phone number finds its case (keyed tokens, the same
path as the command line), and the start of a category's label is that category (`邻里`
and `邻里纠纷` give the same count). Real node and app; Chinese and English."""

from __future__ import annotations

import pytest

from node import Node
from store.records import Party
from tui.app import make_app
from tui.screens.case_list import split_query

from .conftest import TODAY, type_text, wait_text


async def cases(node: Node) -> None:
    await node.cases.register(
        category="neighbour", title="宅基地界址纠纷",
        parties=[Party(role="applicant", name="王五", phone="13912345678"),
                 Party(role="respondent", name="赵六")])
    await node.cases.register(
        category="neighbour", title="排水沟堵塞",
        parties=[Party(role="applicant", name="孙七")])
    await node.cases.register(
        category="family", title="赡养老人，邻里都来劝",
        parties=[Party(role="applicant", name="周八")])


def test_the_start_of_a_label_is_the_category() -> None:
    assert split_query("邻里") == ("", "neighbour", None)
    assert split_query("邻里纠纷") == ("", "neighbour", None)
    assert split_query("neighb") == ("", "neighbour", None)
    assert split_query("纠纷")[1] is None  # the start of no label, or of several
    assert split_query("邻")[1] is None  # one character is too little


@pytest.mark.parametrize(("lang", "count"), [("zh", "共 {n} 件"), ("en", "{n} case")])
@pytest.mark.parametrize(("typed", "n"), [("邻里", 2), ("邻里纠纷", 2), ("13912345678", 1),
                                          ("139 1234 5678", 1), ("5678", 1)])
async def test_search_from_the_cases_page(node: Node, lang: str, count: str, typed: str,
                                          n: int) -> None:
    await cases(node)
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_text(pilot, "排水沟堵塞")
        await type_text(pilot, typed)
        text = await wait_text(pilot, count.format(n=n))
        if typed[0].isdigit():
            assert "宅基地界址纠纷" in text and "排水沟堵塞" not in text
