"""Typed node events, for screens that update live (the TUI's bridge subscribes).

    Saved         records committed (locally or merged from a peer)
    SyncStarted   a session with a peer or the relay began
    SyncProgress  documents sent/received so far in a session
    SyncFinished  a session ended (ok, or an error code and plain message)
    PeerSeen      a LAN peer was found or lost
    MediaProgress blocks of a media file verified so far; done=True when a pass ends
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Union

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Saved:
    """Records committed, locally or merged from a peer."""
    doc_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    origin: str  # "local" or a peer id


@dataclass(frozen=True)
class SyncStarted:
    """A session with a peer or the relay began."""
    peer: str


@dataclass(frozen=True)
class SyncProgress:
    """Documents sent and received so far in a session."""
    peer: str
    sent: int
    received: int
    phase: str = ""


@dataclass(frozen=True)
class SyncFinished:
    """A session ended: ok, or an error code and a plain message."""
    peer: str
    ok: bool
    sent: int = 0
    received: int = 0
    error_code: str = ""
    error: str = ""
    retry_after: int = 0  # error_code "busy": seconds until the next attempt (node.i18n)


@dataclass(frozen=True)
class PeerSeen:
    """A LAN peer was found or lost."""
    peer_id: str
    label: str
    address: str
    present: bool = True


@dataclass(frozen=True)
class MediaProgress:
    """Blocks of a media file verified so far; done when a pass ends."""
    sha256: str
    have: int
    total: int
    done: bool = False  # a background pass ended (sha256 empty)
    paused: str = ""  # "no_space" when the free-space floor stopped downloads
    name: str = ""  # the file's name, as the county published it


Event = Union[Saved, SyncStarted, SyncProgress, SyncFinished, PeerSeen, MediaProgress]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the others (logged)
                log.exception("event listener failed")
