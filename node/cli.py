"""The ``villagecourt`` command.

Exit codes: 0 ok; 2 usage (argparse, and any argument that is not valid UTF-8); 1 failure,
with one line on stderr saying why in the node's language. ``--json`` on every command
(writes included) prints machine-readable output instead.
The node home is ``--home``, else $VILLAGECOURT_HOME, else the platform's data directory.
Commands that belong to sync, the relay and security register themselves through
``COMMAND_GROUPS`` so this file stays the wiring of the node's own commands.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from store import StoreError
from store.records import CATEGORIES, FOLLOWUP_MONTHS, PARTY_ROLES, STATUSES, Party
from sync.errors import SyncError

from . import i18n
from .config import DEFAULT_LANGUAGE, ENV_HOME, LANGUAGES, ConfigError, Home, default_home
from .node import Node

log = logging.getLogger("villagecourt")

# Other layers add subcommands: each entry is called with the subparsers object.
COMMAND_GROUPS: list[Callable[[Any], None]] = []


class UsageError(Exception):
    """Bad command-line input found after parsing (exit 2)."""


def _lang(args: argparse.Namespace) -> str:
    if getattr(args, "lang", None):
        return str(args.lang)
    home = Home(_home(args))
    if home.exists():
        try:
            return home.load().language
        except ConfigError:
            pass
    env = os.environ.get("VILLAGECOURT_LANG", "")
    return env if env in LANGUAGES else DEFAULT_LANGUAGE


def _home(args: argparse.Namespace) -> Path:
    return Path(args.home).expanduser() if getattr(args, "home", None) else default_home()


def _json_default(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def emit_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))


def parse_party(text: str) -> Party:
    """``role:name[:phone[:id]]``; the role may be given in Chinese (申请人)."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[1].strip():
        raise UsageError("usage_party")
    role = parts[0].strip()
    for code, (zh, en) in PARTY_ROLES.items():
        if role in (zh, en.lower(), en):
            role = code
    return Party(role=role, name=parts[1].strip(),
                 phone=parts[2].strip() if len(parts) > 2 else "",
                 id_number=parts[3].strip() if len(parts) > 3 else "")


async def _with_node(args: argparse.Namespace, fn: Callable[[Node], Awaitable[int]]) -> int:
    node = await Node.open(_home(args))
    try:
        return await fn(node)
    finally:
        await node.close()


# --- commands ------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    lang = args.lang or DEFAULT_LANGUAGE
    home = Home(_home(args))
    cfg = home.init(village=args.village, village_name=args.name, county=args.county,
                    language=lang, director=args.director or "", force=args.force)
    if args.relay:
        cfg.relay_url = args.relay
        home.save(cfg)

    async def create_store() -> None:
        node = await Node.open(home)
        await node.close()

    asyncio.run(create_store())
    if args.json:
        emit_json({"village": cfg.village, "village_name": cfg.village_name,
                   "county": cfg.county, "language": cfg.language, "node_id": cfg.node_id,
                   "relay": cfg.relay_url, "home": str(home.path)})
        return 0
    print(i18n.t(lang, "init_done", village_name=cfg.village_name, village=cfg.village,
                 county=cfg.county, home=home.path))
    return 0


def cmd_case_add(args: argparse.Namespace) -> int:
    lang = _lang(args)
    parties = [parse_party(p) for p in args.party]

    async def run(node: Node) -> int:
        case = await node.cases.register(
            category=args.category, title=args.title, parties=parties,
            description=args.description or "", group=args.group,
            headcount=args.headcount or 0, mediator=args.mediator or "")
        if args.json:
            emit_json({"doc_id": case.doc_id, "number": case.number})
        else:
            print(i18n.t(lang, "case_added", number=case.number, title=case.title))
        return 0

    return asyncio.run(_with_node(args, run))


