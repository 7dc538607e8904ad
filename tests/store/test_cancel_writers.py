"""Issue #12, item 1: a writer cancelled at any await point leaves the store usable and
nothing half-written.

Where the cancel lands is chosen, not left to timing: SQLite's trace callback runs on the
writer connection's thread as each statement starts, and on the k-th one it schedules
``task.cancel()`` on the event loop ahead of that statement's result, so the writer is
cancelled exactly while it awaits statement k. A seeded loop runs every kind of write
with cancels at every statement (and before the first, and while the writer waits for
the lock behind another), some hundreds of cases; after each one an edit, a merge and
reads must succeed, and each write must be there whole or not at all.

The trace callback is set on the store's private writer connection: that is the one
place the write path's await points can be seen from outside without changing the code.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

from automerge.core import Document

from store import Committed, Incoming, Store, StoreError, casedoc, new_key
from store.blobs import BlobStore
from store.records import CASE, Party

SCOPE = "village:KC/BY"
SEED = 12_001
CASES = 250  # a few seconds
DOCS = 40  # edits spread over many documents keep each one small


class CancelAtStatement:
    """Cancels ``task`` when the traced connection starts its ``k``-th statement."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.n = 0
        self.k = 0
        self.task: asyncio.Future[Any] | None = None
        self.fired = False

    def arm(self, k: int, task: asyncio.Future[Any] | None) -> None:
        self.n, self.k, self.task, self.fired = 0, k, task, False

    def __call__(self, _sql: str) -> None:  # on the connection's thread
        self.n += 1
        if self.n == self.k and self.task is not None:
            self.fired = True
            self.loop.call_soon_threadsafe(self.task.cancel)


def write_case(num: int) -> Callable[..., None]:
    """A case whose title says ``num`` and whose headcount is ``num`` (see ``both``)."""
    def write(doc: Document, n: int | None = None) -> None:
        casedoc.new_case(doc, number=f"BY-T01-{n or 0:04d}", category="neighbour",
                         title=f"t-{num}", description="邻居翻建房屋", headcount=num,
                         village="BY", county="KC", parties=[Party("applicant", "张建国")])
    return write


def both(num: int) -> Callable[[Document], None]:
    """An edit of two fields (plain values, last writer wins as one): half-written would
    show one without the other."""
    return lambda doc: casedoc.edit_case(doc, title=f"t-{num}", headcount=num)


async def peer_copy(store: Store, doc_id: str, num: int) -> Document:
    """What a peer would send after editing its copy of ``doc_id`` with ``both(num)``."""
    theirs = (await store.load(doc_id)).fork()
    theirs.set_actor(uuid.uuid4().bytes)
    both(num)(theirs)
    return theirs


async def outcome(task: asyncio.Future[Any]) -> str:
    """'done' or 'cancelled'; anything else (a raw sqlite3 error above all) fails."""
    try:
        await task
    except asyncio.CancelledError:
        return "cancelled"
    return "done"


async def scalar(store: Store, sql: str, *args: Any) -> Any:
    rows = await store.query(sql, args)
    return rows[0][0] if rows else None


async def check_whole(store: Store, doc_ids: list[str], told: list[Committed]) -> None:
    """Nothing half-written: each document's two edited fields agree, its projection is
    its current state, every seq taken belongs to a stored document, and the listeners
    heard of the last commit."""
    for doc_id in doc_ids:
        data = await store.read(doc_id)
        assert data["title"] == f"t-{data['headcount']}", data
        assert await scalar(store, "SELECT title FROM records WHERE doc_id = ?",
                            doc_id) == data["title"]
    top = await store.current_seq()
    assert await scalar(store, "SELECT max(seq) FROM docs") == top
    assert told and told[-1].seq == top


