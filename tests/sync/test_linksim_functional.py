"""The link simulator with real sockets on 127.0.0.1: accuracy, shaping, cuts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from sync.linksim import LinkSim

STEP_TIMEOUT = 10.0  # seconds any single await may take

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Target:
    port: int
    received: list[bytes] = field(default_factory=list)  # one entry per finished connection
    finished_at: list[float] = field(default_factory=list)  # loop time of each finish


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
    except OSError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Target]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler | None = None, *, send: bytes = b"") -> Target:
        """A target server: ``handler``, or one that sends ``send`` then reads to EOF
        and records what it received."""
        target = Target(port=0)

        async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got = bytearray()
            try:
                if send:
                    writer.write(send)
                    await writer.drain()
                    writer.write_eof()
                while data := await reader.read(65536):
                    got += data
            except OSError:
                pass
            finally:
                target.received.append(bytes(got))
                target.finished_at.append(asyncio.get_running_loop().time())
                writer.close()

        server = await asyncio.start_server(handler or sink, "127.0.0.1", 0)
        servers.append(server)
        target.port = server.sockets[0].getsockname()[1]
        return target

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def sims() -> AsyncIterator[list[LinkSim]]:
    made: list[LinkSim] = []
    yield made
    for sim in made:
        await sim.stop()


async def open_through(sim: LinkSim) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = await sim.start()
    return await asyncio.open_connection(host, port)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything until EOF or a reset."""
    got = bytearray()
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while data := await reader.read(65536):
                got += data
    except ConnectionError:
        pass
    return bytes(got)


async def test_bytes_arrive_intact_and_in_order(serve: Callable[..., Awaitable[Target]],
                                                sims: list[LinkSim]) -> None:
    target = await serve(echo)
    # Latency with jitter wider than the latency itself: chunks must still not overtake.
    sim = LinkSim("127.0.0.1", target.port, latency_s=0.005, jitter_s=0.010, seed=1)
    sims.append(sim)
    reader, writer = await open_through(sim)
    payload = os.urandom(600_000)

    async def send() -> None:
        for start in range(0, len(payload), 7_919):  # odd sizes, many chunks
            writer.write(payload[start:start + 7_919])
            await writer.drain()
        writer.write_eof()

    _, echoed = await asyncio.gather(send(), read_all(reader))
    writer.close()
    assert echoed == payload
    await asyncio.wait_for(_until(lambda: sim.connections[0].closed), STEP_TIMEOUT)
    assert (sim.bytes_up, sim.bytes_down) == (len(payload), len(payload))
    assert sim.connections[0].cut_reason is None


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_bandwidth_cap_each_direction(serve: Callable[..., Awaitable[Target]],
                                            sims: list[LinkSim]) -> None:
    size, cap = 200_000, 1_000_000  # 200 kB at 1 Mbit/s: 1.6 s each way, both at once
    down_payload = os.urandom(size)
    target = await serve(send=down_payload)
    sim = LinkSim("127.0.0.1", target.port, bandwidth_bps=cap)
    sims.append(sim)
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await open_through(sim)

    async def upload() -> float:
        writer.write(os.urandom(size))
        await writer.drain()
        writer.write_eof()
        await asyncio.wait_for(_until(lambda: bool(target.finished_at)), STEP_TIMEOUT)
        return target.finished_at[0] - started

    async def download() -> float:
        got = await read_all(reader)
        assert got == down_payload
        return loop.time() - started

    up_s, down_s = await asyncio.gather(upload(), download())
    writer.close()
    expected = size * 8 / cap
    assert len(target.received[0]) == size
    for measured in (up_s, down_s):
        assert abs(measured - expected) <= 0.15 * expected, (up_s, down_s, expected)


async def test_latency_adds_round_trip(serve: Callable[..., Awaitable[Target]],
                                       sims: list[LinkSim]) -> None:
    target = await serve(echo)
    sim = LinkSim("127.0.0.1", target.port, latency_s=0.100)
    sims.append(sim)
    reader, writer = await open_through(sim)
    loop = asyncio.get_running_loop()
    rtts = []
    for _ in range(3):
        started = loop.time()
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), STEP_TIMEOUT) == b"ping"
        rtts.append(loop.time() - started)
    writer.close()
    assert all(0.195 <= rtt < 0.30 for rtt in rtts), rtts


async def test_cut_after_bytes_up(serve: Callable[..., Awaitable[Target]],
                                  sims: list[LinkSim]) -> None:
    target = await serve()
    sim = LinkSim("127.0.0.1", target.port, cut_after_bytes=12_345, cut_counting="up")
    sims.append(sim)
    reader, writer = await open_through(sim)
    payload = os.urandom(100_000)
    writer.write(payload)
    assert await read_all(reader) == b""  # the link closes under the client
    writer.close()
    await asyncio.wait_for(_until(lambda: bool(target.received)), STEP_TIMEOUT)
    assert target.received == [payload[:12_345]]
    assert sim.connections[0].cut_reason == "cut_after_bytes"
    assert sim.bytes_up == 12_345


