"""USB bundles end to end (issue #8): a village with no network and the county relay
exchange sticks; the result equals a network sync; tampering, foreign and revoked signers
and other villages' documents are refused and leave no trace."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cbor2
import pytest

from relay.revoke import revoke
from store import kinds
from store.records import CONTENT, county_scope
from sync.bundle import (
    DOCS_DIR,
    MANIFEST,
    BundleError,
    export_bundle,
    import_bundle,
    inspect_bundle,
)


async def _answer(store, doc_id: str, text: str) -> None:
    await store.edit(doc_id, lambda d: kinds.answer_consultation(d, answer=text, by="王法官"))


async def _publish(store, title: str) -> str:
    meta = await store.create(CONTENT, county_scope("KC"), lambda d: kinds.new_content(
        d, title=title, topic="婚姻家庭", content_kind="article", body="以案说法：……"))
    return meta.doc_id


async def test_round_trip_equals_network_sync(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1", village="A")
    ids = await bx.fill(a, 5)
    consult = await a.consultations.ask(ids[0], "宅基地边界怎么认定？")
    await a.education.record_screening(date="2026-03-01", place="村委会", items=["x"],
                                       attendance=40)
    stick = tmp_path / "stick"
    exp = await export_bundle(a.store, bx.node_signer(a), stick)
    assert exp.docs == 8 and exp.since == 0  # village profile, 5 cases, consultation, screening
    # FAT32-safe: lowercase names only, manifest last (it is there), no partial files
    names = [p.name for p in stick.rglob("*")]
    assert all(n == n.lower() for n in names) and not any(n.endswith(".part") for n in names)
    insp = await inspect_bundle(stick, ca=kc.signer.ca)
    assert insp.complete and insp.signature == "ok" and len(insp.docs) == 8

    # the county imports, answers the question, publishes content, returns a stick
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert r.changed == 8 and not r.refused and r.checkpoint_advanced
    await _answer(kc.store, consult.doc_id, "以土地承包合同和四至图为准。")
    content_id = await _publish(kc.store, "典型案例：邻里通行纠纷")
    back = tmp_path / "back"
    rexp = await export_bundle(kc.store, kc.signer, back, village="A")
    assert rexp.dest_store == a.store.store_id
    r2 = await import_bundle(a.store, bx.node_signer(a).identity,
                             bx.node_signer(a).ca, back,
        decrypt_key=bx.node_signer(a).box)
    assert r2.receipt_applied and not r2.refused
    assert (await a.consultations.get(consult.doc_id)).answer.startswith("以土地承包")
    assert (await a.education.get(content_id)).title.startswith("典型案例")
    # custody: the receipt moved the village's checkpoint; the next export is empty
    again = await export_bundle(a.store, bx.node_signer(a), tmp_path / "again")
    assert again.docs == 0 and again.since == exp.upto

    # afterwards a network sync has nothing to move: both stores equal what it gives
    before_a = await bx.doc_heads(a.store)
    before_kc = await bx.doc_heads(kc.store, "village:KC/A")
    res = await bx.sync(a)
    assert res.ok, res.error
    assert res.counters.docs_changed == 0
    assert await bx.doc_heads(a.store) == before_a
    assert await bx.doc_heads(kc.store, "village:KC/A") == before_kc
    village_view = {k: v for k, v in (await bx.doc_heads(kc.store)).items()
                    if k in before_a}
    assert village_view == before_a


async def test_import_twice_changes_nothing(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 3)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    first = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert first.changed == 4
    state = await bx.store_state(kc.store)
    second = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert second.nothing_new and second.changed == 0
    assert await bx.store_state(kc.store) == state


async def test_without_receipt_next_export_carries_data_again(kc, make_node, bx,
                                                              tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 2)
    one = await export_bundle(a.store, bx.node_signer(a), tmp_path / "one")
    await bx.fill(a, 1, prefix="n")
    two = await export_bundle(a.store, bx.node_signer(a), tmp_path / "two")
    assert one.docs == 3 and two.docs == 4  # nothing acknowledged: all again, plus the new


async def test_tampered_file_refused_rest_imports(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    ids = await bx.fill(a, 3)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    body = cbor2.loads(cbor2.loads((stick / MANIFEST).read_bytes())["payload"])
    victim = next(e for e in body["docs"] if e["id"] == ids[1])
    f = stick / victim["file"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    insp = await inspect_bundle(stick, ca=kc.signer.ca)
    assert not insp.complete and insp.damaged == [ids[1]]
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert [(x.doc_id, x.code) for x in r.refused] == [(ids[1], "tampered")]
    held = await bx.doc_heads(kc.store)
    assert ids[0] in held and ids[2] in held and ids[1] not in held
    assert not r.checkpoint_advanced  # custody stays with the village for the refused part


async def test_altered_manifest_refused_without_trace(kc, make_node, bx, tmp_path: Path
                                                      ) -> None:
    a = await make_node("a1")
    await bx.fill(a, 2)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    outer = cbor2.loads((stick / MANIFEST).read_bytes())
    body = cbor2.loads(outer["payload"])
    body["upto"] += 100
    outer["payload"] = cbor2.dumps(body)
    (stick / MANIFEST).write_bytes(cbor2.dumps(outer))
    state = await bx.store_state(kc.store)
    with pytest.raises(BundleError) as err:
        await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert err.value.code == "bad_signature" and "altered" in str(err.value)
    assert await bx.store_state(kc.store) == state


async def test_revoked_signer_refused(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 2)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    await revoke(kc.store, kc.home.ca, "KC", a.config.node_id, "stolen")
    state = await bx.store_state(kc.store)
    with pytest.raises(BundleError) as err:
        await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert err.value.code == "revoked" and "revoked" in str(err.value)
    assert await bx.store_state(kc.store) == state


async def test_foreign_county_signer_refused(kc, make_node, bx, tmp_path: Path) -> None:
    other = await bx.start_county(tmp_path / "relay-xc", "XC")
    try:
        x = await make_node("x1", village="A", county="XC", ca_home=other.home)
        await bx.fill(x, 2)
        stick = tmp_path / "stick"
        await export_bundle(x.store, bx.node_signer(x), stick)
        state = await bx.store_state(kc.store)
        with pytest.raises(BundleError) as err:
            await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
        assert err.value.code == "wrong_county"
        assert await bx.store_state(kc.store) == state
    finally:
        await other.relay.stop()


async def test_other_villages_document_refused(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1", village="A")
    ids = await bx.fill(a, 2)
    # node A forges a case in village B's scope and signs a bundle carrying it
    forged = await a.store.create("case", "village:KC/B", lambda d: kinds_case(d))
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    data = await a.store.saved_many([forged.doc_id])
    raw = data[forged.doc_id]
    import hashlib

    sha = hashlib.sha256(raw).hexdigest()
    (stick / DOCS_DIR / f"{sha}.bin").write_bytes(raw)
    bx.resign(stick, a, lambda body: body["docs"].append({
        "id": forged.doc_id, "kind": "case", "scope": "village:KC/B", "heads": forged.heads,
        "sha256": sha, "length": len(raw), "file": f"{DOCS_DIR}/{sha}.bin"}))
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert [(x.doc_id, x.code) for x in r.refused] == [(forged.doc_id, "not_authorized")]
    assert "village:KC/B" in r.refused[0].message
    held = await bx.doc_heads(kc.store)
    assert forged.doc_id not in held and all(i in held for i in ids)


def kinds_case(d) -> None:
    from store import casedoc
    from store.records import Party

    casedoc.new_case(d, number="B-1-0001", category="land", title="伪造",
                     parties=[Party("applicant", "甲")], village="B", county="KC")


async def test_bundle_for_another_village_refused(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1", village="A")
    b = await make_node("b1", village="B")
    await _publish(kc.store, "普法")
    stick = tmp_path / "stick"
    await export_bundle(kc.store, kc.signer, stick, village="A")
    state = await bx.store_state(b.store)
    with pytest.raises(BundleError) as err:
        await import_bundle(b.store, bx.node_signer(b).identity, bx.node_signer(b).ca, stick,
        decrypt_key=bx.node_signer(b).box)
    assert err.value.code == "bundle_not_for_us"
    assert await bx.store_state(b.store) == state
    r = await import_bundle(a.store, bx.node_signer(a).identity, bx.node_signer(a).ca, stick,
        decrypt_key=bx.node_signer(a).box)
    assert r.changed >= 1 and not r.refused


async def test_incomplete_stick_is_visible(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 2)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    os.remove(stick / MANIFEST)  # as if the stick was pulled before the manifest was written
    insp = await inspect_bundle(stick, ca=kc.signer.ca)
    assert not insp.complete and "incomplete" in insp.problem
    state = await bx.store_state(kc.store)
    with pytest.raises(BundleError) as err:
        await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert err.value.code == "bundle_incomplete"
    assert await bx.store_state(kc.store) == state


async def test_missing_file_reported_and_refused(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    ids = await bx.fill(a, 2)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    body = cbor2.loads(cbor2.loads((stick / MANIFEST).read_bytes())["payload"])
    victim = next(e for e in body["docs"] if e["id"] == ids[0])
    os.remove(stick / victim["file"])
    insp = await inspect_bundle(stick, ca=kc.signer.ca)
    assert insp.missing == [ids[0]] and not insp.complete
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
        decrypt_key=kc.signer.box)
    assert [(x.doc_id, x.code) for x in r.refused] == [(ids[0], "missing")]


async def test_revocation_list_never_goes_backwards(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    await revoke(kc.store, kc.home.ca, "KC", "n-old-1", "retired")
    old = tmp_path / "old"
    await export_bundle(kc.store, kc.signer, old, village="A")
    await revoke(kc.store, kc.home.ca, "KC", "n-old-2", "stolen")
    new = tmp_path / "new"
    await export_bundle(kc.store, kc.signer, new, village="A")
    sig = bx.node_signer(a)
    await import_bundle(a.store, sig.identity, sig.ca, new,
        decrypt_key=sig.box)
    from sync import revocations

    assert (await revocations.current(a.store, sig.ca, "KC")).version == 2
    await import_bundle(a.store, sig.identity, sig.ca, old,
        decrypt_key=sig.box)
    assert (await revocations.current(a.store, sig.ca, "KC")).version == 2


async def test_cli_export_inspect_import(kc, make_node, bx, tmp_path: Path, capsys) -> None:
    from node.cli import main

    a = await make_node("a1")
    await bx.fill(a, 2)
    home = str(a.home.path)
    await a.close()
    stick = tmp_path / "stick"
    import asyncio

    def run(*argv: str) -> int:
        return main(["--home", home, *argv])

    assert await asyncio.to_thread(run, "bundle", "export", str(stick), "--quiet") == 0
    assert await asyncio.to_thread(run, "bundle", "inspect", str(stick), "--quiet") == 0
    out = capsys.readouterr().out
    # a director's node speaks Chinese by default
    assert "记录：共 3 条，完整 3 条，缺少 0 条，损坏 0 条" in out and "\n完整\n" in out
    # the relay imports with the CLI too (its store is open in this process: stop it first)
    await kc.relay.stop()
    rh = str(kc.home.path)
    assert await asyncio.to_thread(main, ["bundle", "import", str(stick), "--relay-home", rh,
                                          "--quiet", "--lang", "zh"]) == 0
    assert await asyncio.to_thread(main, ["bundle", "import", str(stick), "--relay-home", rh,
                                          "--quiet", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    # the relay's commands speak Chinese by default, English with --lang en; a bundle
    # already imported brings "nothing new"
    assert "已导入（来自 director:KC/A:" in out and "：3 条记录" in out and "nothing new" in out
    # a whole bundle refused: why, in the operator's words (here: the manifest is gone)
    (stick / "manifest.cbor").unlink()
    assert await asyncio.to_thread(main, ["bundle", "import", str(stick), "--relay-home", rh,
                                          "--quiet", "--lang", "zh"]) == 1
    err = capsys.readouterr().err
    assert "数据包被拒绝，未导入任何内容：数据包不完整" in err
    shutil.rmtree(stick)


async def test_lost_stick_leaks_no_id_number_or_phone(kc, make_node, bx, tmp_path: Path
                                                      ) -> None:
    from store.records import id_check_digit

    first17 = "11010119850612" + "123"
    id_number = first17 + id_check_digit(first17)
    a = await make_node("a1")
    ids = await bx.fill(a, 3, id_number=id_number)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    # the same bytes in the clear do hold them (so the check below means something)
    clear = b"".join((await a.store.saved_many(ids)).values())
    assert b"13800138000" in clear
    for f in stick.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert id_number.encode() not in raw and b"13800138000" not in raw
            assert "张三".encode() not in raw
    # only the county (holder of the CA key) opens it; the relay's node key alone does not
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
                            decrypt_key=kc.signer.key)
    assert {x.code for x in r.refused} == {"cannot_decrypt"}
    held = await bx.doc_heads(kc.store)
    assert not any(d in held for d in ids)
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
                            decrypt_key=kc.signer.box)
    assert not r.refused and r.changed == 4
    case = await kc.store.read(ids[0])
    assert id_number in str(case)


async def test_relay_needs_the_villages_key_first(kc, make_node, bx, tmp_path: Path) -> None:
    from store import casedoc
    from store.records import Party

    await kc.store.create("case", "village:KC/A", lambda d: casedoc.new_case(
        d, number="A-1-0001", category="land", title="县里登记", village="A", county="KC",
        parties=[Party("applicant", "甲", "13900139000")]))
    with pytest.raises(BundleError) as err:
        await export_bundle(kc.store, kc.signer, tmp_path / "s", village="A")
    assert err.value.code == "bundle_no_key" and "sync with the relay once" in str(err.value)


async def test_a_village_met_by_network_sync_can_get_a_bundle(kc, make_node, bx,
                                                               tmp_path: Path) -> None:
    """The village synced over the network once, then lost its link: the county's stick
    for it is encrypted to the certificate the relay kept from that session."""
    a = await make_node("a1", village="A")
    ids = await bx.fill(a, 1)
    consult = await a.consultations.ask(ids[0], "老人赡养费怎么分担？")
    assert (await bx.sync(a)).ok
    # the judge answers (the answer carries the village's personal data: encrypted)
    await _answer(kc.store, consult.doc_id, "按子女经济能力协商分担。")
    content_id = await _publish(kc.store, "典型案例：停电期间的调解")
    exp = await export_bundle(kc.store, kc.signer, tmp_path / "s", village="A")
    assert exp.dest_store == a.store.store_id and exp.docs >= 2
    me = bx.node_signer(a)
    r = await import_bundle(a.store, me.identity, me.ca, tmp_path / "s", decrypt_key=me.box)
    assert not r.refused and r.changed >= 2
    assert (await a.consultations.get(consult.doc_id)).answer.startswith("按子女")
    assert (await a.education.get(content_id)).title.startswith("典型案例")


async def test_entry_outside_the_bundle_refused(kc, make_node, bx, tmp_path: Path) -> None:
    a = await make_node("a1")
    ids = await bx.fill(a, 1)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"x")

    def point_outside(body: dict) -> None:
        for e in body["docs"]:
            if e["id"] == ids[0]:
                e["file"] = "docs/../../secret.bin"

    bx.resign(stick, a, point_outside)
    r = await import_bundle(kc.store, kc.signer.identity, kc.signer.ca, stick,
                            decrypt_key=kc.signer.box)
    assert [x.code for x in r.refused] == ["bad_document"]
    assert ids[0] not in await bx.doc_heads(kc.store)


async def test_reexport_keeps_foreign_files_and_drops_stale_ones(kc, make_node, bx,
                                                                 tmp_path: Path) -> None:
    a = await make_node("a1")
    await bx.fill(a, 2)
    stick = tmp_path / "stick"
    await export_bundle(a.store, bx.node_signer(a), stick)
    (stick / DOCS_DIR / "照片.jpg").write_bytes(b"a director's own file")
    stale = stick / DOCS_DIR / ("ab" * 32 + ".bin")
    stale.write_bytes(b"old")
    await export_bundle(a.store, bx.node_signer(a), stick)
    assert (stick / DOCS_DIR / "照片.jpg").exists() and not stale.exists()
    insp = await inspect_bundle(stick, ca=kc.signer.ca)
    assert insp.complete and len(insp.docs) == 3
