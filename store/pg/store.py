"""The document store on PostgreSQL (asyncpg): store/docs.py's rules on a database server.

The same tables (schema/0001_initial.sql), the same write path (store/writeplan.py: merge
planning, projection, snapshot and tail rows, sealing with the store key) and the same
answers as the SQLite ``Store``; only the SQL and the locking differ:

- Every write transaction first takes ``pg_advisory_xact_lock(WRITE_LOCK)``: writers are
  serialised across every program on the database (two relays, a migration tool), and
  within one program an asyncio lock keeps them in line. A writer waits for another
  program's lock at most ``busy_timeout_ms`` (``lock_timeout``), then StoreLocked, as
  SQLite's busy timeout. The lock goes with COMMIT or
  ROLLBACK, so every transaction that took a seq <= the stored top has committed when a
  reader sees that top (the feed's rule 2).
- A write, once started, runs to its end even if its caller is cancelled
  (store/db.py's ``run_to_end``): asyncpg's transaction then commits or rolls back whole
  and the connection goes back to the pool clean.
- Reads go through the pool on any connection: each statement sees committed data only.
- Errors come out as StoreErrors with the SQLite backend's codes (store/pg/errors.py).

``views`` runs store/views.py's named queries (dialect "postgresql": strpos for instr)
with ``?`` placeholders rewritten as ``$n``; they give the SQLite store's rows
(tests/store/contract/test_views_contract.py). The county dashboard's own SQL
(relay/dashboard/queries.py) is still SQLite's (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import asyncpg
from automerge.core import Document

from .. import amdoc, transfer
from ..db import DEFAULT_BUSY_TIMEOUT_MS, run_to_end
from ..docs import new_doc_id
from ..errors import DocNotFound, StoreError, ValidationError
from ..location import database_name
from ..projection import Projection, Tokenizer
from ..records import KINDS, check_scope
from ..scopeset import ScopeSet
from ..sealed import Sealer, search_key
from ..types import (
    CommitListeners,
    Committed,
    DocMeta,
    FeedPage,
    Incoming,
    Write,
    load_document,
    now_iso,
    pack_heads,
)
from ..views import Views
from ..writeplan import Have, plan_merge, plan_writes, project_doc
from .errors import translate
from .migrate import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

# pg_advisory_xact_lock key of the store's writers: "vcwr" in ASCII (migrations: "vcmg").
WRITE_LOCK = 0x76637772
CACHE_DOCS = 512
SYNC_LOG_KEEP = 1000
POOL_MAX = 4
SYNC_LOG_COLS = ("started_at", "finished_at", "peer_id", "peer_label", "ok", "docs_sent",
                 "docs_received", "bytes_sent", "bytes_received", "error_code", "error")
_MARK = re.compile(r"'[^']*'|\?")


def dollar(sql: str) -> str:
    """``?`` placeholders (outside quoted literals) as PostgreSQL's ``$1, $2, ...``."""
    n = 0

    def one(m: re.Match[str]) -> str:
        nonlocal n
        if m.group(0) != "?":
            return m.group(0)
        n += 1
        return f"${n}"

    return _MARK.sub(one, sql)


def scope_sql(readable: ScopeSet, column: str = "scope") -> tuple[str, list[str]]:
    """ScopeSet's predicate (``?`` placeholders) with PostgreSQL's booleans."""
    where, params = readable.sql(column)
    return {"1": "TRUE", "0": "FALSE"}.get(where, where), params


