"""``villagecourt relay ...``: the county relay's commands."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import DEFAULT_PORT, ENV_RELAY_HOME, RelayHome, default_relay_home


def _home(args: argparse.Namespace) -> RelayHome:
    return RelayHome(Path(args.relay_home).expanduser() if args.relay_home
                     else default_relay_home())


def cmd_relay_init(args: argparse.Namespace) -> int:
    home = _home(args)
    cfg = home.init(args.county, host=args.host, port=args.port, force=args.force)
    print(f"relay for county {cfg.county} created at {home.path} (id {cfg.relay_id})")
    return 0


def cmd_relay_serve(args: argparse.Namespace) -> int:
    from .app import create_app

    home = _home(args)
    cfg = home.load()
    host = args.host or cfg.host
    port = args.port if args.port is not None else cfg.port
    logging.getLogger("relay").setLevel(logging.INFO)
    logging.getLogger("relay.sync").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    print(f"relay for county {cfg.county} listening on {host}:{port} "
          f"(health: http://{host}:{port}/healthz)", flush=True)
    web.run_app(create_app(home), host=host, port=port, print=None, access_log=None,
                shutdown_timeout=10.0)
    return 0


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
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_relay_init)
    s = rsub.add_parser("serve", help="run the relay")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_relay_serve)