async def test_cut_after_bytes_down(serve: Callable[..., Awaitable[Target]],
                                    sims: list[LinkSim]) -> None:
    payload = os.urandom(100_000)
    target = await serve(send=payload)
    sim = LinkSim("127.0.0.1", target.port, cut_after_bytes=54_321, cut_counting="down")
    sims.append(sim)
    reader, writer = await open_through(sim)
    assert await read_all(reader) == payload[:54_321]
    writer.close()
    assert sim.bytes_down == 54_321


async def test_cut_after_bytes_counts_both_directions(
        serve: Callable[..., Awaitable[Target]], sims: list[LinkSim]) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readexactly(1000)
        writer.write(request[::-1])
        await writer.drain()
        await reader.read()  # until the cut
        writer.close()

    target = await serve(reply)
    sim = LinkSim("127.0.0.1", target.port, cut_after_bytes=1500)  # counting "both"
    sims.append(sim)
    reader, writer = await open_through(sim)
    request = os.urandom(1000)
    writer.write(request)
    # 1000 bytes up + the first 500 of the 1000-byte answer = 1500, then the cut.
    assert await read_all(reader) == request[::-1][:500]
    writer.close()
    assert (sim.bytes_up, sim.bytes_down) == (1000, 500)


async def test_settings_change_for_the_next_connection(
        serve: Callable[..., Awaitable[Target]], sims: list[LinkSim]) -> None:
    payload = os.urandom(50_000)
    target = await serve(send=payload)
    sim = LinkSim("127.0.0.1", target.port, cut_after_bytes=1000, cut_counting="down")
    sims.append(sim)
    reader, writer = await open_through(sim)
    assert await read_all(reader) == payload[:1000]
    writer.close()

    sim.configure(cut_after_bytes=20_000)
    reader, writer = await open_through(sim)
    assert await read_all(reader) == payload[:20_000]
    writer.close()

    sim.configure(cut_after_bytes=None)
    reader, writer = await open_through(sim)
    writer.write_eof()
    assert await read_all(reader) == payload
    writer.close()
    assert [c.settings.cut_after_bytes for c in sim.connections] == [1000, 20_000, None]
    assert [c.bytes_down for c in sim.connections] == [1000, 20_000, 50_000]


async def test_random_disconnects_are_reproducible(
        serve: Callable[..., Awaitable[Target]], sims: list[LinkSim]) -> None:
    target = await serve()

    async def run_once() -> tuple[list[float], list[float]]:
        sim = LinkSim("127.0.0.1", target.port, disconnect_per_s=0.9, seed=5)
        sims.append(sim)
        loop = asyncio.get_running_loop()
        opened: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
        for i in range(3):
            reader, writer = await open_through(sim)
            opened.append((loop.time(), reader, writer))
            # Accepted in this order, so connection i gets the i-th draw.
            await asyncio.wait_for(_until(lambda: len(sim.connections) > i), STEP_TIMEOUT)

        async def lifetime(at: float, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> float:
            await read_all(reader)
            writer.close()
            return loop.time() - at

        lived = await asyncio.gather(*(lifetime(*o) for o in opened))
        drawn = [c.disconnect_after_s for c in sim.connections]
        assert all(c.cut_reason == "random_disconnect" for c in sim.connections)
        return [d for d in drawn if d is not None], lived

    (drawn_a, lived_a), (drawn_b, lived_b) = await asyncio.gather(run_once(), run_once())
    assert drawn_a == drawn_b and len(drawn_a) == 3
    for drawn, lived in ((drawn_a, lived_a), (drawn_b, lived_b)):
        for d, t in zip(drawn, lived):
            assert d - 0.01 <= t <= d + 0.2, (drawn, lived)


async def test_stop_cuts_open_connections(serve: Callable[..., Awaitable[Target]]) -> None:
    target = await serve()
    sim = LinkSim("127.0.0.1", target.port)
    host, port = await sim.start()
    reader, writer = await open_through(sim)
    writer.write(b"hello")
    await writer.drain()
    await asyncio.wait_for(_until(lambda: sim.bytes_up == 5), STEP_TIMEOUT)
    await asyncio.wait_for(sim.stop(), STEP_TIMEOUT)
    assert await read_all(reader) == b""
    writer.close()
    assert sim.connections[0].cut_reason == "stopped"
    assert sim.connections[0].closed
    with pytest.raises(OSError):  # no longer listening
        await asyncio.open_connection(host, port)
