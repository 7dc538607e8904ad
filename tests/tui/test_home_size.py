"""Home uses the space of a larger terminal: more rows a list at 120x40 than at 80x24."""

from __future__ import annotations

import pytest

from node import Node
from tui.app import make_app

from .conftest import TODAY, add_case, screen_text, wait_for


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_home_lists_grow_with_the_terminal(node: Node, lang: str) -> None:
    numbers = [(await add_case(node, f"第{i}件纠纷")).number for i in range(12)]

    async def shown(size: tuple[int, int]) -> int:
        app = make_app(node, lang, clock=lambda: TODAY)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: any(n in screen_text(app) for n in numbers))
            await pilot.pause(0.2)
            return sum(n in screen_text(app) for n in numbers)

    small, large = await shown((80, 24)), await shown((120, 40))
    assert small <= 4  # as before at 80x24
    assert large >= 8 > small
