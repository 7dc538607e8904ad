"""`villagecourt relay migrate-store --to postgresql://…` (issue #13 item 5) through the real
CLI: a small demo county on store.db, with a village that synced with the real relay app on
127.0.0.1, is moved to a real PostgreSQL database (the suite's throw-away server); every
document keeps its heads and seq, every checkpoint is the same, and the relay started on the
database syncs with the village without resending anything; a change made afterwards flows
both ways. And the refusals: a running relay, a database of another store, a second move."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

import node.demo as vocab
from node import Node
from node.daemon import Syncer
from relay import keys
from relay.accounts import AccountStore, account_rows
from relay.app import create_app
from relay.config import RelayHome
from relay.demo_county import build_county
from relay.enrol import TokenStore
from store import Store, casedoc, records, transfer
from store.pg.store import PgStore
from store.records import CASE, Party
from sync.enrolment import EnrolError

from node.cli import main  # isort: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(home: RelayHome) -> tuple[web.AppRunner, web.Application, int]:
    app = create_app(home, tls=False)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, app, int(runner.addresses[0][1])


async def sync(village: Node, port: int) -> tuple[int, int]:
    village.config.relay_url = f"ws://127.0.0.1:{port}/v1/sync"
    result = await asyncio.wait_for(Syncer(village, discovery=False).sync_relay(), 60)
    assert result.ok, result
    return result.counters.docs_sent, result.counters.docs_received


def new_case(title: str, number: str):  # type: ignore[no-untyped-def]
    return lambda doc: casedoc.new_case(
        doc, number=number, category="neighbour", title=title,
        parties=[Party("applicant", "张三", "13912345678"), Party("respondent", "李四")],
        village="A", county="KC")


@pytest.fixture
async def county(tmp_path: Path) -> AsyncIterator[tuple[RelayHome, Node]]:
    """A demo county on store.db and a village A that synced with it (both ways)."""
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=free_port())
    await build_county(home, vocab, villages=3, cases=(4, 8), users=False,
                       run_warnings=False)
    village = await Node.create(tmp_path / "village", village="A", village_name="A村",
                                county="KC")
    try:
        for i in range(3):
            await village.store.create(CASE, records.village_scope("KC", "A"),
                                       new_case(f"水渠边界 {i}", f"A-{i}"))
        runner, app, port = await serve(home)
        try:
            sent, received = await sync(village, port)
            assert sent >= 3 and received > 0  # its cases up, the county's content down
            await app[keys.STORE].create(CASE, records.village_scope("KC", "A"),
                                         new_case("县里登记的", "A-9"))
            assert await sync(village, port) == (0, 1)
            assert await sync(village, port) == (0, 0)  # settled before the move
        finally:
            await runner.cleanup()
        yield home, village
    finally:
        await village.close()


async def test_migrate_keeps_every_document_and_checkpoint_and_nothing_is_resent(
        county: tuple[RelayHome, Node], pg_dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    home, village = county
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn, "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    said = json.loads(out)
    assert said["ok"] and said["store"] == pg_dsn
    assert said["documents"] == said["documents_source"] == said["heads_equal"] > 10
    assert said["checkpoints"] >= 1
    assert said["sqlite_left"] == str(home.store_file) and home.store_file.exists()
    assert f"records: {said['documents']} of {said['documents']}" in err
    assert home.load().store == pg_dsn  # switched only now

    src = await Store.open(home.store_file, key=home.store_key())
    dst = await PgStore.open(pg_dsn, key=home.store_key(), path=home.path / "store-files")
    try:
        assert dst.store_id == src.store_id
        assert (await transfer.compare(src, dst)).ok
        ids = [r[0] for r in await transfer.all_rows(src, "docs")]
        for doc_id in ids:
            assert await dst.meta(doc_id) == await src.meta(doc_id)  # heads, seq, kind, scope
        assert await dst.peers() == await src.peers()
        assert await dst.current_seq() == await src.current_seq()
    finally:
        await src.close()
        await dst.close()

    runner, app, port = await serve(home)
    try:
        assert isinstance(app[keys.STORE], PgStore)
        assert await sync(village, port) == (0, 0)  # nothing resent either way
        # A change made after the move flows both ways.
        mine = await village.store.create(CASE, records.village_scope("KC", "A"),
                                          new_case("迁移后登记", "A-20"))
        theirs = await app[keys.STORE].create(CASE, records.village_scope("KC", "A"),
                                              new_case("县里迁移后登记", "A-21"))
        assert await sync(village, port) == (1, 1)
        assert (await app[keys.STORE].meta(mine.doc_id)).heads == mine.heads
        assert (await village.store.meta(theirs.doc_id)).heads == theirs.heads
        assert await sync(village, port) == (0, 0)
    finally:
        await runner.cleanup()

    # Going back to store.db and moving again would lose what the database got since.
    home.switch_store("")
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn])
    assert code == 1
    assert "holds newer changes than store.db" in capfd.readouterr().err
    assert home.load().store == ""
    home.switch_store(pg_dsn)
    # A second move is refused: the relay already keeps its store there.
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn])
    assert code == 1
    assert "already in" in capfd.readouterr().err


async def test_a_running_relay_is_refused_and_nothing_changes(
        county: tuple[RelayHome, Node], pg_dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    home, _ = county
    with home.lock("serve"):  # what 'relay serve' holds while it runs
        code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path),
                                              "migrate-store", "--to", pg_dsn])
    err = capfd.readouterr().err
    assert code == 1 and "中继正在运行" in err and "Traceback" not in err
    # Something answering on the relay's port is taken as a relay started otherwise.
    cfg = home.load()
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", cfg.port)
    try:
        code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path),
                                              "--lang", "en", "migrate-store", "--to",
                                              pg_dsn])
    finally:
        server.close()
        await server.wait_closed()
    err = capfd.readouterr().err
    assert code == 1 and f"answers on port {cfg.port}" in err
    assert home.load().store == ""
    dst = await PgStore.open(pg_dsn, key=None, path=home.path / "side")
    try:
        assert await transfer.is_blank(dst)
    finally:
        await dst.close()


async def test_a_database_of_another_store_is_refused(
        county: tuple[RelayHome, Node], pg_dsn: str, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    home, _ = county
    other = await PgStore.open(pg_dsn, key=home.store_key(), path=tmp_path / "other")
    meta = await other.create(CASE, records.village_scope("KC", "B"),
                              new_case("别的库", "B-1"))
    await other.close()
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn])
    err = capfd.readouterr().err
    assert code == 1 and "already holds another store" in err
    assert home.load().store == ""
    other = await PgStore.open(pg_dsn, key=home.store_key(), path=tmp_path / "other")
    try:
        assert (await other.meta(meta.doc_id)).heads == meta.heads  # left as it was
    finally:
        await other.close()


async def test_an_interrupted_move_is_run_again(county: tuple[RelayHome, Node], pg_dsn: str,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    """A run that copied but did not switch (as if it stopped before): the database holds
    this relay's store; a second run empties it and copies again."""
    home, _ = county
    src = await Store.open(home.store_file, key=home.store_key())
    dst = await PgStore.open(pg_dsn, key=home.store_key(), path=home.path / "store-files")
    await transfer.copy_store(src, dst)
    await dst.record_peer("stale-peer", sent_seq=7)  # a leftover the second run drops
    await src.close()
    await dst.close()
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn, "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert home.load().store == pg_dsn
    dst = await PgStore.open(pg_dsn, key=home.store_key(), path=home.path / "store-files")
    try:
        assert (await dst.peer("stale-peer"))["sent_seq"] == 0
    finally:
        await dst.close()


