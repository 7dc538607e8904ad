"""The document store: Automerge documents in SQLite, the change feed, checkpoints.

What it owns
    One row per document (``docs``): immutable ``doc_id``, ``kind``, ``scope``; the
    document as a sealed snapshot plus a tail of sealed change chunks; its heads; and the
    store ``seq`` of its last change. The projection (``records``, ``followups``) is
    rewritten in the same transaction as the document.

Rules
1. A call that returns has committed: ``create``/``edit``/``merge`` return only after
   COMMIT (WAL, synchronous=FULL), so what the caller reports as saved is on disk.
2. Every committed change to a document takes the next store ``seq``; the feed
   (``changes_since``) lists documents by that seq, so a reader that remembers the last
   seq it saw misses nothing and re-reads nothing.
3. One writer: all write transactions go through one connection behind one asyncio lock,
   shielded from cancellation once they start; reads use a second connection and only
   ever see committed data. A cancelled writer releases the lock only once its
   transaction has ended (store/db.py, ``run_to_end``): it committed whole (and the
   listeners were told) or rolled back whole, and the next writer finds the store usable.
   No SQLite error leaves the store raw: each is a StoreError with a stable code.
4. ``merge`` is all or nothing: every incoming document is loaded and checked before the
   first row is written; a bad one fails the whole batch and the store is unchanged.
   Merging the same data twice changes nothing (no new seq).
5. ``kind`` and ``scope`` never change: an incoming document that claims another kind or
   scope for a known id is refused.

Compaction: a local edit appends only its new change bytes (tens of bytes) to the tail;
when the tail grows past MAX_TAIL_CHUNKS chunks or past the snapshot's size, the document
is saved whole again and the tail dropped, in the same transaction (automerge-repo does the
same with its incremental chunks).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import aiosqlite
from automerge.core import Document

from . import amdoc, transfer
from .db import DEFAULT_BUSY_TIMEOUT_MS, open_db, run_to_end, translate, translated
from .errors import DocNotFound, StoreError, ValidationError
from .projection import Projection, Tokenizer, search_sql
from .records import KINDS, check_scope
from .scopeset import ScopeSet
from .sealed import Sealer, search_key
from .types import (
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
from .views import Views
from .writeplan import MAX_TAIL_CHUNKS as MAX_TAIL_CHUNKS
from .writeplan import plan_merge, plan_writes, project_doc

log = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_DOCS = 512  # loaded documents kept in memory (a case is a few KB)
SQL_BATCH = 500  # ids per IN (...) list, well under SQLite's 32,766 parameters
SYNC_LOG_KEEP = 1000  # sessions kept in sync_log
REPROJECT_BATCH = 500  # records per transaction when the index is rebuilt on open


def new_doc_id() -> str:
    """A random version-4 UUID in hex, as ``uuid.uuid4().hex`` (the uuid module, which
    imports platform, costs every ``case add`` a few milliseconds of start-up)."""
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()


class Store(CommitListeners):
    """See the module docstring. Open with ``await Store.open(path, key=...)``."""

    def __init__(self, path: Path, w: aiosqlite.Connection, r: aiosqlite.Connection,
                 sealer: Sealer, store_id: str, tok: Tokenizer | None = None) -> None:
        self.path = path
        self._w = w
        self._r = r
        self._sealer = sealer
        self._tok = tok or Tokenizer(search_key(None))
        self.store_id = store_id
        self._lock = asyncio.Lock()
        # One Automerge actor for every edit this process makes (not one per load, which
        # would add an actor to a document at every edit), fresh per process so that a
        # store restored from a backup never reuses a (actor, seq) its peers already hold.
        self._actor = secrets.token_bytes(16)  # as random as uuid4, without importing uuid
        self._cache: OrderedDict[str, tuple[bytes, Document]] = OrderedDict()
        self._listeners: list[Callable[[Committed], None]] = []
        self.views = Views(self.query, self._tok)

    # --- life cycle ------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str, *, key: bytes | None,
                   busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                   progress: Callable[[int, int], None] | None = None) -> "Store":
        """``progress(done, total)`` is told how a rebuild of the index goes (a store
        made by an older program is projected again from its documents on first open)."""
        path = Path(path)
        w = await open_db(path, busy_timeout_ms=busy_timeout_ms)
        try:
            # Deleted and overwritten rows are zeroed, not left readable in free space.
            await w.execute("PRAGMA secure_delete = ON")
            store_id = await _ensure_store_id(w)
            r = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            await r.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        except sqlite3.Error as exc:
            await w.close()
            raise translate(exc, path) from exc
        store = cls(path, w, r, Sealer(key), store_id, Tokenizer(search_key(key)))
        try:
            await store._reproject(progress)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._r.close()
            await self._w.close()

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the write path ---------------------------------------------------------------
    async def _write(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]],
                     told: Callable[[T], Committed | None] | None = None) -> T:
        """Run ``fn`` in one IMMEDIATE transaction under the writer lock. Once started the
        transaction runs to its end even if the caller is cancelled, and the lock is held
        until then (rule 3). ``told`` makes the event for the listeners from the result;
        they are told right after COMMIT, so also when the caller was cancelled."""
        async with self._lock:
            return await run_to_end(self._transaction(fn, told))

    async def _transaction(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]],
                           told: Callable[[T], Committed | None] | None = None) -> T:
        try:
            await self._w.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        try:
            result = await fn(self._w)
            await self._w.execute("COMMIT")
        except BaseException as exc:
            self._cache.clear()  # cached docs may hold changes that did not commit
            try:
                await self._w.execute("ROLLBACK")
            except sqlite3.Error as rollback_exc:
                # SQLite rolls back by itself after some errors (a full disk): then there
                # is nothing to roll back. Anything else is said, not hidden.
                if self._w.in_transaction:
                    log.error("event=rollback_failed error=%s", rollback_exc)
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from exc
            raise
        event = told(result) if told is not None else None
        if event is not None:
            self._notify(event)
        return result

    async def _next_seqs(self, c: aiosqlite.Connection, n: int) -> int:
        """Take ``n`` consecutive store seqs; returns the first."""
        async with c.execute(
            "INSERT INTO counters(name, value) VALUES('seq', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + ? RETURNING value", (n, n)
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]) - n + 1

    async def next_counter(self, name: str) -> int:
        """A durable counter (e.g. case numbers); never returns the same value twice."""
        if name == "seq":
            raise ValueError("'seq' is the store's own counter")

        return await self._write(lambda c: _bump(c, name))

    async def _write_docs(self, c: aiosqlite.Connection, items: list[Write]) -> list[DocMeta]:
        """Persist documents and their projections with one statement per table.

        For a new document (``old`` None) the snapshot is its save(); for a known one the
        new changes since the stored heads go on the tail, or, past the compaction
        threshold, a new snapshot replaces snapshot and tail."""
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
                "last_from) VALUES(?,?,?,?,?,?,?,?)", plan.inserts)
        if plan.drop_tails:
            await c.executemany("DELETE FROM doc_tail WHERE doc_id = ?", plan.drop_tails)
        if plan.snapshots:
            await c.executemany(
                "UPDATE docs SET snapshot = ?, heads = ?, seq = ?, updated_at = ?, "
                "last_from = ?, tail_count = 0, tail_bytes = 0 WHERE doc_id = ?", plan.snapshots)
        if plan.tails:
            await c.executemany("INSERT INTO doc_tail(doc_id, n, chunk) VALUES(?,?,?)", plan.tails)
            await c.executemany(
                "UPDATE docs SET heads = ?, seq = ?, updated_at = ?, last_from = ?, "
                "tail_count = tail_count + 1, tail_bytes = tail_bytes + ? WHERE doc_id = ?",
                plan.tail_updates)
        await c.executemany(
            "INSERT OR REPLACE INTO records(doc_id, kind, scope, parent, number, title, "
            "category, status, village, created_at, updated_at, closed_at, outcome, search, "
            "tokens) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", plan.records)
        if plan.refollow:
            await c.executemany("DELETE FROM followups WHERE doc_id = ?", plan.refollow)
        if plan.followups:
            await c.executemany(
                "INSERT INTO followups(doc_id, month, due_date, done_date, satisfaction) "
                "VALUES(?,?,?,?,?)", plan.followups)
        return plan.metas

    async def _project(self, c: aiosqlite.Connection, doc_id: str, kind: str, doc: Document,
                       updated_at: str, cases: dict[str, Document]) -> Projection:
        """The projection of a document (store/writeplan.py's ``project_doc``), its case
        looked for in this batch, the cache, then the store."""

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
        """Create a document: ``write`` fills an empty Document (and may raise
        ValidationError, in which case nothing is stored).

        With ``counter``, ``write(doc, n)`` also gets the next value of that durable
        counter, taken in the same transaction (case numbers: no gap, no repeat)."""
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

        async def run(c: aiosqlite.Connection) -> DocMeta:
            async with c.execute("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)) as cur:
                if await cur.fetchone():
                    raise StoreError(f"document {doc_id} already exists", doc_id=doc_id)
            doc = first if counter is None else fill(await _bump(c, counter))
            assert doc is not None
            return (await self._write_docs(c, [Write(doc_id, kind, scope, doc, None, None)]))[0]

        return await self._write(
            run, lambda meta: Committed((doc_id,), (kind,), "local", meta.seq))

    async def edit(self, doc_id: str, write: Callable[[Document], T]) -> tuple[T, DocMeta]:
        """Apply ``write`` to the current document and commit what it changed.

        ``write`` runs under the writer lock on the freshest state, so concurrent edits
        and merges never overwrite each other. If it raises, nothing is stored. An edit
        that changes nothing stores nothing and returns the unchanged meta."""
        result_box: list[T] = []

        async def run(c: aiosqlite.Connection) -> tuple[DocMeta, bool]:
            meta, old, doc = await self._load_for_write(c, doc_id)
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

    async def _load_many_for_write(
        self, c: aiosqlite.Connection, doc_ids: list[str]
    ) -> dict[str, tuple[DocMeta, tuple[bytes, int, int, int], Document]]:
        """Current state of the given documents that exist (batched: one query for rows,
        one for the documents not in the cache)."""
        out: dict[str, tuple[DocMeta, tuple[bytes, int, int, int], Document]] = {}
        rows: list[Any] = []
        for i in range(0, len(doc_ids), SQL_BATCH):
            part = doc_ids[i:i + SQL_BATCH]
            async with c.execute(
                "SELECT doc_id, kind, scope, heads, seq, updated_at, last_from, tail_count, "
                f"tail_bytes, length(snapshot) FROM docs WHERE doc_id IN "
                f"({','.join('?' * len(part))})", part
            ) as cur:
                rows += await cur.fetchall()
        missing = [r[0] for r in rows
                   if not (r[0] in self._cache and self._cache[r[0]][0] == r[3])]
        loaded = await self._load_docs(c, missing)
        for doc_id, kind, scope, heads, seq, updated_at, last_from, tc, tb, sl in rows:
            # Merges go into a copy of a cached document, never the cached one (see above).
            doc = loaded[doc_id] if doc_id in loaded else self._cache[doc_id][1].fork()
            out[doc_id] = (DocMeta(doc_id, kind, scope, heads, seq, updated_at, last_from),
                           (heads, tc, tb, sl), doc)
        return out

    async def _read_parts(self, c: aiosqlite.Connection, doc_ids: list[str]
                          ) -> dict[str, list[bytes]]:
        """Opened snapshot and tail chunks of many documents, in order: one consistent
        statement per SQL_BATCH ids (snapshot and tail can't come from different commits)."""
        parts: dict[str, list[bytes]] = {}
        for i in range(0, len(doc_ids), SQL_BATCH):
            part = doc_ids[i:i + SQL_BATCH]
            marks = ",".join("?" * len(part))
            async with c.execute(
                f"SELECT doc_id, 0, -1, snapshot FROM docs WHERE doc_id IN ({marks}) "
                f"UNION ALL SELECT doc_id, 1, n, chunk FROM doc_tail WHERE doc_id IN ({marks}) "
                "ORDER BY 1, 2, 3", part + part
            ) as cur:
                for doc_id, _, _, blob in await cur.fetchall():
                    parts.setdefault(doc_id, []).append(self._sealer.open(doc_id, blob))
        return parts

    async def _load_docs(self, c: aiosqlite.Connection, doc_ids: list[str]) -> dict[str, Document]:
        """Load many documents with one query per SQL_BATCH ids."""
        return {doc_id: load_document(doc_id, chunks)
                for doc_id, chunks in (await self._read_parts(c, doc_ids)).items()}

    @translated
    async def saved_many(self, doc_ids: list[str]) -> dict[str, bytes]:
        """Whole documents as Automerge save() bytes. A document without a tail is its
        stored snapshot as is (no Automerge work); one with a tail is loaded and saved
        again, which is smaller than snapshot + tail."""
        return {doc_id: chunks[0] if len(chunks) == 1 else load_document(doc_id, chunks).save()
                for doc_id, chunks in (await self._read_parts(self._r, doc_ids)).items()}

    async def _load_for_write(self, c: aiosqlite.Connection, doc_id: str
                              ) -> tuple[DocMeta, tuple[bytes, int, int, int], Document]:
        async with c.execute(
            "SELECT kind, scope, heads, seq, updated_at, last_from, tail_count, tail_bytes, "
            "length(snapshot) FROM docs WHERE doc_id = ?", (doc_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        kind, scope, heads, seq, updated_at, last_from, tail_count, tail_bytes, snap_len = row
        meta = DocMeta(doc_id, kind, scope, heads, seq, updated_at, last_from)
        cached = self._cache.get(doc_id)
        if cached is not None and cached[0] == heads:
            # A copy: readers keep seeing the cached, committed state until COMMIT.
            doc = cached[1].fork()
        else:
            doc = await self._load_doc(c, doc_id)
        doc.set_actor(self._actor)
        return meta, (heads, tail_count, tail_bytes, snap_len), doc

    async def _load_doc(self, c: aiosqlite.Connection, doc_id: str) -> Document:
        chunks = (await self._read_parts(c, [doc_id])).get(doc_id)
        if not chunks:
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        return load_document(doc_id, chunks)

    # --- merging what peers send -----------------------------------------------------
    async def merge(self, incoming: list[Incoming], *, origin: str,
                    checkpoint: tuple[str, int, str] | None = None,
                    check: Callable[[Incoming, DocMeta | None], None] | None = None,
                    ) -> list[DocMeta]:
        """Merge documents from a peer or bundle in one transaction (rule 4).

        ``checkpoint`` = (peer_id, received_seq, scope fingerprint) is advanced in the same
        transaction. ``check(incoming, existing_meta)`` may raise to refuse the batch
        (authorization). Returns the metas of documents that changed."""
        changed: list[DocMeta] = []

        async def run(c: aiosqlite.Connection) -> list[DocMeta]:
            have = await self._load_many_for_write(c, [inc.doc_id for inc in incoming])
            writes = plan_merge(incoming, have, origin, check)
            changed.extend(await self._write_docs(c, writes))
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
    @translated
    async def meta(self, doc_id: str) -> DocMeta:
        async with self._r.execute(
            "SELECT kind, scope, heads, seq, updated_at, last_from FROM docs WHERE doc_id = ?",
            (doc_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        return DocMeta(doc_id, *row)

    @translated
    async def load(self, doc_id: str) -> Document:
        """A private copy of the current document (safe to read; edits go through edit)."""
        async with self._r.execute("SELECT heads FROM docs WHERE doc_id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise DocNotFound(f"no record {doc_id}", doc_id=doc_id)
        cached = self._cache.get(doc_id)
        if cached is not None and cached[0] == row[0]:
            return cached[1].fork()
        return await self._load_doc(self._r, doc_id)

    async def read(self, doc_id: str) -> dict[str, Any]:
        """The document as plain Python data."""
        return amdoc.read(await self.load(doc_id))

    async def saved_bytes(self, doc_id: str) -> bytes:
        """The whole document as Automerge ``save()`` bytes (what a peer new to it needs)."""
        return (await self.load(doc_id)).save()

    @translated
    async def changes_since(self, seq: int, *, readable: ScopeSet, limit: int = 500,
                            exclude_from: str | None = None) -> FeedPage:
        """One page of the feed: documents changed after ``seq`` in ``readable`` scopes,
        oldest change first, skipping those whose heads came unchanged from
        ``exclude_from`` (the peer already holds them)."""
        where, params = readable.sql("scope")
        # Read the top seq first: writes are serialized, so every transaction that took a
        # seq <= top has committed; a doc edited again after top shows up in a later page.
        top = await self.current_seq()
        sql = (f"SELECT doc_id, kind, scope, heads, seq, updated_at, last_from FROM docs "
               f"WHERE seq > ? AND seq <= ? AND {where}")
        args: list[Any] = [seq, top, *params]
        if exclude_from is not None:
            sql += " AND (last_from IS NULL OR last_from != ?)"
            args.append(exclude_from)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit + 1)
        async with self._r.execute(sql, args) as cur:
            rows = list(await cur.fetchall())
        more = len(rows) > limit
        rows = rows[:limit]
        entries = [DocMeta(*r) for r in rows]
        if more:
            upto = entries[-1].seq
        else:
            upto = max(seq, top)
        return FeedPage(entries, upto, more)

    @translated
    async def current_seq(self) -> int:
        async with self._r.execute("SELECT value FROM counters WHERE name = 'seq'") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @translated
    async def count_since(self, seq: int, *, readable: ScopeSet,
                          exclude_from: str | None = None) -> int:
        where, params = readable.sql("scope")
        sql = f"SELECT count(*) FROM docs WHERE seq > ? AND {where}"
        args: list[Any] = [seq, *params]
        if exclude_from is not None:
            sql += " AND (last_from IS NULL OR last_from != ?)"
            args.append(exclude_from)
        async with self._r.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def search_where(self, query: str) -> tuple[list[str], list[Any]]:
        """WHERE clauses (AND them) and parameters matching ``query`` on ``records``:
        phones, ID numbers and full party names by their keyed tokens, other words by
        substring of the text without personal data (store/projection.py)."""
        return search_sql(query, self._tok)

    @translated
    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only SQL on this store. Only store/ and the relay's dashboard queries module
        (relay/dashboard/queries.py) call it (tests/test_layering.py); everyone else uses
        the named queries of ``views``."""
        async with self._r.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    # --- peers -------------------------------------------------------------------------
    @translated
    async def peer(self, peer_id: str) -> dict[str, Any]:
        async with self._r.execute(
            "SELECT received_seq, sent_seq, scope_fp, last_seen, label FROM peers "
            "WHERE peer_id = ?", (peer_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return {"peer_id": peer_id, "received_seq": 0, "sent_seq": 0, "scope_fp": "",
                    "last_seen": None, "label": None}
        keys = ("received_seq", "sent_seq", "scope_fp", "last_seen", "label")
        return {"peer_id": peer_id, **dict(zip(keys, row))}

    @translated
    async def peers(self, *, label_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every peer (or those whose label starts with ``label_prefix``), the one seen
        last first."""
        if label_prefix is None:
            rows = await self.query("SELECT peer_id FROM peers ORDER BY last_seen DESC")
        else:
            rows = await self.query("SELECT peer_id FROM peers WHERE substr(label, 1, ?) = ? "
                                    "ORDER BY last_seen DESC", (len(label_prefix), label_prefix))
        return [await self.peer(r[0]) for r in rows]

    @translated
    async def last_peer(self, *, label: str | None = None,
                        label_prefix: str | None = None) -> dict[str, Any] | None:
        """The peer most recently seen under ``label`` (or a label that starts with
        ``label_prefix``), with its checkpoints as ``peer`` gives them; None if none."""
        if label is not None:
            sql, arg = "label = ?", label
        elif label_prefix is not None:
            sql, arg = "substr(label, 1, ?) = ?", label_prefix
        else:
            raise ValueError("give label or label_prefix")
        params: tuple[Any, ...] = (arg,) if label is not None else (len(arg), arg)
        rows = await self.query(f"SELECT peer_id FROM peers WHERE {sql} "
                                "ORDER BY last_seen DESC LIMIT 1", params)
        return await self.peer(str(rows[0][0])) if rows else None

    async def record_peer(self, peer_id: str, *, sent_seq: int | None = None,
                          label: str | None = None, seen: bool = True,
                          scope_fp: str | None = None, seen_at: str | None = None) -> None:
        """Note a peer's acknowledgement of our feed, its label, last seen (now, or
        ``seen_at``); a changed scope fingerprint resets both checkpoints (what it may read
        or send changed)."""

        async def run(c: aiosqlite.Connection) -> None:
            await c.execute("INSERT OR IGNORE INTO peers(peer_id) VALUES(?)", (peer_id,))
            if scope_fp is not None:
                await c.execute(
                    "UPDATE peers SET received_seq = 0, sent_seq = 0, scope_fp = ? "
                    "WHERE peer_id = ? AND scope_fp != ?", (scope_fp, peer_id, scope_fp))
            if sent_seq is not None:
                await c.execute("UPDATE peers SET sent_seq = max(sent_seq, ?) WHERE peer_id = ?",
                                (sent_seq, peer_id))
            if label is not None:
                await c.execute("UPDATE peers SET label = ? WHERE peer_id = ?", (label, peer_id))
            if seen:
                await c.execute("UPDATE peers SET last_seen = ? WHERE peer_id = ?",
                                (seen_at or now_iso(), peer_id))

        await self._write(run)

    async def log_sync(self, entry: dict[str, Any]) -> None:
        """Append one sync session's outcome to ``sync_log`` (keys: the column names)."""
        cols = ("started_at", "finished_at", "peer_id", "peer_label", "ok", "docs_sent",
                "docs_received", "bytes_sent", "bytes_received", "error_code", "error")

        async def run(c: aiosqlite.Connection) -> None:
            await c.execute(
                f"INSERT INTO sync_log({', '.join(cols)}) VALUES({', '.join('?' * len(cols))})",
                tuple(entry.get(k) for k in cols))
            # Keep the log bounded: the newest SYNC_LOG_KEEP sessions.
            await c.execute("DELETE FROM sync_log WHERE id <= (SELECT max(id) FROM sync_log) - ?",
                            (SYNC_LOG_KEEP,))

        await self._write(run)

    @translated
    async def sync_log(self, limit: int = 50) -> list[dict[str, Any]]:
        cur = await self._r.execute(
            "SELECT started_at, finished_at, peer_id, peer_label, ok, docs_sent, docs_received, "
            "bytes_sent, bytes_received, error_code, error FROM sync_log ORDER BY id DESC "
            "LIMIT ?", (limit,))
        names = [d[0] for d in cur.description]
        rows = await cur.fetchall()
        await cur.close()
        return [dict(zip(names, r)) for r in rows]

    # --- moving the store (store/transfer.py) -------------------------------------------
    @translated
    async def export_rows(self, table: str, *, after: tuple[Any, ...] | None = None,
                          limit: int = 500) -> list[tuple[Any, ...]]:
        """Rows of one of store/transfer.py's ``TABLES`` as they are at rest (documents
        sealed), in key order, after the key ``after``."""
        return await self.query(*transfer.export_query(table, after, limit))

    async def import_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Write rows exported by a store of the same key (``export_rows``), as they are,
        in one transaction; ``meta`` rows replace this store's own (its store id)."""
        t = transfer.table(table)
        verb = "INSERT OR REPLACE" if t.name == "meta" else "INSERT"
        sql = (f"{verb} INTO {t.name}({', '.join(t.columns)}) "
               f"VALUES({', '.join('?' for _ in t.columns)})")

        async def run(c: aiosqlite.Connection) -> None:
            await c.executemany(sql, [tuple(r) for r in rows])

        self._cache.clear()
        await self._write(run)

    async def clear_for_import(self) -> None:
        """Delete every row of every table a copy writes (the destination of a move only:
        the store then holds nothing, not even its store id, until rows are imported and
        it is opened again)."""

        async def run(c: aiosqlite.Connection) -> None:
            for t in reversed(transfer.TABLES):
                await c.execute(f"DELETE FROM {t.name}")

        self._cache.clear()
        await self._write(run)

    # --- maintenance -------------------------------------------------------------------
    async def _reproject(self, progress: Callable[[int, int], None] | None) -> int:
        """Project every record again from its document when a migration asked for it
        (meta 'reproject'): batches of REPROJECT_BATCH in doc id order, each committed
        with the position reached, so an interrupted rebuild goes on at the next open.
        Then the WAL is checkpointed and truncated: no page of the old index stays in it."""
        if not await self.query("SELECT 1 FROM meta WHERE key = 'reproject'"):
            return 0
        total = int((await self.query("SELECT count(*) FROM records"))[0][0])
        done = 0
        log.info("event=reindex total=%d", total)

        async def batch(c: aiosqlite.Connection) -> int:
            async with c.execute("SELECT value FROM meta WHERE key = 'reproject_after'") as cur:
                row = await cur.fetchone()
            after = str(row[0]) if row else ""
            async with c.execute(
                "SELECT doc_id, kind, updated_at FROM records WHERE doc_id > ? "
                "ORDER BY doc_id LIMIT ?", (after, REPROJECT_BATCH)
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                await c.execute("DELETE FROM meta WHERE key IN ('reproject', 'reproject_after')")
                return 0
            docs = await self._load_docs(c, [r[0] for r in rows])
            updates = []
            for doc_id, kind, updated_at in rows:
                r = (await self._project(c, doc_id, kind, docs[doc_id], updated_at, {})).row
                updates.append((r["title"], r["search"], r["tokens"], doc_id))
            await c.executemany(
                "UPDATE records SET title = ?, search = ?, tokens = ? WHERE doc_id = ?", updates)
            await c.execute("INSERT OR REPLACE INTO meta(key, value) "
                            "VALUES('reproject_after', ?)", (rows[-1][0],))
            return len(rows)

        while n := await self._write(batch):
            done += n
            log.info("event=reindex done=%d total=%d", done, total)
            if progress:
                progress(done, total)
        await self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    @translated
    async def compact(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Save every document with a tail whole again; returns how many were compacted."""
        rows = await self.query("SELECT doc_id FROM docs WHERE tail_count > 0")
        for i, (doc_id,) in enumerate(rows, start=1):
            async def run(c: aiosqlite.Connection, doc_id: str = doc_id) -> None:
                doc = await self._load_doc(c, doc_id)
                await c.execute("DELETE FROM doc_tail WHERE doc_id = ?", (doc_id,))
                await c.execute(
                    "UPDATE docs SET snapshot = ?, tail_count = 0, tail_bytes = 0 "
                    "WHERE doc_id = ?", (self._sealer.seal(doc_id, doc.save()), doc_id))
            await self._write(run)
            if progress:
                progress(i, len(rows))
        return len(rows)

    @translated
    async def check(self, *, progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Integrity check: SQLite's own, then every document loads with its stored heads
        and has a projection. Returns problems in plain words (empty: healthy)."""
        problems: list[str] = []
        rows = await self.query("PRAGMA integrity_check")
        if rows != [("ok",)]:
            problems += [f"sqlite: {r[0]}" for r in rows]
        docs = await self.query("SELECT doc_id, heads FROM docs")
        projected = {r[0] for r in await self.query("SELECT doc_id FROM records")}
        for i, (doc_id, heads) in enumerate(docs, start=1):
            try:
                doc = await self._load_doc(self._r, doc_id)
                if pack_heads(doc.get_heads()) != heads:
                    problems.append(f"record {doc_id}: stored heads do not match its changes")
            except StoreError as exc:
                problems.append(str(exc))
            if doc_id not in projected:
                problems.append(f"record {doc_id}: missing from the index")
            if progress and i % 500 == 0:
                progress(i, len(docs))
        return problems


async def _bump(c: aiosqlite.Connection, name: str) -> int:
    async with c.execute(
        "INSERT INTO counters(name, value) VALUES(?, 1) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value", (name,)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _advance_received(c: aiosqlite.Connection, peer_id: str, received_seq: int,
                            scope_fp: str) -> None:
    """Advance our checkpoint of a peer's feed. A different scope fingerprint means what
    moves between us changed; the session then started from zero, so the new value
    replaces the old one instead of taking the maximum."""
    await c.execute("INSERT OR IGNORE INTO peers(peer_id, scope_fp) VALUES(?, ?)",
                    (peer_id, scope_fp))
    await c.execute(
        "UPDATE peers SET received_seq = CASE WHEN scope_fp = ? THEN max(received_seq, ?) "
        "ELSE ? END, scope_fp = ?, last_seen = ? WHERE peer_id = ?",
        (scope_fp, received_seq, received_seq, scope_fp, now_iso(), peer_id))


async def _ensure_store_id(c: aiosqlite.Connection) -> str:
    async with c.execute("SELECT value FROM meta WHERE key = 'store_id'") as cur:
        row = await cur.fetchone()
    if row:
        return str(row[0])
    store_id = secrets.token_hex(16)
    await c.execute("BEGIN IMMEDIATE")
    await c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('store_id', ?)", (store_id,))
    await c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('created_at', ?)", (now_iso(),))
    await c.execute("COMMIT")
    async with c.execute("SELECT value FROM meta WHERE key = 'store_id'") as cur:
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])
