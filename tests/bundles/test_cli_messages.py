"""What the bundle and sync commands say (issue 15): the relay chooses the village's node
a bundle is for (--node), an unknown node is refused naming the known ones; a refused
document is not counted as changed; a bundle for the relay refused at a village says so
without "village -"; a bundle brought twice says "nothing new"; --json on each; a real
sync with stderr not a terminal prints no carriage return and no line per page.

Real relay (mutual TLS on 127.0.0.1), real provisioned nodes, the real CLI (node.cli.main)
run in a worker thread, as an operator runs it. The relay's CLI opens the relay's store:
the running relay is stopped first (tests/bundles/test_bundles.py does the same)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import cbor2
import pytest

from node.cli import main
from sync.bundle import MANIFEST, BundleError, export_bundle, import_bundle


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


async def test_relay_exports_for_the_node_it_is_told(kc, make_node, bx, tmp_path: Path,
                                                     capsys) -> None:
    a1 = await make_node("a1", village="A")
    a2 = await make_node("a2", village="A")
    await bx.fill(a1, 1, prefix="x")
    await bx.fill(a2, 1, prefix="y")
    assert (await bx.sync(a1)).ok
    assert (await bx.sync(a2)).ok  # a2 is the node of A the relay met last
    n1, n2 = a1.config.node_id, a2.config.node_id
    s1 = a1.store.store_id
    h1, h2 = str(a1.home.path), str(a2.home.path)
    await a1.close()
    await a2.close()
    await kc.relay.stop()
    rh = str(kc.home.path)
    relay = ("--relay-home", rh, "--quiet")

    rc, out, _ = await cli(capsys, "bundle", "export", str(tmp_path / "last"), *relay,
                           "--village", "A", "--json")
    assert rc == 0 and json.loads(out)["destination_node"] == n2
    rc, out, _ = await cli(capsys, "bundle", "export", str(tmp_path / "s1"), *relay,
                           "--village", "A", "--node", n1, "--json")
    written = json.loads(out)
    assert rc == 0 and written["destination_node"] == n1 and written["destination_store"] == s1
    assert written["docs"] >= 1 and written["met_before"] is True
    rc, out, _ = await cli(capsys, "bundle", "export", str(tmp_path / "s1"), *relay,
                           "--village", "A", "--node", n1)
    assert rc == 0 and f"（发往节点 {n1}）" in out  # the operator sees whom it is for

    # a node the relay never met: refused, naming the village's known nodes (met last first)
    rc, out, err = await cli(capsys, "bundle", "export", str(tmp_path / "x"), *relay,
                             "--village", "A", "--node", "nosuchnode")
    assert rc == 1 and out == ""
    assert f"A村没有本县见过的节点 nosuchnode；已知节点：{n2}, {n1}" in err
    rc, _, err = await cli(capsys, "bundle", "export", str(tmp_path / "x"), *relay,
                           "--village", "B", "--node", n1, "--lang", "en")
    assert rc == 1 and "village B has no node" in err and "known nodes: none" in err
    assert not (tmp_path / "x" / MANIFEST).exists()
    rc, _, err = await cli(capsys, "bundle", "export", str(tmp_path / "x"), *relay,
                           "--node", n1)
    assert rc == 2 and "--node" in err

    # the stick for a1 opens at a1; at a2 its records do not decrypt (it was not for a2)
    rc, out, _ = await cli(capsys, "--home", h1, "bundle", "import", str(tmp_path / "s1"),
                           "--json")
    got = json.loads(out)
    assert rc == 0 and got["changed"] >= 1 and got["refused"] == []
    rc, out, _ = await cli(capsys, "--home", h2, "bundle", "import", str(tmp_path / "s1"),
                           "--json")
    assert rc == 3 and {r["code"] for r in json.loads(out)["refused"]} == {"cannot_decrypt"}

    # the same stick again at a1: nothing new, in the node's language, and in JSON
    rc, out, _ = await cli(capsys, "--home", h1, "bundle", "import", str(tmp_path / "s1"))
    assert rc == 0 and out.startswith("没有新内容：") and "已导入" not in out
    rc, out, _ = await cli(capsys, "--home", h1, "bundle", "import", str(tmp_path / "s1"),
                           "--json")
    again = json.loads(out)
    assert rc == 0 and again["nothing_new"] is True and again["changed"] == 0


async def test_refusals_are_counted_apart_and_named(kc, make_node, bx, tmp_path: Path,
                                                    capsys) -> None:
    a1 = await make_node("a1", village="A")
    b1 = await make_node("b1", village="B")
    ids = await bx.fill(a1, 2)
    stick = tmp_path / "stick"
    await export_bundle(a1.store, bx.node_signer(a1), stick)  # for the county relay
    # at a node of another village: refused whole, and it says for whom the bundle is
    me = bx.node_signer(b1)
    with pytest.raises(BundleError) as refused:
        await import_bundle(b1.store, me.identity, me.ca, stick, decrypt_key=me.box)
    assert "for the county relay of KC" in str(refused.value)
    assert "village -" not in str(refused.value)
    hb = str(b1.home.path)
    await b1.close()
    for lang, words in (("zh", "这个数据包不是发给本机的"), ("en", "made for another destination")):
        rc, out, err = await cli(capsys, "--home", hb, "--lang", lang, "bundle", "import",
                                 str(stick))
        assert rc == 1 and out == "" and words in err and "village -" not in err, err

    # one document's file damaged: it is refused, and not counted among the changed
    body = cbor2.loads(cbor2.loads((stick / MANIFEST).read_bytes())["payload"])
    victim = next(e for e in body["docs"] if e["id"] == ids[1])
    data = bytearray((stick / victim["file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (stick / victim["file"]).write_bytes(bytes(data))
    await kc.relay.stop()
    relay = ("--relay-home", str(kc.home.path), "--quiet")
    n = len(body["docs"])
    rc, out, _ = await cli(capsys, "bundle", "import", str(stick), *relay, "--json")
    got = json.loads(out)
    assert rc == 3 and got["docs"] == n and got["changed"] == n - 1
    assert got["refused"] == [{"id": ids[1], "code": "tampered"}] and not got["nothing_new"]
    # again: the intact ones are held already; the refused one is still refused, so it is
    # not "nothing new" and the count of changed is 0, not 1
    rc, out, _ = await cli(capsys, "bundle", "import", str(stick), *relay)
    assert rc == 3
    assert f"{n} 条记录，0 条有更新，1 条被拒绝" in out and "没有新内容" not in out
    assert f"已拒绝 {ids[1]}：文件被改动或损坏" in out
    assert "1 项被拒绝且未保存，其余已导入。" in out


async def test_a_long_sync_into_a_pipe_prints_whole_lines(kc, make_node, bx,
                                                          capsys) -> None:
    a1 = await make_node("a1", village="A")
    await bx.fill(a1, 300)
    home = str(a1.home.path)
    await a1.close()
    started = time.monotonic()
    rc, out, err = await cli(capsys, "--home", home, "sync")
    seconds = time.monotonic() - started
    assert rc == 0
    assert re.fullmatch(r"已与 \S+ 同步：发送 301 条，收到 \d+ 条（[\d.]+ KB，[\d.]+ 秒）\n", out)
    assert "\r" not in err  # capsys is no terminal: no line rewritten in place
    progress = [ln for ln in err.splitlines() if ln.startswith("同步中：")]
    assert len(progress) <= seconds / 2 + 1, (seconds, progress)  # not a line per page
    assert all(re.fullmatch(r"同步中：已发送 \d+ 条，已收到 \d+ 条", ln) for ln in progress)
