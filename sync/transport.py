"""The Transport protocol: an ordered, reliable channel of binary frames between two peers,
and an in-memory pair for tests (delivery without timers or sockets).

A frame is one ``bytes`` object; the transport keeps frame boundaries (a WebSocket binary
message, or a length prefix on a byte stream). ``recv`` raises TransportClosed when the
link ends, whether cleanly or not; ``send`` on a closed transport raises it too.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from .errors import TransportClosed


@runtime_checkable
class Transport(Protocol):
    bytes_sent: int
    bytes_received: int

    async def send(self, frame: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def close(self) -> None: ...

    @property
    def peer_label(self) -> str: ...


class MemoryTransport:
    """One end of an in-memory pair (see memory_pair)."""

    def __init__(self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None],
                 label: str) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False
        self._label = label
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def peer_label(self) -> str:
        return self._label

    async def send(self, frame: bytes) -> None:
        if self._closed:
            raise TransportClosed("transport is closed")
        self.bytes_sent += len(frame)
        await self._outbox.put(bytes(frame))

    async def recv(self) -> bytes:
        if self._closed:
            raise TransportClosed("transport is closed", reason="closed")
        frame = await self._inbox.get()
        if frame is None or self._closed:
            self._closed = True
            raise TransportClosed("the link was closed", reason="peer_closed")
        self.bytes_received += len(frame)
        return frame

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._outbox.put(None)
            self._inbox.put_nowait(None)  # wakes a recv of ours that is waiting


def memory_pair(a_label: str = "a", b_label: str = "b") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory transports."""
    ab: asyncio.Queue[bytes | None] = asyncio.Queue()
    ba: asyncio.Queue[bytes | None] = asyncio.Queue()
    return MemoryTransport(ba, ab, b_label), MemoryTransport(ab, ba, a_label)
