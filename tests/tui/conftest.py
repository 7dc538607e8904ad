"""Fixtures for the TUI tests: a real node on a tmp path (from tests/conftest.py), a fixed
"today", county content, and helpers to read the screen as text and to wait boundedly."""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any, Callable

from rich.console import Console
from textual import events
from textual.app import App
from textual.pilot import Pilot

from node import Node
from store import kinds, records
from store.records import Party, id_check_digit

TODAY = dt.date(2026, 5, 20)
SIZE = (80, 24)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now, as plain text (the same render as the SVG)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


WAIT_S = 10.0  # generous: CI machines are slow and shared; a pass takes well under 1 s


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], bool], *,
                   timeout: float = WAIT_S, what: str = "condition") -> None:
    """Pause until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def wait_text(pilot: Pilot[Any], *needles: str, timeout: float = WAIT_S) -> str:
    """Pause until every needle is on screen; returns the screen text."""
    text = ""

    def seen() -> bool:
        nonlocal text
        text = screen_text(pilot.app)
        return all(n in text for n in needles)

    try:
        await wait_for(pilot, seen, timeout=timeout, what=" and ".join(needles))
    except AssertionError:
        raise AssertionError(f"not on screen: {needles!r}\n{text}") from None
    return text


async def type_text(pilot: Pilot[Any], text: str, *, keys: bool = False) -> None:
    """Enter ``text`` into the focused field: as one paste, the way a Chinese input
    method commits a phrase (fast), or with ``keys=True`` one key press per character.
    The paste goes to the app, as a terminal's does, so it takes the same route as a key
    (held while a form opens, then to the focused field)."""
    if keys:
        await pilot.press(*[ch if ch != " " else "space" for ch in text])
        return
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


def id_number(first17: str = "33080219850315123") -> str:
    return first17 + id_check_digit(first17)


async def add_case(node: Node, title: str = "张三与李四宅基地纠纷", *,
                   category: str = "neighbour", names: tuple[str, ...] = ("张三", "李四")
                   ) -> Any:
    roles = ("applicant", "respondent", "third")
    return await node.cases.register(
        category=category, title=title,
        parties=[Party(role=roles[i], name=n, phone="13800138000") for i, n in
                 enumerate(names)])


async def add_content(node: Node) -> list[str]:
    items = [("借条怎么写才有效", "借贷", "article", "写清楚借款人、金额、利息和还款日期。"),
             ("典型案例：子女拒不赡养老人", "婚姻家庭", "typical-case", "赡养老人是法定义务。"),
             ("以案说法：宅基地界址纠纷", "土地", "video", "以确权图为准。")]
    titles = []
    for title, topic, kind, summary in items:
        await node.store.create(
            records.CONTENT, node.config.county_scope,
            lambda d, t=title, tp=topic, k=kind, s=summary: kinds.new_content(
                d, title=t, topic=tp, content_kind=k, summary=s, body=s * 3, by="王法官"))
        titles.append(title)
    return titles

