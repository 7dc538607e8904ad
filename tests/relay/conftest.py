"""Fixtures for the relay's dashboard tests: a demo county built once per session, copied
for each test that serves it, and a logged-in client.

Fixtures
    county_template   (session) path of a built demo county (20 villages, small)
    county_home       a private copy of it for one test (a RelayHome)
    dash              an aiohttp test client of the relay app with helpers:
                      ``await dash.login("operator")``, ``dash.csrf``, ``dash.get/post``
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
from aiohttp.test_utils import TestClient, TestServer

import node.demo as vocab
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
