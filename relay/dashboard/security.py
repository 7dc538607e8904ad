"""Who is asking, and may they: sessions, CSRF, roles and the response headers.

Rules
1. Sessions are aiohttp-session's EncryptedCookieStorage (Fernet: AES-128-CBC + HMAC,
   keyed by ``keys/dashboard.key``): the browser holds a sealed cookie it can neither
   read nor forge. HttpOnly, SameSite=Strict, path /dashboard, Secure when served over
   TLS; a login lasts ``session_hours`` from the moment it was made.
2. Every request is checked against the account store: a disabled user, or a session
   made before the user last logged out ("log out everywhere"), counts as no session.
3. Without a session, a page answers 302 to the login page (with ``next``), and an
   export or any POST answers 401 — nothing of the county's data is ever sent.
4. CSRF: each session holds a random token; every form carries it in ``_csrf`` and every
   POST must match it (compare_digest), the login form included. A missing or wrong token
   answers 403 and changes nothing.
5. Roles: operators run the warning centre; judges answer consultations. ``need(role)``
   refuses the others with 403. Revealing personal data needs a role in
   ``reveal_roles`` (configuration; operators by default).
6. Every dashboard response is ``no-store`` and carries a strict Content-Security-Policy
   (scripts only from the relay itself, no inline script) and framing is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, MutableMapping

from aiohttp import web
from aiohttp_session import Session, get_session
from yarl import URL

from .keys import ACCOUNTS, DCONFIG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC = ("/dashboard/login", "/dashboard/static/", "/dashboard/lang/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")



@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    label: str  # display name: how a judge signs an answer

    def may_reveal(self, request: web.Request) -> bool:
        return self.role in request.config_dict[DCONFIG].reveal_roles


REQUEST_VIEWER = web.RequestKey("dashboard_viewer", Viewer)


def _is_public(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC)


def safe_next(target: str | None) -> str:
    """Where to go after login: only a dashboard path of this relay (no open redirect)."""
    if target and target.startswith("/dashboard/") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard/"


def _is_export(path: str) -> bool:
    return path.startswith("/dashboard/export/")


def csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def check_csrf(request: web.Request) -> None:
    """Rule 4. Reads the form (the body is cached by aiohttp for the handler)."""
    session = await get_session(request)
    want = session.get("csrf")
    form = await request.post()
    got = form.get("_csrf") or request.headers.get("X-CSRF-Token", "")
    if not isinstance(want, str) or not isinstance(got, str) or not hmac.compare_digest(
            want.encode(), got.encode()):
        raise web.HTTPForbidden(text="CSRF token missing or wrong: reload the page and "
                                     "try again / 表单已过期，请刷新页面后重试")


async def current_viewer(request: web.Request) -> Viewer | None:
    """Rule 2: the logged-in user, if the session is valid and the user may still log in."""
    cached = request.get(REQUEST_VIEWER)
    if isinstance(cached, Viewer):
        return cached
    session = await get_session(request)
    name = session.get("user")
    login_at = session.get("login_at")
    if not isinstance(name, str) or not isinstance(login_at, (int, float)):
        return None
    if time.time() - login_at > request.config_dict[DCONFIG].session_hours * 3600:
        return None  # the login is older than a working day: log in again
    accounts = request.config_dict[ACCOUNTS]
    user = accounts.get(name)
    if user is None or user.disabled or login_at < accounts.valid_after(name):
        return None
    viewer = Viewer(user.name, user.role, user.label)
    request[REQUEST_VIEWER] = viewer
    return viewer


async def start_session(request: web.Request, name: str) -> None:
    session = await get_session(request)
    lang = session.get("lang")
    session.invalidate()  # a fresh session (and CSRF token) at login: no fixation
    session = await get_session(request)
    session["user"] = name
    session["login_at"] = time.time()
    if lang:
        session["lang"] = lang
    csrf_token(session)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rules 2-4 and 6 for every request to the dashboard sub-application."""
    path = request.path
    if not _is_public(path):
        viewer = await current_viewer(request)
        if viewer is None:
            if request.method == "GET" and not _is_export(path):
                login = URL("/dashboard/login")
                if path != "/dashboard/":
                    login = login.with_query(next=str(request.rel_url))
                raise web.HTTPFound(str(login))
            raise web.HTTPUnauthorized(text="log in first / 请先登录")
    if request.method == "POST":
        await check_csrf(request)
    return await handler(request)


def secure_headers_on(path: str, headers: MutableMapping[str, str]) -> None:
    """Rule 6 on one response's headers."""
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if path.startswith("/dashboard/static/"):
        headers["Cache-Control"] = "public, max-age=86400"


def _dashboard_path(path: str) -> bool:
    return path in ("/", "/dashboard") or path.startswith("/dashboard/")


@web.middleware
async def secure_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rule 6 on every dashboard response, the ones raised as HTTPException (302 to the
    login, 401, 403, 404 of an unknown path) included. Mounted on the relay's root app, so
    a path no route matches is covered too."""
    if not _dashboard_path(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        secure_headers_on(request.path, exc.headers)
        raise
    secure_headers_on(request.path, response.headers)
    return response


async def viewer_of(request: web.Request) -> Viewer:
    viewer = await current_viewer(request)
    if viewer is None:  # the guard let no such request through
        raise web.HTTPUnauthorized()
    return viewer


async def need(request: web.Request, *roles: str) -> Viewer:
    """The viewer, if their role is one of ``roles`` (rule 5); 403 otherwise."""
    viewer = await viewer_of(request)
    if viewer.role not in roles:
        raise web.HTTPForbidden(text="your role may not do this / 您的角色无权进行此操作")
    return viewer
