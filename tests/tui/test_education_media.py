"""The education page at the village (issue #8): each item's media availability (已下载 /
43 % / 等待下载), live as a media pass reports progress; O opens a complete video with
the system's player ($VILLAGECOURT_PLAYER here); the disk-full line.

Real parts only: the node's store, a real ``MediaService`` and its ``BlobStore`` (blocks
put with ``put_block``, verified against the item's block hashes), real node events, and
for a whole background pass a small HTTP server answering the block route with the
file's bytes (the relay's route, without its TLS and certificate check)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from node import Node
from node.events import MediaProgress
from node.media import MediaService
from store import kinds
from store.amdoc import ROOT, append_map
from store.records import CONTENT
from tui.app import make_app
from tui.screens.education import MEDIA_REFRESH_S, ContentScreen, EducationPane
from tui.screens.main import MainScreen

from .conftest import TODAY, screen_text, wait_for, wait_text

BS = 1024  # small blocks: a "video" of 100 blocks is 100 KiB
WIDE = (100, 30)
NARROW = (80, 24)
QUICK_S = 3.0  # an event-driven redraw comes within this; the poll would take 10 s


def video(blocks: int = 100) -> bytes:
    return os.urandom(blocks * BS - 123)  # the last block is short, as in real files


def media_entry(data: bytes, name: str = "yian-shuofa.mp4") -> dict[str, Any]:
    """A content item's media entry, as relay/content.py writes it."""
    blocks = b"".join(hashlib.sha256(data[i:i + BS]).digest()
                      for i in range(0, len(data), BS))
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data), "block_size": BS,
            "blocks": blocks, "name": name, "mime": "video/mp4"}


async def publish(node: Node, title: str, *media: dict[str, Any], kind: str = "video",
                  topic: str = "土地") -> str:
    """A county content item (county scope), with media entries, in the node's store."""

    def write(doc: Any) -> None:
        kinds.new_content(doc, title=title, topic=topic, content_kind=kind,
                          summary="法官讲解", body="以确权图为准。", by="王法官")
        with doc.transaction() as tx:
            for m in media:
                append_map(tx, ROOT, "media", m)

    return (await node.store.create(CONTENT, node.config.county_scope, write)).doc_id


async def put_blocks(media: MediaService, entry: dict[str, Any], data: bytes,
                     upto: int | None = None, start: int = 0) -> None:
    """Register the blob and store its blocks ``start``..``upto`` (all: complete)."""
    assert media.blobs is not None
    await media.blobs.want(entry["sha256"], entry["length"], entry["blocks"], BS)
    count = len(entry["blocks"]) // 32
    for n in range(start, count if upto is None else upto):
        assert await media.blobs.put_block(entry["sha256"], n, data[n * BS:(n + 1) * BS])


@pytest.fixture
async def media(node: Node) -> AsyncIterator[MediaService]:
    service = await MediaService(node, floor=0).open()
    try:
        yield service
    finally:
        await service.close()


def pane(app: Any) -> EducationPane:
    return app.main().pane("education")


def cell(app: Any, doc_id: str) -> str:
    return str(pane(app).query_one("#edu-table").get_cell(doc_id, "media"))


def notes(app: Any) -> list[str]:
    """The messages (toasts) the app has shown."""
    return [n.message for n in app._notifications]