async def test_cancelled_writers_leave_the_store_usable_and_whole(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    key = new_key()
    store = await Store.open(tmp_path / "store.db", key=key)
    told: list[Committed] = []
    store.subscribe(told.append)
    loop = asyncio.get_running_loop()
    canceller = CancelAtStatement(loop)
    try:
        ids = [(await store.create(CASE, SCOPE, write_case(i))).doc_id
               for i in range(DOCS)]
        await store._w.set_trace_callback(canceller)
        created = 0  # cases created with the counter that committed
        kinds: dict[str, int] = {}
        for n in range(CASES):
            kind = rng.choice(["edit", "edit", "create", "merge", "merge", "peer", "log",
                               "counter", "compact"])
            doc_id = rng.choice(ids)
            theirs = fresh = Document()
            before_peer: dict[str, Any] = {}
            before_counter = 0
            if kind == "merge":  # a peer's edit of a document we hold, and a new one
                theirs = await peer_copy(store, doc_id, 1000 + n)
                fresh = Document(actor_id=uuid.uuid4().bytes)
                write_case(6000 + n)(fresh)
                before_peer = await store.peer("peer")
            if kind == "create":
                before_counter = await scalar(store, "SELECT value FROM counters "
                                              "WHERE name = 'case_no'") or 0

            def op(kind: str = kind, doc_id: str = doc_id, theirs: Document = theirs,
                   fresh: Document = fresh, n: int = n) -> Awaitable[Any]:
                if kind == "edit":
                    return store.edit(doc_id, both(n))
                if kind == "create":
                    return store.create(CASE, SCOPE, write_case(5000 + n),
                                        doc_id=f"made-{n:04d}", counter="case_no")
                if kind == "merge":
                    return store.merge(
                        [Incoming(f"peer-{n:04d}", CASE, SCOPE, fresh.save()),
                         Incoming(doc_id, CASE, SCOPE, theirs.save())],
                        origin="peer", checkpoint=("peer", 1000 + n, "fp"))
                if kind == "peer":
                    return store.record_peer("other", sent_seq=n, label=f"l{n}")
                if kind == "log":
                    return store.log_sync({"started_at": "s", "finished_at": "f",
                                           "peer_id": "p", "peer_label": "relay", "ok": 1,
                                           "docs_sent": 0, "docs_received": 0,
                                           "bytes_sent": 0, "bytes_received": 0})
                if kind == "counter":
                    return store.next_counter("x")
                return store.compact()

            where = rng.choice(["statement"] * 6 + ["before", "waiting"])
            if where == "waiting":
                # Another writer holds the lock; ours is cancelled in the queue, or, for a
                # k past the first writer's statements, inside its own transaction.
                other = rng.choice([i for i in ids if i != doc_id])
                first = asyncio.ensure_future(store.edit(other, both(2000 + n)))
                task = asyncio.ensure_future(op())
                canceller.arm(rng.randint(1, 20), task)
                assert await outcome(first) == "done"
            else:
                task = asyncio.ensure_future(op())
                if where == "before":
                    task.cancel()
                else:
                    canceller.arm(rng.randint(1, 14), task)
            result = await outcome(task)
            canceller.arm(0, None)
            kinds[f"{kind}:{result}"] = kinds.get(f"{kind}:{result}", 0) + 1

            # All or nothing, for the writes that span several statements.
            if kind == "create":
                exists = bool(await scalar(store, "SELECT count(*) FROM docs "
                                           "WHERE doc_id = ?", f"made-{n:04d}"))
                created += exists
                assert exists == (result == "done") or result == "cancelled"
                counter = await scalar(store, "SELECT value FROM counters "
                                       "WHERE name = 'case_no'") or 0
                assert counter == before_counter + exists
            if kind == "merge":
                merged = bool(await scalar(store, "SELECT count(*) FROM docs "
                                           "WHERE doc_id = ?", f"peer-{n:04d}"))
                assert merged or result == "cancelled"
                title = (await store.read(doc_id))["title"]
                assert (title == f"t-{1000 + n}") == merged
                peer = await store.peer("peer")
                assert peer["received_seq"] == (1000 + n if merged
                                                else before_peer["received_seq"])
                if merged:
                    await check_whole(store, [f"peer-{n:04d}"], told)
            if kind == "peer":
                p = await store.peer("other")
                assert (p["sent_seq"] == n) == (p["label"] == f"l{n}")

            # The store is usable: the next write (an edit or a merge, in turn) and reads
            # succeed. The first write after a cancelled one is where the old code broke.
            after = rng.choice(ids)
            if n % 2:
                await store.edit(after, both(3000 + n))
            else:
                again = await peer_copy(store, after, 3000 + n)
                assert await store.merge([Incoming(after, CASE, SCOPE, again.save())],
                                         origin="peer2")
            await check_whole(store, [doc_id, after], told)
            if n % 60 == 0:
                assert await store.check() == []
                every = [r[0] for r in await store.query("SELECT doc_id FROM docs")]
                await check_whole(store, every, told)
        # Every kind of write was cancelled somewhere, and some of each also committed.
        for k in ("edit", "create", "merge", "peer", "log", "counter", "compact"):
            assert kinds.get(f"{k}:cancelled"), (k, kinds)
        assert kinds.get("edit:done") and kinds.get("merge:done"), kinds
        assert await scalar(store, "SELECT count(*) FROM docs WHERE doc_id LIKE 'made-%'") \
            == created
    finally:
        await store.close()
    # And it opens again whole.
    store = await Store.open(tmp_path / "store.db", key=key)
    try:
        assert await store.check() == []
        await check_whole(store, ids, told)
    finally:
        await store.close()


async def test_blob_writes_cancelled_anywhere_leave_whole_blobs(tmp_path: Path) -> None:
    """Media blocks (store/blobs.py): a cancelled ``put_block``, ``want`` or ``add_file``
    leaves every recorded block on disk and verified, no stray temporary file, and a
    blob that completes once its last block is in."""
    rng = random.Random(SEED + 1)
    loop = asyncio.get_running_loop()
    canceller = CancelAtStatement(loop)
    db = tmp_path / "store.db"
    blobs = await BlobStore.open(db, tmp_path / "blobs", floor=0)
    block = 4096
    try:
        await blobs._c.set_trace_callback(canceller)
        outcomes: dict[str, int] = {}
        for n in range(40):
            data = rng.randbytes(block * 3 - rng.randint(1, block - 1))
            sha = hashlib.sha256(data).hexdigest()
            hashes = b"".join(hashlib.sha256(data[i:i + block]).digest()
                              for i in range(0, len(data), block))
            src = tmp_path / f"src{n}"
            src.write_bytes(data)

            async def cancelled_once(make: Callable[[], Awaitable[Any]]) -> str:
                task = asyncio.ensure_future(make())
                how = rng.choice(["statement", "statement", "steps"])
                if how == "statement":
                    canceller.arm(rng.randint(1, 8), task)
                else:
                    for _ in range(rng.randint(0, 6)):
                        await asyncio.sleep(0)
                    task.cancel()
                result = await outcome(task)
                canceller.arm(0, None)
                return result

            if n % 4 == 0:
                r = await cancelled_once(lambda: blobs.add_file(src))
                outcomes[f"add:{r}"] = outcomes.get(f"add:{r}", 0) + 1
                info = await blobs.add_file(src)
                assert info.complete
            else:
                r = await cancelled_once(lambda: blobs.want(sha, len(data), hashes, block))
                outcomes[f"want:{r}"] = outcomes.get(f"want:{r}", 0) + 1
                await blobs.want(sha, len(data), hashes, block)
                order = list(range(3))
                rng.shuffle(order)
                for i in order:
                    part = data[i * block:(i + 1) * block]
                    r = await cancelled_once(lambda: blobs.put_block(sha, i, part))
                    outcomes[f"put:{r}"] = outcomes.get(f"put:{r}", 0) + 1
                    await check_blob(blobs, sha, data, block)
                for i in await blobs.missing(sha):
                    assert await blobs.put_block(sha, i, data[i * block:(i + 1) * block])
            await check_blob(blobs, sha, data, block)
            path = await blobs.path(sha)
            assert path is not None and path.read_bytes() == data
        strays = [p for p in (tmp_path / "blobs").rglob("*")
                  if p.is_file() and not p.name.endswith(".part") and len(p.name) != 64]
        assert strays == []
        assert outcomes.get("put:cancelled") and outcomes.get("add:cancelled"), outcomes
    finally:
        await blobs.close()


async def check_blob(blobs: BlobStore, sha: str, data: bytes, block: int) -> None:
    info = await blobs.info(sha)
    assert info is not None
    rows = await blobs._c.execute_fetchall("SELECT n FROM blob_blocks WHERE sha256 = ?",
                                           (sha,))
    final = blobs.root / sha[:2] / sha
    if info.complete:
        assert rows == [] and final.read_bytes() == data
        assert not final.with_name(sha + ".part").exists()
        return
    assert info.have == len(rows)
    for (i,) in rows:
        assert await blobs.read_block(sha, int(i)) == data[i * block:(i + 1) * block]


def test_every_sqlite_error_is_a_store_error(tmp_path: Path) -> None:
    """``translate`` maps every SQLite error to a StoreError with a stable code."""
    import sqlite3

    from store.db import translate

    conn = sqlite3.connect(tmp_path / "x.db")
    conn.execute("BEGIN")
    try:
        conn.execute("BEGIN")
    except sqlite3.Error as exc:
        err = translate(exc, tmp_path / "x.db")
    assert isinstance(err, StoreError) and err.code == "store_internal"
    assert err.details["sqlite"] == "SQLITE_ERROR"
