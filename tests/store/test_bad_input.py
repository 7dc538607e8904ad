"""Bad input gives a clear error (type and ``code``) and changes nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from node import Node
from store import (
    SCHEMA_VERSION,
    NewerSchema,
    NotAStore,
    Store,
    StoreError,
    StoreLocked,
    ValidationError,
    casedoc,
    new_key,
    records,
)
from store.records import CASE, Party, id_check_digit


def valid_id(first17: str = "33080219800101001") -> str:
    return first17 + id_check_digit(first17)


def wrong_check_digit(first17: str = "33080219800101001") -> str:
    right = id_check_digit(first17)
    return first17 + next(c for c in "0123456789X" if c != right)


async def state(node: Node) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the seq, every document and the case
    number counters."""
    s = node.store
    return (
        await s.current_seq(),
        await s.query("SELECT doc_id, heads, seq FROM docs ORDER BY doc_id"),
        await s.query("SELECT doc_id, title, status FROM records ORDER BY doc_id"),
        await s.query("SELECT name, value FROM counters ORDER BY name"),
    )


async def refused(node: Node, call: Callable[[], Awaitable[object]], code: str,
                  exc_type: type[StoreError] = ValidationError) -> StoreError:
    before = await state(node)
    with pytest.raises(exc_type) as err:
        await call()
    assert err.value.code == code
    assert str(err.value)  # a message for logs
    assert await state(node) == before
    return err.value


@pytest.mark.parametrize("kind, scope, code", [
    ("gossip", "village:KC/BY", "bad_kind"),
    (CASE, "village:KC/BY/X", "bad_scope"),
    (CASE, "village:KC/B Y", "bad_scope"),
    (CASE, "town:KC/BY", "bad_scope"),
])
async def test_store_refuses_unknown_kind_and_malformed_scope(node: Node, kind: str,
                                                              scope: str, code: str) -> None:
    def write(doc: Any) -> None:
        casedoc.new_case(doc, number="X-1", category="loan", title="借款",
                         parties=applicant())

    await refused(node, lambda: node.store.create(kind, scope, write), code)


def applicant(**kw: str) -> list[Party]:
    return [Party(role="applicant", name=kw.get("name", "张建国"), phone=kw.get("phone", ""),
                  id_number=kw.get("id_number", ""))]


async def register(node: Node, **kw: Any) -> Any:
    args: dict[str, Any] = {"category": "neighbour", "title": "院墙纠纷",
                            "parties": applicant()}
    args.update(kw)
    return await node.cases.register(**args)


async def test_unknown_category_is_refused(node: Node) -> None:
    await register(node)  # a store with something in it
    err = await refused(node, lambda: register(node, category="gossip"), "bad_category")
    assert err.details["value"] == "gossip"
    assert set(err.details["allowed"]) == set(records.CATEGORIES)

    case = await register(node)
    await refused(node, lambda: node.cases.edit(case.doc_id, category="gossip"), "bad_category")
    await refused(node, lambda: node.cases.search(category="gossip"), "bad_category")


@pytest.mark.parametrize("path, new", [
    ([], records.CLOSED),                      # registered cannot close
    ([], records.AGREED),                      # nor be agreed without mediation
    (["session"], records.ESCALATED),          # mediating must succeed or fail first
    (["session", records.AGREED], records.MEDIATING),
    (["session", records.FAILED, records.CLOSED], records.MEDIATING),  # closed is final
])
async def test_invalid_status_transition_is_refused(node: Node, path: list[str],
                                                    new: str) -> None:
    case = await register(node)
    for step in path:
        if step == "session":
            await node.cases.log_session(case.doc_id, date="2026-03-01", participants="双方",
                                         summary="首次调解")
        else:
            await node.cases.change_status(case.doc_id, step)
    old = (await node.cases.get(case.doc_id)).status

    err = await refused(node, lambda: node.cases.change_status(case.doc_id, new),
                        "bad_transition")
    assert (err.details["old"], err.details["new"]) == (old, new)
    assert set(err.details["allowed"]) == set(records.TRANSITIONS[old])
    assert (await node.cases.get(case.doc_id)).status == old


