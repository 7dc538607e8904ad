"""Issue #4, "done when" 3: a one-time token works once; a second use and an expired token are
refused; a wrong code is refused without the node's public key ever being sent; the
offline enrolment file works with its code and refuses a wrong one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest

from node import Node
from node.config import ConfigError, Home, NodeConfig
from node.identity import keys_of, provision_file, provision_online
from relay.enrol import write_enrol_file
from sync.enrolment import new_code, pretty


def _enrol_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.getMessage().startswith(("event=enrolled", "event=enrol_refused"))]


def _nothing_written(home: Path) -> None:
    assert not Home(home).exists()
    assert not keys_of(Home(home)).key_file.exists()


async def _provision(county, home: Path, code: str) -> NodeConfig:
    async with asyncio.timeout(20):
        return await provision_online(Home(home), county.base, code)


async def test_token_works_once(county, sec, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO)
    code, _ = county.tokens.issue("A", "director")

    # What a technician types: lower case, in groups.
    cfg = await _provision(county, tmp_path / "a1", pretty(code).lower())
    ident = keys_of(Home(tmp_path / "a1")).identity()
    assert (ident.role, ident.county, ident.village) == ("director", "KC", "A")
    assert cfg.node_id == ident.node_id
    # The relay answered with the address the node reached it at (not 127.0.0.1:<config
    # port>, which on a real relay listening on 0.0.0.0 names the node's own machine).
    assert cfg.relay_url == county.sync_url
    [token] = county.tokens.list()
    assert token.used_at and token.node_id == ident.node_id

    with pytest.raises(ConfigError) as second:
        await _provision(county, tmp_path / "a2", code)
    assert second.value.code == "token_used"
    _nothing_written(tmp_path / "a2")
    assert [e.split()[0] for e in _enrol_events(caplog)] == ["event=enrolled",
                                                             "event=enrol_refused"]
    assert "code=token_used" in _enrol_events(caplog)[-1]
    assert county.metrics.refusals["enrol_token_used"] == 1

    # The one node that did enrol syncs.
    node = await Node.open(tmp_path / "a1")
    try:
        res = await sec.sync_relay(node)
        assert res.ok, res.error
    finally:
        await node.close()


async def test_expired_token_is_refused(county, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO)
    # Issued already expired (a TTL that ended a minute ago): the same stored expiry as a
    # token whose hour has passed, without waiting for a clock to tick past it.
    code, expires = county.tokens.issue("A", "director", ttl=dt.timedelta(seconds=-60))
    assert dt.datetime.fromisoformat(expires) < dt.datetime.now(dt.timezone.utc)

    with pytest.raises(ConfigError) as info:
        await _provision(county, tmp_path / "late", code)
    assert info.value.code == "token_expired"
    _nothing_written(tmp_path / "late")
    [token] = county.tokens.list()
    assert token.used_at is None  # an expired token is not consumed either

    # Expiry as the relay stores it (a token issued for a day, its date moved back).
    code2, _ = county.tokens.issue("A", "director")
    db = sqlite3.connect(county.home.tokens_file)
    try:
        with db:
            db.execute("UPDATE tokens SET expires_at = ? WHERE lookup = ?",
                       ("2000-01-01T00:00:00+00:00", code2[:4]))
    finally:
        db.close()
    with pytest.raises(ConfigError) as info:
        await _provision(county, tmp_path / "late2", code2)
    assert info.value.code == "token_expired"
    _nothing_written(tmp_path / "late2")
    assert county.metrics.refusals["enrol_token_expired"] == 2


async def test_wrong_code_is_refused_without_sending_the_key(
        county, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO)
    county.tokens.issue("A", "director")  # a real token exists; the node has another code
    wrong = new_code()

    with pytest.raises(ConfigError) as info:
        await _provision(county, tmp_path / "n", wrong)
    assert info.value.code == "relay_not_proven"
    _nothing_written(tmp_path / "n")
    # Step 2 (the one that carries the public key) never reached the relay: it logs every
    # enrolment it answers, and counts every refusal.
    assert _enrol_events(caplog) == []
    assert not [k for k in county.metrics.refusals if k.startswith("enrol_")]
    assert all(t.used_at is None for t in county.tokens.list())

    # Malformed codes never leave the machine at all.
    with pytest.raises(ConfigError) as info:
        await _provision(county, tmp_path / "n", "1234")
    assert info.value.code == "bad_token"


async def test_offline_enrolment_file(county, sec, tmp_path: Path) -> None:
    path = tmp_path / "a.enrol"
    code = write_enrol_file(path, county.home.ca, "KC", "A", "director", county.sync_url)
    assert (path.stat().st_mode & 0o777) == 0o600
    raw = path.read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in raw and code not in raw  # the key travels sealed

    with pytest.raises(ConfigError) as info:
        provision_file(Home(tmp_path / "wrong"), path, new_code())
    assert info.value.code == "wrong_enrol_code"
    _nothing_written(tmp_path / "wrong")

    cfg = provision_file(Home(tmp_path / "a1"), path, pretty(code))
    ident = keys_of(Home(tmp_path / "a1")).identity()
    assert (ident.village, ident.county, cfg.node_id) == ("A", "KC", ident.node_id)
    assert cfg.relay_url == county.sync_url

    node = await Node.open(tmp_path / "a1")
    try:
        res = await sec.sync_relay(node)  # a certificate the relay accepts
        assert res.ok, res.error
    finally:
        await node.close()


async def test_provision_answers_json_in_one_document(county, tmp_path: Path, capsys) -> None:
    """`provision --json` (issue 15): the enrolment and its first sync in one document."""
    import json

    from node.cli import main

    for name, extra, synced in (("j1", (), True), ("j2", ("--no-sync",), False)):
        path = tmp_path / f"{name}.enrol"
        code = write_enrol_file(path, county.home.ca, "KC", "A", "director", county.sync_url)
        capsys.readouterr()
        rc = await asyncio.to_thread(main, ["--home", str(tmp_path / name), "provision",
                                            "--file", str(path), "--code", pretty(code),
                                            "--json", *extra])
        out = capsys.readouterr().out
        done = json.loads(out)  # the whole output is one JSON document
        assert rc == 0
        assert (done["village"], done["county"], done["role"]) == ("A", "KC", "director")
        assert done["node_id"] == keys_of(Home(tmp_path / name)).identity().node_id
        assert done["relay"] == county.sync_url and done["home"] == str(tmp_path / name)
        if synced:
            assert done["sync"]["ok"] is True and done["sync"]["peer"] == county.sync_url
        else:
            assert done["sync"] is None