def _short(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal columns (CJK characters take two)."""
    out, used = "", 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E80 else 1
        if used + w > width:
            return out + "…"
        out += ch
        used += w
    return out


def _pad(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` columns, always followed by a space."""
    text = _short(text, width - 2) if _width(text) > width - 1 else text
    return text + " " * max(1, width - _width(text))


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def cmd_case_list(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        from .cases import MAX_PAGE

        query = " ".join(args.query or [])
        filters = {"category": args.category, "status": args.status, "open_only": args.open}
        offset = args.offset if args.offset is not None else (args.page - 1) * args.limit
        if args.all:  # every match, a page of the store's at a time
            rows, offset = [], 0
            while True:
                page = await node.cases.search(query, **filters, limit=MAX_PAGE,
                                               offset=len(rows))
                rows += page
                if len(page) < MAX_PAGE:
                    break
        else:
            rows = await node.cases.search(query, **filters, limit=args.limit, offset=offset)
        total = await node.cases.count(query, **filters)
        if args.json:
            emit_json([r.as_dict() for r in rows])
            return 0
        if not rows:
            print(i18n.t(lang, "no_cases"))
            return 0
        print(_pad(i18n.t(lang, "col_number"), 14) + _pad(i18n.t(lang, "col_status"), 12)
              + _pad(i18n.t(lang, "col_category"), 12) + i18n.t(lang, "col_title"))
        for r in rows:
            print(_pad(r.number, 14) + _pad(i18n.status_label(lang, r.status), 12)
                  + _pad(i18n.category_label(lang, r.category), 12) + _short(r.title, 40))
        print(i18n.t(lang, "cases_shown", count=total, shown=len(rows)))
        if offset + len(rows) < total:
            print(i18n.t(lang, "cases_more", first=offset + 1, last=offset + len(rows),
                         next=offset // max(1, args.limit) + 2))
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_case_show(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        case = await node.cases.get(args.ref)
        timeline = await node.cases.timeline(args.ref)
        if args.json:
            emit_json({**asdict(case), "timeline": [asdict(e) for e in timeline]})
            return 0
        print(f"{case.number}  {case.title}")
        print(f"{i18n.category_label(lang, case.category)} · "
              f"{i18n.status_label(lang, case.status)}")
        if case.group:
            print(i18n.t(lang, "group_dispute", n=case.headcount))
        print(f"\n{i18n.t(lang, 'parties')}:")
        for p in case.parties:
            masked = f" {p.phone[:3]}****{p.phone[-4:]}" if len(p.phone) >= 7 else ""
            print(f"  {i18n.role_label(lang, p.role)}  {p.name}{masked}")
        if case.description:
            print(f"\n{i18n.t(lang, 'description')}:\n  {case.description}")
        if case.agreement:
            print(f"\n{i18n.t(lang, 'agreement')}:\n  {case.agreement}")
        print(f"\n{i18n.t(lang, 'timeline')}:")
        for e in timeline:
            what = e.kind
            if e.kind == "status":
                what = (f"{i18n.status_label(lang, e.detail['from'])} → "
                        f"{i18n.status_label(lang, e.detail['to'])}")
            elif e.kind in ("followup", "followup_due"):
                what = i18n.t(lang, "month_n", m=e.detail["month"])
            elif e.kind == "edited":
                what = i18n.t(lang, "edited")
            print(f"  {e.at[:10]}  {what}  {_short(e.text, 50)}")
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_case_status(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        case = await node.cases.change_status(args.ref, args.status, note=args.note or "")
        if args.json:
            emit_json({"doc_id": case.doc_id, "number": case.number, "status": case.status})
            return 0
        print(i18n.t(lang, "case_saved", number=case.number,
                     status=i18n.status_label(lang, case.status)))
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_case_close(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        case = await node.cases.close(args.ref, agreement=args.agreement, note=args.note or "",
                                      on=_parse_day(args.on))
        if args.json:
            emit_json({"doc_id": case.doc_id, "number": case.number, "status": case.status,
                       "followups": [f.due for f in case.followups]})
            return 0
        print(i18n.t(lang, "case_closed_done", number=case.number,
                     dates=", ".join(f.due for f in case.followups)))
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_case_session(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        case = await node.cases.log_session(
            args.ref, date=args.date or dt.date.today().isoformat(),
            participants=args.participants or "", summary=args.summary,
            judge_consulted=args.judge)
        if args.json:
            emit_json({"doc_id": case.doc_id, "number": case.number,
                       "sessions": len(case.sessions)})
            return 0
        print(i18n.t(lang, "session_logged", number=case.number, count=len(case.sessions)))
        return 0

    return asyncio.run(_with_node(args, run))


def _parse_day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from store import ValidationError

        raise ValidationError("bad_date", "dates are YYYY-MM-DD", value=value) from None


def cmd_followup_due(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        visits = await node.followups.due(on=_parse_day(args.on), within_days=args.within)
        if args.json:
            emit_json([v.as_dict() for v in visits])
            return 0
        if not visits:
            print(i18n.t(lang, "no_due"))
            return 0
        for v in visits:
            if v.days_overdue > 0:
                when = i18n.t(lang, "overdue", days=v.days_overdue)
            elif v.days_overdue == 0:
                when = i18n.t(lang, "due_today")
            else:
                when = i18n.t(lang, "due_in", days=-v.days_overdue)
            print(_pad(v.number, 14) + _pad(i18n.t(lang, "month_n", m=v.month), 10)
                  + _pad(v.due_date, 12) + _pad(when, 14) + _short(v.title, 30))
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_followup_done(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        case = await node.cases.record_followup(
            args.ref, args.month, done=args.date or dt.date.today().isoformat(),
            outcome=args.outcome or "", satisfaction=args.satisfaction)
        if args.json:
            emit_json({"doc_id": case.doc_id, "number": case.number, "month": args.month})
            return 0
        print(i18n.t(lang, "followup_done", number=case.number, month=args.month))
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_stats(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        s = await node.stats()
        if args.json:
            emit_json(s.as_dict())
            return 0

        def pct(x: float | None) -> str:
            return f"{x * 100:.0f}%" if x is not None else i18n.t(lang, "none")

        print(f"{i18n.t(lang, 'stats_total')}: {s.total}")
        print(f"{i18n.t(lang, 'stats_success')}: {pct(s.success_rate)} ({s.agreed}/{s.closed})")
        print(f"{i18n.t(lang, 'stats_followups')}: {pct(s.followup_on_time_rate)} "
              f"({s.followups_on_time}/{s.followups_due_total})")
        if s.mean_satisfaction is not None:
            print(f"{i18n.t(lang, 'stats_satisfaction')}: {s.mean_satisfaction}")
        print(f"{i18n.t(lang, 'stats_screenings')}: {s.screenings} "
              f"({s.attendance} {i18n.t(lang, 'attendance')})")
        width = max(s.by_category.values() or [1]) or 1
        print(f"\n{i18n.t(lang, 'stats_by_category')}:")
        for code, n in s.by_category.items():
            bar = "█" * round(20 * n / width)
            print(f"  {_pad(i18n.category_label(lang, code), 14)}{n:>5}  {bar}")
        print(f"\n{i18n.t(lang, 'stats_by_status')}:")
        for code, n in s.by_status.items():
            print(f"  {_pad(i18n.status_label(lang, code), 14)}{n:>5}")
        return 0

    return asyncio.run(_with_node(args, run))


PROGRESS_EVERY_S = 2.0  # a progress line this often when stderr is not a terminal


def _progress_printer(lang: str, quiet: bool = False, *, stream: Any = None,
                      clock: Callable[[], float] | None = None) -> Callable[[Any], None]:
    """Progress of a sync on ``stream`` (stderr): one line rewritten in place on a
    terminal, else (a log, a pipe) a whole line every PROGRESS_EVERY_S seconds, so a long
    sync shows it moves without a line per page; a sync shorter than that prints none.
    ``clock`` is time.monotonic (a test steps its own)."""
    import time

    out = stream if stream is not None else sys.stderr
    now = clock or time.monotonic
    tty = out.isatty()
    last = [now()]

    def show(c: Any) -> None:
        if quiet:
            return
        text = i18n.t(lang, "sync_progress", sent=c.docs_sent, received=c.docs_changed)
        if tty:
            print("\r" + text, end="", file=out, flush=True)
        elif now() - last[0] >= PROGRESS_EVERY_S:
            last[0] = now()
            print(text, file=out, flush=True)
    return show


def _result_json(label: str, result: Any) -> dict[str, Any]:
    """A sync session's outcome for ``--json`` (sync, provision's first sync)."""
    return {"peer": label, "ok": result.ok, "sent": result.counters.docs_sent,
            "received": result.counters.docs_changed,
            "bytes": result.bytes_sent + result.bytes_received,
            "seconds": round(result.seconds, 2),
            "error": getattr(result.error, "code", "") if result.error else ""}


def _print_result(lang: str, label: str, result: Any, as_json: bool = False) -> int:
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if as_json:
        emit_json(_result_json(label, result))
        return 0 if result.ok else 1
    if result.ok:
        print(i18n.t(lang, "sync_ok", peer=label, sent=result.counters.docs_sent,
                     received=result.counters.docs_changed,
                     kb=round((result.bytes_sent + result.bytes_received) / 1024, 1),
                     seconds=round(result.seconds, 2)))
        return 0
    print(i18n.t(lang, "sync_failed", peer=label,
                 reason=i18n.sync_error_message(lang, result.error)), file=sys.stderr)
    return 1


def cmd_sync(args: argparse.Namespace) -> int:
    from .daemon import Syncer

    lang = _lang(args)

    async def run(node: Node) -> int:
        if args.relay:
            node.config.relay_url = args.relay
        syncer = Syncer(node, discovery=False)
        if args.peer:
            host, _, port = args.peer.rpartition(":")
            if not host or not port.isdigit():
                raise UsageError("usage_peer")
            result = await syncer.sync_peer(host, int(port),
                                            progress=_progress_printer(lang, args.json))
            return _print_result(lang, args.peer, result, args.json)
        if not node.config.relay_url:
            raise UsageError("usage_sync")
        result = await syncer.sync_relay(progress=_progress_printer(lang, args.json))
        return _print_result(lang, node.config.relay_url, result, args.json)

    return asyncio.run(_with_node(args, run))


def cmd_serve(args: argparse.Namespace) -> int:
    from .daemon import Syncer

    lang = _lang(args)

    async def run(node: Node) -> int:
        if args.relay:
            node.config.relay_url = args.relay
        from .daemon import interfaces_from_env

        interfaces = ([args.host] if args.host not in ("0.0.0.0", "::")
                      else interfaces_from_env())
        from .media import MediaService

        media = await MediaService.from_config(node).open()
        syncer = Syncer(node, listen_host=args.host, listen_port=args.port,
                        discovery=not args.no_discovery, discovery_interfaces=interfaces,
                        media=media, free_port_if_taken=True)
        shown: dict[str, int] = {}

        def on_event(event: Any) -> None:
            from .events import MediaProgress, PeerSeen, SyncFinished

            if isinstance(event, MediaProgress):
                if event.done:
                    r = media.last_result
                    if event.paused:
                        print(i18n.t(lang, "media_paused", floor=node.config.media_free_mb),
                              flush=True)
                    elif r is not None and (r.complete or r.pending) and shown:
                        print(i18n.t(lang, "serve_media_done", complete=len(r.complete),
                                     pending=len(r.pending)), flush=True)
                    shown.clear()
                # a line every 10 % of a file (a 20 MB video is 160 blocks)
                elif event.total and (event.have == event.total or event.have * 10 // event.total
                                      != shown.get(event.sha256, -1)):
                    shown[event.sha256] = event.have * 10 // event.total
                    print(i18n.t(lang, "serve_media", name=event.name or event.sha256[:12],
                                 have=event.have,
                                 total=event.total), flush=True)
            elif isinstance(event, SyncFinished):
                if event.ok:
                    print(i18n.t(lang, "serve_synced", peer=event.peer, sent=event.sent,
                                 received=event.received), flush=True)
                else:
                    print(i18n.t(lang, "sync_failed", peer=event.peer,
                                 reason=i18n.t(lang, event.error_code) if event.error_code
                                 in i18n.MESSAGES[lang] else event.error), flush=True)
            elif isinstance(event, PeerSeen) and event.present:
                print(i18n.t(lang, "serve_peer", peer=event.peer_id, address=event.address),
                      flush=True)

        node.events.subscribe(on_event)
        try:
            async with syncer:
                # Handlers first: a supervisor that stops the node as soon as it says it
                # listens must get a clean exit, not a kill by the default SIGTERM action.
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                import signal

                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                if syncer.port_taken is not None:
                    print(i18n.t(lang, "serve_port_taken", port=node.config.listen_port
                                 if args.port is None else args.port,
                                 reason=syncer.port_taken.strerror or syncer.port_taken,
                                 new=syncer.bound_port), file=sys.stderr, flush=True)
                if syncer.bound_port is None:
                    print(i18n.t(lang, "serve_no_lan"), file=sys.stderr, flush=True)
                lan = syncer.bound_port or i18n.t(lang, "none")
                print(i18n.t(lang, "serve_listening", port=lan,
                             relay=node.config.relay_url or i18n.t(lang, "none")), flush=True)
                await stop.wait()
        finally:
            await media.close()
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_status(args: argparse.Namespace) -> int:
    lang = _lang(args)

    async def run(node: Node) -> int:
        st = await node.sync_status()
        if args.json:
            emit_json(st)
            return 0
        print(i18n.t(lang, "status_relay", relay=st.relay_url or i18n.t(lang, "none")))
        print(i18n.t(lang, "status_pending", n=st.pending_to_relay))
        print(i18n.t(lang, "status_last", at=st.last_sync or i18n.t(lang, "never")))
        for p in st.peers:
            print(f"  {_pad(str(p.get('label') or p['peer_id'][:12]), 28)}"
                  f"{i18n.t(lang, 'status_seen', at=p.get('last_seen') or '-')}")
        for e in st.history[:5]:
            mark = "✓" if e["ok"] else "✗"
            what = "" if e["ok"] else f"  {e.get('error_code') or ''}"
            print(f"  {mark} {e['finished_at']}  {e['peer_label']}  "
                  f"↑{e['docs_sent']} ↓{e['docs_received']}{what}")
        return 0

    return asyncio.run(_with_node(args, run))


def cmd_provision(args: argparse.Namespace) -> int:
    from .identity import provision_file, provision_online

    lang = args.lang or DEFAULT_LANGUAGE
    home = Home(_home(args))
    if args.file:
        code = args.code or input("enrolment code / 登记码: ")
        cfg = provision_file(home, Path(args.file), code, village_name=args.name or "",
                             language=lang, director=args.director or "")
    else:
        if not args.relay or not args.token:
            raise UsageError("usage_provision")
        cfg = asyncio.run(provision_online(home, args.relay, args.token,
                                           village_name=args.name or "", language=lang,
                                           director=args.director or ""))
    done = {"node_id": cfg.node_id, "role": cfg.role, "village": cfg.village,
            "county": cfg.county, "relay": cfg.relay_url, "home": str(home.path),
            "sync": None}
    if not args.json:
        print(i18n.t(lang, "provisioned", node=cfg.node_id, role=cfg.role,
                     village=cfg.village, county=cfg.county, home=home.path))
    if cfg.relay_url and not args.no_sync:
        # A replacement node gets its village's records back at once, if the relay is up.
        async def first_sync(node: Node) -> int:
            from .daemon import Syncer

            result = await Syncer(node, discovery=False).sync_relay(
                progress=_progress_printer(lang, args.json))
            if args.json:  # one JSON document: the enrolment and its first sync
                done["sync"] = _result_json(cfg.relay_url, result)
                emit_json(done)
                return 0 if result.ok else 1
            return _print_result(lang, cfg.relay_url, result)

        return asyncio.run(_with_node(args, first_sync))
    if args.json:
        emit_json(done)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import FAIL, OK, run_checks

    lang = _lang(args)

    async def run(node: Node) -> int:
        checks = await run_checks(node)
        if args.json:
            emit_json([{"check": c.name, "status": c.status, "message": c.text(lang)}
                       for c in checks])
        else:
            marks = {OK: "✓", FAIL: "✗"}
            for c in checks:
                print(f"{marks.get(c.status, '!')} {c.text(lang)}")
        return 1 if any(c.status == FAIL for c in checks) else 0

    return asyncio.run(_with_node(args, run))


def cmd_kit_build(args: argparse.Namespace) -> int:
    from .kit import KitError, build_kit

    lang = _lang(args)
    try:
        kit = build_kit(Path(args.out), platform=args.platform,
                        python_version=args.python_version,
                        find_links=[Path(d) for d in args.find_links or []],
                        no_index=args.no_index)
    except KitError as exc:
        log.info("kit build failed: %s", exc)
        print(f"villagecourt: {i18n.t(lang, 'kit_failed', reason=exc)}", file=sys.stderr)
        return 1
    if args.json:
        emit_json({"path": str(kit.path), "wheels": kit.wheels,
                   "install": str(kit.install_script)})
    else:
        print(i18n.t(lang, "kit_done", path=kit.path, n=len(kit.wheels),
                     script=kit.install_script))
    return 0


DEMO_VILLAGE = ("BY", "白云村", "KC")


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import fill_demo

    if args.county:  # a relay with a demo county and its dashboard (relay/demo_county.py)
        from relay.demo_county import serve_demo

        from . import demo

        try:
            asyncio.run(serve_demo(Path(args.county_home), demo, port=args.port,
                                   villages=args.villages))
        except KeyboardInterrupt:
            pass
        return 0
    lang = args.lang or DEFAULT_LANGUAGE
    home = Home(_home(args))

    async def run() -> int:
        if not home.exists():
            village, name, county = DEMO_VILLAGE
            home.init(village=village, village_name=name, county=county, language=lang,
                      director="周主任")
        node = await Node.open(home)
        try:
            existing = await node.cases.count()
            if existing == 0:
                label = i18n.t(lang, "demo_progress")

                def progress(i: int, total: int) -> None:
                    if sys.stderr.isatty() and not args.json and (i % 10 == 0 or i == total):
                        print(f"\r{label} {i}/{total}", end="", file=sys.stderr, flush=True)

                await fill_demo(node, cases=args.cases, seed=args.seed, progress=progress)
                if sys.stderr.isatty() and not args.json:
                    print(file=sys.stderr)
            count = await node.cases.count()
        finally:
            await node.close()
        if args.json:
            emit_json({"cases": count, "added": count - existing, "home": str(home.path)})
        else:
            print(i18n.t(lang, "demo_done", cases=count, home=home.path))
        return 0

    rc = asyncio.run(run())
    if rc == 0 and args.open:
        return cmd_tui(args)
    return rc


def cmd_tui(args: argparse.Namespace) -> int:
    home = Home(_home(args))
    if not home.exists():
        raise ConfigError("no_node", "no node here", home=str(home.path))
    try:
        from tui import run_tui
    except ImportError as exc:  # the TUI is part of the package; this is a broken install
        print(i18n.t(_lang(args), "tui_missing", reason=exc), file=sys.stderr)
        return 1
    return int(run_tui(home.path, lang=getattr(args, "lang", None)) or 0)


# --- parser --------------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _page_size(text: str) -> int:
    value = _positive(text)
    if value > 500:
        raise argparse.ArgumentTypeError("at most 500 a page (--all for every case)")
    return value


def _command_word(argv: list[str]) -> str | None:
    """The command an argument list runs (``case`` of ``--home H case list``), None when
    it is not plain (help, or no command)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-h", "--help"):
            return None
        if arg in ("--home", "--lang"):
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _add_init(sub: Any) -> None:
    s = sub.add_parser("init", help="set up a new node")
    s.add_argument("--village", required=True, help="village code, e.g. BY")
    s.add_argument("--name", required=True, help="village name, e.g. 白云村")
    s.add_argument("--county", default="local", help="county code (provisioning sets it)")
    s.add_argument("--director", help="the director's name")
    s.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                   help="language of the node: zh (default) or en")
    s.add_argument("--relay", help="the county relay's URL, e.g. wss://relay.example:8765/v1/sync")
    s.add_argument("--force", action="store_true", help="overwrite an existing node config")
    s.add_argument("--json", action="store_true",
                   help="print {village, village_name, county, language, node_id, relay, home}")
    s.set_defaults(func=cmd_init)


def _add_case(sub: Any) -> None:
    case = sub.add_parser("case", help="dispute cases").add_subparsers(dest="case_cmd",
                                                                       metavar="ACTION")
    case.required = True
    s = case.add_parser("add", help="register a case")
    s.add_argument("--category", required=True, choices=list(CATEGORIES))
    s.add_argument("--title", required=True)
    s.add_argument("--party", action="append", required=True, metavar="ROLE:NAME[:PHONE[:ID]]",
                   help="repeat for each party; role: applicant|respondent|third")
    s.add_argument("--description")
    s.add_argument("--group", action="store_true", help="a group dispute (群体性纠纷)")
    s.add_argument("--headcount", type=int, help="people involved in a group dispute")
    s.add_argument("--mediator")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_add)

    s = case.add_parser("list", help="list and search cases")
    s.add_argument("query", nargs="*", help="words to find (number, party, text)")
    s.add_argument("--category", choices=list(CATEGORIES))
    s.add_argument("--status", choices=list(STATUSES))
    s.add_argument("--open", action="store_true", help="only cases not closed")
    s.add_argument("--limit", type=_page_size, default=50, help="rows a page (1-500, 50)")
    s.add_argument("--page", type=_positive, default=1, help="page number, from 1")
    s.add_argument("--offset", type=_non_negative, help="rows to skip (instead of --page)")
    s.add_argument("--all", action="store_true", help="every matching case, no paging")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_list)

    s = case.add_parser("show", help="one case with its timeline")
    s.add_argument("ref", help="case number or id")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_show)

    s = case.add_parser("status", help="change a case's status")
    s.add_argument("ref")
    s.add_argument("status", choices=list(STATUSES))
    s.add_argument("--note")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_status)

    s = case.add_parser("close", help="close a case (with the agreement, if reached)")
    s.add_argument("ref")
    s.add_argument("--agreement", help="what the parties agreed (mediation succeeded)")
    s.add_argument("--note")
    s.add_argument("--on", help="closing day YYYY-MM-DD (default today)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_close)

    s = case.add_parser("session", help="log a mediation session")
    s.add_argument("ref")
    s.add_argument("--summary", required=True)
    s.add_argument("--participants")
    s.add_argument("--date", help="YYYY-MM-DD (default today)")
    s.add_argument("--judge", action="store_true", help="the linked judge was consulted")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_case_session)


def _add_followup(sub: Any) -> None:
    fu = sub.add_parser("followup", help="follow-up visits").add_subparsers(dest="fu_cmd",
                                                                          metavar="ACTION")
    fu.required = True
    s = fu.add_parser("due", help="visits overdue or due soon")
    s.add_argument("--on", help="as of YYYY-MM-DD (default today)")
    s.add_argument("--within", type=int, default=7, help="days ahead (default 7)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_followup_due)
    s = fu.add_parser("done", help="record a visit")
    s.add_argument("ref")
    s.add_argument("month", type=int, choices=list(FOLLOWUP_MONTHS))
    s.add_argument("--date", help="visit day YYYY-MM-DD (default today)")
    s.add_argument("--outcome", help="does the agreement hold?")
    s.add_argument("--satisfaction", type=int, choices=range(1, 6), metavar="1-5")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_followup_done)


def _add_stats(sub: Any) -> None:
    s = sub.add_parser("stats", help="counts, success rate, follow-ups")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)


def _add_demo(sub: Any) -> None:
    s = sub.add_parser("demo", help="a node filled with sample data")
    s.add_argument("--cases", type=int, default=240)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--open", action="store_true", help="then open the terminal UI")
    s.add_argument("--county", action="store_true",
                   help="instead: a county relay with 24 villages of sample data and its "
                        "web dashboard")
    s.add_argument("--county-home", default=".demo-county",
                   help="where --county keeps its relay (default: ./.demo-county)")
    s.add_argument("--villages", type=int, default=24, help="villages of --county (>= 20)")
    s.add_argument("--port", type=int, default=8765, help="port of --county's dashboard")
    s.add_argument("--json", action="store_true",
                   help="print {cases, added, home} (the node's demo; --county is a server "
                        "in the foreground and prints its address as text)")
    s.set_defaults(func=cmd_demo)


def _add_tui(sub: Any) -> None:
    s = sub.add_parser("tui", help="the directors' terminal UI")
    s.set_defaults(func=cmd_tui)


def _add_sync(sub: Any) -> None:
    s = sub.add_parser("sync", help="sync once with the relay or a LAN peer")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--relay", metavar="URL", help="relay URL (default: the node's relay)")
    g.add_argument("--peer", metavar="HOST:PORT", help="a node on the LAN")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)


def _add_serve(sub: Any) -> None:
    s = sub.add_parser("serve", help="run sync in the background: LAN peers and the relay")
    s.add_argument("--host", default="0.0.0.0", help="address to listen on for LAN peers")
    s.add_argument("--port", type=int, help="port for LAN peers (default: the node's)")
    s.add_argument("--relay", metavar="URL", help="relay URL (default: the node's relay)")
    s.add_argument("--no-discovery", action="store_true", help="do not use zeroconf")
    s.set_defaults(func=cmd_serve)


def _add_provision(sub: Any) -> None:
    s = sub.add_parser("provision", help="enrol this machine as a node (technicians)")
    s.add_argument("--relay", metavar="URL", help="the county relay, e.g. relay.example:8765")
    s.add_argument("--token", help="the one-time code from 'villagecourt relay token'")
    s.add_argument("--file", help="an enrolment file (no network needed)")
    s.add_argument("--code", help="the code that opens the enrolment file")
    s.add_argument("--name", help="the village's name, e.g. 白云村")
    s.add_argument("--director", help="the director's name")
    s.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS)
    s.add_argument("--no-sync", action="store_true", help="do not fetch the village's records")
    s.add_argument("--json", action="store_true",
                   help="print {node_id, role, village, county, relay, home, sync} in one "
                        "document (sync: the first sync's outcome, or null)")
    s.set_defaults(func=cmd_provision)


def _add_kit(sub: Any) -> None:
    kit = sub.add_parser("kit", help="an offline installation kit for a USB stick"
                         ).add_subparsers(dest="kit_cmd", metavar="ACTION")
    kit.required = True
    s = kit.add_parser("build", help="write the wheels and install.sh (needs the package index)")
    s.add_argument("--out", required=True, help="the kit's folder, e.g. /media/usb/kit")
    s.add_argument("--platform", help="pip's platform tag of the village PC, e.g. "
                                      "manylinux2014_x86_64, win_amd64 (default: this one)")
    s.add_argument("--python-version", help="the village PC's Python, e.g. 3.11")
    s.add_argument("--find-links", action="append", metavar="DIR",
                   help="wheels already here to use (repeatable)")
    s.add_argument("--no-index", action="store_true", help="only --find-links, no index")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_kit_build)


def _add_doctor(sub: Any) -> None:
    s = sub.add_parser("doctor", help="check certificate, relay, clock, store and disk")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_doctor)


def _add_status(sub: Any) -> None:
    s = sub.add_parser("status", help="last sync per peer, changes not yet at the relay")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)


_NODE_COMMANDS: dict[str, Callable[[Any], None]] = {
    "init": _add_init,
    "case": _add_case,
    "followup": _add_followup,
    "stats": _add_stats,
    "demo": _add_demo,
    "tui": _add_tui,
    "sync": _add_sync,
    "serve": _add_serve,
    "provision": _add_provision,
    "kit": _add_kit,
    "doctor": _add_doctor,
    "status": _add_status,
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``argv``: only the command it names (``case``, ``relay``...), so a
    command does not pay for the others' parsers (the relay's ~25 actions, and argparse's
    gettext look-ups for each); the whole parser for help, for no command, or for a word
    that is no command (argparse then lists the commands)."""
    word = _command_word(argv) if argv is not None else None
    full = (word not in (*_NODE_COMMANDS, "relay", "bundle")
            or any(a in ("-h", "--help") for a in argv or []))
    p = argparse.ArgumentParser(
        prog="villagecourt",
        description="Offline-first records for village shared courts (共享法庭).",
    )
    # Where the platform keeps data is looked up (platformdirs) only for the help.
    where = default_home() if full else "the platform's data directory"
    p.add_argument("--home", help=f"node home (default: ${ENV_HOME} or {where})")
    p.add_argument("--lang", choices=LANGUAGES, help="language of messages (default: node's)")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    for name, add in _NODE_COMMANDS.items():
        if full or name == word:
            add(sub)

    # The CLI is the composition root: it alone wires the relay's commands in. Adding them
    # imports nothing heavy (aiohttp, x509, the relay's server): each command imports what
    # it needs when it runs, so `case list` starts in a fraction of a second.
    if full or word == "relay":
        from relay.cli import add_commands as add_relay_commands

        add_relay_commands(sub)
    if full or word == "bundle":
        # USB bundles (issue #8): node/bundles.py, with the relay's side wired in here.
        from .bundles import add_commands as add_bundle_commands

        add_bundle_commands(sub, relay=_relay_bundle)
    for add in COMMAND_GROUPS:
        add(sub)
    return p


def _relay_bundle(args: argparse.Namespace, run: Any) -> int:
    """The relay's side of ``bundle ...``, imported only when a bundle command runs there."""
    from relay.bundle_cli import relay_bundle

    return relay_bundle(args, run)


def _known_errors() -> tuple[type[BaseException], ...]:
    """The errors a command reports in one line. The relay's and enrolment's are among them
    only once their modules were imported (an error cannot come from a module not loaded)."""
    known: list[type[BaseException]] = [StoreError, ConfigError, SyncError]
    for module, name in (("relay.config", "RelayConfigError"), ("sync.enrolment", "EnrolError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            known.append(getattr(loaded, name))
    return tuple(known)


def _not_utf8(argv: list[str]) -> tuple[int, str] | None:
    """The first argument that was not valid UTF-8: its position (from 1) and the option it
    belongs to (``--title``; "" for a plain argument). None when all are text.

    Python hands such bytes over as lone surrogates (PEP 383); nothing can store them, so
    every command refuses them before it starts, in one line, as a usage error."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            if arg.startswith("-") and "=" in arg:
                return i + 1, arg.split("=", 1)[0].encode("utf-8", "replace").decode()
            prev = argv[i - 1] if i else ""
            if prev.startswith("-") and "=" not in prev:
                return i + 1, prev.encode("utf-8", "replace").decode()
            return i + 1, ""
    return None


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    # People read the one-line error; details go to the log with -v.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bad = _not_utf8(argv)
    if bad is not None:
        position, option = bad
        log.info("refused argument %d (%s): not UTF-8", position, option or "-")
        key = "usage_not_utf8_option" if option else "usage_not_utf8"
        print(f"villagecourt: {i18n.t(_lang(args), key, n=position, option=option)}",
              file=sys.stderr)
        return 2
    if args.command is None:
        # Plain `villagecourt`: the UI on a node that exists, else help.
        if Home(_home(args)).exists():
            args.func = cmd_tui
        else:
            parser.print_help()
            return 0
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"villagecourt: {i18n.t(_lang(args), str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is one of _known_errors
        if not isinstance(exc, _known_errors()):
            raise
        log.info("command failed: %s", exc)
        print(f"villagecourt: {i18n.error_message(_lang(args), exc)}", file=sys.stderr)
        return 1
