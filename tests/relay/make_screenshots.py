"""Screenshots of the dashboard for docs/dashboard.md (not a test; run by hand):

    python tests/relay/make_screenshots.py [RELAY_HOME] [OUT_DIR]

Serves the relay home (a demo county: ``villagecourt demo --county`` or
relay.demo_county.build_county) on 127.0.0.1, logs in with the demo logins and saves
the overview, a village page, a case, the warnings, the monthly report, the audit log and
the judge's inbox in Chinese and English with
Debian's chromium through Playwright.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from aiohttp import web
from playwright.async_api import async_playwright

from relay.app import create_app
from relay.config import RelayHome
from relay.demo_county import DEMO_USERS

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


async def main(home: Path, out: Path, village: str = "SF") -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = create_app(RelayHome(home), tls=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    logins = {role: (name, pw) for name, role, _, pw in DEMO_USERS[:2]}
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=CHROMIUM_FLAGS)
            for lang in ("zh", "en"):
                for role, pages in (("operator", [("overview", "/dashboard/"),
                                                  ("village", f"/dashboard/villages/{village}"),
                                                  ("warnings", "/dashboard/warnings"),
                                                  ("report", "/dashboard/report"),
                                                  ("audit", "/dashboard/audit")]),
                                    ("judge", [("inbox", "/dashboard/inbox")])):
                    ctx = await browser.new_context(viewport={"width": 1280, "height": 900},
                                                    locale="zh-CN" if lang == "zh" else "en")
                    page = await ctx.new_page()
                    await page.goto(f"{base}/dashboard/lang/{lang}?next=/dashboard/login")
                    name, pw = logins[role]
                    await page.fill("input[name=name]", name)
                    await page.fill("input[name=password]", pw)
                    await page.click("button[type=submit]")
                    await page.wait_for_url(f"{base}/dashboard/")
                    for label, path in pages:
                        await page.goto(base + path)
                        await page.wait_for_timeout(400)
                        await page.screenshot(path=str(out / f"dashboard-{label}-{lang}.png"),
                                              full_page=label in ("overview", "report"))
                    if role == "operator":
                        await page.goto(f"{base}/dashboard/villages/{village}")
                        await page.click("table#cases a >> nth=0")
                        await page.wait_for_timeout(300)
                        await page.screenshot(path=str(out / f"dashboard-case-{lang}.png"),
                                              full_page=True)
                    await ctx.close()
            await browser.close()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dc1"),
                     Path(sys.argv[2] if len(sys.argv) > 2 else "docs/img")))
