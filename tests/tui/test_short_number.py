"""Asking the judge (F3, Ctrl+N) takes the short number a director says (`2`, `0002`, the
end of the number); several matches are named. Real node; Chinese and English."""

from __future__ import annotations

import pytest

from node import Node
from store import DocNotFound, ValidationError
from tui.app import make_app
from tui.screens.case_actions import AskJudgeScreen
from tui.screens.main import MainScreen

from .conftest import TODAY, add_case, type_text, wait_for, wait_text


async def two_machines(node: Node) -> list[str]:
    """Cases 1 and 2 of this computer and case 1 of the village's second computer (its
    cases reach this store by sync; here they are registered under its short id)."""
    numbers = [(await add_case(node, f"案件{i}")).number for i in (1, 2)]
    own = node.config.short_id
    node.config.short_id = "ZZ9"
    try:
        numbers.append((await add_case(node, "二号机的案件")).number)
    finally:
        node.config.short_id = own
    return numbers


async def test_resolve_takes_a_unique_short_number(node: Node) -> None:
    first, second, other = await two_machines(node)
    assert (await node.cases.get("2")).number == second
    assert (await node.cases.get("0002")).number == second
    assert (await node.cases.get(second.split("-", 1)[1].lower())).number == second
    assert (await node.cases.get("ZZ9-1")).number == other
    with pytest.raises(ValidationError) as err:
        await node.cases.get("1")
    assert err.value.code == "ambiguous_case"
    assert err.value.details["numbers"] == sorted([first, other])
    for missing in ("3", "%", "_001", "-"):
        with pytest.raises(DocNotFound):
            await node.cases.get(missing)


@pytest.mark.parametrize(("lang", "several"), [("zh", "有几个案件都对得上“1”"),
                                               ("en", "Several cases match “1”")])
async def test_ask_the_judge_by_short_number(node: Node, lang: str, several: str) -> None:
    first, second, other = await two_machines(node)
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("f3")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, AskJudgeScreen))
        await type_text(pilot, "1")
        await pilot.press("tab")
        await type_text(pilot, "借条没写利息，能要利息吗？")
        await pilot.press("ctrl+s")
        await wait_text(pilot, several, first, other)
        assert await node.consultations.list() == []  # nothing stored
        app.screen.query_one("#case").value = "2"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_text(pilot, second)
    assert [c.case_number for c in await node.consultations.list()] == [second]