async def test_a_failed_verification_leaves_the_config_as_it_was(
        county: tuple[RelayHome, Node], pg_dsn: str) -> None:
    from relay.migrate_store import PARTS, MigrateError, Part, migrate_store

    async def tamper(move: object) -> None:
        await move.dst.record_peer("village-x", sent_seq=3)  # type: ignore[attr-defined]

    async def nothing(move: object) -> None:
        return None

    home, _ = county
    with pytest.raises(MigrateError) as caught:
        await migrate_store(home, pg_dsn, progress=lambda *a: None,
                            parts=[*PARTS, Part("tamper", tamper, nothing)])
    assert caught.value.code == "verify_failed"
    assert "peers ('village-x',)" in str(caught.value)
    assert home.load().store == ""


async def test_enrolment_codes_and_short_ids_move_with_the_store(
        county: tuple[RelayHome, Node], pg_dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    """A code issued before the move still works once after it, a code used before stays
    used, and a short id given out before is never given again (case numbers stay
    unique); the verification counts the rows."""
    home, _village = county
    before = TokenStore(home.tokens_file)
    unused, _ = before.issue("A", "director")
    used, _ = before.issue("B", "director")
    before.consume(used, "node-b1")
    given = before.allocate_short_id("A", "node-a1")
    before.close()
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn, "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    said = json.loads(out)
    assert said["enrol_tokens"] == 2 and said["enrol_short_ids"] == 1
    after = TokenStore(home.tokens_location())
    try:
        assert after.path is None  # the database's tables, not enrol.db
        with pytest.raises(EnrolError) as refused:
            after.consume(used, "node-b2")
        assert refused.value.code == "token_used"
        assert after.consume(unused, "node-a2").village == "A"
        with pytest.raises(EnrolError):
            after.consume(unused, "node-a3")
        assert after.allocate_short_id("A", "node-a2") != given
    finally:
        after.close()


async def dashboard_login(port: int, name: str, password: str) -> tuple[int, str]:
    """Log in through the dashboard's form over real HTTP (as a browser does): the status
    and Location of the answer to the POST, after which the overview is fetched."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        base = f"http://127.0.0.1:{port}/dashboard"
        async with http.get(f"{base}/login") as r:
            m = re.search(r'name="_csrf" value="([^"]+)"', await r.text())
            assert m, "no CSRF token on the login page"
        async with http.post(f"{base}/login", allow_redirects=False, data={
                "_csrf": m.group(1), "name": name, "password": password}) as r:
            status, where = r.status, r.headers.get("Location", "")
        if status == 302:
            async with http.get(f"{base}/", allow_redirects=False) as r:
                assert r.status == 200 and "全县总览" in await r.text()
        return status, where


async def test_dashboard_accounts_and_their_audit_move_with_the_store(
        county: tuple[RelayHome, Node], pg_dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    """A user made before the move logs in after it over real HTTP, one disabled before
    stays refused, and every audit row is in the database with its id and time (the
    next one numbered after them); the verification counts the rows; accounts.db is
    left as it was and no longer written."""
    home, _village = county
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    before = AccountStore(home.accounts_file)
    before.add("li", "operator", "li's long password", display="李操作员")
    before.add("zhao", "judge", "zhao's long password")
    assert before.login("li", "li's long password", "10.0.0.1").code == "ok"
    before.login("zhao", "not the password", "10.0.0.1")
    before.set_disabled("zhao")
    before.audit("li", "reveal", remote="10.0.0.1", doc_id="d1")
    moved = account_rows(before)
    before.close()
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn, "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    said = json.loads(out)
    assert said["accounts_users"] == 2 and said["accounts_audit"] == len(moved["audit"]) == 6
    assert said["accounts_failures"] == 1 and said["accounts_session_reset"] == 1
    assert "audit log: 6 of 6" in err
    assert home.accounts_location() == pg_dsn

    runner, _app, port = await serve(home)
    try:
        assert await dashboard_login(port, "li", "li's long password") == (302, "/dashboard/")
        assert (await dashboard_login(port, "zhao", "zhao's long password"))[0] == 401
    finally:
        await runner.cleanup()
    after = AccountStore(home.accounts_location())
    try:
        assert after.path is None  # the database's tables, not accounts.db
        rows = after.db.fetchall('SELECT id, at, "user", event, remote, detail FROM audit '
                                 "ORDER BY id")
        assert rows[:len(moved["audit"])] == moved["audit"]  # ids, times, details
        new = rows[len(moved["audit"]):]
        assert [(r[2], r[3]) for r in new] == [("li", "login"), ("zhao", "login_failed")]
        assert new[0][0] > moved["audit"][-1][0]
    finally:
        after.close()
    assert account_rows(AccountStore(home.accounts_file)) == moved  # untouched


async def test_a_database_with_other_accounts_is_refused(
        county: tuple[RelayHome, Node], pg_dsn: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    home, _ = county
    AccountStore(home.accounts_file).add("li", "operator", "li's long password")
    other = AccountStore(pg_dsn)  # another relay's accounts (or a login made there)
    other.add("wu", "operator", "wu's long password")
    theirs = account_rows(other)
    code = await asyncio.to_thread(main, ["relay", "--relay-home", str(home.path), "--lang",
                                          "en", "migrate-store", "--to", pg_dsn])
    err = capfd.readouterr().err
    assert code == 1 and "already holds other dashboard accounts" in err, err
    assert "users (1)" in err and "Traceback" not in err
    assert home.load().store == ""
    assert account_rows(other) == theirs
    other.close()
    dst = await PgStore.open(pg_dsn, key=None, path=home.path / "side")
    try:
        assert await transfer.is_blank(dst)  # refused before any document was copied
    finally:
        await dst.close()
