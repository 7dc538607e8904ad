"""Enrolment: one-time tokens, the enrolment endpoints, and offline enrolment files.

A technician runs ``villagecourt relay token --village BY --role director`` and gets a
16-character code (80 bits, Crockford base32, typed in groups: ``7KQ2-MX9P-RT4W-ZH3N``).
On the new machine ``villagecourt provision --relay URL --token CODE``:

1. ``POST /v1/enrol/hello {lookup, nonce}`` (TLS, not yet verified): the relay answers
   with its CA certificate and ``proof = HMAC-SHA256(sha256(code), nonce || ca_der)``. Only
   someone who knows the code can make the proof, so the node pins the real county CA
   without trusting the network, and without the code crossing it.
2. ``POST /v1/enrol {code, public_key}`` over TLS verified against that CA: the relay
   checks the token (unknown, used, expired → refused, each with its code), marks it used
   in the same transaction, and returns the node's certificate and its case-number short
   id, unique in the village (every short id given out is kept in ``short_ids``).

Tokens are stored only as SHA-256 hashes in ``<relay home>/enrol.db`` (or, on a relay
whose documents are in PostgreSQL, in that database); a code never
appears in a log line. ``lookup`` is the first four characters, enough to find the
token, not enough to guess it (60 bits remain).

Offline: ``villagecourt relay enrol-file`` makes the node's key and certificate on the
relay machine and writes them into a file sealed with a fresh code (scrypt + AES-GCM);
``villagecourt provision --file F --code CODE`` opens it on a machine with no network.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from store import Store
from store.location import is_database_url
from store.records import SHORT_ID_ALPHABET, SHORT_ID_LEN, village_scope
from sync.enrolment import (
    LOOKUP_CHARS,
    EnrolError,
    code_hash,
    new_code,
    seal_enrol_file,
)
from sync.scopes import Identity

from .ca import CountyCA, cert_pem, issue, new_node_id, private_pem
from .sidedb import PgDb, SqliteDb, migrate

DEFAULT_TTL = dt.timedelta(hours=24)
ENROL_ROLES = ("director", "judge")
ENROL_LOCK = 0x7663656E  # pg_advisory_xact_lock key of enrolment writes: "vcen"
# Numbered PostgreSQL migrations of the enrolment records (relay_schema, "enrol").
PG_MIGRATIONS = [(1, """
    CREATE TABLE tokens (digest bytea PRIMARY KEY, lookup text NOT NULL,
        village text NOT NULL, role text NOT NULL, created_at text NOT NULL,
        expires_at text NOT NULL, used_at text, node_id text);
    CREATE INDEX tokens_lookup ON tokens(lookup);
    CREATE TABLE short_ids (village text NOT NULL, short_id text NOT NULL,
        node_id text NOT NULL, issued_at text NOT NULL, PRIMARY KEY (village, short_id));