class PgStore(CommitListeners):
    """See the module docstring. Open with ``await PgStore.open(dsn, key=..., path=...)``;
    ``path`` is the directory of the store's side files (bundle peers' certificates)."""

    def __init__(self, pool: asyncpg.Pool, where: str, path: Path, sealer: Sealer,
                 store_id: str, tok: Tokenizer,
                 busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.path = path
        self._busy_timeout_ms = int(busy_timeout_ms)
        self.where = where
        self._pool = pool
        self._sealer = sealer
        self._tok = tok
        self.store_id = store_id
        self._lock = asyncio.Lock()
        self._actor = secrets.token_bytes(16)  # one actor per process, as store/docs.py
        self._cache: OrderedDict[str, tuple[bytes, Document]] = OrderedDict()
        self._listeners: list[Callable[[Committed], None]] = []
        self._closed = False
        self.views = Views(self.query, self._tok, dialect="postgresql")

    # --- life cycle ------------------------------------------------------------------
    @classmethod
    async def open(cls, dsn: str, *, key: bytes | None, path: Path | str,
                   busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                   pool_max: int = POOL_MAX) -> "PgStore":
        where = database_name(dsn)
        path = Path(path)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_max)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise translate(exc, where) from exc
        try:
            async with pool.acquire() as c:
                await migrate(c)
                store_id = await _ensure_store_id(c)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, (asyncpg.PostgresError, OSError, asyncpg.InterfaceError)):
                raise translate(exc, where) from exc
            raise
        return cls(pool, where, path, Sealer(key), store_id, Tokenizer(search_key(key)),
                   busy_timeout_ms)

    async def close(self) -> None:
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._pool.close()

    async def __aenter__(self) -> "PgStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- reading helpers ---------------------------------------------------------------
    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            async with self._pool.acquire() as c:
                return list(await c.fetch(sql, *args))
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise translate(exc, self.where) from exc

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only SQL with ``?`` placeholders (what store/views.py writes)."""
        return [tuple(r) for r in await self._fetch(dollar(sql), *params)]

    # --- the write path ---------------------------------------------------------------
    async def _write(self, fn: Callable[[asyncpg.Connection], Awaitable[T]],
                     told: Callable[[T], Committed | None] | None = None) -> T:
        async with self._lock:
            return await run_to_end(self._transaction(fn, told))

    async def _transaction(self, fn: Callable[[asyncpg.Connection], Awaitable[T]],
                           told: Callable[[T], Committed | None] | None = None) -> T:
        try:
            async with self._pool.acquire() as c:
                async with c.transaction():
                    await c.execute(f"SET LOCAL lock_timeout = {self._busy_timeout_ms}")
                    await c.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                    await c.execute("SET LOCAL lock_timeout = 0")
                    result = await fn(c)
        except BaseException as exc:
            self._cache.clear()  # cached docs may hold changes that did not commit
            if isinstance(exc, (asyncpg.PostgresError, OSError, asyncpg.InterfaceError)):
                raise translate(exc, self.where) from exc
            raise
        event = told(result) if told is not None else None
        if event is not None:
            self._notify(event)
        return result

    async def _next_seqs(self, c: asyncpg.Connection, n: int) -> int:
        """Take ``n`` consecutive store seqs; returns the first."""
        top = await c.fetchval(
            "INSERT INTO counters(name, value) VALUES('seq', $1) ON CONFLICT(name) "
            "DO UPDATE SET value = counters.value + $1 RETURNING value", n)
        return int(top) - n + 1

    async def next_counter(self, name: str) -> int:
        """A durable counter (e.g. case numbers); never returns the same value twice."""
        if name == "seq":
            raise ValueError("'seq' is the store's own counter")
        return await self._write(lambda c: _bump(c, name))

    async def _write_docs(self, c: asyncpg.Connection, items: list[Write]) -> list[DocMeta]:
        """Persist documents and their projections (store/writeplan.py's rows)."""
        if not items:
            return []
        first = await self._next_seqs(c, len(items))
        now = now_iso()
        plan = await plan_writes(
            items, first, now, self._sealer,
            lambda w, cases: self._project(c, w.doc_id, w.kind, w.doc, now, cases),
            self._remember)
        if plan.inserts:
            await c.executemany(
                "INSERT INTO docs(doc_id, kind, scope, snapshot, heads, seq, updated_at, "
                "last_from) VALUES($1,$2,$3,$4,$5,$6,$7,$8)", plan.inserts)
        if plan.drop_tails:
            await c.executemany("DELETE FROM doc_tail WHERE doc_id = $1", plan.drop_tails)
        if plan.snapshots:
            await c.executemany(
                "UPDATE docs SET snapshot = $1, heads = $2, seq = $3, updated_at = $4, "
                "last_from = $5, tail_count = 0, tail_bytes = 0 WHERE doc_id = $6",
                plan.snapshots)
        if plan.tails:
            await c.executemany("INSERT INTO doc_tail(doc_id, n, chunk) VALUES($1,$2,$3)",
                                plan.tails)
            await c.executemany(
                "UPDATE docs SET heads = $1, seq = $2, updated_at = $3, last_from = $4, "
                "tail_count = tail_count + 1, tail_bytes = tail_bytes + $5 WHERE doc_id = $6",
                plan.tail_updates)
        cols = ("doc_id", "kind", "scope", "parent", "number", "title", "category", "status",
                "village", "created_at", "updated_at", "closed_at", "outcome", "search",
                "tokens")
        await c.executemany(
            f"INSERT INTO records({', '.join(cols)}) VALUES("
            f"{', '.join(f'${i}' for i in range(1, len(cols) + 1))}) ON CONFLICT(doc_id) "
            f"DO UPDATE SET {', '.join(f'{k} = EXCLUDED.{k}' for k in cols[1:])}",
            plan.records)
        if plan.refollow:
            await c.executemany("DELETE FROM followups WHERE doc_id = $1", plan.refollow)
        if plan.followups:
            await c.executemany(
                "INSERT INTO followups(doc_id, month, due_date, done_date, satisfaction) "
                "VALUES($1,$2,$3,$4,$5)", plan.followups)
        return plan.metas

    async def _project(self, c: asyncpg.Connection, doc_id: str, kind: str, doc: Document,
                       updated_at: str, cases: dict[str, Document]) -> Projection:
        async def find_case(case_id: str) -> Document | None:
            case = cases.get(case_id) or (self._cache.get(case_id) or (None, None))[1]
            if case is None:
                case = (await self._load_docs(c, [case_id])).get(case_id)
            return case

        return await project_doc(doc_id, kind, doc, updated_at, self._tok, find_case)

    def _remember(self, doc_id: str, heads: bytes, doc: Document) -> None:
        self._cache[doc_id] = (heads, doc)
        self._cache.move_to_end(doc_id)
        while len(self._cache) > CACHE_DOCS:
            self._cache.popitem(last=False)

    async def create(self, kind: str, scope: str, write: Callable[..., None], *,
                     doc_id: str | None = None, counter: str | None = None) -> DocMeta:
        """As store/docs.py's ``Store.create``."""
        if kind not in KINDS:
            raise ValidationError("bad_kind", f"unknown record kind {kind!r}")
        check_scope(scope)
        doc_id = doc_id or new_doc_id()
        if counter == "seq":
            raise ValueError("'seq' is the store's own counter")

        def fill(n: int | None) -> Document:
            doc = Document(actor_id=self._actor)
            write(doc) if n is None else write(doc, n)
            if not doc.get_heads():
                raise ValidationError("empty_doc", "nothing was written into the new document")
            return doc

        first = fill(None) if counter is None else None

        async def run(c: asyncpg.Connection) -> DocMeta:
            if await c.fetchval("SELECT 1 FROM docs WHERE doc_id = $1", doc_id):
                raise StoreError(f"document {doc_id} already exists", doc_id=doc_id)
            doc = first if counter is None else fill(await _bump(c, counter))
            assert doc is not None and doc_id is not None
            return (await self._write_docs(c, [Write(doc_id, kind, scope, doc, None, None)]))[0]

        return await self._write(
            run, lambda meta: Committed((meta.doc_id,), (kind,), "local", meta.seq))

    async def edit(self, doc_id: str, write: Callable[[Document], T]) -> tuple[T, DocMeta]:
        """As store/docs.py's ``Store.edit``."""
        result_box: list[T] = []

        async def run(c: asyncpg.Connection) -> tuple[DocMeta, bool]:
            have = await self._load_many_for_write(c, [doc_id])
            if doc_id not in have:
                raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
            meta, old, doc = have[doc_id]
            doc.set_actor(self._actor)
            before = doc.get_heads()
            try:
                result_box.append(write(doc))
            except BaseException:
                self._cache.pop(doc_id, None)
                raise
            if sorted(doc.get_heads()) == sorted(before):
                return meta, False
            w = Write(doc_id, meta.kind, meta.scope, doc, old, None)
            return (await self._write_docs(c, [w]))[0], True

        meta, _ = await self._write(
            run, lambda r: Committed((doc_id,), (r[0].kind,), "local", r[0].seq) if r[1] else None)
        return result_box[0], meta

    async def _load_many_for_write(self, c: asyncpg.Connection, doc_ids: list[str]) -> Have:
        rows = await c.fetch(
            "SELECT doc_id, kind, scope, heads, seq, updated_at, last_from, tail_count, "
            "tail_bytes, octet_length(snapshot) FROM docs WHERE doc_id = ANY($1::text[])",
            doc_ids)
        missing = [r[0] for r in rows
                   if not (r[0] in self._cache and self._cache[r[0]][0] == r[3])]
        loaded = await self._load_docs(c, missing)
        out: Have = {}
        for doc_id, kind, scope, heads, seq, updated_at, last_from, tc, tb, sl in rows:
            # Merges and edits go into a copy of a cached document, never the cached one.
            doc = loaded[doc_id] if doc_id in loaded else self._cache[doc_id][1].fork()
            out[doc_id] = (DocMeta(doc_id, kind, scope, heads, seq, updated_at, last_from),
                           (heads, tc, tb, sl), doc)
        return out

    async def _read_parts(self, c: asyncpg.Connection, doc_ids: list[str]
                          ) -> dict[str, list[bytes]]:
        """Opened snapshot and tail chunks, in order, from one statement (one snapshot of
        the database: snapshot and tail can't come from different commits)."""
        parts: dict[str, list[bytes]] = {}
        if not doc_ids:
            return parts
        for doc_id, _, _, blob in await c.fetch(
            "SELECT doc_id, 0, -1, snapshot FROM docs WHERE doc_id = ANY($1::text[]) "
            "UNION ALL SELECT doc_id, 1, n, chunk FROM doc_tail WHERE doc_id = ANY($1::text[]) "
            "ORDER BY 1, 2, 3", doc_ids
        ):
            parts.setdefault(doc_id, []).append(self._sealer.open(doc_id, blob))
        return parts

    async def _load_docs(self, c: asyncpg.Connection, doc_ids: list[str]
                         ) -> dict[str, Document]:
        return {doc_id: load_document(doc_id, chunks)
                for doc_id, chunks in (await self._read_parts(c, doc_ids)).items()}

    # --- merging what peers send -----------------------------------------------------
    async def merge(self, incoming: list[Incoming], *, origin: str,
                    checkpoint: tuple[str, int, str] | None = None,
                    check: Callable[[Incoming, DocMeta | None], None] | None = None,
                    ) -> list[DocMeta]:
        """As store/docs.py's ``Store.merge``: one transaction, all or nothing, the
        checkpoint (peer_id, received_seq, scope fingerprint) committed with the data."""

        async def run(c: asyncpg.Connection) -> list[DocMeta]:
            have = await self._load_many_for_write(c, [inc.doc_id for inc in incoming])
            changed = await self._write_docs(c, plan_merge(incoming, have, origin, check))
            if checkpoint is not None:
                peer_id, received_seq, scope_fp = checkpoint
                await _advance_received(c, peer_id, received_seq, scope_fp)
            return changed

        def told(changed: list[DocMeta]) -> Committed | None:
            if not changed:
                return None
            return Committed(tuple(m.doc_id for m in changed), tuple(m.kind for m in changed),
                             origin, changed[-1].seq)

        return await self._write(run, told)

    # --- reading ---------------------------------------------------------------------
    async def meta(self, doc_id: str) -> DocMeta:
        rows = await self._fetch("SELECT kind, scope, heads, seq, updated_at, last_from "
                                 "FROM docs WHERE doc_id = $1", doc_id)
        if not rows:
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        return DocMeta(doc_id, *rows[0])

    async def load(self, doc_id: str) -> Document:
        """A private copy of the current document (safe to read; edits go through edit)."""
        try:
            async with self._pool.acquire() as c:
                heads = await c.fetchval("SELECT heads FROM docs WHERE doc_id = $1", doc_id)
                if heads is None:
                    raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
                cached = self._cache.get(doc_id)
                if cached is not None and cached[0] == heads:
                    return cached[1].fork()
                doc = (await self._load_docs(c, [doc_id])).get(doc_id)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise translate(exc, self.where) from exc
        if doc is None:  # deleted between the two statements
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        return doc

    async def read(self, doc_id: str) -> dict[str, Any]:
        return amdoc.read(await self.load(doc_id))

    async def saved_bytes(self, doc_id: str) -> bytes:
        return (await self.load(doc_id)).save()

    async def saved_many(self, doc_ids: list[str]) -> dict[str, bytes]:
        """Whole documents as save() bytes; one without a tail is its snapshot as is."""
        try:
            async with self._pool.acquire() as c:
                parts = await self._read_parts(c, list(doc_ids))
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise translate(exc, self.where) from exc
        return {doc_id: chunks[0] if len(chunks) == 1 else load_document(doc_id, chunks).save()
                for doc_id, chunks in parts.items()}

    # --- the feed ----------------------------------------------------------------------
    async def current_seq(self) -> int:
        rows = await self._fetch("SELECT value FROM counters WHERE name = 'seq'")
        return int(rows[0][0]) if rows else 0

    async def changes_since(self, seq: int, *, readable: ScopeSet, limit: int = 500,
                            exclude_from: str | None = None) -> FeedPage:
        """As store/docs.py's: the top seq is read first; writers hold the advisory lock
        until COMMIT, so every seq <= top has committed."""
        where, params = scope_sql(readable)
        top = await self.current_seq()
        sql = ("SELECT doc_id, kind, scope, heads, seq, updated_at, last_from FROM docs "
               f"WHERE seq > ? AND seq <= ? AND {where}")
        args: list[Any] = [seq, top, *params]
        if exclude_from is not None:
            sql += " AND (last_from IS NULL OR last_from <> ?)"
            args.append(exclude_from)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit + 1)
        rows = await self._fetch(dollar(sql), *args)
        more = len(rows) > limit
        entries = [DocMeta(*r) for r in rows[:limit]]
        upto = entries[-1].seq if more else max(seq, top)
        return FeedPage(entries, upto, more)

    async def count_since(self, seq: int, *, readable: ScopeSet,
                          exclude_from: str | None = None) -> int:
        where, params = scope_sql(readable)
        sql = f"SELECT count(*) FROM docs WHERE seq > ? AND {where}"
        args: list[Any] = [seq, *params]
        if exclude_from is not None:
            sql += " AND (last_from IS NULL OR last_from <> ?)"
            args.append(exclude_from)
        return int((await self._fetch(dollar(sql), *args))[0][0])

    # --- peers -------------------------------------------------------------------------
    async def peer(self, peer_id: str) -> dict[str, Any]:
        rows = await self._fetch("SELECT received_seq, sent_seq, scope_fp, last_seen, label "
                                 "FROM peers WHERE peer_id = $1", peer_id)
        if not rows:
            return {"peer_id": peer_id, "received_seq": 0, "sent_seq": 0, "scope_fp": "",
                    "last_seen": None, "label": None}
        return {"peer_id": peer_id, **dict(rows[0].items())}

    async def peers(self, *, label_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every peer (or those whose label starts with ``label_prefix``), the one seen
        last first (never seen: last, as SQLite sorts NULL)."""
        if label_prefix is None:
            rows = await self._fetch("SELECT peer_id FROM peers "
                                     "ORDER BY last_seen DESC NULLS LAST")
        else:
            rows = await self._fetch("SELECT peer_id FROM peers WHERE left(label, $1) = $2 "
                                     "ORDER BY last_seen DESC NULLS LAST",
                                     len(label_prefix), label_prefix)
        return [await self.peer(r[0]) for r in rows]

    async def last_peer(self, *, label: str | None = None,
                        label_prefix: str | None = None) -> dict[str, Any] | None:
        if label is not None:
            rows = await self._fetch("SELECT peer_id FROM peers WHERE label = $1 "
                                     "ORDER BY last_seen DESC NULLS LAST LIMIT 1", label)
        elif label_prefix is not None:
            rows = await self._fetch("SELECT peer_id FROM peers WHERE left(label, $1) = $2 "
                                     "ORDER BY last_seen DESC NULLS LAST LIMIT 1",
                                     len(label_prefix), label_prefix)
        else:
            raise ValueError("give label or label_prefix")
        return await self.peer(str(rows[0][0])) if rows else None

    async def record_peer(self, peer_id: str, *, sent_seq: int | None = None,
                          label: str | None = None, seen: bool = True,
                          scope_fp: str | None = None, seen_at: str | None = None) -> None:
        """As store/docs.py's: a changed scope fingerprint resets both checkpoints."""

        async def run(c: asyncpg.Connection) -> None:
            await c.execute("INSERT INTO peers(peer_id) VALUES($1) ON CONFLICT DO NOTHING",
                            peer_id)
            if scope_fp is not None:
                await c.execute(
                    "UPDATE peers SET received_seq = 0, sent_seq = 0, scope_fp = $1 "
                    "WHERE peer_id = $2 AND scope_fp <> $1", scope_fp, peer_id)
            if sent_seq is not None:
                await c.execute("UPDATE peers SET sent_seq = greatest(sent_seq, $1) "
                                "WHERE peer_id = $2", sent_seq, peer_id)
            if label is not None:
                await c.execute("UPDATE peers SET label = $1 WHERE peer_id = $2",
                                label, peer_id)
            if seen:
                await c.execute("UPDATE peers SET last_seen = $1 WHERE peer_id = $2",
                                seen_at or now_iso(), peer_id)

        await self._write(run)

    async def log_sync(self, entry: dict[str, Any]) -> None:
        """Append one sync session's outcome (keys: the column names); the newest
        SYNC_LOG_KEEP are kept."""
        values = [entry.get(k) for k in SYNC_LOG_COLS]
        ints = {"ok", "docs_sent", "docs_received", "bytes_sent", "bytes_received"}
        values = [int(v) if k in ints and v is not None else v
                  for k, v in zip(SYNC_LOG_COLS, values)]

        async def run(c: asyncpg.Connection) -> None:
            await c.execute(
                f"INSERT INTO sync_log({', '.join(SYNC_LOG_COLS)}) VALUES("
                f"{', '.join(f'${i}' for i in range(1, len(SYNC_LOG_COLS) + 1))})", *values)
            await c.execute("DELETE FROM sync_log WHERE id <= "
                            "(SELECT max(id) FROM sync_log) - $1", SYNC_LOG_KEEP)

        await self._write(run)

    async def sync_log(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self._fetch(f"SELECT {', '.join(SYNC_LOG_COLS)} FROM sync_log "
                                 "ORDER BY id DESC LIMIT $1", limit)
        return [dict(r.items()) for r in rows]

    # --- moving the store (store/transfer.py) -------------------------------------------
    async def export_rows(self, table: str, *, after: tuple[Any, ...] | None = None,
                          limit: int = 500) -> list[tuple[Any, ...]]:
        """As store/docs.py's: rows at rest, in key order (COLLATE "C": SQLite's order)."""
        return await self.query(*transfer.export_query(table, after, limit))

    async def import_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """As store/docs.py's. ``sync_log`` keeps its ids (OVERRIDING SYSTEM VALUE) and its
        identity goes on after the largest."""
        t = transfer.table(table)
        marks = ", ".join(f"${i}" for i in range(1, len(t.columns) + 1))
        sql = f"INSERT INTO {t.name}({', '.join(t.columns)}) "
        if t.name == "sync_log":
            sql += "OVERRIDING SYSTEM VALUE "
        sql += f"VALUES({marks})"
        if t.name == "meta":
            sql += " ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value"

        async def run(c: asyncpg.Connection) -> None:
            await c.executemany(sql, [tuple(r) for r in rows])
            if t.name == "sync_log":
                await c.execute("SELECT setval(pg_get_serial_sequence('sync_log', 'id'), "
                                "coalesce(max(id), 0) + 1, false) FROM sync_log")

        self._cache.clear()
        await self._write(run)

    async def clear_for_import(self) -> None:
        """As store/docs.py's: every row of every table a copy writes, deleted."""

        async def run(c: asyncpg.Connection) -> None:
            for t in reversed(transfer.TABLES):
                await c.execute(f"DELETE FROM {t.name}")

        self._cache.clear()
        await self._write(run)

    # --- maintenance -------------------------------------------------------------------
    async def check(self, *, progress: Callable[[int, int], None] | None = None
                    ) -> list[str]:
        """Every document loads with its stored heads and has a projection (the server
        checks its own pages). Returns problems in plain words (empty: healthy)."""
        problems: list[str] = []
        docs = await self._fetch("SELECT doc_id, heads FROM docs ORDER BY doc_id")
        projected = {r[0] for r in await self._fetch("SELECT doc_id FROM records")}
        for i, (doc_id, heads) in enumerate(docs, start=1):
            try:
                async with self._pool.acquire() as c:
                    doc = (await self._load_docs(c, [doc_id]))[doc_id]
                if pack_heads(doc.get_heads()) != heads:
                    problems.append(f"record {doc_id}: stored heads do not match its changes")
            except StoreError as exc:
                problems.append(str(exc))
            if doc_id not in projected:
                problems.append(f"record {doc_id}: missing from the index")
            if progress and i % 500 == 0:
                progress(i, len(docs))
        return problems


async def _bump(c: asyncpg.Connection, name: str) -> int:
    return int(await c.fetchval(
        "INSERT INTO counters(name, value) VALUES($1, 1) ON CONFLICT(name) "
        "DO UPDATE SET value = counters.value + 1 RETURNING value", name))


async def _advance_received(c: asyncpg.Connection, peer_id: str, received_seq: int,
                            scope_fp: str) -> None:
    """As store/docs.py's: the same fingerprint takes the maximum, another one replaces."""
    await c.execute("INSERT INTO peers(peer_id, scope_fp) VALUES($1, $2) "
                    "ON CONFLICT DO NOTHING", peer_id, scope_fp)
    await c.execute(
        "UPDATE peers SET received_seq = CASE WHEN scope_fp = $1 "
        "THEN greatest(received_seq, $2) ELSE $2 END, scope_fp = $1, last_seen = $3 "
        "WHERE peer_id = $4", scope_fp, received_seq, now_iso(), peer_id)


async def _ensure_store_id(c: asyncpg.Connection) -> str:
    async with c.transaction():
        await c.execute("INSERT INTO meta(key, value) VALUES('store_id', $1) "
                        "ON CONFLICT DO NOTHING", secrets.token_hex(16))
        await c.execute("INSERT INTO meta(key, value) VALUES('created_at', $1) "
                        "ON CONFLICT DO NOTHING", now_iso())
    return str(await c.fetchval("SELECT value FROM meta WHERE key = 'store_id'"))
