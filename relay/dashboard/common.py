"""What every dashboard page shares: the language, the template context, flash messages,
number formats, the cache of figures, and masking of personal data."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from store import DocMeta, DocNotFound
from store.records import CATEGORIES, CONSULTATION, STATUSES, WARNING

from .. import keys as relay_keys
from . import i18n
from .keys import CACHE
from .queries import Store
from .security import csrf_token, current_viewer

CACHE_TTL_S = 30.0  # figures may be this old while sync keeps changing the store


def store_of(request: web.Request) -> Store:
    return request.config_dict[relay_keys.STORE]


async def county_doc(request: web.Request, kind: str, *, county_wide: bool = False
                     ) -> DocMeta:
    """The ``{doc_id}`` of the request: a document of ``kind`` in a village of this county
    (or the county itself, with ``county_wide``). Anything else is 404, the same as a
    document that does not exist: a URL must not tell which ids are held."""
    county = county_of(request)
    try:
        meta = await store_of(request).meta(request.match_info["doc_id"])
    except DocNotFound:
        raise web.HTTPNotFound() from None
    if meta.kind != kind or not (meta.scope.startswith(f"village:{county}/") or (
            county_wide and meta.scope == f"county:{county}")):
        raise web.HTTPNotFound()
    return meta


def county_of(request: web.Request) -> str:
    return request.config_dict[relay_keys.CONFIG].county


async def lang_of(request: web.Request) -> str:
    q = request.query.get("lang")
    if q in i18n.LANGS:
        return q
    session = await get_session(request)
    lang = session.get("lang")
    return lang if lang in i18n.LANGS else i18n.DEFAULT_LANG


async def flash(request: web.Request, key: str, kind: str = "ok", **kw: Any) -> None:
    session = await get_session(request)
    session["flash"] = [*session.get("flash", []), [kind, key, kw]][-5:]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def mask_phone(phone: str) -> str:
    """138****5678 for a mobile; area code and the last two digits for a landline."""
    p = phone or ""
    if not p:
        return ""
    if len(p) == 11 and p.isdigit():
        return p[:3] + "****" + p[-4:]
    digits = p.replace("-", "")
    area = p.split("-")[0] if "-" in p else digits[:4]
    return area + "-" + "*" * max(0, len(digits) - len(area) - 2) + digits[-2:]


def mask_id(id_number: str) -> str:
    """First four (province and city) and last four characters: the birth date and the
    serial are hidden."""
    s = id_number or ""
    if not s:
        return ""
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


async def cached(request: web.Request, key: tuple[Any, ...],
                 compute: Callable[[], Awaitable[Any]]) -> Any:
    """Figures computed from the projection, reused while the store has not changed or
    for CACHE_TTL_S while it keeps changing. ``?nocache=1`` recomputes (benchmarks)."""
    cache = request.config_dict[CACHE]
    store = store_of(request)
    seq = await store.current_seq()
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and request.query.get("nocache") != "1":
        at, hit_seq, value = hit
        if hit_seq == seq or now - at < CACHE_TTL_S:
            return value
    value = await compute()
    if len(cache) > 256:
        cache.clear()
    cache[key] = (now, seq, value)
    return value


async def warm(cache: dict[Any, Any], store: Store, key: tuple[Any, ...],
               compute: Callable[[], Awaitable[Any]]) -> bool:
    """Compute ``key`` ahead of a request when the store changed since it was cached;
    returns whether it did (the dashboard's warmer keeps the default overview fresh)."""
    seq = await store.current_seq()
    hit = cache.get(key)
    if hit is not None and hit[1] == seq:
        return False
    cache[key] = (time.monotonic(), seq, await compute())
    return True


def forget_cache(request: web.Request) -> None:
    """After a write made through the dashboard: the person must see it at once."""
    request.config_dict[CACHE].clear()


async def nav_counts(request: web.Request) -> dict[str, int]:
    store = store_of(request)
    counts = await store.views.open_counts((WARNING, CONSULTATION))
    return {"warnings": counts.get(WARNING, 0), "inbox": counts.get(CONSULTATION, 0)}


async def render(request: web.Request, template: str, context: dict[str, Any], *,
                 status: int = 200) -> web.Response:
    lang = await lang_of(request)
    session = await get_session(request)
    viewer = await current_viewer(request)
    flashes = session.pop("flash", []) if "flash" in session else []

    def tr(key: str, **kw: Any) -> str:
        return i18n.t(lang, key, **kw)

    ctx: dict[str, Any] = {
        "lang": lang, "other_lang": "en" if lang == "zh" else "zh", "t": tr,
        "cat": lambda c: i18n.category(lang, c), "st": lambda s: i18n.status(lang, s),
        "role_name": lambda r: i18n.party_role(lang, r), "age": lambda h: i18n.age(lang, h),
        "pct": pct, "num": num, "viewer": viewer, "csrf": csrf_token(session),
        "county": county_of(request), "categories": list(CATEGORIES),
        "statuses": list(STATUSES),
        # The page the language link comes back to: never a POST's address (the revealed
        # case page, a refused warning action), which a GET would answer with 405.
        "here": str(request.rel_url) if request.method in ("GET", "HEAD") else "/dashboard/",
        "flashes": [(k, tr(key, **kw)) for k, key, kw in flashes],
        "nav": await nav_counts(request) if viewer else {},
        "now_local": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime(
            "%Y-%m-%d %H:%M"),
    }
    ctx.update(context)
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    return response
