"""The dashboard's logins on both backends of the relay (accounts.db, or the relay's
PostgreSQL database), over real HTTP with the login form: throttling, logout and
disabling end the session, the audit page and /metrics count from the same tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import node.demo as vocab
from relay.accounts import FAIL_LIMIT, AccountStore
from relay.config import RelayHome
from relay.demo_county import build_county
from relay.warning_pass import local_today


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The relay's ``store``: "" (store.db, accounts.db) or a fresh database."""
    return request.getfixturevalue("pg_dsn") if request.param == "postgresql" else ""


@pytest_asyncio.fixture
async def county_home(store_url: str, tmp_path: Path) -> RelayHome:
    """(Overrides the conftest's county for this module: ``dash`` serves this one.) A small
    county whose store, and so whose accounts, are on the test's backend."""
    store = store_url
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", store=store)
    await build_county(home, vocab, villages=2, cases=(3, 5), today=local_today(),
                       run_warnings=False)
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    assert home.accounts_location() == (store or home.accounts_file)
    assert home.accounts_file.exists() == (not store)
    return home


def accounts_of(home: RelayHome) -> AccountStore:
    return AccountStore(home.accounts_location())


async def test_repeated_wrong_passwords_are_throttled(dash: Any,
                                                      county_home: RelayHome) -> None:
    for _ in range(FAIL_LIMIT):
        assert (await dash.login("operator", "wrong-password")).status == 401
    r = await dash.login("operator")  # even the right password, while locked
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert (await dash.get("/dashboard/")).status == 302
    accounts = accounts_of(county_home)
    try:
        events = [a["event"] for a in accounts.audit_log()]
        assert events.count("login_failed") == FAIL_LIMIT and "login_throttled" in events
    finally:
        accounts.close()
    assert (await dash.login("judge")).status == 302  # another user is not locked out


async def test_logout_and_disable_end_the_session(dash: Any, county_home: RelayHome) -> None:
    await dash.login("operator")
    assert (await dash.get("/dashboard/")).status == 200
    assert (await dash.post("/dashboard/logout")).status == 302
    assert (await dash.get("/dashboard/")).status == 302
    await dash.login("judge")
    assert (await dash.get("/dashboard/inbox")).status == 200
    accounts = accounts_of(county_home)  # as 'relay user disable' does, from outside
    try:
        accounts.set_disabled("judge")
    finally:
        accounts.close()
    assert (await dash.get("/dashboard/inbox")).status == 302
    assert (await dash.login("judge")).status == 401


async def test_the_audit_page_and_metrics_count_the_logins(dash: Any) -> None:
    assert (await dash.login("judge", "wrong-password")).status == 401
    assert (await dash.login("operator")).status == 302
    body = await (await dash.get("/dashboard/audit")).text()
    assert "login_failed" in body or "登录失败" in body
    metrics = await (await dash.get("/metrics")).text()
    assert re.search(r'villagecourt_dashboard_logins_total\{outcome="ok"\} 1\b', metrics)
    assert re.search(r'villagecourt_dashboard_logins_total\{outcome="failed"\} 1\b', metrics)
    assert re.search(r"villagecourt_dashboard_logins_24h 1\b", metrics)