""")]
SHORT_ID_SPACE = frozenset("".join(p) for p in itertools.product(SHORT_ID_ALPHABET,
                                                                  repeat=SHORT_ID_LEN))


def parse_duration(text: str) -> dt.timedelta:
    """'24h', '30m', '7d' → a timedelta."""
    units = {"m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit() or int(t[:-1]) <= 0:
        raise EnrolError("bad_duration", "durations are like 30m, 24h or 7d")
    return dt.timedelta(seconds=int(t[:-1]) * units[t[-1]])


@dataclass(frozen=True)
class Token:
    lookup: str
    village: str
    role: str
    expires_at: str
    used_at: str | None
    node_id: str | None


class TokenStore:
    """Tokens and short ids in ``enrol.db`` (stdlib sqlite3: tiny, rare writes, shared by
    the CLI and the running relay through SQLite's own locking), or in the relay's
    PostgreSQL database (tables ``tokens``, ``short_ids``; writes serialised by an
    advisory lock, as BEGIN IMMEDIATE serialises them on SQLite). relay/sidedb.py."""

    def __init__(self, location: Path | str) -> None:
        """``location``: the enrol.db file, or the relay's postgresql:// database."""
        self.db: SqliteDb | PgDb
        if is_database_url(location):
            self.path = None
            self.db = PgDb(str(location), ENROL_LOCK)
            migrate(self.db, "enrol", PG_MIGRATIONS)
            return
        self.path = Path(location)
        self.db = SqliteDb(self.path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS tokens (digest BLOB PRIMARY KEY, lookup TEXT NOT NULL,"
            " village TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL,"
            " expires_at TEXT NOT NULL, used_at TEXT, node_id TEXT) STRICT")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS short_ids (village TEXT NOT NULL, short_id TEXT "
            "NOT NULL, node_id TEXT NOT NULL, issued_at TEXT NOT NULL, "
            "PRIMARY KEY (village, short_id)) STRICT")
        os.chmod(self.path, 0o600)

    def close(self) -> None:
        self.db.close()

    def allocate_short_id(self, village: str, node_id: str,
                          taken: Iterable[str] = ()) -> str:
        """A case-number short id for a new node of ``village``, unique among every one
        this relay gave that village and ``taken`` (those in its case numbers: nodes
        enrolled before short ids were handed out, or elsewhere)."""
        with self.db.transaction() as db:
            used = {r[0] for r in db.fetchall(
                "SELECT short_id FROM short_ids WHERE village = ?", (village,))}
            used.update(taken)
            free = SHORT_ID_SPACE - used
            if not free:
                raise EnrolError("no_short_id", f"village {village} has used every one of "
                                 f"the {len(SHORT_ID_SPACE)} case-number prefixes")
            sid = secrets.choice(sorted(free))
            db.execute("INSERT INTO short_ids VALUES (?,?,?,?)",
                       (village, sid, node_id,
                        dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
            return sid

    def issue(self, village: str, role: str, ttl: dt.timedelta = DEFAULT_TTL) -> tuple[str, str]:
        if role not in ENROL_ROLES:
            raise EnrolError("bad_role", f"role must be one of {', '.join(ENROL_ROLES)}")
        code = new_code()
        now = dt.datetime.now(dt.timezone.utc)
        expires = (now + ttl).isoformat(timespec="seconds")
        self.db.execute("INSERT INTO tokens VALUES(?,?,?,?,?,?,NULL,NULL)",
                       (code_hash(code), code[:LOOKUP_CHARS], village, role,
                        now.isoformat(timespec="seconds"), expires))
        return code, expires

    def village_of(self, code: str) -> str:
        """The village a code was issued for ("" if unknown or malformed)."""
        try:
            digest = code_hash(code)
        except (EnrolError, ValueError):
            return ""
        row = self.db.fetchone("SELECT village FROM tokens WHERE digest = ?", (digest,))
        return str(row[0]) if row else ""

    def digests_for(self, lookup: str) -> list[bytes]:
        """Every token with this lookup, used and expired ones too: proving the CA to a
        node with a spent code lets step 2 tell it plainly that the code was used."""
        return [bytes(r[0]) for r in self.db.fetchall(
            "SELECT digest FROM tokens WHERE lookup = ?", (lookup.upper(),))]

    def consume(self, code: str, node_id: str) -> Token:
        """Mark the token used by ``node_id``; refuse unknown, used or expired tokens."""
        digest = code_hash(code)
        now = dt.datetime.now(dt.timezone.utc)
        with self.db.transaction() as db:
            row = db.fetchone("SELECT lookup, village, role, expires_at, used_at FROM tokens "
                              "WHERE digest = ?", (digest,))
            if row is None:
                raise EnrolError("unknown_token", "this enrolment code is not known here")
            lookup, village, role, expires_at, used_at = row
            if used_at is not None:
                raise EnrolError("token_used", "this enrolment code was already used")
            if dt.datetime.fromisoformat(expires_at) < now:
                raise EnrolError("token_expired", "this enrolment code has expired")
            db.execute("UPDATE tokens SET used_at = ?, node_id = ? WHERE digest = ?",
                       (now.isoformat(timespec="seconds"), node_id, digest))
            return Token(lookup, village, role, expires_at, now.isoformat(), node_id)

    def list(self) -> list[Token]:
        return [Token(*r) for r in self.db.fetchall(
            "SELECT lookup, village, role, expires_at, used_at, node_id FROM tokens "
            "ORDER BY created_at DESC")]


# Every column of the enrolment tables, in a fixed order (a copy between backends).
ENROL_TABLES: dict[str, tuple[str, ...]] = {
    "tokens": ("digest", "lookup", "village", "role", "created_at", "expires_at", "used_at",
               "node_id"),
    "short_ids": ("village", "short_id", "node_id", "issued_at"),
}


def enrolment_rows(tokens: TokenStore) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the enrolment tables, in key order (to compare two stores)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for table, cols in ENROL_TABLES.items():
        rows = tokens.db.fetchall(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2")
        out[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                      for r in rows]
    return out


def copy_enrolment(src: TokenStore, dst: TokenStore,
                   progress: Callable[[str, int, int], None] | None = None
                   ) -> dict[str, int]:
    """Every token (its hash, village, role, times, use) and every short id given out, from
    ``src`` into ``dst`` as they are, in one transaction of ``dst`` that first empties its
    tables (a move run again after a stop copies anew). Returns the rows per table."""
    rows = enrolment_rows(src)
    counts: dict[str, int] = {}
    with dst.db.transaction() as tx:
        for table, cols in ENROL_TABLES.items():
            tx.execute(f"DELETE FROM {table}")
            insert = (f"INSERT INTO {table}({', '.join(cols)}) "
                      f"VALUES({', '.join('?' for _ in cols)})")
            total = len(rows[table])
            for i, row in enumerate(rows[table], 1):
                tx.execute(insert, row)
                if progress and (i % 500 == 0 or i == total):
                    progress(table, i, total)
            counts[table] = total
    return counts


async def taken_short_ids(store: Store, county: str, village: str) -> set[str]:
    """The short ids in the village's case numbers the relay holds (``BY-7QX-0001``)."""
    out = set()
    for number in await store.views.case_numbers(village_scope(county, village)):
        parts = str(number or "").split("-")
        if len(parts) >= 3 and parts[-2] in SHORT_ID_SPACE:
            out.add(parts[-2])
    return out


def enrol(ca: CountyCA, tokens: TokenStore, county: str, code: str,
          public_key_pem: str, *, taken: Iterable[str] = ()) -> dict[str, str]:
    """Issue a certificate for a node presenting a valid token (step 2), with a
    case-number short id unique in its village (``taken``: see taken_short_ids)."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        raise EnrolError("bad_key", "the node's public key does not parse") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise EnrolError("bad_key", "the node's key must be Ed25519")
    node_id = new_node_id()
    token = tokens.consume(code, node_id)
    identity = Identity(node_id, token.role, county, token.village)
    cert = issue(ca.key(), ca.cert(), key, identity)
    return {"node_id": node_id, "role": token.role, "county": county,
            "village": token.village, "cert_pem": cert_pem(cert).decode(),
            "short_id": tokens.allocate_short_id(token.village, node_id, taken)}


# --- offline enrolment files ---------------------------------------------------------------
def write_enrol_file(path: Path, ca: CountyCA, county: str, village: str, role: str,
                     relay_url: str, *, tokens: TokenStore | None = None,
                     taken: Iterable[str] = ()) -> str:
    """Make a node key and certificate and seal them into ``path``; returns the code.
    With ``tokens``, the file carries a case-number short id unique in the village."""
    if role not in ENROL_ROLES:
        raise EnrolError("bad_role", f"role must be one of {', '.join(ENROL_ROLES)}")
    key = ed25519.Ed25519PrivateKey.generate()
    node_id = new_node_id()
    cert = issue(ca.key(), ca.cert(), key.public_key(), Identity(node_id, role, county, village))
    extra = {"short_id": tokens.allocate_short_id(village, node_id, taken)} if tokens else {}
    return seal_enrol_file(path, {
        **extra,
        "node_id": node_id, "county": county, "village": village, "role": role,
        "relay_url": relay_url, "key_pem": private_pem(key).decode(),
        "cert_pem": cert_pem(cert).decode(), "ca_pem": cert_pem(ca.cert()).decode(),
    }, {"county": county, "village": village, "role": role})