def snapshot_dir(tmp_path: Path) -> Path:
    keep = os.environ.get("VC_SNAPSHOT_DIR")
    path = Path(keep) if keep else tmp_path / "svg"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def player(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VILLAGECOURT_PLAYER: a script writing its arguments, one a line, to the file
    returned (written whole, then renamed: never read half-written)."""
    out = tmp_path / "played.txt"
    script = tmp_path / "player.sh"
    q = shlex.quote(str(out))
    script.write_text("#!/bin/sh\n"
                      f"for a in \"$@\"; do printf '%s\\n' \"$a\"; done > {q}.tmp\n"
                      f"mv {q}.tmp {q}\n")
    script.chmod(0o755)
    monkeypatch.setenv("VILLAGECOURT_PLAYER", f"{shlex.quote(str(script))} --fullscreen")
    return out


async def test_the_list_shows_each_items_media_in_both_languages(
        node: Node, media: MediaService, tmp_path: Path) -> None:
    ready, partial, waiting = video(), video(), video()
    e_ready = media_entry(ready, "ready.mp4")
    e_partial = media_entry(partial, "partial.mp4")
    e_waiting = media_entry(waiting, "waiting.mp4")
    ids = {
        "ready": await publish(node, "以案说法：宅基地界址纠纷，确权图和界桩不一致时怎么办",
                               e_ready),
        "partial": await publish(node, "以案说法：借条没写利息", e_partial),
        "waiting": await publish(node, "以案说法：子女拒不赡养老人", e_waiting),
        "none": await publish(node, "典型案例：邻里通行纠纷", kind="typical-case",
                              topic="婚姻家庭"),
    }
    await put_blocks(media, e_ready, ready)
    await put_blocks(media, e_partial, partial, upto=43)  # 43 of 100 blocks
    # "waiting": never registered in the blob store at all (no media pass yet)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f4")
        text = await wait_text(pilot, "已下载", "43 %", "等待下载", "下载")
        assert [cell(app, ids[k]) for k in ("ready", "partial", "waiting", "none")] == [
            "已下载", "43 %", "等待下载", ""]
        assert "磁盘快满了" not in text  # floor 0: the disk is never "full" here
        app.save_screenshot("education-media-zh.svg", str(snapshot_dir(tmp_path)))
        # Every row shows its title (cut with "…" if long) and its state on one line.
        lines = text.splitlines()
        for title, state in (("以案说法：宅基地界址纠纷", "已下载"), ("以案说法：借条", "43 %"),
                             ("以案说法：子女", "等待下载")):
            (row,) = [line for line in lines if title in line]
            assert state in row, row
        await pilot.press("f8")
        await wait_text(pilot, "Media", "ready", "43 %", "waiting")
        assert [cell(app, ids[k]) for k in ("ready", "partial", "waiting", "none")] == [
            "ready", "43 %", "waiting", ""]
        app.save_screenshot("education-media-en.svg", str(snapshot_dir(tmp_path)))


async def test_the_state_is_never_pushed_off_screen(node: Node, media: MediaService) -> None:
    """A long title is cut so that the media column stays whole, at 100 and at 80
    columns (the terminal made narrower while the page shows), in both languages."""
    data = video(10)
    entry = media_entry(data)
    await publish(node, "以案说法：宅基地界址纠纷中确权图与现场界桩不一致时应以哪个为准",
                  entry, topic="土地承包经营")
    # waiting: the widest state (等待下载, 8 cells)

    def row(text: str) -> str:
        lines = [line.rstrip() for line in text.splitlines() if "以案说法" in line]
        assert len(lines) <= 1, lines
        return lines[0] if lines else ""

    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f4")
        line = row(await wait_text(pilot, "等待下载"))
        assert "…" in line and "土地承包经营" in line and line.endswith("等待下载"), line
        await pilot.resize_terminal(*NARROW)
        await wait_for(pilot, lambda: row(screen_text(app)).endswith("等待下载"),
                       what="the state at 80 columns")
        assert app.size.width == NARROW[0] and "…" in row(screen_text(app))
        await pilot.press("f8")
        await wait_text(pilot, "Video", "Media", "waiting")
        line = row(screen_text(app))
        assert "Video" in line and line.endswith("waiting"), line


async def test_o_opens_a_ready_video_with_the_player(node: Node, media: MediaService,
                                                     player: Path) -> None:
    data = video(20)
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", entry)
    await put_blocks(media, entry, data)
    (blob,) = await media.files(doc_id)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        app.push_screen(ContentScreen(doc_id))
        await wait_text(pilot, "视频已下载", "O 打开视频")
        await pilot.press("o")
        await wait_for(pilot, player.exists, timeout=QUICK_S, what="the player to run")
        args = player.read_text(encoding="utf-8").splitlines()
        assert args[0] == "--fullscreen" and len(args) == 2
        played = Path(args[1])
        # The complete file, under the name the county gave it (players, `open` and
        # os.startfile choose the program by the extension; the blob has none).
        assert played.name == "yian-shuofa.mp4" and played.samefile(blob)
        assert hashlib.sha256(played.read_bytes()).hexdigest() == entry["sha256"]
        await wait_for(pilot, lambda: "正在用播放器打开 yian-shuofa.mp4 …" in notes(app),
                       timeout=QUICK_S, what="the message")
        assert isinstance(app.screen, ContentScreen) and app.screen.launched == [played]


async def test_o_on_a_partial_video_says_how_far_and_runs_nothing(
        node: Node, media: MediaService, player: Path) -> None:
    data = video()
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：借条没写利息", entry)
    await put_blocks(media, entry, data, upto=43)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        app.push_screen(ContentScreen(doc_id))
        await wait_text(pilot, "视频还在下载：43 %", "O 打开视频")
        await pilot.press("o")
        await wait_for(pilot, lambda: bool(notes(app)), what="a message")
        assert notes(app) == ["视频还在下载：43 %"]
        await pilot.pause(0.5)
        assert not player.exists()  # never a partial file
        # The line follows the download: more blocks, one progress event.
        await put_blocks(media, entry, data, start=43, upto=60)
        node.events.emit(MediaProgress(entry["sha256"], 60, 100, name="yian-shuofa.mp4"))
        await wait_text(pilot, "视频还在下载：60 %", timeout=QUICK_S)
        await pilot.press("f8")
        await wait_text(pilot, "The video is still downloading: 60 %", "O Open video")


@pytest.mark.parametrize("how", ["missing", "fails"])
async def test_no_player_says_where_the_file_is(node: Node, media: MediaService,
                                                tmp_path: Path, how: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """No such program (FileNotFoundError), or one that fails at once (xdg-open with
    nothing to play a video: exit status 3): the file's path stays on screen."""
    program = tmp_path / "player"
    if how == "fails":
        program.write_text("#!/bin/sh\nexit 3\n")
        program.chmod(0o755)
    monkeypatch.setenv("VILLAGECOURT_PLAYER", str(program))
    data = video(5)
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", entry)
    await put_blocks(media, entry, data)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        app.push_screen(ContentScreen(doc_id))
        await wait_text(pilot, "视频已下载")
        await pilot.press("o")
        await wait_text(pilot, "找不到播放视频的程序", timeout=QUICK_S)
        screen = app.screen
        assert isinstance(screen, ContentScreen)
        assert len(screen.launched) == (1 if how == "fails" else 0)
        expected = node.home.path / "media" / "yian-shuofa.mp4"
        assert str(expected) in screen.media_text()  # stays on screen, to copy
        assert expected.samefile((await media.files(doc_id))[0])
        assert any(str(expected) in n for n in notes(app))


async def test_a_media_progress_event_refreshes_the_column(node: Node,
                                                           media: MediaService) -> None:
    data = video()
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", entry)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f4")
        await wait_text(pilot, "等待下载")
        # Blocks arrive without an event: the column does not move by itself ...
        await put_blocks(media, entry, data, upto=43)
        await pilot.pause(0.3)
        assert cell(app, doc_id) == "等待下载"
        # ... and does on the event a media pass emits per verified block.
        node.events.emit(MediaProgress(entry["sha256"], 43, 100))
        await wait_for(pilot, lambda: cell(app, doc_id) == "43 %", timeout=QUICK_S,
                       what="43 %")

        # A download reports every block; the page redraws at most once a second.
        # (Bounds from the time taken, so that a slow machine does not fail it; without
        # the throttle ten events 50 ms apart redraw ten times.)
        throttle = pane(app).throttle
        runs, started = throttle.runs, time.monotonic()
        for n in range(43, 53):
            await put_blocks(media, entry, data, start=n, upto=n + 1)
            node.events.emit(MediaProgress(entry["sha256"], n + 1, 100))
            await pilot.pause(0.05)
        assert throttle.runs - runs <= 1 + (time.monotonic() - started) // MEDIA_REFRESH_S
        await wait_for(pilot, lambda: cell(app, doc_id) == "53 %", timeout=QUICK_S,
                       what="53 %")
        assert throttle.runs - runs <= 2 + (time.monotonic() - started) // MEDIA_REFRESH_S

        # Blocks that arrive while another page shows appear when the page is shown.
        await pilot.press("f1")
        await put_blocks(media, entry, data, start=53, upto=70)
        await pilot.press("f4")
        await wait_for(pilot, lambda: cell(app, doc_id) == "70 %", timeout=QUICK_S,
                       what="70 % when shown")


