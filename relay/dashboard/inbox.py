"""The judge's inbox (有呼必应): the county's waiting consultations, oldest first, and the
answer form.

An answer is ``store.kinds.answer_consultation`` applied through ``Store.edit`` on the
relay's store, under the judge's own name: the consultation document lives in its
village's scope, so the next sync (or bundle) carries the answer to that village's nodes,
where the director's TUI shows it. The time from question to answer is in the document
(``asked_at``, ``answered_at``) and so in the projection the overview reads.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlencode

from aiohttp import web

from store import ValidationError, amdoc, kinds
from store.records import CONSULTATION

from . import queries as q
from .common import county_doc, county_of, flash, forget_cache, render, store_of
from .keys import ACCOUNTS
from .pages import MAX_PAGE, bad_request
from .security import need, viewer_of

log = logging.getLogger("relay.dashboard")
MAX_ANSWER = 20_000  # characters, as store.casedoc.MAX_TEXT
INBOX_PAGE = 10  # questions a page: each card holds an answer form


async def inbox(request: web.Request) -> web.StreamResponse:
    """?village=CODE shows one village's questions; ?page=N pages of INBOX_PAGE."""
    await viewer_of(request)
    store, county = store_of(request), county_of(request)
    names = await q.village_names(store)
    counts = await q.waiting_by_village(store)
    village = request.query.get("village", "")
    if village and village not in names and village not in counts:
        return await bad_request(request, "bad_village")
    raw = request.query.get("page", "1")
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else 0
    if not 1 <= page <= MAX_PAGE:
        return await bad_request(request, "bad_page", pages=MAX_PAGE)
    total = counts.get(village, 0) if village else sum(counts.values())
    pages = max(1, math.ceil(total / INBOX_PAGE))
    rows = await q.waiting(store, village=village, county=county, limit=INBOX_PAGE,
                           offset=(page - 1) * INBOX_PAGE)
    # The case titles give the judge context without opening each case.
    ids = [r["case_id"] for r in rows if r["case_id"]]
    titles = await store.views.titles(ids)
    twelve_weeks = q.parse_filters({"period": "12w"})
    for r in rows:
        r["case_title"], r["category"] = titles.get(r["case_id"], ("", ""))
        rows_full = await store.read(r["doc_id"])
        r["question"] = str(rows_full.get("question", r["question"]))
        r["asked_by"] = str(rows_full.get("asked_by", ""))
    return await render(request, "inbox.html", {
        "rows": rows, "names": names, "village": village, "page": page, "pages": pages,
        "total": total, "first": (page - 1) * INBOX_PAGE,
        "village_counts": sorted(((c, names.get(c, c), n) for c, n in counts.items()),
                                 key=lambda x: x[1]),
        "recent": await q.answered_recently(store, 15),
        "answer_times": await q.answer_times(store, twelve_weeks, county),
        "answer_filters": twelve_weeks,
    })


async def answer(request: web.Request) -> web.StreamResponse:
    """POST /dashboard/inbox/{doc_id}/answer (judges only; CSRF checked by the guard)."""
    viewer = await need(request, "judge")
    store = store_of(request)
    meta = await county_doc(request, CONSULTATION)
    doc_id = meta.doc_id
    form = await request.post()
    text = str(form.get("answer", "")).strip()[:MAX_ANSWER]
    # Back to the inbox as the judge filtered it (one village's questions).
    village_back = str(form.get("village", ""))
    back = ("/dashboard/inbox?" + urlencode({"village": village_back})
            if village_back.isascii() and village_back.isalnum() and len(village_back) <= 16
            else "/dashboard/inbox")
    if not text:
        await flash(request, "answer_empty", "error")
        raise web.HTTPFound(back)
    current = kinds.read_consultation(doc_id, await store.read(doc_id))

    def write(doc: amdoc.Document) -> None:
        # Checked under the writer lock: two judges answering at once, the second is told.
        if str(amdoc.read(doc).get("answer") or "").strip():
            raise ValidationError("already_answered", "already answered")
        kinds.answer_consultation(doc, answer=text, by=viewer.label)

    try:
        await store.edit(doc_id, write)
    except ValidationError as exc:
        await flash(request, "already_answered" if exc.code == "already_answered"
                    else "answer_empty", "error")
        raise web.HTTPFound(back) from None
    forget_cache(request)
    village = q.village_of_scope(meta.scope)
    request.config_dict[ACCOUNTS].audit(viewer.name, "answer_consultation",
                                        remote=request.remote or "-", doc_id=doc_id,
                                        case_number=current.case_number, village=village)
    log.info("event=consultation_answered doc=%s village=%s judge=%s", doc_id, village,
             viewer.name)
    names = await q.village_names(store)
    await flash(request, "answered_ok", village=names.get(village, village))
    raise web.HTTPFound(back)
