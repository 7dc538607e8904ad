"""The bridge: node events become few Textual messages, whichever thread emits them."""

from __future__ import annotations

import contextvars
import threading
from types import SimpleNamespace
from typing import Any

from textual.app import App

from node.events import EventBus, Saved, SyncFinished, SyncProgress, SyncStarted
from tui.bridge import NodeBridge

from .conftest import wait_for


class BridgeApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.node = SimpleNamespace(events=EventBus())
        self.bridge = NodeBridge(self, self.node, delay=0.05)  # type: ignore[arg-type]
        self.changed: list[NodeBridge.DataChanged] = []
        self.activity: list[Any] = []

    def on_mount(self) -> None:
        self.bridge.start()

    def on_node_bridge_data_changed(self, message: NodeBridge.DataChanged) -> None:
        self.changed.append(message)

    def on_node_bridge_sync_activity(self, message: NodeBridge.SyncActivity) -> None:
        self.activity.append(message.event)


async def test_a_burst_of_saves_is_one_refresh() -> None:
    app = BridgeApp()
    async with app.run_test() as pilot:
        for i in range(300):  # a sync merging 300 documents
            app.node.events.emit(Saved((f"d{i}",), ("case",), "peer-1"))
        app.node.events.emit(Saved(("c1",), ("consultation",), "local"))
        await wait_for(pilot, lambda: bool(app.changed))
        await pilot.pause(0.1)
        assert len(app.changed) == 1
        (msg,) = app.changed
        assert msg.kinds == {"case", "consultation"} and len(msg.doc_ids) == 301
        assert msg.remote


async def test_events_from_another_thread_reach_the_app_thread() -> None:
    app = BridgeApp()
    async with app.run_test() as pilot:
        threads: list[int] = []
        original = app.bridge._handle

        def spy(event: Any) -> None:
            threads.append(threading.get_ident())
            original(event)

        app.bridge._handle = spy  # type: ignore[method-assign]
        worker = threading.Thread(
            target=lambda: app.node.events.emit(Saved(("x",), ("case",), "peer")))
        worker.start()
        worker.join()
        await wait_for(pilot, lambda: bool(app.changed))
        assert threads == [threading.get_ident()]


async def test_sync_progress_is_replaceable_but_start_and_finish_are_not() -> None:
    older = NodeBridge.SyncActivity(SyncProgress("relay", 1, 0))
    newer = NodeBridge.SyncActivity(SyncProgress("relay", 5, 2))
    assert older.can_replace(newer)
    assert not NodeBridge.SyncActivity(SyncStarted("relay")).can_replace(newer)
    assert not older.can_replace(NodeBridge.SyncActivity(SyncFinished("relay", True)))
    app = BridgeApp()
    async with app.run_test() as pilot:
        app.node.events.emit(SyncStarted("relay"))
        for n in range(50):
            app.node.events.emit(SyncProgress("relay", n, n))
        app.node.events.emit(SyncFinished("relay", True, 49, 49))
        await wait_for(pilot, lambda: any(isinstance(e, SyncFinished) for e in app.activity))
        assert isinstance(app.activity[0], SyncStarted)
        assert isinstance(app.activity[-1], SyncFinished)


async def test_stop_unsubscribes() -> None:
    app = BridgeApp()
    async with app.run_test() as pilot:
        app.bridge.stop()
        app.node.events.emit(Saved(("x",), ("case",), "local"))
        await pilot.pause(0.1)
        assert app.changed == []


async def test_events_from_a_task_outside_textual_context() -> None:
    """A sync session's task has none of Textual's context variables set."""
    app = BridgeApp()
    async with app.run_test() as pilot:
        contextvars.Context().run(
            app.node.events.emit, Saved(("x",), ("case",), "peer"))
        await wait_for(pilot, lambda: bool(app.changed))
