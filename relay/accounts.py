"""Dashboard accounts, login throttling and the audit log, in ``<relay home>/accounts.db``.

What it owns
    Who may log in to the county dashboard (operators and judges), their passwords as
    slow hashes, failed logins and the lock-outs they cause, and an append-only audit log
    of logins, logouts, every reveal of personal data and every write a person makes
    through the dashboard.

Rules
1. A password is stored only as scrypt(password, salt) (N=2^15, r=8, p=1: 32 MiB and
   about 0.1 s per try here); the hash string names its parameters, so they can rise
   later without breaking old hashes. Verification is constant time.
2. Throttle: ``FAIL_LIMIT`` failed logins for one name (or ``IP_FAIL_LIMIT`` from one
   address) within ``FAIL_WINDOW`` lock further tries for ``LOCK_BASE`` seconds, doubling
   with each further failure up to ``LOCK_MAX``; a success clears the name's failures.
   While locked, even the right password is refused (it is not checked at all).
3. The audit log is written in the same call that decides (a reveal is audited before
   the page that shows the data is sent) and is never updated or deleted by the program.
4. stdlib sqlite3, WAL, short transactions: the CLI (``villagecourt relay user ...``) and
   the running relay share the file through SQLite's own locking, like enrol.db.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("operator", "judge")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024  # N * r * 128 = 32 MiB, with room
MIN_PASSWORD = 10  # characters
FAIL_LIMIT = 5  # failed logins for one name before it is locked
IP_FAIL_LIMIT = 20  # failed logins from one address before it is locked
FAIL_WINDOW = dt.timedelta(minutes=15)
LOCK_BASE = 60  # seconds of the first lock-out
LOCK_MAX = 15 * 60  # seconds: the longest lock-out
_NAME = re.compile(r"[A-Za-z0-9_.-]{2,32}")


class AccountError(Exception):
    """A refused account operation, with a stable ``code`` (translated by the CLI)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.details: dict[str, str] = {}


@dataclass(frozen=True)
class User:
    name: str
    role: str
    display: str
    disabled: bool
    created_at: str
    last_login: str | None

    @property
    def label(self) -> str:
        """How the user signs what they write (a judge's answer says this)."""
        return self.display or self.name


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    code: str  # "ok", "bad_credentials", "throttled", "disabled"
    retry_after: int = 0  # seconds, when throttled


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=SCRYPT_MAXMEM, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A hash to check against when the name is unknown, so that "no such user" takes as long
# as "wrong password" and the timing does not tell which names exist.
_DUMMY_HASH = (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(bytes(16)).decode()}"
               f"${base64.b64encode(bytes(32)).decode()}")


class AccountStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.executescript("""
                CREATE TABLE IF NOT EXISTS users (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, display TEXT NOT NULL,
                    pw_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL, last_login TEXT) STRICT;
                CREATE TABLE IF NOT EXISTS failures (
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL, remote TEXT NOT NULL,
                    at TEXT NOT NULL) STRICT;
                CREATE INDEX IF NOT EXISTS failures_name ON failures(name, at);
                CREATE INDEX IF NOT EXISTS failures_remote ON failures(remote, at);
                CREATE TABLE IF NOT EXISTS audit (
                    id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL,
                    event TEXT NOT NULL, remote TEXT NOT NULL DEFAULT '',
                    detail TEXT NOT NULL DEFAULT '{}') STRICT;
                CREATE INDEX IF NOT EXISTS audit_event ON audit(event, at);
                CREATE TABLE IF NOT EXISTS session_reset (
                    name TEXT PRIMARY KEY, after REAL NOT NULL) STRICT;
            """)
        os.chmod(path, 0o600)

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        return db

    # --- users ---------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str, *, display: str = "") -> User:
        if not _NAME.fullmatch(name or ""):
            raise AccountError("bad_user_name", "a user name is 2-32 letters, digits, '.', "
                                                "'_' or '-'")
        if role not in ROLES:
            raise AccountError("bad_user_role", f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError("weak_password",
                               f"a password needs at least {MIN_PASSWORD} characters")
        display = (display or "").strip()[:64]
        try:
            with self._db() as db:
                db.execute("INSERT INTO users(name, role, display, pw_hash, created_at) "
                           "VALUES(?,?,?,?,?)",
                           (name, role, display, hash_password(password), _iso(_now())))
        except sqlite3.IntegrityError:
            raise AccountError("user_exists", f"user {name} already exists") from None
        self.audit("cli", "user_added", user_name=name, role=role)
        return self.get(name)  # type: ignore[return-value]

    def get(self, name: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT name, role, display, disabled, created_at, last_login "
                             "FROM users WHERE name = ?", (name,)).fetchone()
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5]) if row else None

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, display, disabled, created_at, last_login "
                              "FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows]

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        with self._db() as db:
            cur = db.execute("UPDATE users SET disabled = ? WHERE name = ?",
                             (int(disabled), name))
        if cur.rowcount == 0:
            raise AccountError("no_user", f"no user {name}")
        if disabled:
            self.end_sessions(name)
        self.audit("cli", "user_disabled" if disabled else "user_enabled", user_name=name)
        return self.get(name)  # type: ignore[return-value]

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError("weak_password",
                               f"a password needs at least {MIN_PASSWORD} characters")
        with self._db() as db:
            cur = db.execute("UPDATE users SET pw_hash = ? WHERE name = ?",
                             (hash_password(password), name))
            db.execute("DELETE FROM failures WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise AccountError("no_user", f"no user {name}")
        self.audit("cli", "password_set", user_name=name)

    # --- logging in ----------------------------------------------------------------------
    def locked_for(self, name: str, remote: str, now: dt.datetime | None = None) -> int:
        """Seconds until ``name`` (from ``remote``) may try again; 0 when not locked."""
        now = now or _now()
        since = _iso(now - FAIL_WINDOW)
        with self._db() as db:
            by_name = db.execute("SELECT count(*), max(at) FROM failures WHERE name = ? "
                                 "AND at >= ?", (name, since)).fetchone()
            by_ip = db.execute("SELECT count(*), max(at) FROM failures WHERE remote = ? "
                               "AND at >= ?", (remote, since)).fetchone()
        wait = 0
        for (count, last), limit in ((by_name, FAIL_LIMIT), (by_ip, IP_FAIL_LIMIT)):
            if count >= limit and last:
                lock = min(LOCK_MAX, LOCK_BASE * 2 ** (count - limit))
                until = dt.datetime.fromisoformat(last) + dt.timedelta(seconds=lock)
                wait = max(wait, int((until - now).total_seconds()) + 1)
        return max(0, wait)

    def login(self, name: str, password: str, remote: str) -> LoginResult:
        """Check a login (slow: run it off the event loop). Audited either way."""
        wait = self.locked_for(name, remote)
        if wait:
            self.audit(name, "login_throttled", remote=remote, retry_after=wait)
            return LoginResult(None, "throttled", wait)
        with self._db() as db:
            row = db.execute("SELECT pw_hash, disabled FROM users WHERE name = ?",
                             (name,)).fetchone()
        ok = check_password(password, row[0] if row else _DUMMY_HASH) and row is not None
        if not ok or row[1]:
            with self._db() as db:
                db.execute("INSERT INTO failures(name, remote, at) VALUES(?,?,?)",
                           (name, remote, _iso(_now())))
            code = "disabled" if ok else "bad_credentials"
            self.audit(name, "login_failed", remote=remote, reason=code)
            return LoginResult(None, "bad_credentials")  # never tell which
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE name = ?", (name,))
            db.execute("UPDATE users SET last_login = ? WHERE name = ?", (_iso(_now()), name))
        self.audit(name, "login", remote=remote)
        return LoginResult(self.get(name), "ok")

    def end_sessions(self, name: str) -> None:
        """Log ``name`` out everywhere: sessions made before now stop counting."""
        with self._db() as db:
            db.execute("INSERT INTO session_reset(name, after) VALUES(?, ?) ON CONFLICT(name) "
                       "DO UPDATE SET after = excluded.after", (name, time.time()))

    def valid_after(self, name: str) -> float:
        """Sessions of ``name`` made before this moment (epoch seconds) are void."""
        with self._db() as db:
            row = db.execute("SELECT after FROM session_reset WHERE name = ?",
                             (name,)).fetchone()
        return float(row[0]) if row else 0.0

    def prune(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> None:
        """Forget failed logins older than any window that still counts them."""
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE at < ?", (_iso(_now() - older_than),))

    # --- the audit log -------------------------------------------------------------------
    def audit(self, user: str, event: str, *, remote: str = "", **detail: Any) -> None:
        with self._db() as db:
            db.execute("INSERT INTO audit(at, user, event, remote, detail) VALUES(?,?,?,?,?)",
                       (_iso(_now()), user, event, remote,
                        json.dumps(detail, ensure_ascii=False, sort_keys=True)))

    def audit_log(self, *, limit: int = 200, event: str | None = None,
                  user: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT at, user, event, remote, detail FROM audit", []
        where = []
        if event:
            where.append("event = ?")
            args.append(event)
        if user:
            where.append("user = ?")
            args.append(user)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._db() as db:
            rows = db.execute(sql, args).fetchall()
        return [{"at": r[0], "user": r[1], "event": r[2], "remote": r[3],
                 "detail": json.loads(r[4] or "{}")} for r in rows]

    def count_events(self, event: str) -> int:
        with self._db() as db:
            (n,) = db.execute("SELECT count(*) FROM audit WHERE event = ?", (event,)).fetchone()
        return int(n)

    def logins_since(self, since: dt.datetime) -> int:
        with self._db() as db:
            (n,) = db.execute("SELECT count(*) FROM audit WHERE event = 'login' AND at >= ?",
                              (_iso(since),)).fetchone()
        return int(n)
