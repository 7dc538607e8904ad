"""The dashboard's remaining issue-15 findings, driven in a real headless Chromium (Debian's
package, by Playwright) against one real relay serving the demo county on 127.0.0.1
(conftest's ``browser``, ``served_county`` and ``open_dashboard``):

- every figure sits under its own header (checked from the DOM: each cell's text is
  nearest to its own column's header text, and aligned on the same side);
- the revealed case page's language link opens a page (no 405);
- the judge's inbox filters by village and pages (10 cards a page);
- the median answer time says over which period;
- the CSV exports: headers and values in the export's language, China time, the period's
  last day (not tomorrow) in the file name;
- the audit log's details read as words, not raw dicts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from relay.dashboard import queries as q
from relay.warning_pass import local_today
from store import kinds
from store.records import CASE, CATEGORIES, CONSULTATION, STATUSES

pytestmark = [pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (make system-deps installs it)"),
              pytest.mark.asyncio(loop_scope="module")]

CJK = re.compile(r"[\u4e00-\u9fff]")

# For each table.num on the page: every body cell against the header of its column.
# Returns the cells that are wrong, with why; [] when every figure is under its header.
ALIGNMENT_JS = """
() => {
  const bad = [];
  const box = (el) => { const r = document.createRange(); r.selectNodeContents(el);
                        return r.getBoundingClientRect(); };
  let checked = 0;
  document.querySelectorAll('table.num').forEach((table, ti) => {
    if (!table.offsetParent) return;  // not shown (a closed <details>)
    const heads = Array.from(table.querySelectorAll('thead tr:first-child th'));
    const hbox = heads.map(box);
    table.querySelectorAll('tbody tr').forEach((tr, ri) => {
      const cells = Array.from(tr.children);
      if (cells.length !== heads.length) {
        if (cells.length === 1 && cells[0].colSpan > 1) return;  // "no rows"
        bad.push(`table ${ti} row ${ri}: ${cells.length} cells, ${heads.length} headers`);
        return;
      }
      cells.forEach((cell, i) => {
        if (!cell.textContent.trim()) return;
        checked++;
        const c = box(cell);
        const mid = (c.left + c.right) / 2;
        let near = 0, best = Infinity;
        hbox.forEach((h, j) => {
          const d = mid < h.left ? h.left - mid : mid > h.right ? mid - h.right : 0;
          if (d < best) { best = d; near = j; }
        });
        const ca = getComputedStyle(cell).textAlign, ha = getComputedStyle(heads[i]).textAlign;
        const edge = ca === 'right' ? Math.abs(c.right - hbox[i].right)
                                    : Math.abs(c.left - hbox[i].left);
        if (near !== i || ca !== ha || edge > 2) {
          bad.push(`table ${ti} row ${ri} col ${i} "${cell.textContent.trim()}" nearest `
                   + `header ${near} "${heads[near].textContent.trim()}", align ${ca}/${ha}`);
        }
      });
    });
  });
  return {bad: bad.slice(0, 10), checked};
}
"""


async def test_every_figure_sits_under_its_own_header(served_county, open_dashboard) -> None:
    base = served_county.base
    for lang in ("zh", "en"):
        page = await open_dashboard(base, lang=lang, viewport={"width": 1280, "height": 900})
        try:
            for path in ("/dashboard/?period=year", "/dashboard/report",
                         "/dashboard/villages/BY?period=year"):
                await page.goto(base + path)
                await page.evaluate("document.querySelectorAll('details')"
                                    ".forEach(d => d.open = true)")
                got = await page.evaluate(ALIGNMENT_JS)
                assert got["checked"] > 50, (path, got)
                assert got["bad"] == [], (lang, path, got["bad"])
        finally:
            await page.context.close()


async def test_the_revealed_pages_language_link_opens_a_page(served_county,
                                                             open_dashboard) -> None:
    base = served_county.base
    (doc_id,), = await served_county.store.query(
        "SELECT doc_id FROM records WHERE kind = 'case' AND village = 'BY' LIMIT 1")
    page = await open_dashboard(base)
    try:
        await page.goto(f"{base}/dashboard/cases/{doc_id}")
        async with page.expect_navigation():
            await page.click("form[action$='/reveal'] button")
        assert page.url.endswith("/reveal")
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status))
        async with page.expect_navigation():
            await page.click("a.lang")
        assert 405 not in statuses and statuses[-1] == 200, statuses
        assert page.url == f"{base}/dashboard/cases/{doc_id}"
        assert await page.get_attribute("html", "lang") == "en"
        assert await page.text_content("a.lang") == "中文"
        # And from a refused warning action (a POST's answer too).
        await page.goto(f"{base}/dashboard/warnings")
        card = page.locator("li.warning").first
        await card.locator("input[name=note]").fill("x" * 2001)
        async with page.expect_navigation():
            await card.locator("button[value=acknowledged]").click()
        statuses.clear()
        async with page.expect_navigation():
            await page.click("a.lang")
        assert 405 not in statuses and page.url == f"{base}/dashboard/warnings"
    finally:
        await page.context.close()


async def waiting_by_village(served_county: Any) -> dict[str, list[str]]:
    rows = await served_county.store.query(
        "SELECT scope, doc_id FROM records WHERE kind = ? AND status = 'open' "
        "ORDER BY created_at", (CONSULTATION,))
    out: dict[str, list[str]] = {}
    for scope, doc_id in rows:
        out.setdefault(q.village_of_scope(scope), []).append(doc_id)
    return out


async def test_the_inbox_filters_by_village_and_pages(served_county, open_dashboard) -> None:
    base = served_county.base
    waiting = await waiting_by_village(served_county)
    total = sum(len(v) for v in waiting.values())
    if total <= 10:
        # How many of the demo's questions still wait depends on the hour it was built
        # (an answer is only there once its time has come): top up to more than a page.
        scope, case_id, number = (await served_county.store.query(
            "SELECT scope, doc_id, number FROM records WHERE kind = ? ORDER BY doc_id "
            "LIMIT 1", (CASE,)))[0]
        for i in range(11 - total):
            await served_county.store.create(
                CONSULTATION, scope, lambda doc, i=i: kinds.new_consultation(
                    doc, case_id=case_id, case_number=number, by="director",
                    question=f"补充的待答问题 {i}"))
        waiting = await waiting_by_village(served_county)
        total = sum(len(v) for v in waiting.values())
    assert total > 10, "the county must have more than a page of waiting questions"
    page = await open_dashboard(base, "judge", viewport={"width": 1280, "height": 900})
    try:
        await page.goto(f"{base}/dashboard/inbox")
        seen: list[str] = []
        pages = 0
        while True:
            cards = page.locator("#inbox li.consultation")
            assert 1 <= await cards.count() <= 10
            seen += [await cards.nth(i).get_attribute("data-doc")
                     for i in range(await cards.count())]
            pages += 1
            assert await page.text_content("#inbox-total") == str(total)
            height = await page.evaluate("document.body.scrollHeight")
            assert height < 4500, height
            nxt = page.locator("#inbox-pager a[rel=next]")
            if not await nxt.count():
                break
            assert pages < 20
            async with page.expect_navigation():
                await nxt.click()
        assert pages == -(-total // 10)
        assert len(seen) == len(set(seen)) == total  # every question once, no gap
        every = sorted(d for v in waiting.values() for d in v)
        assert sorted(seen) == every

        # One village: only its questions, oldest first, the CSV link keeps the village.
        code = max(waiting, key=lambda c: len(waiting[c]))
        await page.goto(f"{base}/dashboard/inbox")
        async with page.expect_navigation():
            await page.select_option("#inbox-filter select[name=village]", code)
            await page.click("#inbox-filter button[type=submit]")
        assert f"village={code}" in page.url
        cards = page.locator("#inbox li.consultation")
        got = [await cards.nth(i).get_attribute("data-doc") for i in range(await cards.count())]
        assert got == waiting[code][:10]
        assert await page.text_content("#inbox-total") == str(len(waiting[code]))
        assert f"village={code}" in (await page.get_attribute("h1 a.csv", "href") or "")
        r = await page.goto(f"{base}/dashboard/inbox?village=NOPE")
        assert r is not None and r.status == 400
        r = await page.goto(f"{base}/dashboard/inbox?page=0")
        assert r is not None and r.status == 400
    finally:
        await page.context.close()


async def test_the_median_answer_time_says_its_period(served_county, open_dashboard) -> None:
    base = served_county.base
    today = local_today()
    page = await open_dashboard(base)
    try:
        for period, start, label in (
                ("year", dt.date(today.year, 1, 1), "今年"),
                ("month", today.replace(day=1), "本月")):
            await page.goto(f"{base}/dashboard/?period={period}")
            text = await page.text_content("[data-kpi=answer_period]") or ""
            assert f"{start.isoformat()} 至 {today.isoformat()}" in text, text
            assert label in text and "答复" in text
        await page.goto(f"{base}/dashboard/villages/BY?period=quarter")
        text = await page.text_content("[data-kpi=answer_period]") or ""
        assert "本季度" in text and today.isoformat() in text
        await page.goto(f"{base}/dashboard/inbox")
        text = await page.text_content("#answer-time") or ""
        twelve = q.parse_filters({"period": "12w"}, today)
        assert f"{twelve.start.isoformat()} 至 {today.isoformat()}" in text and "最近12周" in text
    finally:
        await page.context.close()


async def download(page: Any, selector: str, tmp_path: Path) -> tuple[str, list[list[str]]]:
    async with page.expect_download() as info:
        await page.click(selector)
    got = await info.value
    saved = tmp_path / got.suggested_filename
    await got.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"), newline="")))
    return got.suggested_filename, rows


RAW_HEADERS = {"code", "closed", "agreed", "outcome", "doc_id", "hours"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00")


async def test_csvs_speak_the_exports_language_in_china_time(served_county, open_dashboard,
                                                              tmp_path: Path) -> None:
    base = served_county.base
    today = local_today()
    names = await q.village_names(served_county.store)
    codes = set(names)
    for lang in ("zh", "en"):
        page = await open_dashboard(base, lang=lang)
        try:
            await page.goto(f"{base}/dashboard/?period=year")
            shown_sync = {}
            for row in await page.locator("#villages tbody tr").all():
                code = (await row.locator("th small").text_content() or "").strip()
                shown_sync[code] = (await row.locator("td").first.text_content() or "").strip()
            tables: dict[str, tuple[str, list[list[str]]]] = {}
            for table in ("villages", "categories", "warnings", "consultations", "followups"):
                tables[table] = await download(page, f"a.csv[href*='/{table}.csv']", tmp_path)
            await page.goto(f"{base}/dashboard/villages/BY?period=year")
            tables["cases"] = await download(page, "a.csv[href*='/cases.csv']", tmp_path)
            await page.goto(f"{base}/dashboard/audit")
            tables["audit"] = await download(page, "a.csv[href*='/audit.csv']", tmp_path)
            for table, (filename, rows) in tables.items():
                header = rows[0]
                for h in header:  # every header in the export's language
                    if re.fullmatch(r"\d{4}-\d\d-\d\d", h):
                        continue  # the categories' week columns
                    assert h not in RAW_HEADERS, (lang, table, h)
                    assert bool(CJK.search(h)) == (lang == "zh"), (lang, table, h)
                for r in rows[1:]:
                    for cell in r:
                        assert not ISO_UTC.search(cell), (lang, table, cell)  # China time
                if table != "audit":  # the period's last day, China time: never tomorrow
                    assert filename.endswith(f"-{today.isoformat()}.csv"), filename
            # Labels, not codes.
            col = {h: i for i, h in enumerate(tables["cases"][1][0])}
            cat_h, st_h, out_h, vil_h = header_names(lang, ("col_category", "col_status",
                                                            "col_outcome", "col_village"))
            labels = {n[0] if lang == "zh" else n[1] for n in CATEGORIES.values()}
            statuses = {n[0] if lang == "zh" else n[1] for n in STATUSES.values()}
            for r in tables["cases"][1][1:]:
                assert r[col[cat_h]] in labels and r[col[st_h]] in statuses, r
                assert r[col[out_h]] == "" or r[col[out_h]] in statuses, r
                assert r[col[vil_h]] == names["BY"], r
            for table in ("warnings", "consultations"):
                header, *body = tables[table][1]
                vi = header.index(vil_h)
                assert body, table
                for r in body:
                    assert r[vi] not in codes, (table, r)
            w_header, *w_rows = tables["warnings"][1]
            w_status = header_names(lang, ("col_status_w",))[0]
            shown = {r[w_header.index(w_status)] for r in w_rows}
            assert shown and shown <= ({"未处理", "已确认", "已关闭"} if lang == "zh"
                                       else {"open", "acknowledged", "closed"}), shown
            w_cats = {r[w_header.index(cat_h)] for r in w_rows}
            assert w_cats <= labels | {header_names(lang, ("all_categories",))[0]}, w_cats
            # The villages' last sync is the page's, to the minute (China time).
            v_header, *v_rows = tables["villages"][1]
            ci, si = v_header.index(header_names(lang, ("col_code",))[0]), 2
            for r in v_rows:
                assert r[si] == shown_sync[r[ci]], (r, shown_sync[r[ci]])
            assert any("UTC+8" in h or "China time" in h or "北京时间" in h for h in v_header)
        finally:
            await page.context.close()


def header_names(lang: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    from relay.dashboard import i18n
    return tuple(i18n.t(lang, k) for k in keys)


async def test_audit_details_read_as_words(served_county, open_dashboard) -> None:
    base = served_county.base
    (doc_id,), = await served_county.store.query(
        "SELECT doc_id FROM records WHERE kind = 'case' AND village = 'XK' LIMIT 1")
    page = await open_dashboard(base)
    try:
        await page.goto(f"{base}/dashboard/cases/{doc_id}")
        async with page.expect_navigation():
            await page.click("form[action$='/reveal'] button")
        await page.context.request.get(f"{base}/dashboard/export/cases.csv?period=year"
                                       "&village=XK&category=land")
        await page.goto(f"{base}/dashboard/audit")
        details = [(await c.text_content() or "").strip()
                   for c in await page.locator("#audit td.detail").all()]
        assert details
        for d in details:
            assert "{" not in d and "=" not in d and "'" not in d, d
        reveal = await page.locator("#audit tr.ev-reveal td.detail").first.text_content() or ""
        assert "电话、身份证号" in reveal and "溪口村 (XK)" in reveal, reveal
        export = await page.locator("#audit tr.ev-export td.detail").first.text_content() or ""
        assert "案件列表" in export and "今年" in export and "土地承包" in export, export
        assert "溪口村" in export, export
        login = await page.locator("#audit tr.ev-user_added td.detail").first.text_content()
        assert login is not None and ("联系法官" in login or "预警中心操作员" in login)
    finally:
        await page.context.close()
