"""``villagecourt relay ...``: the county relay's commands.

Messages are Chinese by default, English with ``--lang en`` (relay/messages.py); every
command takes ``--json`` for scripts. Importing this module is cheap: the relay's server,
its CA and aiohttp are imported by the command that runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from store import records

from .messages import add_lang, error_text, lang_of, role, t

if TYPE_CHECKING:
    from .config import RelayHome

log = logging.getLogger("relay.cli")

ENV_RELAY_HOME = "VILLAGECOURT_RELAY_HOME"  # the same name as relay/config.py's
DEFAULT_PORT = 8765  # relay/config.py's DEFAULT_PORT (tests/relay/test_cli_relay.py checks)


def _home(args: argparse.Namespace) -> "RelayHome":
    from .config import RelayHome, default_relay_home

    return RelayHome(Path(args.relay_home).expanduser() if args.relay_home
                     else default_relay_home())


def emit_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A relay command whose refusals (no relay here, a bad code, a used token...) are one
    line on stderr in the command's language, exit 1."""
    def wrapped(args: argparse.Namespace) -> int:
        from store import StoreError
        from sync.enrolment import EnrolError

        from .accounts import AccountError
        from .config import RelayConfigError

        try:
            return fn(args)
        except (RelayConfigError, EnrolError, AccountError, StoreError) as exc:
            log.info("relay command failed: %s", exc)
            lang = lang_of(args)
            details = getattr(exc, "details", {}) or {}
            print(f"villagecourt: {error_text(lang, exc, **_error_values(exc, details))}",
                  file=sys.stderr)
            return 1
    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    wrapped.guarded = True  # type: ignore[attr-defined]
    return wrapped


def _error_values(exc: BaseException, details: dict[str, Any]) -> dict[str, Any]:
    from .accounts import MIN_PASSWORD

    text = str(exc)
    values: dict[str, Any] = {"n": MIN_PASSWORD, "path": text.split(" ")[-1] if text else ""}
    if "value" in details:
        values["value"] = details["value"]
    name = text.rsplit(" ", 1)[-1] if text.startswith(("no user", "user ")) else ""
    if text.startswith("user "):
        name = text.split(" ")[1]
    values["name"] = name
    return values


def cmd_relay_init(args: argparse.Namespace) -> int:
    from store import describe_location

    lang = lang_of(args)
    home = _home(args)
    if args.store:
        # The database is reached (and its tables made) before anything is written here.
        asyncio.run(_check_database(args.store))
    cfg = home.init(args.county, host=args.host, port=args.port, public_url=args.url,
                    store=args.store, force=args.force)
    if args.json:
        emit_json({"county": cfg.county, "home": str(home.path), "relay_id": cfg.relay_id,
                   "public_url": cfg.public_url,
                   "store": describe_location(home.store_location(cfg))})
        return 0
    print(t(lang, "init_done", county=cfg.county, home=home.path, relay_id=cfg.relay_id))
    if args.store:
        print(t(lang, "init_store", store=describe_location(args.store)))
    if not cfg.public_url:
        print(t(lang, "init_no_url"), file=sys.stderr)
    return 0


async def _check_database(url: str) -> None:
    """Open the database store once (migrating it) and close it: a StoreError if not."""
    import tempfile

    from store import open_store
    from store.location import check_database_url

    check_database_url(url)
    with tempfile.TemporaryDirectory() as side:
        store = await open_store(url, key=None, side_dir=Path(side))
        await store.close()


