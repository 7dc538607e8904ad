"""``villagecourt relay ...``: the county relay's commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from store import records

from .config import DEFAULT_PORT, ENV_RELAY_HOME, RelayHome, default_relay_home


def _home(args: argparse.Namespace) -> RelayHome:
    return RelayHome(Path(args.relay_home).expanduser() if args.relay_home
                     else default_relay_home())


def cmd_relay_init(args: argparse.Namespace) -> int:
    home = _home(args)
    cfg = home.init(args.county, host=args.host, port=args.port, public_url=args.url,
                    force=args.force)
    print(f"relay for county {cfg.county} created at {home.path} (id {cfg.relay_id})")
    if not cfg.public_url:
        print("note: no --url given; enrolment files will need --url, and nodes enrolled "
              "online will use the address they reached the relay by", file=sys.stderr)
    return 0


def cmd_relay_serve(args: argparse.Namespace) -> int:
    from .app import serve

    home = _home(args)
    cfg = home.load()
    host = args.host or cfg.host
    port = args.port if args.port is not None else cfg.port
    max_sessions = args.max_sessions if args.max_sessions is not None else cfg.max_sessions
    if max_sessions < 1:
        print("relay serve: --max-sessions must be at least 1", file=sys.stderr)
        return 2
    for name in ("relay", "relay.sync", "relay.enrol", "sync.tls"):
        logging.getLogger(name).setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    scheme = "http" if args.insecure else "https"
    print(f"relay for county {cfg.county} listening on {host}:{port} "
          f"(health: {scheme}://{host}:{port}/healthz; at most {max_sessions} sync sessions "
          "at once)", flush=True)
    if args.insecure:
        print("WARNING: --insecure: no TLS and no certificates; for a demo on one machine "
              "only", file=sys.stderr, flush=True)

    async def main() -> None:
        task = asyncio.ensure_future(serve(home, host, port, tls=not args.insecure,
                                           max_sessions=max_sessions))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    return 0


def cmd_relay_token(args: argparse.Namespace) -> int:
    from sync.enrolment import pretty

    from .enrol import TokenStore, parse_duration

    home = _home(args)
    cfg = home.load()
    records.check_code(args.village, "village")
    code, expires = TokenStore(home.tokens_file).issue(args.village, args.role,
                                                       parse_duration(args.expires))
    print(f"enrolment code for a {args.role} of village {args.village} "
          f"(county {cfg.county}), valid once until {expires}:")
    print(f"\n    {pretty(code)}\n")
    where = cfg.public_url or "RELAY_ADDRESS:PORT"
    print(f"on the new machine: villagecourt provision --relay {where} --token {pretty(code)}")
    return 0


async def _taken_short_ids(home: RelayHome, county: str, village: str) -> set[str]:
    from store import Store

    from .enrol import taken_short_ids

    store = await Store.open(home.store_file, key=home.store_key())
    try:
        return await taken_short_ids(store, county, village)
    finally:
        await store.close()


def cmd_relay_enrol_file(args: argparse.Namespace) -> int:
    from sync.enrolment import pretty

    from .enrol import TokenStore, write_enrol_file

    home = _home(args)
    cfg = home.load()
    records.check_code(args.village, "village")
    url = args.url or cfg.public_url
    if not url:
        print("relay enrol-file: give --url wss://RELAY_ADDRESS:PORT/v1/sync (the address the "
              "village will reach), or set it once with 'relay init --url'", file=sys.stderr)
        return 2
    code = write_enrol_file(Path(args.out), home.ca, cfg.county, args.village, args.role, url,
                            tokens=TokenStore(home.tokens_file),
                            taken=asyncio.run(_taken_short_ids(home, cfg.county, args.village)))
    print(f"enrolment file written to {args.out} for a {args.role} of village "
          f"{args.village}.")
    print(f"give the technician this code separately from the file:\n\n    {pretty(code)}\n")
    print(f"on the new machine: villagecourt provision --file {args.out} --code {pretty(code)}")
    return 0


def cmd_relay_revoke(args: argparse.Namespace) -> int:
    from store import Store

    from .revoke import revoke

    home = _home(args)
    cfg = home.load()

    async def run() -> int:
        store = await Store.open(home.store_file, key=home.store_key())
        try:
            version = await revoke(store, home.ca, cfg.county, args.node_id, args.reason or "")
        finally:
            await store.close()
        print(f"node {args.node_id} revoked (revocation list version {version}); the relay "
              "refuses it from now on, and every node once it has synced.")
        return 0

    return asyncio.run(run())


def add_commands(sub: Any) -> None:
    relay = sub.add_parser("relay", help="the county relay")
    relay.add_argument("--relay-home", help=f"relay home (default: ${ENV_RELAY_HOME} or "
                                            f"{default_relay_home()})")
    rsub = relay.add_subparsers(dest="relay_cmd", metavar="ACTION")
    rsub.required = True
    s = rsub.add_parser("init", help="set up a relay for a county")
    s.add_argument("--county", required=True)
    s.add_argument("--host", default="0.0.0.0")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument("--url", default="", help="the address nodes use, e.g. "
                                             "wss://relay.example:8765/v1/sync")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_relay_init)
    s = rsub.add_parser("serve", help="run the relay")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--insecure", action="store_true",
                   help="no TLS, trust what peers claim (a demo on one machine only)")
    s.add_argument("--max-sessions", type=int, metavar="N",
                   help="concurrent sync sessions at most; one more is told 'busy' and when "
                        "to retry (default: max_sessions in config.json, else 100)")
    s.set_defaults(func=cmd_relay_serve)
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
    from .content import add_content_commands

    add_content_commands(rsub)  # relay content add|list|withdraw (issue #8)


