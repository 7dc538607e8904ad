"""Logging in and out, and choosing the language."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp_session import get_session

from . import i18n
from .common import flash, lang_of, render
from .keys import ACCOUNTS
from .security import current_viewer, safe_next, start_session

log = logging.getLogger("relay.dashboard")
MAX_FIELD = 200  # characters of a user name or password we bother to look at


def remote_of(request: web.Request) -> str:
    return request.remote or "-"


async def login_page(request: web.Request) -> web.StreamResponse:
    if await current_viewer(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": safe_next(request.query.get("next")),
                                                "error": None, "name": ""})


async def login(request: web.Request) -> web.StreamResponse:
    """POST (the CSRF token was checked by the guard). Throttled, audited, slow on purpose."""
    form = await request.post()
    name = str(form.get("name", ""))[:MAX_FIELD].strip()
    password = str(form.get("password", ""))[:MAX_FIELD]
    target = safe_next(str(form.get("next", "")))
    accounts = request.config_dict[ACCOUNTS]
    result = await asyncio.to_thread(accounts.login, name, password, remote_of(request))
    if result.code == "ok" and result.user is not None:
        await start_session(request, result.user.name)
        log.info("event=dashboard_login user=%s remote=%s", name, remote_of(request))
        raise web.HTTPFound(target)
    lang = await lang_of(request)
    if result.code == "throttled":
        error = i18n.t(lang, "login_throttled", seconds=result.retry_after)
        response = await render(request, "login.html", {
            "next": target, "error": error, "name": name, "here": "/dashboard/login"},
            status=429)
        response.headers["Retry-After"] = str(result.retry_after)
        return response
    log.info("event=dashboard_login_failed remote=%s", remote_of(request))
    return await render(request, "login.html", {"next": target, "name": name,
                                                "error": i18n.t(lang, "login_failed"),
                                                "here": "/dashboard/login"},
                        status=401)


async def logout(request: web.Request) -> web.StreamResponse:
    viewer = await current_viewer(request)
    session = await get_session(request)
    lang = session.get("lang")
    if viewer is not None:
        accounts = request.config_dict[ACCOUNTS]
        accounts.end_sessions(viewer.name)
        accounts.audit(viewer.name, "logout", remote=remote_of(request))
    session.invalidate()
    session = await get_session(request)
    if lang:
        session["lang"] = lang
    await flash(request, "logged_out")
    raise web.HTTPFound("/dashboard/login")


async def set_lang(request: web.Request) -> web.StreamResponse:
    """GET /dashboard/lang/{lang}?next=...: remembered in the session (no data changes,
    so it needs no CSRF token)."""
    lang = request.match_info["lang"]
    if lang in i18n.LANGS:
        session = await get_session(request)
        session["lang"] = lang
    raise web.HTTPFound(safe_next(request.query.get("next")) if request.query.get("next")
                        else "/dashboard/")
