"""What only the PostgreSQL store has: the advisory write lock shared with other programs on
the same database, a writer cancelled while it waits inside its transaction, the store's
identity kept in the database, and server errors as the store's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from automerge.core import Document

from store import Incoming, NotAStore, StoreLocked, new_key
from store.pg.store import WRITE_LOCK, PgStore, dollar
from store.records import CASE

from ...pgcluster import Cluster
from .test_contract import BY, new_case, retitle, title_of


async def _waiting_on_lock(admin: asyncpg.Connection) -> bool:
    return bool(await admin.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid = $1", WRITE_LOCK))


async def _hold_lock(other: asyncpg.Connection) -> asyncpg.transaction.Transaction:
    tx = other.transaction()
    await tx.start()
    await other.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
    return tx


async def _until_waiting(other: asyncpg.Connection) -> None:
    for _ in range(200):  # bounded: 10 s
        if await _waiting_on_lock(other):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the writer never waited on the write lock")


async def test_a_writer_cancelled_while_another_program_holds_the_lock(
        pg_dsn: str, tmp_path: Path) -> None:
    """Another program holds the write lock: our merge waits inside its transaction. Its
    caller, cancelled there, gets its CancelledError only once the merge ended: here it
    committed whole when the lock came free (data and checkpoint), and the store goes on."""
    store = await PgStore.open(pg_dsn, key=new_key(), path=tmp_path)
    other = await asyncpg.connect(pg_dsn)
    try:
        meta = await store.create(CASE, BY, new_case("院墙纠纷"))
        seq0 = await store.current_seq()
        doc = Document()
        new_case("他们的")(doc)
        tx = await _hold_lock(other)
        task = asyncio.create_task(store.merge([Incoming("x1", CASE, BY, doc.save())],
                                               origin="peer", checkpoint=("peer", 5, "fp")))
        await _until_waiting(other)
        task.cancel()
        await asyncio.sleep(0.2)
        assert not task.done()  # not let go with its transaction open
        await tx.rollback()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert await store.views.doc_exists("x1")
        assert (await store.peer("peer"))["received_seq"] == 5
        assert await store.current_seq() == seq0 + 1
        await asyncio.wait_for(store.edit(meta.doc_id, retitle("再改")), 10)
        assert await title_of(store, meta.doc_id) == "再改"
    finally:
        await other.close()
        await store.close()


async def test_a_lock_held_too_long_is_store_locked_and_nothing_is_written(
        pg_dsn: str, tmp_path: Path) -> None:
    store = await PgStore.open(pg_dsn, key=new_key(), path=tmp_path, busy_timeout_ms=300)
    other = await asyncpg.connect(pg_dsn)
    try:
        meta = await store.create(CASE, BY, new_case("院墙纠纷"))
        seq0 = await store.current_seq()
        tx = await _hold_lock(other)
        try:
            # Bounded without cancelling the writer (it would wait on to its end anyway).
            edit = asyncio.create_task(store.edit(meta.doc_id, retitle("改")))
            done, _ = await asyncio.wait({edit}, timeout=10)
            assert edit in done, "the writer waited past its busy timeout"
        finally:
            await tx.rollback()  # a writer still waiting ends now
        with pytest.raises(StoreLocked):
            await edit
        assert await store.current_seq() == seq0
        assert await title_of(store, meta.doc_id) == "院墙纠纷"
        await asyncio.wait_for(store.edit(meta.doc_id, retitle("改")), 10)
        assert await title_of(store, meta.doc_id) == "改"
    finally:
        await other.close()
        await store.close()


async def test_the_store_id_is_the_databases(pg_dsn: str, tmp_path: Path) -> None:
    key = new_key()
    one = await PgStore.open(pg_dsn, key=key, path=tmp_path)
    two = await PgStore.open(pg_dsn, key=key, path=tmp_path)
    ids = {one.store_id, two.store_id}
    await one.close()
    await two.close()
    again = await PgStore.open(pg_dsn, key=key, path=tmp_path)
    await again.close()
    assert ids == {again.store_id} and len(again.store_id) == 32


async def test_a_database_that_is_not_there_is_a_store_error(pg_cluster: Cluster,
                                                             tmp_path: Path) -> None:
    with pytest.raises(NotAStore) as err:
        await PgStore.open(pg_cluster.dsn("no_such_db"), key=new_key(), path=tmp_path)
    assert err.value.details["sqlstate"] == "3D000"
    assert "no_such_db" in str(err.value)


def test_placeholders_become_dollars_outside_literals() -> None:
    assert dollar("SELECT ? WHERE a = '?' AND b IN (?, ?)") == (
        "SELECT $1 WHERE a = '?' AND b IN ($2, $3)")
