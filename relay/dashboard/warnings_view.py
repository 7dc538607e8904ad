"""The warnings page: open warnings with observed against expected and the rule that
fired, the operator's acknowledge / close (with a note), recently handled warnings, and a
button that runs the pass at once."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from store import ValidationError
from store.records import WARNING

from ..warning_pass import ACKNOWLEDGED, CLOSED, MAX_NOTE, OPEN, act_on_warning, read_county_warning
from . import i18n
from . import queries as q
from .common import county_doc, flash, forget_cache, lang_of, render, store_of
from .keys import ACCOUNTS, DCONFIG, WARNINGS
from .security import need, viewer_of

log = logging.getLogger("relay.dashboard")


def explain(lang: str, w: dict[str, Any], names: dict[str, str]) -> str:
    """Observed against expected and the rule, in the reader's language."""
    village = (i18n.t(lang, "all_county") if w["village"] == "*"
               else names.get(w["village"], w["village"]))
    rule = w["rule"] if w["rule"] in ("village_poisson", "county_ears_c2", "county_cusum",
                                      "group_dispute") else "village_poisson"
    stat = w["statistic"]
    shown = (f"{stat:.1g}" if rule == "village_poisson" else
             str(int(stat)) if rule == "group_dispute" else f"{stat:.1f}")
    return i18n.t(lang, "explain_" + rule, village=village,
                  category=i18n.category(lang, w["category"]), observed=w["observed"],
                  expected=f"{w['expected']:.1f}", stat=shown)


async def warning_rows(request: web.Request, *, status: str | None = None,
                       village: str = "", limit: int = 200) -> list[dict[str, Any]]:
    store = store_of(request)
    rows = [(i,) for i in await store.views.warnings(
        status=OPEN if status == OPEN else None, handled=status == "handled",
        village=village or None, limit=limit, by_update=True)]
    lang = await lang_of(request)
    names = await q.village_names(store)
    out = []
    for (doc_id,) in rows:
        w = read_county_warning(doc_id, await store.read(doc_id))
        w["explain"] = explain(lang, w, names)
        w["village_name"] = (i18n.t(lang, "all_county") if w["village"] == "*"
                             else names.get(w["village"], w["village"]))
        out.append(w)
    return out


ACT_ERRORS = {"missing_note": "note_required", "too_long": "note_too_long",
              "warning_closed": "warning_closed", "warning_same": "warning_same",
              "bad_status": "warning_bad_status"}


async def warnings_page(request: web.Request, *, error: str = "", draft_for: str = "",
                        draft: str = "", status: int = 200) -> web.StreamResponse:
    """The page; after a refused action, with the error and the typed note kept in the
    form of the warning it was typed for (answered 400, nothing saved)."""
    await viewer_of(request)
    cfg = request.config_dict[DCONFIG]
    return await render(request, "warnings.html", {
        "open": await warning_rows(request, status=OPEN),
        "handled": await warning_rows(request, status="handled", limit=30),
        "minutes": cfg.warning_interval_s // 60 or 15,
        "thresholds": cfg.warnings.to_dict(),
        "act_error": error, "draft_for": draft_for, "draft": draft,
        "here": "/dashboard/warnings",
    }, status=status)


async def act(request: web.Request) -> web.StreamResponse:
    """POST /dashboard/warnings/{doc_id}/act  status=acknowledged|closed, note=..."""
    viewer = await need(request, "operator")
    store = store_of(request)
    doc_id = (await county_doc(request, WARNING, county_wide=True)).doc_id
    form = await request.post()
    status = str(form.get("status", ""))
    note = str(form.get("note", ""))
    lang = await lang_of(request)
    if status not in (ACKNOWLEDGED, CLOSED):
        return await warnings_page(request, error=i18n.t(lang, "warning_bad_status"),
                                   draft_for=doc_id, draft=note, status=400)
    try:
        await store.edit(doc_id, lambda d: act_on_warning(d, status=status, note=note,
                                                          by=viewer.label))
    except ValidationError as exc:
        log.info("event=warning_act_refused doc=%s user=%s code=%s", doc_id, viewer.name,
                 exc.code)
        key = ACT_ERRORS.get(exc.code, "warning_bad_status")
        return await warnings_page(request, error=i18n.t(lang, key, max=MAX_NOTE),
                                   draft_for=doc_id, draft=note, status=400)
    forget_cache(request)
    request.config_dict[ACCOUNTS].audit(viewer.name, f"warning_{status}",
                                        remote=request.remote or "-", doc_id=doc_id,
                                        note=note.strip()[:200])
    await flash(request, "acted_ok")
    raise web.HTTPFound("/dashboard/warnings")


async def run_now(request: web.Request) -> web.StreamResponse:
    viewer = await need(request, "operator")
    report = await request.config_dict[WARNINGS].run()
    forget_cache(request)
    request.config_dict[ACCOUNTS].audit(viewer.name, "warning_pass",
                                        remote=request.remote or "-",
                                        signals=len(report.signals), created=report.created)
    await flash(request, "ran_pass", weeks=" / ".join(report.weeks),
                signals=len(report.signals), created=report.created, updated=report.updated)
    raise web.HTTPFound("/dashboard/warnings")
