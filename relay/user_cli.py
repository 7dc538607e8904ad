"""``villagecourt relay user ...`` and ``villagecourt relay audit``: dashboard accounts.

    villagecourt relay user add NAME --role operator|judge [--display 王法官] [--password-stdin]
    villagecourt relay user list
    villagecourt relay user disable NAME      (logs the user out at once)
    villagecourt relay user enable NAME
    villagecourt relay user passwd NAME [--password-stdin]
    villagecourt relay audit [--event reveal] [--limit 50]

Passwords are asked twice on the terminal (never on the command line, where the shell's
history and ``ps`` would keep them); scripts pipe one line with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any, Callable

from .accounts import MIN_PASSWORD, ROLES, AccountError, AccountStore
from .messages import error_text, lang_of, role, t


def _accounts(args: argparse.Namespace) -> AccountStore:
    from .config import RelayHome, default_relay_home

    home = RelayHome(Path(args.relay_home).expanduser() if args.relay_home
                     else default_relay_home())
    cfg = home.load()  # a relay must exist here (raises RelayConfigError otherwise)
    return AccountStore(home.accounts_location(cfg))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    lang = lang_of(args)
    first = getpass.getpass(t(lang, "password_prompt", n=MIN_PASSWORD))
    if getpass.getpass(t(lang, "password_again")) != first:
        raise AccountError("password_mismatch", "the two passwords differ")
    return first


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except AccountError as exc:
            name = getattr(args, "name", "")
            print(f"villagecourt: {error_text(lang_of(args), exc, name=name, n=MIN_PASSWORD)}",
                  file=sys.stderr)
            return 1
    wrapped.__name__ = fn.__name__
    return wrapped


@_run
def cmd_user_add(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    if accounts.get(args.name) is not None:
        raise AccountError("user_exists", f"user {args.name} already exists")
    user = accounts.add(args.name, args.role, _password(args), display=args.display or "")
    if args.json:
        print(json.dumps(user.__dict__, ensure_ascii=False, indent=2))
        return 0
    lang = lang_of(args)
    sep = "，" if lang == "zh" else ", "
    print(t(lang, "user_added", name=user.name, role=role(lang, user.role),
            display=sep + user.display if user.display else ""))
    return 0


@_run
def cmd_user_list(args: argparse.Namespace) -> int:
    users = _accounts(args).list()
    if args.json:
        print(json.dumps([u.__dict__ for u in users], ensure_ascii=False, indent=2))
        return 0
    lang = lang_of(args)
    if not users:
        print(t(lang, "no_users"))
        return 0
    print(_pad(t(lang, "col_name"), 16) + _pad(t(lang, "col_role"), 12)
          + _pad(t(lang, "col_state"), 10) + _pad(t(lang, "col_login"), 26)
          + t(lang, "col_display"))
    for u in users:
        print(_pad(u.name, 16) + _pad(role(lang, u.role), 12)
              + _pad(t(lang, "disabled" if u.disabled else "active"), 10)
              + _pad(u.last_login or "-", 26) + u.display)
    return 0


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return text + " " * max(1, width - used)


@_run
def cmd_user_disable(args: argparse.Namespace) -> int:
    _accounts(args).set_disabled(args.name, True)
    _done(args, "user_disabled", disabled=True)
    return 0


def _done(args: argparse.Namespace, key: str, **extra: Any) -> None:
    if args.json:
        print(json.dumps({"name": args.name, **extra}, ensure_ascii=False))
    else:
        print(t(lang_of(args), key, name=args.name))


@_run
def cmd_user_enable(args: argparse.Namespace) -> int:
    _accounts(args).set_disabled(args.name, False)
    _done(args, "user_enabled", disabled=False)
    return 0


@_run
def cmd_user_passwd(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    accounts.set_password(args.name, _password(args))
    accounts.end_sessions(args.name)
    _done(args, "user_passwd", password_changed=True)
    return 0


@_run
def cmd_audit(args: argparse.Namespace) -> int:
    rows = _accounts(args).audit_log(limit=args.limit, event=args.event, user=args.user)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(t(lang_of(args), "no_audit"))
        return 0
    for r in reversed(rows):
        detail = " ".join(f"{k}={v}" for k, v in r["detail"].items())
        print(f"{r['at']}  {r['user']:12} {r['event']:18} {r['remote'] or '-':15} {detail}")
    return 0


def add_user_commands(rsub: Any) -> None:
    """Called from relay/cli.py's add_commands with the ``relay`` subparsers."""
    user = rsub.add_parser("user", help="dashboard accounts (operators, judges)")
    usub = user.add_subparsers(dest="user_cmd", metavar="ACTION")
    usub.required = True
    s = usub.add_parser("add", help="add a dashboard user")
    s.add_argument("name")
    s.add_argument("--role", choices=ROLES, required=True)
    s.add_argument("--display", help="the name shown and signed, e.g. 联系法官 王法官")
    s.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    s.set_defaults(func=cmd_user_add)
    s = usub.add_parser("list", help="list dashboard users")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_user_list)
    s = usub.add_parser("disable", help="disable a user (logs them out)")
    s.add_argument("name")
    s.set_defaults(func=cmd_user_disable)
    s = usub.add_parser("enable", help="enable a disabled user")
    s.add_argument("name")
    s.set_defaults(func=cmd_user_enable)
    s = usub.add_parser("passwd", help="set a user's password")
    s.add_argument("name")
    s.add_argument("--password-stdin", action="store_true")
    s.set_defaults(func=cmd_user_passwd)
    s = rsub.add_parser("audit", help="the dashboard's audit log (logins, reveals, answers)")
    s.add_argument("--event", help="only this event, e.g. reveal, login_failed")
    s.add_argument("--user")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_audit)


__all__ = ["add_user_commands"]
