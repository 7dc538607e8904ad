"""The county dashboard over real HTTP (aiohttp test server, a demo county of 20 villages):
who may see what, CSRF, throttling, reveals and their audit, the judge's answer, the
operator's handling of warnings, exports, metrics."""

from __future__ import annotations

import csv
import io
import re

import pytest

from relay.accounts import FAIL_LIMIT, AccountStore
from store import kinds
from store.records import CASE, CONSULTATION, WARNING

PAGES = ["/dashboard/", "/dashboard/villages/BY", "/dashboard/inbox", "/dashboard/warnings",
         "/dashboard/report", "/dashboard/audit"]
EXPORTS = ["villages", "categories", "cases", "followups", "consultations", "warnings",
           "screenings", "audit"]


def store_of(dash):
    from relay import keys

    return dash.client.app[keys.STORE]


async def a_case(dash) -> str:
    rows = await store_of(dash).query(
        "SELECT doc_id FROM records WHERE kind = ? AND village = 'BY' ORDER BY number LIMIT 1",
        (CASE,))
    return rows[0][0]


async def test_without_a_session_nothing_is_shown(dash) -> None:
    case_id = await a_case(dash)
    for path in [*PAGES, f"/dashboard/cases/{case_id}"]:
        r = await dash.get(path)
        assert r.status == 302, path
        assert r.headers["Location"].startswith("/dashboard/login"), path
    for table in EXPORTS:
        r = await dash.get(f"/dashboard/export/{table}.csv")
        assert r.status == 401, table
        assert "BY" not in await r.text()
    for path in [f"/dashboard/cases/{case_id}/reveal", "/dashboard/warnings/run",
                 "/dashboard/inbox/x/answer", "/dashboard/logout"]:
        r = await dash.post(path, csrf=False)
        assert r.status in (401, 302), path
        if r.status == 302:
            assert r.headers["Location"].startswith("/dashboard/login")
    # The login page, the static assets and the relay's own endpoints stay reachable.
    assert (await dash.get("/dashboard/login")).status == 200
    assert (await dash.get("/dashboard/static/dashboard.css")).status == 200
    assert (await dash.get("/healthz")).status == 200
    assert (await dash.get("/")).headers["Location"] == "/dashboard/"


async def test_operator_reads_every_page_in_both_languages(dash) -> None:
    r = await dash.login("operator")
    assert r.status == 302 and r.headers["Location"] == "/dashboard/"
    case_id = await a_case(dash)
    for lang, word in (("zh", "全县总览"), ("en", "County overview")):
        assert (await dash.get(f"/dashboard/lang/{lang}")).status == 302
        r = await dash.get("/dashboard/")
        body = await r.text()
        assert r.status == 200 and word in body
        assert r.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        for path in [*PAGES, f"/dashboard/cases/{case_id}",
                     "/dashboard/?period=custom&from=2025-01-01&to=2025-12-31&grain=month",
                     "/dashboard/?period=12w&category=land&village=SM",
                     "/dashboard/villages/BY?status=open&page=2",
                     "/dashboard/report?month=2025-12"]:
            r = await dash.get(path)
            assert r.status == 200, (lang, path, (await r.text())[:500])
    assert (await dash.get("/dashboard/villages/NOPE")).status == 404
    assert (await dash.get("/dashboard/cases/nope")).status == 404


async def test_overview_figures_match_the_store(dash) -> None:
    await dash.login("operator")
    store = store_of(dash)
    body = await (await dash.get("/dashboard/?period=all")).text()
    (open_cases,), = await store.query(
        "SELECT count(*) FROM records WHERE kind = ? AND status != 'closed'", (CASE,))
    (closed, agreed), = await store.query(
        "SELECT count(*), sum(outcome = 'agreed') FROM records WHERE kind = ? "
        "AND status = 'closed'", (CASE,))
    (waiting,), = await store.query(
        "SELECT count(*) FROM records WHERE kind = ? AND status = 'open'", (CONSULTATION,))
    (warnings,), = await store.query(
        "SELECT count(*) FROM records WHERE kind = ? AND status = 'open'", (WARNING,))
    assert f"{agreed / closed * 100:.1f}%" in body
    assert f'data-kpi="waiting">{waiting}<' in body
    assert f'data-kpi="warnings">{warnings}<' in body
    assert f">{open_cases}</span>" in body
    # Twenty villages, each linked, and the stale ones flagged.
    assert len(re.findall(r'href="/dashboard/villages/[A-Z0-9]+\?', body)) == 20
    assert "未同步" in body and "从未同步" in body


