"""The sync page (sync now, progress, history in plain words) and the statistics page."""

from __future__ import annotations

import asyncio

from node import Node
from node.events import PeerSeen, SyncFinished, SyncProgress, SyncStarted
from tui.app import make_app

from .conftest import SIZE, TODAY, add_case, wait_text


async def test_sync_now_without_a_sync_service_says_so_plainly(node: Node) -> None:
    await add_case(node)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_text(pilot, "还没有设置", "从未同步", "还没有同步过", "待上传 2")
        await pilot.press("s")
        text = await wait_text(pilot, "同步服务没有运行", "请联系技术员开启同步")
        assert "no_sync" not in text and "ConfigError" not in text


class FakeSyncer:
    """Stands in for the daemon: reports progress as events and logs the session."""

    online = True

    def __init__(self, node: Node) -> None:
        self.node = node
        self.release = asyncio.Event()

    async def sync_now(self) -> None:
        events = self.node.events
        events.emit(SyncStarted("relay"))
        events.emit(SyncProgress("relay", 3, 1))
        await self.release.wait()
        await self.node.store.record_peer("relay-1", label="relay", sent_seq=10**6)
        await self.node.store.log_sync({
            "started_at": "2026-05-20T08:00:00+00:00", "finished_at": "2026-05-20T08:00:05+00:00",
            "peer_id": "relay-1", "peer_label": "relay", "ok": 1, "docs_sent": 3,
            "docs_received": 1, "bytes_sent": 900, "bytes_received": 300})
        events.emit(SyncFinished("relay", True, 3, 1))


async def test_sync_now_shows_progress_then_history(node: Node) -> None:
    await add_case(node)
    await node.store.log_sync({
        "started_at": "2026-05-19T08:00:00+00:00", "finished_at": "2026-05-19T08:00:30+00:00",
        "peer_id": "relay-1", "peer_label": "relay", "ok": 0, "docs_sent": 0,
        "docs_received": 0, "bytes_sent": 0, "bytes_received": 0,
        "error_code": "transport_closed", "error": "reset by peer"})
    syncer = FakeSyncer(node)
    node.syncer = syncer
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_text(pilot, "● 在线", "连接断了（网络不稳定）")
        node.events.emit(PeerSeen("peer-xyz", "白云村二号机", "192.168.1.20:7457"))
        await wait_text(pilot, "白云村二号机", "192.168.1.20:7457", "局域网 1 台")
        await pilot.press("s")
        await wait_text(pilot, "正在与 县服务器 同步：已发出 3 条，已收到 1 条")
        syncer.release.set()
        text = await wait_text(pilot, "同步完成：发出 3 条，收到 1 条", "成功", "待上传 0")
        assert "reset by peer" not in text  # the technical message stays in the log


async def test_statistics_page(node: Node) -> None:
    a = await add_case(node, "甲")
    b = await add_case(node, "乙", category="loan")
    await node.cases.log_session(a.doc_id, date="2026-05-01", participants="", summary="谈")
    await node.cases.close(a.doc_id, agreement="赔偿", on=TODAY)
    await node.cases.change_status(b.doc_id, "escalated")
    await node.cases.close(b.doc_id, on=TODAY)
    app = make_app(node, "zh", clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        text = await wait_text(pilot, "案件总数", "调解成功率", "50%",
                               "结案 2 件，其中调解成功 1 件", "按类型", "按状态", "邻里纠纷",
                               "民间借贷", "已结案")
        assert "█" in text
        await pilot.press("f8")
        await wait_text(pilot, "Mediation success", "1 of 2 closed cases agreed", "By category",
                        "Debt")
