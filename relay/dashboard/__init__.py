"""The county dashboard (大数据预警中心): a web application inside the relay.

``setup_dashboard(app, home)`` mounts it on the relay's aiohttp application (relay/app.py
calls it once): a sub-application at ``/dashboard/`` with its own middlewares (sessions,
the login guard, CSRF, security headers), so nothing of it touches the sync endpoint.
Pages are server-rendered with aiohttp-jinja2 from ``relay/templates/``; every asset,
the vendored Chart.js included, is served from ``relay/static/`` by the relay itself, so
the dashboard works on a county network with no internet. Pages work without JavaScript
(every chart has its table).

Routes (all under /dashboard/; see docs/dashboard.md)
    GET  login, POST login, POST logout, GET lang/{zh|en}
    GET  /                 county overview (filters: period, village, category, grain)
    GET  villages/{code}   a village: figures, chart, case list
    GET  cases/{doc_id}    a case with its timeline; POST cases/{doc_id}/reveal
    GET  inbox             the judge's inbox; POST inbox/{doc_id}/answer
    GET  warnings          POST warnings/{doc_id}/act, POST warnings/run
    GET  report            printable monthly report
    GET  audit             the audit log (operators)
    GET  export/{table}.csv
It also adds the dashboard's gauges to the relay's /metrics and sends / to the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from .. import keys as relay_keys
from ..accounts import AccountStore
from ..config import RelayHome
from ..warning_pass import WarningPass
from . import auth_views, export, inbox, pages, warnings_view
from .common import warm
from .config import DashboardConfig, cookie_key, load_config
from .keys import ACCOUNTS, CACHE, DCONFIG, WARMER_TASK, WARNING_TASK, WARNINGS
from .metrics import metrics_middleware
from .queries import Store
from .security import guard, secure_headers

__all__ = ["DASHBOARD_APP", "DashboardConfig", "setup_dashboard"]

log = logging.getLogger("relay.dashboard")
PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
DASHBOARD_APP = web.AppKey("dashboard_app", web.Application)
FIRST_PASS_DELAY_S = 5.0  # after start, before the first warning pass
WARM_INTERVAL_S = 20.0  # the default overview is recomputed this often if the store changed


def setup_dashboard(app: web.Application, home: Path | RelayHome) -> web.Application:
    """Mount the dashboard on the relay ``app`` (before it starts); returns the sub-app."""
    h = home if isinstance(home, RelayHome) else RelayHome(Path(home))
    cfg = load_config(h)
    dash = web.Application()
    dash[DCONFIG] = cfg
    dash[ACCOUNTS] = AccountStore(h.accounts_location())  # accounts.db or the database
    dash[CACHE] = {}
    secure = cfg.cookie_secure if cfg.cookie_secure is not None else bool(app[relay_keys.TLS])
    aiohttp_session.setup(dash, EncryptedCookieStorage(
        cookie_key(h), cookie_name="vc_dashboard", path="/dashboard",
        max_age=(cfg.session_hours + 24) * 3600, secure=secure, httponly=True,
        samesite="Strict"))
    dash.middlewares.append(guard)
    env = aiohttp_jinja2.setup(dash, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                               autoescape=jinja2.select_autoescape(default=True),
                               undefined=jinja2.StrictUndefined)
    env.filters["local_time"] = pages.q.local_time

    r = dash.router
    r.add_get("/login", auth_views.login_page)
    r.add_post("/login", auth_views.login)
    r.add_post("/logout", auth_views.logout)
    r.add_get("/lang/{lang}", auth_views.set_lang)
    r.add_get("/", pages.overview)
    r.add_get("/villages/{code}", pages.village)
    r.add_get("/cases/{doc_id}", pages.case_view)
    r.add_post("/cases/{doc_id}/reveal", pages.reveal)
    r.add_get("/inbox", inbox.inbox)
    r.add_post("/inbox/{doc_id}/answer", inbox.answer)
    r.add_get("/warnings", warnings_view.warnings_page)
    r.add_post("/warnings/run", warnings_view.run_now)
    r.add_post("/warnings/{doc_id}/act", warnings_view.act)
    r.add_get("/report", pages.report)
    r.add_get("/audit", pages.audit_page)
    r.add_get("/export/{table}.csv", export.export)
    r.add_static("/static/", STATIC, name="static", append_version=False)

    async def start_warnings(dash: web.Application) -> None:
        store = app[relay_keys.STORE]  # opened by the relay's cleanup context, before us
        dash[WARNINGS] = WarningPass(store, app[relay_keys.CONFIG].county, cfg.warnings)
        if cfg.warning_interval_s > 0:
            dash[WARNING_TASK] = asyncio.ensure_future(_warning_loop(dash, cfg))
        if cfg.warm_overview:
            dash[WARMER_TASK] = asyncio.ensure_future(
                _warm_loop(dash, store, app[relay_keys.CONFIG].county, cfg))

    async def stop_warnings(dash: web.Application) -> None:
        # on_shutdown runs before any cleanup: the store is still open here.
        for key in (WARNING_TASK, WARMER_TASK):
            task = dash.get(key)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def close_accounts(dash: web.Application) -> None:
        await asyncio.to_thread(dash[ACCOUNTS].close)  # a database's pool

    dash.on_startup.append(start_warnings)
    dash.on_shutdown.append(stop_warnings)
    dash.on_cleanup.append(close_accounts)
    app.add_subapp("/dashboard/", dash)
    app[DASHBOARD_APP] = dash
    app.router.add_get("/", _to_dashboard)
    app.router.add_get("/dashboard", _to_dashboard)
    app.middlewares.append(metrics_middleware(dash))
    app.middlewares.append(secure_headers)
    return dash


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/dashboard/")


async def _warm_loop(dash: web.Application, store: Store, county: str,
                     cfg: DashboardConfig) -> None:
    """Keep the default overview (this year, the whole county) computed ahead, so the page
    a person opens first answers from the cache even on a relay of 400 villages."""
    while True:
        try:
            f = pages.q.parse_filters({})
            await warm(dash[CACHE], store, ("overview", f),
                       lambda: pages.overview_data(store, county, cfg, f))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event=overview_warm_failed")
        await asyncio.sleep(WARM_INTERVAL_S)


async def _warning_loop(dash: web.Application, cfg: DashboardConfig) -> None:
    """Run the warning pass every ``warning_interval_s``; a failure is logged, never
    fatal (the next pass tries again)."""
    await asyncio.sleep(FIRST_PASS_DELAY_S)
    while True:
        try:
            await dash[WARNINGS].run()
            dash[CACHE].clear()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event=warning_pass_failed")
        await asyncio.sleep(cfg.warning_interval_s)
