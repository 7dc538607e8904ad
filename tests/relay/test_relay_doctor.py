"""`villagecourt relay doctor` on real relay homes: store.db and a real PostgreSQL
database, expired certificates, an unreachable database (its password never shown), and
the port of a running relay."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
from pathlib import Path

import pytest

from relay.config import RelayHome
from relay.doctor import FAIL, OK, WARN, run_checks

from node.cli import main  # isort: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_sqlite_relay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=free_port())
    assert main(["relay", "--relay-home", str(home.path), "--lang", "en", "doctor",
                 "--json"]) == 0
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(checks) == {"config", "database", "disk", "ca", "relay_cert", "port"}
    assert all(c["status"] == OK for c in checks.values()), checks
    db = checks["database"]["message"]
    assert "store.db" in db and "WAL" in db and "0 records" in db and "schema 4" in db
    assert "is free" in checks["port"]["message"]
    assert main(["relay", "--relay-home", str(home.path), "doctor"]) == 0
    assert "✓ 数据库" in capsys.readouterr().out


async def test_a_relay_on_postgresql_says_the_server_version(pg_dsn: str,
                                                             tmp_path: Path) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=free_port(), store=pg_dsn)
    checks = {c.name: c for c in await run_checks(home)}
    assert checks["database"].status == OK
    assert "PostgreSQL 1" in checks["database"].en  # e.g. "PostgreSQL 16.4"
    assert "schema 1 (this program 1)" in checks["database"].en


async def test_expired_certificates_fail(tmp_path: Path) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=free_port())
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365 * 30)
    checks = {c.name: c for c in await run_checks(home, now=later)}
    assert checks["ca"].status == FAIL and "expired" in checks["ca"].en
    assert checks["relay_cert"].status == FAIL


def test_an_unreachable_database_fails_without_its_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=free_port())
    home.switch_store(f"postgresql://relay:hunter2@/vc?host={tmp_path}&port=1")
    assert main(["relay", "--relay-home", str(home.path), "--lang", "en", "doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ Cannot open the database" in out and "hunter2" not in out


async def test_a_running_relay_and_a_taken_port(tmp_path: Path) -> None:
    home = RelayHome(tmp_path / "relay")
    port = free_port()
    home.init("KC", host="127.0.0.1", port=port)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        taken = {c.name: c for c in await run_checks(home)}["port"]
        assert taken.status == WARN and "another program" in taken.en
        with home.lock("serve"):
            running = {c.name: c for c in await run_checks(home)}["port"]
        assert running.status == OK and "is running" in running.en
    finally:
        server.close()
        await server.wait_closed()
