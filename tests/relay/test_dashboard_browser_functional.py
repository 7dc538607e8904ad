"""The dashboard as people use it: a real headless Chromium (Debian's package, driven by
Playwright) against a real relay serving the demo county on 127.0.0.1, and a real village
node that asks its linked judge a question and gets the answer by sync.

An operator logs in, reads the county overview, drills into a village and a case (phones
masked), downloads a CSV; a judge logs in and answers the village's consultation in the
inbox; the village node syncs and finds the answer in its own store.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from node import Node
from node.daemon import Syncer
from relay.app import create_app
from relay.config import RelayHome
from relay.demo_county import DEMO_USERS
from store.records import Party

async_playwright = pytest.importorskip("playwright.async_api").async_playwright
CHROMIUM = shutil.which("chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOGINS = {name: pw for name, _, _, pw in DEMO_USERS}
QUESTION = "对方在调解协议签字后反悔，我们能不能直接申请强制执行？"
ANSWER = "调解协议签字后具有合同效力；双方可在三十日内共同申请司法确认，确认后可申请强制执行。"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium "
                                "(make system-deps installs it)")


async def test_operator_and_judge_in_a_real_browser(county_home: RelayHome,
                                                    tmp_path: Path) -> None:
    app = create_app(county_home, tls=False)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    node = await Node.create(tmp_path / "by-node", village="BY", village_name="白云村",
                             county="KC", director="周主任")
    node.config.relay_url = f"ws://127.0.0.1:{port}/v1/sync"
    node.home.save(node.config)
    try:
        # The village asks its linked judge about a new case, and syncs.
        case = await node.cases.register(
            category="loan", title="祝建国与毛伟借款纠纷",
            parties=[Party("applicant", "祝建国", "13957001234"),
                     Party("respondent", "毛伟", "13857005678")],
            description="借款三万元到期未还。")
        asked = await node.consultations.ask(case.doc_id, QUESTION)
        res = await Syncer(node, discovery=False).sync_relay()
        assert res.ok, res.error

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                await operator_session(browser, base, tmp_path)
                await judge_session(browser, base, asked.doc_id)
            finally:
                await browser.close()

        # The next sync brings the judge's answer to the village's own store.
        res = await Syncer(node, discovery=False).sync_relay()
        assert res.ok, res.error
        got = await node.consultations.get(asked.doc_id)
        assert got.answer == ANSWER
        assert got.answered_by == "联系法官 王法官"
        assert got.answered_at >= got.asked_at
        assert [c.doc_id for c in await node.consultations.newly_answered()][0] == asked.doc_id
    finally:
        await node.close()
        await runner.cleanup()


async def login(page, base: str, name: str) -> None:
    await page.goto(f"{base}/dashboard/")
    assert "/dashboard/login" in page.url  # no session: sent to the login page
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", LOGINS[name])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard/")


async def operator_session(browser, base: str, tmp_path: Path) -> None:
    ctx = await browser.new_context(accept_downloads=True, locale="zh-CN")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await login(page, base, "operator")

    # The overview of the demo county: figures, the chart drawn, every village listed.
    assert await page.text_content("h1") == "全县总览"
    assert int(await page.text_content('[data-kpi="cases_year"]')) > 0
    assert "%" in await page.text_content('[data-kpi="success"]')
    rows = await page.locator("table#villages tbody tr").count()
    assert rows >= 20
    await page.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-chart]');"
        " return c && c.width > 0 && typeof Chart !== 'undefined' && Chart.getChart(c); }")
    assert not errors, errors  # the vendored Chart.js ran under the CSP

    # English is a click away, and back.
    await page.click("a.lang")
    assert await page.text_content("h1") == "County overview"
    await page.click("a.lang")
    assert await page.text_content("h1") == "全县总览"

    # Drill down: county -> village -> case list -> case with its timeline.
    await page.click("table#villages a:has-text('白云村')")
    await page.wait_for_url("**/dashboard/villages/BY**")
    assert "白云村" in await page.text_content("h1")
    link = page.locator("table#cases tbody a").first
    number = (await link.text_content() or "").strip()
    await link.click()
    await page.wait_for_url("**/dashboard/cases/**")
    assert number in await page.text_content("p.meta")
    assert await page.locator("ol#timeline li").count() >= 1
    phones = await page.locator("#parties td[data-field=phone]").all_text_contents()
    assert all("****" in ph for ph in phones if ph.strip())

    # Download a CSV of the village's cases.
    await page.goto(f"{base}/dashboard/villages/BY")
    async with page.expect_download() as info:
        await page.click("h2:has-text('案件列表') a.csv")
    download = await info.value
    saved = tmp_path / "by-cases.csv"
    await download.save_as(saved)
    rows_csv = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows_csv[0][0] == "案号" and len(rows_csv) > 1
    assert any(r[0] == number for r in rows_csv[1:])

    await page.click("button:has-text('退出登录')")
    await page.wait_for_url("**/dashboard/login")
    await page.goto(f"{base}/dashboard/")
    assert "/dashboard/login" in page.url
    await ctx.close()


async def judge_session(browser, base: str, consultation_id: str) -> None:
    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    await login(page, base, "judge")
    await page.click("nav a[href='/dashboard/inbox']")
    await page.wait_for_url("**/dashboard/inbox")
    # The judge takes the village's questions (the inbox pages the county's, 10 a page).
    await page.select_option("#inbox-filter select[name=village]", "BY")
    await page.click("#inbox-filter button[type=submit]")
    await page.wait_for_url("**/dashboard/inbox?village=BY")
    item = page.locator(f"li.consultation[data-doc='{consultation_id}']")
    assert QUESTION in (await item.text_content() or "")
    assert "白云村" in (await item.text_content() or "")
    # Oldest first: the village's question, asked a moment ago, is the last one.
    docs = await page.locator("li.consultation").evaluate_all(
        "els => els.map(e => e.dataset.doc)")
    assert docs[-1] == consultation_id
    await item.locator("textarea").fill(ANSWER)
    await item.locator("button[type=submit]").click()
    await page.wait_for_url("**/dashboard/inbox?village=BY")  # back to the same filter
    assert "答复已保存" in (await page.text_content("p.flash") or "")
    assert await page.locator(f"li.consultation[data-doc='{consultation_id}']").count() == 0
    await ctx.close()
    await asyncio.sleep(0)
