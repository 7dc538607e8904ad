"""Dashboard accounts: slow hashes, throttling, disabling, the audit log, the CLI."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from node.cli import main
from relay.accounts import (
    FAIL_LIMIT,
    LOCK_BASE,
    AccountError,
    AccountStore,
    check_password,
    hash_password,
)


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "accounts.db")


def test_passwords_are_stored_only_as_scrypt_hashes(accounts: AccountStore) -> None:
    accounts.add("wang", "judge", "correct horse battery", display="王法官")
    raw = sqlite3.connect(accounts.path).execute("SELECT pw_hash FROM users").fetchone()[0]
    assert raw.startswith("scrypt$32768$8$1$") and "correct" not in raw
    assert check_password("correct horse battery", raw)
    assert not check_password("correct horse batterY", raw)
    assert hash_password("same password!") != hash_password("same password!")  # salted
    assert stat.S_IMODE(os.stat(accounts.path).st_mode) == 0o600


def test_add_refuses_bad_input(accounts: AccountStore) -> None:
    for name, role, pw in (("x", "judge", "long enough pw"), ("ok-name", "admin", "long enough"),
                           ("ok-name", "judge", "short"), ("王法官", "judge", "long enough")):
        with pytest.raises(AccountError):
            accounts.add(name, role, pw)
    accounts.add("li", "operator", "long enough pw")
    with pytest.raises(AccountError) as exc:
        accounts.add("li", "operator", "long enough pw")
    assert exc.value.code == "user_exists"


def test_login_throttle_and_audit(accounts: AccountStore) -> None:
    accounts.add("li", "operator", "long enough pw")
    assert accounts.login("li", "long enough pw", "10.0.0.1").code == "ok"
    for _ in range(FAIL_LIMIT):
        assert accounts.login("li", "nope", "10.0.0.1").code == "bad_credentials"
    locked = accounts.login("li", "long enough pw", "10.0.0.2")
    assert locked.code == "throttled" and 0 < locked.retry_after <= LOCK_BASE + 1
    # The lock ends: a minute later (the clock is handed in) the name may try again.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=LOCK_BASE + 2)
    assert accounts.locked_for("li", "10.0.0.3", now=later) == 0
    # Unknown users fail the same way, and are counted too.
    assert accounts.login("ghost", "whatever", "10.0.0.1").code == "bad_credentials"
    events = [a["event"] for a in accounts.audit_log()]
    assert events.count("login") == 1 and events.count("login_failed") == FAIL_LIMIT + 1
    assert "login_throttled" in events


def test_disable_and_logout_everywhere(accounts: AccountStore) -> None:
    accounts.add("li", "operator", "long enough pw")
    assert accounts.valid_after("li") == 0.0
    accounts.set_disabled("li")
    assert accounts.get("li").disabled and accounts.valid_after("li") > 0
    assert accounts.login("li", "long enough pw", "-").code == "bad_credentials"
    accounts.set_disabled("li", False)
    assert accounts.login("li", "long enough pw", "-").code == "ok"
    with pytest.raises(AccountError):
        accounts.set_disabled("nobody")


def test_cli_user_commands(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "relay"
    monkeypatch.setenv("VILLAGECOURT_LANG", "en")  # the relay speaks Chinese by default
    assert main(["relay", "--relay-home", str(home), "init", "--county", "KC"]) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a good password\n"))
    assert main(["relay", "--relay-home", str(home), "user", "add", "wang", "--role", "judge",
                 "--display", "联系法官 王法官", "--password-stdin"]) == 0
    assert main(["relay", "--relay-home", str(home), "user", "list"]) == 0
    out = capsys.readouterr().out
    assert "wang" in out and "judge" in out and "联系法官 王法官" in out
    assert main(["relay", "--relay-home", str(home), "user", "disable", "wang"]) == 0
    assert AccountStore(home / "accounts.db").get("wang").disabled
    assert main(["relay", "--relay-home", str(home), "user", "disable", "ghost"]) == 1
    assert "no user ghost" in capsys.readouterr().err
    assert main(["relay", "--relay-home", str(home), "audit"]) == 0
    assert "user_disabled" in capsys.readouterr().out
