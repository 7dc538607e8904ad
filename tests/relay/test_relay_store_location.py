"""`relay init --store postgresql://…` (issue #13): the relay keeps its documents in a real
PostgreSQL database (the suite's throw-away server), a village syncs with it, and a bad or
unreachable database is refused before anything is written to the relay home."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from node import Node
from node.daemon import Syncer
from relay import keys
from relay.app import create_app
from relay.config import RelayHome
from store import casedoc, describe_location, records
from store.pg.store import PgStore
from store.records import CASE, Party

from node.cli import main  # isort: skip


def test_init_with_a_database_writes_it_in_the_config(pg_dsn: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    home = tmp_path / "relay"
    assert main(["relay", "--relay-home", str(home), "init", "--county", "KC",
                 "--store", pg_dsn, "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["store"] == pg_dsn
    cfg = RelayHome(home).load()
    assert cfg.store == pg_dsn
    assert RelayHome(home).store_location(cfg) == pg_dsn


@pytest.mark.parametrize("url, lang, words", [
    ("mysql://u@h/db", "zh", "postgresql://用户@主机:端口/数据库名"),
    ("postgresql://u@h:5432", "en", "postgresql://USER@HOST:PORT/DATABASE, not"),
])
def test_init_with_a_bad_url_writes_nothing(tmp_path: Path, url: str, lang: str, words: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "relay"
    assert main(["relay", "--relay-home", str(home), "--lang", lang, "init", "--county",
                 "KC", "--store", url]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not home.exists()


def test_init_with_an_unreachable_database_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "relay"
    url = f"postgresql://nobody:secret@/x?host={tmp_path}&port=1"  # no server on that socket
    assert main(["relay", "--relay-home", str(home), "--lang", "en", "init", "--county",
                 "KC", "--store", url]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the relay's database x" in err, err
    assert "secret" not in err
    assert not home.exists()


def test_a_password_is_never_shown() -> None:
    shown = describe_location("postgresql://relay:hunter2@db.county:5432/vc")
    assert shown == "postgresql://relay:***@db.county:5432/vc"


def test_a_damaged_store_setting_is_a_config_error(tmp_path: Path) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC")
    raw = json.loads(home.config_file.read_text())
    raw["store"] = "sqlite:///elsewhere.db"
    home.config_file.write_text(json.dumps(raw))
    with pytest.raises(Exception) as caught:
        home.load()
    assert getattr(caught.value, "code", "") == "bad_config"


async def test_a_village_syncs_with_a_relay_on_postgresql(pg_dsn: str, tmp_path: Path
                                                          ) -> None:
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=0, store=pg_dsn)
    app = create_app(home, tls=False)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    node = await Node.create(tmp_path / "node", village="A", village_name="A村", county="KC")
    try:
        assert isinstance(app[keys.STORE], PgStore)
        meta = await node.store.create(CASE, records.village_scope("KC", "A"),
                                       lambda doc: casedoc.new_case(
            doc, number="A-1", category="neighbour", title="水渠边界",
            parties=[Party("applicant", "张三"), Party("respondent", "李四")],
            village="A", county="KC"))
        node.config.relay_url = f"ws://127.0.0.1:{port}/v1/sync"
        result = await asyncio.wait_for(Syncer(node, discovery=False).sync_relay(), 60)
        assert result.ok, result
        relay_store = app[keys.STORE]
        assert (await relay_store.meta(meta.doc_id)).heads == meta.heads
    finally:
        await node.close()
        await runner.cleanup()
    # The documents are in the database, not in a file of the relay home.
    again = await PgStore.open(pg_dsn, key=home.store_key(), path=tmp_path / "side")
    try:
        assert (await again.meta(meta.doc_id)).heads == meta.heads
        assert (await again.read(meta.doc_id))["title"] == "水渠边界"
    finally:
        await again.close()


@pytest.mark.parametrize("command", [
    ["serve", "--host", "127.0.0.1", "--port", "0", "--insecure"],
    ["token", "--village", "A", "--role", "director"],
])
def test_a_database_that_went_away_is_said_in_one_line(
        tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A relay whose database cannot be reached (server down, socket gone) says so, in
    the operator's language, without the password and without a traceback."""
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1")
    raw = json.loads(home.config_file.read_text())
    raw["store"] = f"postgresql://relay:hunter2@/vc?host={tmp_path / 'gone'}&port=1"
    home.config_file.write_text(json.dumps(raw))
    assert main(["relay", "--relay-home", str(home.path), "--lang", "en", *command]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("villagecourt:")]
    assert lines == ["villagecourt: cannot reach the relay's database vc (the server is down, "
                     "the address is wrong, or the network is cut)."], err
    assert "hunter2" not in err and "Traceback" not in err
