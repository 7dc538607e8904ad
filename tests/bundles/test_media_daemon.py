"""Media in the node daemon (issue #8): after a records session the daemon fetches the
county's videos in the background; its LAN sync port serves the blocks it holds to the
village's other nodes, with the relay's rule; one program of a node downloads at a time;
the cap and the floor come from config.json."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from node import ConfigError, Node
from node.daemon import Syncer
from node.events import MediaProgress
from node.identity import keys_of
from node.media import MediaService, _try_lock
from relay.content import BLOBS, add_item
from store.blobs import BLOCK_SIZE
from sync.discovery import PeerFound
from sync.media import fetch_blob


async def _publish(kc, tmp_path: Path, size: int) -> tuple[str, str]:
    video = tmp_path / "yian-shuofa.mp4"
    video.write_bytes(os.urandom(size))
    doc_id = await add_item(kc.store, kc.relay.app[BLOBS], "KC", [video],
                            title="以案说法：赡养纠纷", topic="婚姻家庭", content_kind="video")
    return doc_id, hashlib.sha256(video.read_bytes()).hexdigest()


def _lan(syncer: Syncer, node: Node, port: int) -> None:
    """What zeroconf would report: a node of the same village on 127.0.0.1:port."""
    syncer._on_peer_event(PeerFound(node.config.node_id, node.config.scope, "127.0.0.1",
                                    port))


async def test_daemon_fetches_media_after_records_and_serves_it_to_the_village(
        kc, make_node, bx, tmp_path: Path) -> None:
    doc_id, sha = await _publish(kc, tmp_path, 4 * BLOCK_SIZE + 7)
    a1 = await make_node("a1", village="A")
    a2 = await make_node("a2", village="A")
    assert (await bx.sync(a2)).ok  # a2 knows the item, then loses the county link
    a2.config.relay_url = "wss://127.0.0.1:9/v1/sync"

    progress: list[MediaProgress] = []
    a1.events.subscribe(lambda e: progress.append(e) if isinstance(e, MediaProgress) else None)
    async with asyncio.timeout(60):
        async with MediaService(a1, floor=0) as m1, \
                Syncer(a1, listen_host="127.0.0.1", listen_port=0, discovery=False,
                       media=m1) as s1:
            assert a1.media is m1
            # records first; the session's end starts a media pass, nobody asks for it
            assert (await s1.sync_relay()).ok
            done = await m1.idle()
            assert done is not None and done.complete == [sha], done
            assert (await m1.availability(doc_id)).state == "ready"
            assert [p.have for p in progress if not p.done] == [1, 2, 3, 4, 5]
            assert progress[0].name == "yian-shuofa.mp4" and progress[-1].done

            async with MediaService(a2, floor=0) as m2, \
                    Syncer(a2, listen_host="127.0.0.1", listen_port=0, discovery=False,
                           media=m2) as s2:
                got_blocks: list[int] = []
                a2.events.subscribe(lambda e: got_blocks.append(e.have)
                                    if isinstance(e, MediaProgress) and not e.done else None)
                _lan(s2, a1, s1.bound_port)  # (its loop may sync with a1 too: a second pass)
                assert m2.lan_peers and m2.lan_peers() == [f"https://127.0.0.1:{s1.bound_port}"]
                assert (await s2.sync_peer("127.0.0.1", s1.bound_port)).ok
                got = await m2.idle()
                # every block from the neighbour's sync port; the relay was unreachable
                assert got is not None and got.complete == [sha], got
                assert got_blocks == [1, 2, 3, 4, 5]
                files = await m2.files(doc_id)
                assert hashlib.sha256(files[0].read_bytes()).hexdigest() == sha

                # knowing the hash is not enough on the sync port either
                secret = tmp_path / "s.bin"
                secret.write_bytes(os.urandom(BLOCK_SIZE))
                info = await m1.blobs.add_file(secret)
                await m2.blobs.want(info.sha256, info.length, info.blocks)
                with pytest.raises(PermissionError, match="403"):
                    await fetch_blob(m2.blobs, f"https://127.0.0.1:{s1.bound_port}",
                                     info.sha256, ssl_context=keys_of(a2.home).client_context())
            assert a2.media is None and m2.lan_peers is None


async def test_one_program_of_a_node_downloads_at_a_time(kc, make_node, bx,
                                                         tmp_path: Path) -> None:
    doc_id, sha = await _publish(kc, tmp_path, 2 * BLOCK_SIZE)
    a = await make_node("a1")
    assert (await bx.sync(a)).ok
    async with MediaService(a, floor=0) as media:
        held = _try_lock(a.home.path / "blobs" / ".download.lock")
        assert held is not None  # `serve` downloading, say: the TUI's pass stands aside
        try:
            r = await media.sync()
            assert not r.complete and "another program" in r.error
            assert (await media.availability(doc_id)).state == "waiting"
        finally:
            held.close()
        assert (await media.sync()).complete == [sha]


async def test_media_settings_come_from_config_json(kc, make_node, tmp_path: Path) -> None:
    a = await make_node("a1")
    media = MediaService.from_config(a)
    assert media.rate_bps == 128_000 and media.floor == 512 * 1024 * 1024  # defaults
    raw = json.loads(a.home.config_file.read_text(encoding="utf-8"))
    raw.update(media_rate_kbps=0, media_free_mb=2048)
    a.home.config_file.write_text(json.dumps(raw), encoding="utf-8")
    cfg = a.home.load()
    a.config = cfg
    media = MediaService.from_config(a)
    assert media.rate_bps is None and media.floor == 2048 * 1024 * 1024  # 0: no cap

    raw["media_free_mb"] = "lots"
    a.home.config_file.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="media_free_mb"):
        a.home.load()
