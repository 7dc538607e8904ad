"""Dashboard accounts on both backends (accounts.db, or the relay's PostgreSQL database):
slow hashes, throttling (also when tries come at once from two relay processes), disabling,
the audit log, the CLI, and copying accounts between backends with their ids."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from node.cli import main
from relay.accounts import (
    FAIL_LIMIT,
    LOCK_BASE,
    AccountError,
    AccountStore,
    account_rows,
    check_password,
    copy_accounts,
    hash_password,
)
from relay.config import RelayHome

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Path | str]:
    """A function giving the location of one accounts store on the test's backend (the
    same each call: several AccountStores on it are several relay processes' worth)."""
    param = getattr(request, "param", "sqlite")
    if param == "sqlite":
        return lambda: tmp_path / "accounts.db"
    dsn = request.getfixturevalue("pg_dsn")
    return lambda: dsn


@pytest.fixture
def accounts(where: Callable[[], Path | str]) -> Iterator[AccountStore]:
    a = AccountStore(where())
    yield a
    a.close()


def raw_rows(accounts: AccountStore, sql: str) -> list[tuple[Any, ...]]:
    """Rows read past AccountStore: sqlite3 on the file, or the adapter's own query."""
    if accounts.path is not None:
        with sqlite3.connect(accounts.path) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    return accounts.db.fetchall(sql)


both = pytest.mark.parametrize("where", BACKENDS, indirect=True)


@both
def test_passwords_are_stored_only_as_scrypt_hashes(accounts: AccountStore) -> None:
    accounts.add("wang", "judge", "correct horse battery", display="王法官")
    [(raw,)] = raw_rows(accounts, "SELECT pw_hash FROM users")
    assert raw.startswith("scrypt$32768$8$1$") and "correct" not in raw
    assert check_password("correct horse battery", raw)
    assert not check_password("correct horse batterY", raw)
    assert hash_password("same password!") != hash_password("same password!")  # salted
    if accounts.path is not None:
        assert stat.S_IMODE(os.stat(accounts.path).st_mode) == 0o600


@both
def test_add_refuses_bad_input(accounts: AccountStore) -> None:
    for name, role, pw in (("x", "judge", "long enough pw"), ("ok-name", "admin", "long enough"),
                           ("ok-name", "judge", "short"), ("王法官", "judge", "long enough")):
        with pytest.raises(AccountError):
            accounts.add(name, role, pw)
    accounts.add("li", "operator", "long enough pw")
    with pytest.raises(AccountError) as exc:
        accounts.add("li", "operator", "long enough pw")
    assert exc.value.code == "user_exists"


@both
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


@both
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_user_commands(tmp_path: Path, monkeypatch, capsys,
                           request: pytest.FixtureRequest, backend: str) -> None:
    home = tmp_path / "relay"
    store = request.getfixturevalue("pg_dsn") if backend == "postgresql" else ""
    monkeypatch.setenv("VILLAGECOURT_LANG", "en")  # the relay speaks Chinese by default
    init = ["relay", "--relay-home", str(home), "init", "--county", "KC"]
    assert main(init + (["--store", store] if store else [])) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a good password\n"))
    assert main(["relay", "--relay-home", str(home), "user", "add", "wang", "--role", "judge",
                 "--display", "联系法官 王法官", "--password-stdin"]) == 0
    assert main(["relay", "--relay-home", str(home), "user", "list"]) == 0
    out = capsys.readouterr().out
    assert "wang" in out and "judge" in out and "联系法官 王法官" in out
    assert main(["relay", "--relay-home", str(home), "user", "disable", "wang"]) == 0
    accounts = AccountStore(RelayHome(home).accounts_location())
    try:
        assert accounts.get("wang").disabled
        assert (accounts.path is None) == bool(store)  # the database's tables, then
    finally:
        accounts.close()
    assert (home / "accounts.db").exists() == (not store)
    assert main(["relay", "--relay-home", str(home), "user", "disable", "ghost"]) == 1
    assert "no user ghost" in capsys.readouterr().err
    assert main(["relay", "--relay-home", str(home), "audit"]) == 0
    assert "user_disabled" in capsys.readouterr().out


