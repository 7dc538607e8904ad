"""One contract suite on every transport: what the driver may rely on, whichever link it has.

Each fixture parameter builds a connected pair (a, b). Add a transport here when it exists.

What the contract allows to differ: ``close()`` may wait, within a bound, for the peer to
read the close (a WebSocket close is a handshake), so these tests close while the peer's
reader runs, as the driver's reader task always does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sync.errors import TransportClosed
from sync.transport import Transport, memory_pair
from sync.transport_ws import WsTransport, accept_ws, connect_ws

STEP_TIMEOUT = 5.0  # seconds any single await may take


async def _ws_pair() -> AsyncIterator[tuple[Transport, Transport]]:
    accepted: asyncio.Queue[WsTransport] = asyncio.Queue()
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        t = await accept_ws(request)
        await accepted.put(t)
        # The handler must outlive the test's use of the transport.
        await done.wait()
        await t.close()
        return t.websocket  # type: ignore[return-value]

    app = web.Application()
    app.router.add_get("/sync", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = await connect_ws(f"ws://127.0.0.1:{port}/sync")
    server = await asyncio.wait_for(accepted.get(), STEP_TIMEOUT)
    try:
        yield client, server
    finally:
        # Both ends close at once, so each reads the other's close frame without waiting.
        await asyncio.wait_for(asyncio.gather(client.close(), server.close()), STEP_TIMEOUT)
        done.set()
        await runner.cleanup()


@pytest.fixture(params=["memory", "websocket"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Transport, Transport]]:
    if request.param == "memory":
        a, b = memory_pair("a", "b")
        yield a, b
        await asyncio.gather(a.close(), b.close())
    else:
        async for ws_pair in _ws_pair():
            yield ws_pair


async def recv(t: Transport) -> bytes:
    return await asyncio.wait_for(t.recv(), STEP_TIMEOUT)


async def test_is_a_transport(pair: tuple[Transport, Transport]) -> None:
    for t in pair:
        assert isinstance(t, Transport)
        assert isinstance(t.peer_label, str) and t.peer_label
        assert (t.bytes_sent, t.bytes_received) == (0, 0)


async def test_frames_keep_order_and_boundaries(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    frames = [b"", b"\x00", b"hello", bytes(range(256)) * 100, b"\xff" * 65_537]
    for frame in frames:
        await a.send(frame)
    assert [await recv(b) for _ in frames] == frames


async def test_both_directions_at_once(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    n = 200

    async def talk(me: Transport, tag: bytes) -> list[bytes]:
        async def send_all() -> None:
            for i in range(n):
                await me.send(tag + i.to_bytes(2, "big"))

        sending = asyncio.create_task(send_all())
        got = [await recv(me) for _ in range(n)]
        await sending
        return got

    got_a, got_b = await asyncio.gather(talk(a, b"A"), talk(b, b"B"))
    assert got_a == [b"B" + i.to_bytes(2, "big") for i in range(n)]
    assert got_b == [b"A" + i.to_bytes(2, "big") for i in range(n)]


async def test_counters_count_payload_bytes(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    await a.send(b"12345")
    await a.send(b"")
    await b.send(b"xy")
    await recv(b)
    await recv(b)
    await recv(a)
    assert (a.bytes_sent, a.bytes_received) == (5, 2)
    assert (b.bytes_sent, b.bytes_received) == (2, 5)


async def test_sent_frame_is_a_copy(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    buffer = bytearray(b"before")
    await a.send(buffer)  # a bytes-like frame is copied at send
    buffer[:] = b"after!"
    assert await recv(b) == b"before"


async def expect_closed(t: Transport) -> TransportClosed:
    with pytest.raises(TransportClosed) as closed:
        await recv(t)
    return closed.value


async def test_close_delivers_pending_frames_then_ends(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    await a.send(b"one")
    await a.send(b"two")
    closing = asyncio.create_task(a.close())
    assert await recv(b) == b"one"
    assert await recv(b) == b"two"
    await expect_closed(b)
    await asyncio.wait_for(closing, STEP_TIMEOUT)
    # Once recv has said the link is gone, the link stays gone for both calls.
    await expect_closed(b)
    with pytest.raises(TransportClosed):
        await b.send(b"late")


async def test_own_close_ends_both_calls(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    await asyncio.wait_for(asyncio.gather(a.close(), expect_closed(b)), STEP_TIMEOUT)
    await a.close()  # idempotent
    with pytest.raises(TransportClosed):
        await a.send(b"x")
    await expect_closed(a)


async def test_close_from_the_receiving_side(pair: tuple[Transport, Transport]) -> None:
    a, b = pair
    await asyncio.wait_for(asyncio.gather(b.close(), expect_closed(a)), STEP_TIMEOUT)


@pytest.mark.parametrize("side", [0, 1], ids=["first", "second"])
async def test_close_wakes_a_pending_recv(pair: tuple[Transport, Transport],
                                          side: int) -> None:
    me, peer = pair[side], pair[1 - side]
    reading = asyncio.create_task(me.recv())
    await asyncio.sleep(0.05)  # let recv start waiting
    await asyncio.wait_for(asyncio.gather(me.close(), expect_closed(peer)), STEP_TIMEOUT)
    try:
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(reading, 0.5)
    finally:
        reading.cancel()
