"""PostgreSQL errors come out as the same StoreError codes as SQLite's (store/pg/errors.py),
each provoked on a real server."""

from __future__ import annotations

import asyncio

import asyncpg

from store.pg.errors import translate

from ...pgcluster import Cluster


async def code_of(work: object) -> str:
    try:
        await work  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001 - every error must translate
        return translate(exc, "t").code
    raise AssertionError("no error")


async def test_each_failure_has_its_code(pg_dsn: str, pg_cluster: Cluster) -> None:
    assert await code_of(asyncpg.connect(pg_cluster.dsn("no_such_db"))) == "not_a_store"
    assert await code_of(asyncpg.connect(pg_dsn.replace(pg_cluster.socket_dir,
                                                        "/nonexistent"))) == "store_io"
    a, b = await asyncpg.connect(pg_dsn), await asyncpg.connect(pg_dsn)
    try:
        await a.execute("CREATE TABLE t(x int)")
        assert await code_of(a.execute("SELECT * FROM missing")) == "not_a_store"
        assert await code_of(a.execute("SELEC 1")) == "store_internal"
        async with a.transaction(readonly=True):
            assert await code_of(a.execute("INSERT INTO t VALUES(1)")) == "store_readonly"
        tx = a.transaction()
        await tx.start()
        await a.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        await b.execute("SET lock_timeout = '100ms'")
        assert await code_of(b.execute("INSERT INTO t VALUES(1)")) == "store_locked"
        await tx.rollback()
        await b.execute("SET statement_timeout = '50ms'")
        assert await code_of(b.execute("SELECT pg_sleep(2)")) == "store_locked"
    finally:
        await a.close()
        await b.close()


def test_details_name_the_state_not_the_password() -> None:
    err = translate(asyncpg.exceptions.DiskFullError("no space"), "relay")
    assert (err.code, err.details) == ("store_full", {"database": "relay",
                                                      "sqlstate": "53100"})
    assert translate(ConnectionRefusedError("refused"), "relay").code == "store_io"
    assert translate(asyncio.TimeoutError(), "relay").code == "store_io"  # connect timed out
    assert translate(ValueError("a bug"), "relay").code == "store_internal"
