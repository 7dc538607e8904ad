"""Regression tests for what the chaos soak found at the edges of links: the link
simulator's cut budget spent by one direction while the other reads, and a peer that
hangs up the moment its TLS handshake is done."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import pytest

from bench.harsh_procs import make_client_cert
from relay.app import start
from relay.config import RelayHome
from sync.linksim import LinkSim
from sync.scopes import Identity


async def test_a_cut_budget_spent_by_one_direction_cuts_cleanly() -> None:
    # Found by the chaos soak: with cut_after_bytes counting both directions and no
    # bandwidth cap, a read in one direction after the other had reserved the whole budget
    # left zero bytes to pass; range(0, 0, 0) raised ValueError and the link failed with a
    # traceback instead of being cut.
    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"s" * 4000)  # the server speaks first, at once
        await writer.drain()
        await reader.read(100_000)
        writer.close()

    server = await asyncio.start_server(chatty, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Latency keeps the first bytes in flight while the other direction reads.
    sim = LinkSim("127.0.0.1", port, cut_after_bytes=2000, cut_counting="both", latency_s=0.1)
    host, sim_port = await sim.start()
    try:
        for _ in range(5):
            reader, writer = await asyncio.open_connection(host, sim_port)
            writer.write(b"c" * 4000)  # and so does the client
            await writer.drain()
            async with asyncio.timeout(5):
                while await reader.read(65536):
                    pass
            writer.close()
        async with asyncio.timeout(5):
            while not all(c.closed for c in sim.connections):
                await asyncio.sleep(0.01)
        reasons = {c.cut_reason for c in sim.connections}
        assert reasons == {"cut_after_bytes"}, reasons
        assert all(c.bytes_up + c.bytes_down <= 2000 for c in sim.connections)
    finally:
        await sim.stop()
        server.close()
        await server.wait_closed()


async def test_a_peer_that_hangs_up_right_after_the_handshake_is_not_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Found by the chaos soak: a node whose link dropped just after its TLS handshake (or
    # any client closing at once) made aiohttp's request handler fail `assert manager is
    # not None`, logged at ERROR as "Task exception was never retrieved", because the
    # relay handed it a transport that was already gone.
    caplog.set_level(logging.INFO)
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=0)
    relay = await start(home, "127.0.0.1", 0, tls=True)
    ctx = make_client_cert(home, tmp_path / "c", Identity(secrets.token_hex(8), "director",
                                                          "KC", "A")).context()
    try:
        for _ in range(40):
            _, writer = await asyncio.open_connection("127.0.0.1", relay.port, ssl=ctx,
                                                      server_hostname="relay")
            writer.close()  # close_notify right after the handshake
        await asyncio.sleep(0.5)
        import gc

        gc.collect()  # "never retrieved" is reported when the failed task is collected
        await asyncio.sleep(0.1)
    finally:
        await relay.stop()
    errors = [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
