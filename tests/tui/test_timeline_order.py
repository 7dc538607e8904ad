"""The case page lists what happened in order: 登记 first, then 调解中 → 调解成功 → 结案 on
the same day (a closing with a day stored a bare date that sorted before the day's
timestamps). Old stores' bare days sort after that day's timestamps."""

from __future__ import annotations

import datetime as dt

import pytest

from node import Node
from node.cases import case_timeline
from store.casedoc import timeline_key
from tui.app import make_app
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.main import MainScreen

from .conftest import add_case, wait_for, wait_text


async def test_closing_on_a_day_stores_a_timestamp_in_order(node: Node) -> None:
    case = await add_case(node)
    await node.cases.log_session(case.doc_id, date=dt.date.today().isoformat(),
                                 participants="张三、李四", summary="双方到场")
    closed = await node.cases.close(case.doc_id, agreement="李四拆墙", on=dt.date.today())
    assert all(len(h.at) > 10 for h in closed.history)  # full timestamps
    kinds = [(e.kind, e.detail.get("to")) for e in await node.cases.timeline(case.doc_id)
             if e.kind in ("registered", "status")]
    assert kinds == [("registered", None), ("status", "mediating"), ("status", "agreed"),
                     ("status", "closed")]


def test_a_bare_day_sorts_after_that_days_timestamps() -> None:
    stamps = ["2026-05-20T08:00:00+00:00", "2026-05-20", "2026-05-19T23:00:00+00:00",
              "2026-05-21T00:00:01+00:00"]
    assert sorted(stamps, key=timeline_key) == [
        "2026-05-19T23:00:00+00:00", "2026-05-20T08:00:00+00:00", "2026-05-20",
        "2026-05-21T00:00:01+00:00"]


@pytest.mark.parametrize(("lang", "first", "last"), [("zh", "登记：", "→ 已结案"),
                                                     ("en", "Registered:", "→ Closed")])
async def test_the_case_page_lists_registration_first(node: Node, lang: str, first: str,
                                                      last: str) -> None:
    case = await add_case(node)
    await node.cases.change_status(case.doc_id, "mediating")
    await node.cases.close(case.doc_id, agreement="李四拆墙", on=dt.date.today())
    app = make_app(node, lang)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        app.open_case(case.doc_id)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        text = await wait_text(pilot, case.title, last)
        body = text.split(case.title, 1)[1]
        assert body.index(first) < body.rindex(last), body


async def test_the_case_timeline_without_its_consultations_then_with_them(node: Node) -> None:
    """The case page draws the timeline its case holds at once and adds the questions
    to the judge (records of their own, read after that first frame) in their place."""
    case = await add_case(node)
    await node.cases.change_status(case.doc_id, "mediating")
    await node.consultations.ask(case.doc_id, "宅基地界线怎么认定")
    full = await node.cases.timeline(case.doc_id)
    got = await node.cases.get(case.doc_id)
    assert await node.cases.timeline(case.doc_id, case=got) == full
    assert case_timeline(got) == [e for e in full if e.kind != "consultation"]
    assert [e.kind for e in full] == ["registered", "status", "consultation"]

    app = make_app(node, "zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        app.open_case(case.doc_id)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseDetailScreen))
        page = app.screen
        assert isinstance(page, CaseDetailScreen)
        await wait_for(pilot, lambda: page.timeline_loaded, what="the whole timeline")
        text = await wait_text(pilot, "问法官：宅基地界线怎么认定", "→ 调解中")
        assert text.index("登记：") < text.index("→ 调解中") <= text.index("问法官")
        assert page.timeline == full
        # A change of the case draws it again at once, the question still there (it is
        # not read again before that frame).
        changed = await node.cases.log_session(
            case.doc_id, date=dt.date.today().isoformat(), participants="张三、李四",
            summary="双方到场")
        page._show(changed)
        # (the session and the question may carry the same second: no order asked here)
        assert sorted(e.kind for e in page.timeline) == ["consultation", "registered",
                                                         "session", "status"]
        await wait_text(pilot, "双方到场", "问法官：宅基地界线怎么认定")
