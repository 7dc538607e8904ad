"""``villagecourt relay case list|show``: the villages' cases as the relay holds them.

For a county operator at the relay's console (the dashboard is the usual way). Personal
data stays sealed: ``list`` prints numbers, villages, statuses and titles; ``show`` prints a
case's facts and its history, the number of parties and their roles, never a name, phone
or ID number (those are shown only by the dashboard's audited "reveal"). The description
and agreement are left out for the same reason (they often name the parties).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from store.records import CATEGORIES, STATUSES
from store.views import CASE_ROW, CaseFilter

from .messages import lang_of, t

PAGE = 50  # rows of a page unless --limit says otherwise
COLS = ("doc_id", "number", "village", "status", "category", "updated_at", "title")


def _label(lang: str, table: dict[str, tuple[str, str]], code: str) -> str:
    pair = table.get(code)
    return code if pair is None else pair[0] if lang == "zh" else pair[1]


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    out, used = "", 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E80 else 1
        if used + w > width - 1:
            break
        out += ch
        used += w
    return out + " " * max(1, width - used)


def _home(args: argparse.Namespace) -> Any:
    from .config import RelayHome, default_relay_home

    home = RelayHome(Path(args.relay_home).expanduser() if getattr(args, "relay_home", None)
                     else default_relay_home())
    home.load()  # a relay must be here (RelayConfigError otherwise)
    return home


async def _open(home: Any) -> Any:

    return await home.open_store()


def _filters(args: argparse.Namespace) -> CaseFilter:
    return CaseFilter(village=getattr(args, "village", None) or None,
                      status=getattr(args, "status", None) or None,
                      category=getattr(args, "category", None) or None)


def cmd_case_list(args: argparse.Namespace) -> int:
    lang = lang_of(args)
    home = _home(args)

    async def run() -> int:
        store = await _open(home)
        try:
            f = _filters(args)
            total = await store.views.case_count(f)
            offset = 0
            if args.all:
                rows = await store.views.cases(f)
            else:
                offset = (args.page - 1) * args.limit
                rows = await store.views.cases(f, limit=args.limit, offset=offset)
        finally:
            await store.close()
        at = [CASE_ROW.index(c) for c in COLS]
        found = [{c: (r[i] if r[i] is not None else "") for c, i in zip(COLS, at)} for r in rows]
        if args.json:
            print(json.dumps({"total": total, "offset": offset, "cases": found},
                             ensure_ascii=False, indent=2))
            return 0
        if not found:
            print(t(lang, "no_cases"))
            return 0
        print(_pad(t(lang, "col_number"), 16) + _pad(t(lang, "col_village"), 8)
              + _pad(t(lang, "col_status"), 12) + _pad(t(lang, "col_category"), 12)
              + _pad(t(lang, "col_updated"), 12) + t(lang, "col_title"))
        for c in found:
            print(_pad(c["number"], 16) + _pad(c["village"], 8)
                  + _pad(_label(lang, STATUSES, c["status"]), 12)
                  + _pad(_label(lang, CATEGORIES, c["category"]), 12)
                  + _pad(str(c["updated_at"])[:10], 12) + c["title"][:40])
        print(t(lang, "cases_shown", count=total, first=offset + 1, last=offset + len(found)))
        if offset + len(found) < total:
            print(t(lang, "cases_more", next=args.page + 1))
        return 0

    return asyncio.run(run())


def cmd_case_show(args: argparse.Namespace) -> int:
    from store.casedoc import Case

    lang = lang_of(args)
    home = _home(args)

    async def run() -> int:
        store = await _open(home)
        try:
            found = await store.views.find_case(args.ref, ignore_case=False)
            if found is None:
                print(f"villagecourt: {t(lang, 'not_found', ref=args.ref)}", file=sys.stderr)
                return 1
            case = Case.from_data(found, await store.read(found))
        finally:
            await store.close()
        roles = [p.role for p in case.parties]
        done = sum(1 for f in case.followups if f.done)
        history = [{"at": h.at, "from": h.from_status, "to": h.to_status} for h in case.history]
        if args.json:
            print(json.dumps({
                "doc_id": case.doc_id, "number": case.number, "village": case.village,
                "county": case.county, "category": case.category, "status": case.status,
                "outcome": case.outcome, "title": case.title, "created_at": case.created_at,
                "closed_at": case.closed_at, "group": case.group,
                "headcount": case.headcount, "party_roles": roles,
                "sessions": len(case.sessions), "history": history,
                "followups": [{"month": f.month, "due": f.due, "done": f.done}
                              for f in case.followups]}, ensure_ascii=False, indent=2))
            return 0
        print(f"{case.number}  {case.title}")
        print(f"{_label(lang, CATEGORIES, case.category)} · "
              f"{_label(lang, STATUSES, case.status)}")
        print(t(lang, "case_village", village=f"{case.county}/{case.village}"))
        print(t(lang, "case_sealed", n=len(roles)))
        print(t(lang, "case_sessions", n=len(case.sessions)))
        if case.followups:
            print(t(lang, "case_followups", done=done, total=len(case.followups)))
        for h in history:
            print(f"  {h['at'][:10]}  {_label(lang, STATUSES, h['from'])} → "
                  f"{_label(lang, STATUSES, h['to'])}")
        return 0

    return asyncio.run(run())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_case_commands(rsub: Any) -> None:
    case = rsub.add_parser("case", help="the villages' cases at the relay (personal data "
                                        "stays sealed)")
    csub = case.add_subparsers(dest="case_cmd", metavar="ACTION")
    csub.required = True
    s = csub.add_parser("list", help="cases, newest activity first, a page at a time")
    s.add_argument("--village", help="one village's code")
    s.add_argument("--status", choices=list(STATUSES))
    s.add_argument("--category", choices=list(CATEGORIES))
    s.add_argument("--page", type=_positive, default=1, help="page number (from 1)")
    s.add_argument("--limit", type=_positive, default=PAGE, help=f"rows a page ({PAGE})")
    s.add_argument("--all", action="store_true", help="every case, no paging")
    s.set_defaults(func=cmd_case_list)
    s = csub.add_parser("show", help="one case: facts and history, no personal data")
    s.add_argument("ref", help="case number or id")
    s.set_defaults(func=cmd_case_show)
