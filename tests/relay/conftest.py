"""Fixtures for the relay's dashboard tests: a demo county built once per session, copied
for each test that serves it, and a logged-in client.

Fixtures
    county_template   (session) path of a built demo county (20 villages, small)
    county_home       a private copy of it for one test (a RelayHome)
    dash              an aiohttp test client of the relay app with helpers:
                      ``await dash.login("operator")``, ``dash.csrf``, ``dash.get/post``

For the browser tests (Playwright driving Debian's chromium), module-scoped so one browser
and one relay serve a whole module (mark it ``pytest.mark.asyncio(loop_scope="module")``):
    browser           a headless Chromium
    served_county     a private copy of the demo county served by a real relay on
                      127.0.0.1: ``.base``, ``.home``, ``.store``, ``.accounts``, ``.app``
    open_dashboard    ``await open_dashboard(base, "operator", lang="zh")``: a new browser
                      context, logged in through the login form, on the overview
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import types
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import node.demo as vocab
from relay import keys as relay_keys
from relay.app import create_app
from relay.config import RelayHome
from relay.demo_county import DEMO_USERS, build_county
from relay.warning_pass import local_today

PASSWORDS = {name: pw for name, _, _, pw in DEMO_USERS}
# The dashboard counts "this month" from the clock, so the county is built up to today.
TODAY = local_today()


@pytest.fixture(scope="session")
def county_template(tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    path = tmp_path_factory.mktemp("county") / "relay"
    demo = asyncio.run(build_county(RelayHome(path), vocab, villages=20, cases=(30, 60),
                                    today=TODAY))
    return types.SimpleNamespace(path=path, demo=demo, today=TODAY)


@pytest.fixture
def county_home(county_template: types.SimpleNamespace, tmp_path: Path) -> RelayHome:
    dest = tmp_path / "relay"
    shutil.copytree(county_template.path, dest)
    # No background warning pass in tests: each test runs the pass when it means to.
    (dest / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    return RelayHome(dest)


class Dash:
    """A test client that logs in through the login form, as a browser does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    async def token(self, path: str = "/dashboard/login") -> str:
        r = await self.client.get(path)
        m = re.search(r'name="_csrf" value="([^"]+)"', await r.text())
        assert m, f"no CSRF token on {path}"
        self.csrf = m.group(1)
        return self.csrf

    async def login(self, name: str, password: str | None = None) -> Any:
        await self.token()
        r = await self.client.post("/dashboard/login", data={
            "_csrf": self.csrf, "name": name, "password": password or PASSWORDS[name]},
            allow_redirects=False)
        if r.status == 302:
            await self.token("/dashboard/warnings")  # the session's new token
        return r

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.client.get(path, allow_redirects=False, **kw)

    async def post(self, path: str, data: dict[str, str] | None = None, *,
                   csrf: bool = True) -> Any:
        body = dict(data or {})
        if csrf:
            body["_csrf"] = self.csrf
        return await self.client.post(path, data=body, allow_redirects=False)


@pytest.fixture
async def dash(county_home: RelayHome) -> AsyncIterator[Dash]:
    app = create_app(county_home, tls=False)
    async with TestClient(TestServer(app)) as client:
        yield Dash(client)


CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    playwright = pytest.importorskip("playwright.async_api")
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (make system-deps installs it)")
    async with playwright.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served_county(county_template: types.SimpleNamespace,
                        tmp_path_factory: pytest.TempPathFactory
                        ) -> AsyncIterator[types.SimpleNamespace]:
    from relay.dashboard import DASHBOARD_APP
    from relay.dashboard.keys import ACCOUNTS

    dest = tmp_path_factory.mktemp("served") / "relay"
    shutil.copytree(county_template.path, dest)
    (dest / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    home = RelayHome(dest)
    app = create_app(home, tls=False)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield types.SimpleNamespace(
            base=f"http://127.0.0.1:{runner.addresses[0][1]}", home=home, app=app,
            port=runner.addresses[0][1], store=app[relay_keys.STORE],
            accounts=app[DASHBOARD_APP][ACCOUNTS], today=county_template.today)
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def open_dashboard(browser: Any) -> Any:
    async def login(base: str, name: str = "operator", *, lang: str = "zh",
                    **context: Any) -> Any:
        ctx = await browser.new_context(accept_downloads=True,
                                        locale="zh-CN" if lang == "zh" else "en", **context)
        page = await ctx.new_page()
        await page.goto(f"{base}/dashboard/lang/{lang}?next=/dashboard/login")
        await page.fill("input[name=name]", name)
        await page.fill("input[name=password]", PASSWORDS[name])
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard/")
        return page
    return login