async def test_unknown_status_is_refused(node: Node) -> None:
    case = await register(node)
    await refused(node, lambda: node.cases.change_status(case.doc_id, "done"), "bad_status")


@pytest.mark.parametrize("id_number", [
    wrong_check_digit(),
    valid_id()[:-1],                 # 17 characters
    valid_id() + "1",                # 19 characters
    "3308021980010100",              # 16 digits
    "33080219800101001A",            # a letter other than X as check digit
    "33080X19800101001" + "1",       # X inside
    valid_id("33080219801301001"),   # month 13, check digit right
])
async def test_malformed_id_number_is_refused(node: Node, id_number: str) -> None:
    err = await refused(node, lambda: register(node, parties=applicant(id_number=id_number)),
                        "bad_id_number")
    assert id_number not in str(err)  # personal data stays out of messages and logs

    case = await register(node, parties=applicant(id_number=valid_id()))
    await refused(node, lambda: node.cases.edit(
        case.doc_id, parties=applicant(id_number=id_number)), "bad_id_number")


def test_the_id_fixtures_differ_only_where_intended() -> None:
    """The helpers above must build what their names say (else the test proves nothing)."""
    assert records.normalize_id_number(valid_id()) == valid_id()
    assert wrong_check_digit()[:17] == valid_id()[:17] != wrong_check_digit()


@pytest.mark.parametrize("phone", [
    "1381234567",       # 10 digits
    "138123456789",     # 12 digits
    "12812345678",      # no mobile starts 12
    "23812345678",
    "1381234567a",
    "phone",
])
async def test_malformed_phone_is_refused(node: Node, phone: str) -> None:
    await refused(node, lambda: register(node, parties=applicant(phone=phone)), "bad_phone")


async def test_well_formed_phones_and_ids_are_accepted(node: Node) -> None:
    case = await register(node, parties=applicant(phone="+86 138 1234 5678",
                                                  id_number=valid_id().lower()))
    assert case.parties[0].phone == "13812345678"
    assert case.parties[0].id_number == valid_id()


# --- files that are not (our) stores -------------------------------------------------------
async def test_random_bytes_are_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    junk = os.urandom(8192)
    path.write_bytes(junk)

    with pytest.raises(NotAStore) as err:
        await Store.open(path, key=new_key())

    assert err.value.code == "not_a_store"
    assert path.read_bytes() == junk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]


async def test_another_programs_sqlite_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('张三', '13812345678')")
    conn.commit()
    conn.close()
    original = path.read_bytes()

    with pytest.raises(NotAStore) as err:
        await Store.open(path, key=new_key())

    assert err.value.code == "not_a_store"
    assert path.read_bytes() == original
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["contacts"]


async def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    key = new_key()
    s = await Store.open(path, key=key)
    meta = await s.create(CASE, "village:KC/BY", lambda doc: casedoc.new_case(
        doc, number="BY-T-0001", category="loan", title="借款", parties=applicant()))
    await s.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    original = path.read_bytes()

    with pytest.raises(NewerSchema) as err:
        await Store.open(path, key=key)

    assert err.value.code == "newer_schema"
    assert err.value.details == {"found": SCHEMA_VERSION + 1, "supported": SCHEMA_VERSION}
    assert path.read_bytes() == original
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT count(*) FROM docs WHERE doc_id = ?",
                        (meta.doc_id,)).fetchone()[0] == 1
    conn.close()


async def test_a_locked_store_gives_store_locked_and_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "node"
    n = await Node.create(home, village="BY", village_name="白云村", county="KC")
    await register(n)
    await n.close()

    n = await Node.open(home, busy_timeout_ms=150)
    try:
        before = await state(n)
        other = sqlite3.connect(home / "store.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreLocked) as err:
                await register(n, title="锁住时登记")
            assert err.value.code == "store_locked"
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await state(n) == before
        # The lock is gone: the same call now works.
        case = await register(n, title="解锁后登记")
        assert case.title == "解锁后登记"
    finally:
        await n.close()
