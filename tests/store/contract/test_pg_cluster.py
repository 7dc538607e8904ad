"""The tests' PostgreSQL server: it starts from Debian's binaries on a Unix socket, asyncpg
reaches it, byte order (COLLATE "C") is SQLite's, and missing binaries fail loudly."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from ...pgcluster import Cluster, NoPostgres, find_bindir


async def test_the_cluster_answers_on_its_socket_only(pg_cluster: Cluster) -> None:
    conn = await asyncpg.connect(pg_cluster.dsn())
    try:
        name = f"t_{uuid.uuid4().hex}"
        await conn.execute(f'CREATE DATABASE "{name}"')
        assert int(await conn.fetchval("SHOW server_version_num")) >= 150000
        assert await conn.fetchval("SHOW listen_addresses") == ""
        assert await conn.fetchval("SHOW fsync") == "off"
        # Scope and doc ids sort by bytes, as in SQLite: 'Z' < '_' < 'a' < '中'.
        got = await conn.fetch("SELECT s FROM unnest($1::text[]) AS s ORDER BY s COLLATE \"C\"",
                               ["a", "中", "_", "Z"])
        assert [r["s"] for r in got] == ["Z", "_", "a", "中"]
        await conn.execute(f'DROP DATABASE "{name}"')
    finally:
        await conn.close()


def test_missing_server_binaries_fail_and_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(NoPostgres, match="apt-get install postgresql"):
        find_bindir(str(tmp_path / "postgresql" / "*" / "bin"))
    (tmp_path / "postgresql" / "15" / "bin").mkdir(parents=True)
    (tmp_path / "postgresql" / "15" / "bin" / "initdb").touch()  # pg_ctl missing
    with pytest.raises(NoPostgres):
        find_bindir(str(tmp_path / "postgresql" / "*" / "bin"))


def test_the_newest_installed_version_is_used(tmp_path: Path) -> None:
    for version in ("13", "15", "9"):
        for tool in ("initdb", "pg_ctl"):
            (tmp_path / version / "bin").mkdir(parents=True, exist_ok=True)
            (tmp_path / version / "bin" / tool).touch()
    assert find_bindir(str(tmp_path / "*" / "bin")) == tmp_path / "15" / "bin"