async def test_judge_sees_masked_data_and_cannot_reveal(dash) -> None:
    await dash.login("judge")
    case_id = await a_case(dash)
    data = await store_of(dash).read(case_id)
    phone = next(p["phone"] for p in data["parties"] if p.get("phone"))
    body = await (await dash.get(f"/dashboard/cases/{case_id}")).text()
    assert phone not in body
    assert phone[:3] + "****" + phone[-4:] in body
    assert 'id="reveal"' not in body
    r = await dash.post(f"/dashboard/cases/{case_id}/reveal")
    assert r.status == 403
    assert phone not in await r.text()
    # Judges may not act on warnings or read the audit log either.
    assert (await dash.get("/dashboard/audit")).status == 403
    assert (await dash.post("/dashboard/warnings/run")).status == 403


async def test_operator_reveal_is_audited(dash, county_home) -> None:
    await dash.login("operator")
    case_id = await a_case(dash)
    data = await store_of(dash).read(case_id)
    ids = [p["id_number"] for p in data["parties"] if p.get("id_number")]
    phone = next(p["phone"] for p in data["parties"] if p.get("phone"))
    body = await (await dash.get(f"/dashboard/cases/{case_id}")).text()
    assert phone not in body and not any(i in body for i in ids)
    r = await dash.post(f"/dashboard/cases/{case_id}/reveal")
    body = await r.text()
    assert r.status == 200 and phone in body and all(i in body for i in ids)
    assert r.headers["Cache-Control"] == "no-store"
    audit = AccountStore(county_home.accounts_location()).audit_log(event="reveal")
    assert audit[0]["user"] == "operator" and audit[0]["detail"]["doc_id"] == case_id
    # ...and it shows in the audit page.
    page = await (await dash.get("/dashboard/audit?event=reveal")).text()
    assert case_id in page


async def test_forms_without_a_valid_csrf_token_are_refused(dash, county_home) -> None:
    # The login form itself.
    await dash.token()
    r = await dash.client.post("/dashboard/login", data={
        "name": "operator", "password": "demo-operator-2024"}, allow_redirects=False)
    assert r.status == 403
    r = await dash.client.post("/dashboard/login", data={
        "_csrf": "forged", "name": "operator", "password": "demo-operator-2024"},
        allow_redirects=False)
    assert r.status == 403
    # A logged-in judge's answer without the token changes nothing.
    assert (await dash.login("judge")).status == 302
    rows = await store_of(dash).query(
        "SELECT doc_id FROM records WHERE kind = ? AND status = 'open' LIMIT 1",
        (CONSULTATION,))
    doc_id = rows[0][0]
    before = await store_of(dash).meta(doc_id)
    r = await dash.post(f"/dashboard/inbox/{doc_id}/answer", {"answer": "x"}, csrf=False)
    assert r.status == 403
    r = await dash.client.post(f"/dashboard/inbox/{doc_id}/answer",
                               data={"answer": "x", "_csrf": dash.csrf[:-2] + "zz"},
                               allow_redirects=False)
    assert r.status == 403
    assert (await store_of(dash).meta(doc_id)).heads == before.heads


async def test_repeated_wrong_passwords_are_throttled(dash, county_home) -> None:
    for _ in range(FAIL_LIMIT):
        r = await dash.login("operator", "wrong-password")
        assert r.status == 401
    r = await dash.login("operator")  # even the right password, while locked
    assert r.status == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "秒后再试" in await r.text()
    assert (await dash.get("/dashboard/")).status == 302
    events = [a["event"] for a in AccountStore(county_home.accounts_location()).audit_log()]
    assert events.count("login_failed") == FAIL_LIMIT and "login_throttled" in events
    # Another user is not locked out by the operator's failures.
    assert (await dash.login("judge")).status == 302


async def test_logout_and_disable_end_the_session(dash, county_home) -> None:
    await dash.login("operator")
    assert (await dash.get("/dashboard/")).status == 200
    r = await dash.post("/dashboard/logout")
    assert r.status == 302
    assert (await dash.get("/dashboard/")).status == 302
    await dash.login("judge")
    assert (await dash.get("/dashboard/inbox")).status == 200
    AccountStore(county_home.accounts_location()).set_disabled("judge")
    assert (await dash.get("/dashboard/inbox")).status == 302
    assert (await dash.login("judge")).status == 401


