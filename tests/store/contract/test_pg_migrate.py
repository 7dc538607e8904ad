"""The PostgreSQL store's numbered migrations, on a real server (store/pg/migrate.py)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from store import NewerSchema
from store.pg.migrate import SCHEMA_VERSION, current_version, migrate, migrations

TABLES = {"meta", "docs", "doc_tail", "records", "followups", "peers", "counters",
          "sync_log", "schema_version"}


async def test_a_new_database_gets_every_table_and_the_feed_indexes(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await current_version(conn) == 0
        assert await migrate(conn) == SCHEMA_VERSION == len(migrations())
        assert await current_version(conn) == SCHEMA_VERSION
        tables = {r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables == TABLES
        indexes = {r["indexname"]: r["indexdef"] for r in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'docs'")}
        assert "(scope, seq)" in indexes["docs_scope"]  # one village's feed
        assert any("UNIQUE" in d and "(seq)" in d for d in indexes.values())  # the upward feed
        collations = {r["column_name"]: r["collation_name"] for r in await conn.fetch(
            "SELECT column_name, collation_name FROM information_schema.columns "
            "WHERE table_name = 'docs'")}
        assert collations["doc_id"] == collations["scope"] == "C"
        # Byte order, as SQLite sorts: a scope subtree is a range.
        await conn.executemany(
            "INSERT INTO docs(doc_id, kind, scope, snapshot, heads, seq, updated_at) "
            "VALUES($1, 'case', $2, '', '', $3, '')",
            [("a", "village:KC/中", 1), ("b", "village:KC/Z", 2), ("c", "village:KC/_", 3),
             ("d", "village:KC0", 4)])
        got = await conn.fetch("SELECT doc_id FROM docs WHERE scope >= 'village:KC/' "
                               "AND scope < 'village:KC0' ORDER BY scope")
        assert [r["doc_id"] for r in got] == ["b", "c", "a"]
    finally:
        await conn.close()


async def test_migrating_again_changes_nothing(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await migrate(conn)
        assert await migrate(conn) == 0
        assert await conn.fetchval("SELECT count(*) FROM schema_version") == SCHEMA_VERSION
    finally:
        await conn.close()


async def test_two_programs_migrating_at_once(pg_dsn: str) -> None:
    a, b = await asyncpg.connect(pg_dsn), await asyncpg.connect(pg_dsn)
    try:
        ran = await asyncio.gather(migrate(a), migrate(b))
        assert sorted(ran) == [0, SCHEMA_VERSION]
        assert await current_version(a) == SCHEMA_VERSION
    finally:
        await a.close()
        await b.close()


async def test_a_newer_database_is_refused_and_left_alone(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO schema_version(version) VALUES($1)", SCHEMA_VERSION + 1)
        with pytest.raises(NewerSchema):
            await migrate(conn)
        assert await current_version(conn) == SCHEMA_VERSION + 1
    finally:
        await conn.close()
