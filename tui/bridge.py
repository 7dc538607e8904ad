"""The bridge: node events in, Textual messages out.

The node emits typed events (``node.events``) from the asyncio loop it runs on — the
same loop as the app when the TUI opened the node, but from any task (a sync session's
task knows nothing of Textual), and a daemon may even run the node on another thread.
So every event is handed to the app's loop (``call_soon``, or ``call_soon_threadsafe``
from another thread) to run in the app's context (Textual's timers and messages need
it), and never touches widgets from elsewhere.

Records saved in bursts (a sync merges hundreds of documents) must not redraw the screen
hundreds of times: ``Saved`` events are gathered for ``COALESCE_S`` and posted as one
``DataChanged``. Sync progress is posted as ``SyncActivity`` with ``can_replace``, so a
queued progress message is replaced by a newer one instead of piling up; media progress
(one event per verified block) likewise as ``MediaActivity``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual.message import Message
from textual.timer import Timer

from node.events import (
    Event,
    MediaProgress,
    PeerSeen,
    Saved,
    SyncFinished,
    SyncProgress,
    SyncStarted,
)

if TYPE_CHECKING:
    from textual.app import App

    from node import Node

COALESCE_S = 0.1  # saves within 100 ms redraw once; a person does not see the difference


class NodeBridge:
    """Subscribes to ``node.events`` and posts ``DataChanged``/``SyncActivity``/
    ``MediaActivity`` to the app."""

    @dataclass
    class DataChanged(Message):
        """Records were saved (locally or by sync) since the last message."""

        kinds: frozenset[str]
        doc_ids: frozenset[str]
        remote: bool  # at least one came from a peer

    @dataclass
    class SyncActivity(Message):
        """A sync session started, progressed, finished, or a LAN peer came or went."""

        event: Event

        def can_replace(self, message: Message) -> bool:
            # Only progress is replaceable: start, finish and peers must all be seen.
            return (isinstance(message, NodeBridge.SyncActivity)
                    and isinstance(message.event, SyncProgress)
                    and isinstance(self.event, SyncProgress))

    @dataclass
    class MediaActivity(Message):
        """A background media pass verified blocks of a file, or ended (``done``)."""

        event: MediaProgress

        def can_replace(self, message: Message) -> bool:
            # Screens re-read the availability of every item, so a newer message stands
            # for a queued progress one; the end of a pass is always seen.
            return isinstance(message, NodeBridge.MediaActivity) and not message.event.done

    def __init__(self, app: "App[object]", node: "Node", *, delay: float = COALESCE_S) -> None:
        self._app = app
        self._node = node
        self._delay = delay
        self._kinds: set[str] = set()
        self._doc_ids: set[str] = set()
        self._remote = False
        self._timer: Timer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._context: contextvars.Context | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Subscribe; call from the app's loop (``on_mount``)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._context = contextvars.copy_context()
        self._unsubscribe = self._node.events.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _on_event(self, event: Event) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._thread:
            loop.call_soon(self._handle, event, context=self._context)
        else:
            loop.call_soon_threadsafe(self._handle, event, context=self._context)

    def _handle(self, event: Event) -> None:
        if self._unsubscribe is None:
            return
        if isinstance(event, Saved):
            self._kinds.update(event.kinds)
            self._doc_ids.update(event.doc_ids)
            self._remote = self._remote or event.origin != "local"
            if self._timer is None:
                self._timer = self._app.set_timer(self._delay, self._flush)
        elif isinstance(event, (SyncStarted, SyncProgress, SyncFinished, PeerSeen)):
            self._app.post_message(self.SyncActivity(event))
        elif isinstance(event, MediaProgress):
            self._app.post_message(self.MediaActivity(event))

    def _flush(self) -> None:
        self._timer = None
        if not self._kinds and not self._doc_ids:
            return
        message = self.DataChanged(frozenset(self._kinds), frozenset(self._doc_ids),
                                   self._remote)
        self._kinds, self._doc_ids, self._remote = set(), set(), False
        self._app.post_message(message)

    def flush_now(self) -> None:
        """Post what is pending at once (tests, and before the app exits)."""
        if self._timer is not None:
            self._timer.stop()
        self._flush()