def cmd_relay_serve(args: argparse.Namespace) -> int:
    from .app import start

    lang = lang_of(args)
    home = _home(args)
    cfg = home.load()
    host = args.host or cfg.host
    port = args.port if args.port is not None else cfg.port
    max_sessions = args.max_sessions if args.max_sessions is not None else cfg.max_sessions
    if max_sessions < 1:
        print(t(lang, "serve_max"), file=sys.stderr)
        return 2
    for name in ("relay", "relay.sync", "relay.enrol", "sync.tls"):
        logging.getLogger(name).setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    scheme = "http" if args.insecure else "https"
    if args.insecure:
        print(t(lang, "serve_insecure"), file=sys.stderr, flush=True)

    async def main() -> int:
        try:
            relay = await start(home, host, port, tls=not args.insecure,
                                max_sessions=max_sessions)
        except OSError as exc:  # the port is taken (or not ours to bind)
            print(t(lang, "serve_port_taken", port=port, reason=exc.strerror or exc),
                  file=sys.stderr)
            return 1
        # Announced once the relay listens: a script may wait for this line.
        print(t(lang, "serve_listening", county=cfg.county, host=host, port=port,
                scheme=scheme, max=max_sessions), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await relay.stop()
        return 0

    # Held while the relay runs: 'relay migrate-store' refuses a running relay.
    with home.lock("serve"):
        return asyncio.run(main())


def cmd_relay_token(args: argparse.Namespace) -> int:
    from sync.enrolment import pretty

    from .enrol import TokenStore, parse_duration

    lang = lang_of(args)
    home = _home(args)
    cfg = home.load()
    records.check_code(args.village, "village")
    code, expires = TokenStore(home.tokens_location(cfg)).issue(args.village, args.role,
                                                       parse_duration(args.expires))
    where = cfg.public_url or "RELAY_ADDRESS:PORT"
    if args.json:
        emit_json({"code": pretty(code), "village": args.village, "role": args.role,
                   "county": cfg.county, "expires": expires, "relay": cfg.public_url})
        return 0
    print(t(lang, "token_done", role=role(lang, args.role), village=args.village,
            county=cfg.county, expires=expires))
    print(f"\n    {pretty(code)}\n")
    print(t(lang, "token_next", where=where, code=pretty(code)))
    return 0


async def _taken_short_ids(home: "RelayHome", county: str, village: str) -> set[str]:

    from .enrol import taken_short_ids

    store = await home.open_store()
    try:
        return await taken_short_ids(store, county, village)
    finally:
        await store.close()


def cmd_relay_enrol_file(args: argparse.Namespace) -> int:
    from sync.enrolment import pretty

    from .enrol import TokenStore, write_enrol_file

    lang = lang_of(args)
    home = _home(args)
    cfg = home.load()
    records.check_code(args.village, "village")
    url = args.url or cfg.public_url
    if not url:
        print(t(lang, "enrol_no_url"), file=sys.stderr)
        return 2
    code = write_enrol_file(Path(args.out), home.ca, cfg.county, args.village, args.role, url,
                            tokens=TokenStore(home.tokens_location(cfg)),
                            taken=asyncio.run(_taken_short_ids(home, cfg.county, args.village)))
    if args.json:
        emit_json({"file": args.out, "code": pretty(code), "village": args.village,
                   "role": args.role, "county": cfg.county, "relay": url})
        return 0
    print(t(lang, "enrol_done", out=args.out, role=role(lang, args.role), village=args.village))
    print(t(lang, "enrol_code") + f"\n\n    {pretty(code)}\n")
    print(t(lang, "enrol_next", out=args.out, code=pretty(code)))
    return 0


def cmd_relay_revoke(args: argparse.Namespace) -> int:

    from .revoke import revoke

    lang = lang_of(args)
    home = _home(args)
    cfg = home.load()

    async def run() -> int:
        store = await home.open_store()
        try:
            version = await revoke(store, home.ca, cfg.county, args.node_id, args.reason or "")
        finally:
            await store.close()
        if args.json:
            emit_json({"node_id": args.node_id, "version": version})
        else:
            print(t(lang, "revoked", node=args.node_id, version=version))
        return 0

    return asyncio.run(run())


def cmd_relay_migrate_store(args: argparse.Namespace) -> int:
    from store.location import describe

    from .migrate_store import migrate_store

    lang = lang_of(args)
    home = _home(args)
    names = {"meta": t(lang, "mig_meta"), "docs": t(lang, "mig_docs"),
             "doc_tail": t(lang, "mig_doc_tail"), "records": t(lang, "mig_records"),
             "followups": t(lang, "mig_followups"), "peers": t(lang, "mig_peers"),
             "counters": t(lang, "mig_counters"), "sync_log": t(lang, "mig_sync_log"),
             "check": t(lang, "mig_check"), "users": t(lang, "mig_users"),
             "failures": t(lang, "mig_failures"), "audit": t(lang, "mig_audit"),
             "session_reset": t(lang, "mig_session_reset")}

    def progress(what: str, done: int, total: int) -> None:
        print(t(lang, "mig_progress", what=names.get(what, what), done=done, total=total),
              file=sys.stderr, flush=True)

    print(t(lang, "mig_start", store=describe(args.to), home=home.path), file=sys.stderr,
          flush=True)
    result = asyncio.run(migrate_store(home, args.to, progress=progress))
    if args.json:
        emit_json({"ok": True, **result})
        return 0
    print(t(lang, "mig_verified", **result))
    print(t(lang, "mig_done", **result))
    return 0


def cmd_relay_doctor(args: argparse.Namespace) -> int:
    from .doctor import FAIL, OK, run_checks

    lang = lang_of(args)
    checks = asyncio.run(run_checks(_home(args)))
    if args.json:
        emit_json([{"check": c.name, "status": c.status, "message": c.text(lang)}
                   for c in checks])
    else:
        marks = {OK: "✓", FAIL: "✗"}
        for c in checks:
            print(f"{marks.get(c.status, '!')} {c.text(lang)}")
    return 1 if any(c.status == FAIL for c in checks) else 0


def add_commands(sub: Any) -> None:
    relay = sub.add_parser("relay", help="the county relay")
    relay.add_argument("--relay-home", help=f"relay home (default: ${ENV_RELAY_HOME} or the "
                                            "platform's data directory)")
    add_lang(relay)
    rsub = relay.add_subparsers(dest="relay_cmd", metavar="ACTION")
    rsub.required = True
    s = rsub.add_parser("init", help="set up a relay for a county")
    s.add_argument("--county", required=True)
    s.add_argument("--host", default="0.0.0.0")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"the port nodes reach the relay on (default {DEFAULT_PORT})")
    s.add_argument("--url", default="", help="the address nodes use, e.g. "
                                             "wss://relay.example:8765/v1/sync")
    s.add_argument("--store", default="", metavar="URL",
                   help="keep the documents in PostgreSQL: postgresql://USER@HOST:PORT/DB "
                        "(default: the embedded SQLite file store.db; a password may come "
                        "from PGPASSWORD or ~/.pgpass instead of the URL)")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_relay_init)
    s = rsub.add_parser("serve", help="run the relay (in the foreground; Ctrl+C stops it)")
    s.add_argument("--host")
    s.add_argument("--port", type=int, help="port to listen on (default: the one of "
                                            f"'relay init --port', {DEFAULT_PORT})")
    s.add_argument("--insecure", action="store_true",
                   help="no TLS, trust what peers claim (a demo on one machine only)")
    s.add_argument("--max-sessions", type=int, metavar="N",
                   help="concurrent sync sessions at most; one more is told 'busy' and when "
                        "to retry (default: max_sessions in config.json, else 100)")
    s.set_defaults(func=cmd_relay_serve)
    s = rsub.add_parser("migrate-store", help="move the county's store from store.db to "
                                              "PostgreSQL (the relay stopped)")
    s.add_argument("--to", required=True, metavar="URL",
                   help="postgresql://USER@HOST:PORT/DB, empty or holding this relay's "
                        "store from an earlier run (a password may come from PGPASSWORD "
                        "or ~/.pgpass)")
    s.set_defaults(func=cmd_relay_migrate_store)
    s = rsub.add_parser("doctor", help="check the database, certificates, disk and port")
    s.set_defaults(func=cmd_relay_doctor)
    s = rsub.add_parser("token", help="a one-time enrolment code for a new node")
    s.add_argument("--village", required=True)
    s.add_argument("--role", choices=["director", "judge"], default="director")
    s.add_argument("--expires", default="24h", help="e.g. 30m, 24h, 7d (default 24h)")
    s.set_defaults(func=cmd_relay_token)
    s = rsub.add_parser("enrol-file", help="an enrolment file for a machine with no network")
    s.add_argument("--village", required=True)
    s.add_argument("--role", choices=["director", "judge"], default="director")
    s.add_argument("--out", required=True, help="file to write, e.g. /media/usb/by.enrol")
    s.add_argument("--url", help="the relay address the village will reach (default: the "
                                 "relay's --url)")
    s.set_defaults(func=cmd_relay_enrol_file)
    s = rsub.add_parser("revoke", help="revoke a node (stolen or retired)")
    s.add_argument("node_id")
    s.add_argument("--reason")
    s.set_defaults(func=cmd_relay_revoke)
    from .user_cli import add_user_commands

    add_user_commands(rsub)  # relay user add|list|disable|enable|passwd, relay audit
    from .content_cli import add_content_commands

    add_content_commands(rsub)  # relay content add|list|withdraw (issue #8)
    from .case_cli import add_case_commands

    add_case_commands(rsub)  # relay case list|show
    # Every relay command speaks zh or en and answers --json.
    for action in list(rsub.choices.values()):
        _finish(action)


def _finish(parser: argparse.ArgumentParser) -> None:
    """``--lang``, ``--json`` and one-line refusals (guarded) on a command and on each of
    its own actions."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    if subs:
        for child in subs[0].choices.values():
            _finish(child)
        return
    func = parser.get_default("func")
    if func is not None and not getattr(func, "guarded", False):
        parser.set_defaults(func=guarded(func))
    opts = {o for a in parser._actions for o in a.option_strings}  # noqa: SLF001
    if "--lang" not in opts:
        add_lang(parser)
    if "--json" not in opts:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