async def test_judge_answers_a_consultation(dash, county_home) -> None:
    store = store_of(dash)
    await dash.login("judge")
    body = await (await dash.get("/dashboard/inbox")).text()
    waiting = re.findall(r'data-doc="([0-9A-Za-z_-]+)"', body)
    rows = await store.query("SELECT doc_id FROM records WHERE kind = ? AND status = 'open' "
                             "ORDER BY created_at, doc_id", (CONSULTATION,))
    # oldest first (questions asked at the same instant by id), the first page
    assert waiting == [r[0] for r in rows][:10]
    doc_id = waiting[0]
    r = await dash.post(f"/dashboard/inbox/{doc_id}/answer",
                        {"answer": "可以申请司法确认，协议即具有强制执行力。"})
    assert r.status == 302
    c = kinds.read_consultation(doc_id, await store.read(doc_id))
    assert c.answer == "可以申请司法确认，协议即具有强制执行力。"
    assert c.answered_by == "联系法官 王法官" and c.answered_at
    page = await (await dash.get("/dashboard/inbox")).text()
    assert f'data-doc="{doc_id}"' not in page
    assert "答复已保存" in page
    # A second answer to the same consultation is refused, the first one stays.
    await dash.token("/dashboard/inbox")
    await dash.post(f"/dashboard/inbox/{doc_id}/answer", {"answer": "另一个答复"})
    assert kinds.read_consultation(doc_id, await store.read(doc_id)).answer.startswith("可以")
    audit = AccountStore(county_home.accounts_location()).audit_log(event="answer_consultation")
    assert audit[0]["detail"]["doc_id"] == doc_id
    # Operators read the inbox but do not answer.
    await dash.post("/dashboard/logout")
    await dash.login("operator")
    other = waiting[1]
    assert (await dash.post(f"/dashboard/inbox/{other}/answer", {"answer": "x"})).status == 403


async def test_operator_acknowledges_and_closes_warnings(dash) -> None:
    store = store_of(dash)
    await dash.login("operator")
    body = await (await dash.get("/dashboard/warnings")).text()
    open_ids = re.findall(r'class="warning rule-[a-z_0-9]+" data-doc="([^"]+)"', body)
    assert open_ids, "the demo county has open warnings"
    doc_id = open_ids[0]
    # A note is required.
    await dash.post(f"/dashboard/warnings/{doc_id}/act", {"status": "acknowledged",
                                                           "note": " "})
    assert (await store.read(doc_id))["status"] == "open"
    await dash.post(f"/dashboard/warnings/{doc_id}/act",
                    {"status": "acknowledged", "note": "已派网格员走访"})
    data = await store.read(doc_id)
    assert data["status"] == "acknowledged" and data["note"] == "已派网格员走访"
    assert data["acted_by"] == "县法院预警中心 刘科长"
    await dash.post(f"/dashboard/warnings/{doc_id}/act", {"status": "closed",
                                                           "note": "已化解"})
    assert (await store.read(doc_id))["status"] == "closed"
    # Run the pass by hand: nothing is raised twice for the same week.
    before = await store.query("SELECT count(*) FROM records WHERE kind = ?", (WARNING,))
    assert (await dash.post("/dashboard/warnings/run")).status == 302
    after = await store.query("SELECT count(*) FROM records WHERE kind = ?", (WARNING,))
    assert after == before


@pytest.mark.parametrize("table", EXPORTS)
async def test_every_table_exports_as_csv(dash, table) -> None:
    await dash.login("operator")
    r = await dash.get(f"/dashboard/export/{table}.csv?period=all")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    raw = await r.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows[0]) >= 3
    if table not in ("followups", "audit"):
        assert len(rows) > 1, table
    # No phone number or ID number in any export.
    text = raw.decode("utf-8-sig")
    assert not re.search(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])", text)
    assert not re.search(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])", text)


async def test_metrics_report_the_county(dash) -> None:
    body = await (await dash.get("/metrics")).text()
    assert "villagecourt_sessions_active 0" in body  # the relay's own, unchanged
    assert re.search(r"^villagecourt_villages 20$", body, re.M)
    assert re.search(r"^villagecourt_villages_stale [1-9]", body, re.M)
    assert re.search(r'^villagecourt_warnings\{status="open"\} [1-9]', body, re.M)
    assert "villagecourt_consultations_waiting" in body