async def block_server(data: bytes) -> tuple[web.AppRunner, str]:
    """The block route (GET /v1/blobs/<sha256>/<n>) serving one file's blocks."""

    async def block(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(body=data[n * BS:(n + 1) * BS],
                            content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/v1/blobs/{sha}/{n}", block)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_a_background_pass_fills_the_column_live(node: Node,
                                                       media: MediaService) -> None:
    data = video(30)
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", entry)
    runner, url = await block_server(data)
    seen: list[MediaProgress] = []
    node.events.subscribe(lambda e: seen.append(e) if isinstance(e, MediaProgress) else None)
    try:
        app = make_app(node, "zh", clock=lambda: TODAY)
        async with app.run_test(size=WIDE) as pilot:
            await pilot.press("f4")
            await wait_text(pilot, "等待下载")
            media.lan_peers = lambda: [url]
            media.kick()  # what a successful sync starts (MediaService.follow_sync)
            await wait_for(pilot, lambda: cell(app, doc_id) == "已下载", timeout=QUICK_S,
                           what="the video complete")
            assert seen[-1].done and not seen[-1].paused
            assert sum(not e.done for e in seen) == 30  # one event per verified block
    finally:
        await runner.cleanup()


async def test_the_disk_full_line_when_a_pass_pauses(node: Node, media: MediaService) -> None:
    """Driven for real: the blob store's floor is above the disk's free space, so the
    pass's first put_block raises NoSpace and the service pauses (paused_code). The
    service's own floor stays 0, so the line can only come from the pass."""
    data = video(10)
    entry = media_entry(data)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", entry)
    runner, url = await block_server(data)
    assert media.blobs is not None
    media.blobs.floor = media.blobs.free_bytes() + 1024 ** 3
    try:
        app = make_app(node, "zh", clock=lambda: TODAY)
        async with app.run_test(size=WIDE) as pilot:
            await pilot.press("f4")
            await wait_text(pilot, "等待下载")
            assert "磁盘快满了" not in screen_text(app)
            media.lan_peers = lambda: [url]
            media.kick()
            text = await wait_text(pilot, "磁盘快满了（剩余不到 512 MB）：视频下载已暂停，"
                                   "腾出空间后会自动继续", timeout=QUICK_S)
            assert media.paused_code == "no_space" and cell(app, doc_id) == "等待下载"
            info = await media.blobs.info(entry["sha256"])
            assert info is not None and info.have == 0  # nothing written below the floor
            assert "no_space" not in text
            await pilot.press("f8")
            await wait_text(pilot, "The disk is nearly full (less than 512 MB free)")
    finally:
        await runner.cleanup()


async def test_the_disk_full_line_when_another_program_downloads(node: Node) -> None:
    """`villagecourt serve` may be the program downloading (one holds the download lock):
    its pause is no event here, so the page also compares the free space with the floor
    while media is missing."""
    floor = shutil.disk_usage(node.home.path).free + 1024 ** 3
    data = video(10)
    entry = media_entry(data)
    await publish(node, "以案说法：宅基地界址纠纷", entry)
    async with MediaService(node, floor=floor) as media:
        app = make_app(node, "zh", clock=lambda: TODAY)
        async with app.run_test(size=WIDE) as pilot:
            await pilot.press("f4")
            await wait_text(pilot, "等待下载", f"剩余不到 {floor // 1024 ** 2} MB",
                            "视频下载已暂停")
            assert media.paused_code == ""


async def test_without_a_media_service_the_page_works_as_before(node: Node,
                                                                player: Path) -> None:
    data = video(5)
    doc_id = await publish(node, "以案说法：宅基地界址纠纷", media_entry(data))
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f4")
        await wait_text(pilot, "以案说法：宅基地界址纠纷", "下载")
        await wait_for(pilot, lambda: pane(app).loads > 0)
        assert cell(app, doc_id) == ""
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContentScreen))
        await wait_text(pilot, "附件：yian-shuofa.mp4")
        await pilot.press("o")
        await wait_text(pilot, "这台电脑现在不能读取视频")
        assert not player.exists()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