def at_once(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """``fn(0..n-1)`` in n threads started together; their results (or errors), in order."""
    start = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        start.wait(timeout=30)
        try:
            out[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads)
    return out


@both
def test_tries_at_once_check_no_more_than_the_limit(where: Callable[[], Path | str]) -> None:
    """Wrong passwords for one name from two relay processes at once (from different
    addresses): exactly FAIL_LIMIT are checked and refused as bad, the rest are throttled
    without a check, and exactly FAIL_LIMIT failures are kept."""
    stores = [AccountStore(where()) for _ in range(2)]
    try:
        stores[0].add("li", "operator", "long enough pw")
        n = FAIL_LIMIT + 3
        codes = [r.code for r in at_once(
            n, lambda i: stores[i % 2].login("li", f"wrong {i}", f"10.0.0.{i}"))]
        assert sorted(codes) == sorted(["bad_credentials"] * FAIL_LIMIT
                                       + ["throttled"] * (n - FAIL_LIMIT)), codes
        assert raw_rows(stores[1], "SELECT count(*) FROM failures") == [(FAIL_LIMIT,)]
        assert stores[1].count_events("login_failed") == FAIL_LIMIT
        assert stores[0].count_events("login_throttled") == n - FAIL_LIMIT
        assert stores[1].login("li", "long enough pw", "10.0.0.99").code == "throttled"
    finally:
        for s in stores:
            s.close()


@both
def test_the_same_user_made_at_once_is_made_once(where: Callable[[], Path | str]) -> None:
    stores = [AccountStore(where()) for _ in range(2)]
    try:
        got = at_once(6, lambda i: stores[i % 2].add("li", "operator", f"password no {i}"))
        made = [g for g in got if not isinstance(g, Exception)]
        refused = [g for g in got if isinstance(g, AccountError)]
        assert len(made) == 1 and len(refused) == 5, got
        assert {e.code for e in refused} == {"user_exists"}
        assert [u.name for u in stores[1].list()] == ["li"]
        assert stores[0].count_events("user_added") == 1
        # The one password that was stored is the winner's.
        winner = got.index(made[0])
        assert stores[1].login("li", f"password no {winner}", "-").code == "ok"
    finally:
        for s in stores:
            s.close()


@both
def test_the_audit_log_filters_by_user_and_event_newest_first(accounts: AccountStore) -> None:
    accounts.add("li", "operator", "long enough pw")
    accounts.add("wang", "judge", "long enough pw")
    accounts.audit("li", "reveal", remote="10.0.0.1", doc_id="d1", field="张三")
    accounts.audit("wang", "reveal", remote="10.0.0.2", doc_id="d2")
    accounts.audit("li", "logout")
    assert [a["detail"].get("doc_id") for a in accounts.audit_log(event="reveal")] == [
        "d2", "d1"]
    li = accounts.audit_log(user="li")
    assert [a["event"] for a in li] == ["logout", "reveal"]
    assert li[1]["detail"] == {"doc_id": "d1", "field": "张三"} and li[1]["remote"] == "10.0.0.1"
    assert accounts.audit_log(user="li", event="reveal", limit=5)[0]["user"] == "li"
    assert len(accounts.audit_log(limit=2)) == 2
    assert accounts.count_events("reveal") == 2
    day = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    assert accounts.logins_since(day) == 0
    assert accounts.login("li", "long enough pw", "-").code == "ok"
    assert accounts.logins_since(day) == 1
    assert [u.name for u in accounts.list()] == ["li", "wang"]


@both
def test_copy_keeps_users_ids_and_times_and_refuses_other_accounts(
        tmp_path: Path, accounts: AccountStore) -> None:
    """accounts.db copied into the test's backend: the same rows (audit ids and times),
    a user logs in on the copy, the next audit row gets a new id; a second copy of the
    same is a no-op, and a copy onto other accounts is refused with nothing written."""
    src = AccountStore(tmp_path / "source.db")
    src.add("li", "operator", "long enough pw")
    src.add("wang", "judge", "long enough pw", display="王法官")
    src.login("wang", "wrong", "10.0.0.1")
    src.set_disabled("wang")
    src.set_disabled("wang", False)
    src.audit("li", "reveal", doc_id="d1")
    src.db.execute("DELETE FROM audit WHERE event = 'user_enabled'")  # a gap in the ids
    progress: list[tuple[str, int, int]] = []
    counts = copy_accounts(src, accounts, lambda *a: progress.append(a))
    rows = account_rows(src)
    assert counts == {t: len(r) for t, r in rows.items()}
    assert counts["users"] == 2 and counts["audit"] == 5 and counts["session_reset"] == 1
    assert ("audit", 5, 5) in progress
    assert account_rows(accounts) == rows
    assert accounts.get("wang").display == "王法官"
    assert accounts.valid_after("wang") == src.valid_after("wang") > 0
    assert accounts.login("li", "long enough pw", "10.0.0.2").code == "ok"
    ids = [r[0] for r in raw_rows(accounts, "SELECT id FROM audit ORDER BY id")]
    assert ids[:-1] == [r[0] for r in rows["audit"]] and ids[-1] > ids[-2]
    # The failed login was copied and counts on the copy (then cleared by li's success
    # for li only: wang's stays).
    assert raw_rows(accounts, "SELECT name FROM failures") == [("wang",)]

    again = AccountStore(tmp_path / "again.db")
    copy_accounts(accounts, again)
    assert copy_accounts(accounts, again) == {t: len(r)
                                              for t, r in account_rows(accounts).items()}
    assert account_rows(again) == account_rows(accounts)
    before = account_rows(accounts)
    with pytest.raises(AccountError) as refused:
        copy_accounts(src, accounts)  # accounts has moved on: one more login
    assert refused.value.code == "accounts_not_empty"
    assert "users (2)" in str(refused.value)
    assert account_rows(accounts) == before
    src.close()
    again.close()


def test_the_relay_config_chooses_the_backend(tmp_path: Path, pg_dsn: str) -> None:
    embedded = RelayHome(tmp_path / "a")
    embedded.init("XC")
    assert embedded.accounts_location() == embedded.accounts_file
    on_pg = RelayHome(tmp_path / "b")
    on_pg.init("XC", store=pg_dsn)
    assert on_pg.accounts_location() == pg_dsn
    a = AccountStore(on_pg.accounts_location())
    try:
        a.add("li", "operator", "long enough pw")
        assert [u.name for u in a.list()] == ["li"] and not on_pg.accounts_file.exists()
    finally:
        a.close()
    a = AccountStore(on_pg.accounts_location())  # opened again: migrations not run twice
    try:
        assert a.get("li") is not None
        assert a.db.fetchall("SELECT version FROM relay_schema WHERE component = 'accounts'"
                             ) == [(1,)]
    finally:
        a.close()
