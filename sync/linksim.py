"""A link simulator: a TCP proxy that makes 127.0.0.1 behave like a village uplink.

This module owns the imitation of bad networks for tests and benchmarks. It forwards
every connection it accepts to one target (host, port) and shapes the bytes on the way:
a bandwidth cap, latency with jitter, a cut after N bytes, and random disconnects. It is
test tooling: nothing in the node or the relay imports it.

Rules
1. Bytes are never reordered, duplicated or altered. Latency is applied per chunk as a
   delivery time that never runs earlier than the previous chunk's (jitter can only
   delay, never overtake).
2. Each connection takes a snapshot of the settings when it opens; ``configure()``
   changes the settings of connections opened afterwards (a new cut point for the next
   connection, say). Each connection is its own link: its own token buckets, its own cut
   budget, its own disconnect time.
3. The bandwidth cap is per direction, in bits per second of payload (TCP/IP headers are
   not counted): a token bucket with a burst of BURST_S of traffic (at least one MTU), so
   a transfer of B bytes takes B * 8 / cap seconds after the first burst. Shaping slows
   our reads, so the sender feels TCP back-pressure as on a slow link.
4. ``cut_after_bytes=N`` lets exactly the first N bytes through and then cuts the
   connection, both directions. Which bytes count is ``cut_counting``:
   "both" (default) counts client->server plus server->client in the order the proxy read
   them; "up" counts client->server only; "down" server->client only. The cut comes once
   the N-th counted byte has been delivered; bytes of the other direction still on their
   way at that moment are lost with the link, as on a real cut.
5. ``disconnect_per_s=p`` cuts each connection at a random time: the probability that a
   connection survives one more second is 1 - p. Times are drawn from ``random.Random(seed)``
   once per connection, in order of opening, so a seed gives the same schedule every run
   (``LinkStats.disconnect_after_s``).
6. A cut closes both sockets with FIN after the delivered bytes (``reset=False``), so the
   peers read every delivered byte and then EOF; ``reset=True`` aborts with RST instead,
   which can also discard bytes still in kernel buffers.

Latency is one-way: a request/response round trip gains 2 x ``latency_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

# Bytes read from a socket at once. Large enough for LAN speeds, small enough that
# latency and jitter apply to pieces of a transfer rather than to all of it.
READ_CHUNK_BYTES = 16 * 1024

# Seconds of traffic a token bucket may send at once; with a 1500-byte floor (one
# Ethernet MTU) so that slow links still move whole packets. 10 ms keeps measured
# throughput within a few percent of the cap for transfers of a second or more.
BURST_S = 0.010
MIN_BURST_BYTES = 1500

# Chunks in flight per direction (read, not yet delivered): bounds memory when latency
# is high and the cap is off; 256 x 16 KiB = 4 MiB, more than any LAN needs for 1 s RTT.
MAX_IN_FLIGHT_CHUNKS = 256

CutCounting = Literal["both", "up", "down"]


@dataclass(frozen=True)
class LinkSettings:
    bandwidth_bps: float | None = None  # bits per second, each direction; None = no cap
    latency_s: float = 0.0  # one-way delay, seconds
    jitter_s: float = 0.0  # each chunk's delay varies by up to +/- this, seconds
    cut_after_bytes: int | None = None  # see rule 4
    cut_counting: CutCounting = "both"
    disconnect_per_s: float = 0.0  # probability in [0, 1] of a cut within any second
    reset: bool = False  # cut with RST instead of FIN
    seed: int | None = None  # for jitter and disconnects; None = not reproducible

    def __post_init__(self) -> None:
        if self.bandwidth_bps is not None and self.bandwidth_bps <= 0:
            raise ValueError("bandwidth_bps must be positive (or None for no cap)")
        if self.latency_s < 0 or self.jitter_s < 0:
            raise ValueError("latency_s and jitter_s must not be negative")
        if self.cut_after_bytes is not None and self.cut_after_bytes < 0:
            raise ValueError("cut_after_bytes must not be negative")
        if self.cut_counting not in ("both", "up", "down"):
            raise ValueError("cut_counting must be 'both', 'up' or 'down'")
        if not 0.0 <= self.disconnect_per_s <= 1.0:
            raise ValueError("disconnect_per_s is a probability, from 0 to 1")


@dataclass
class LinkStats:
    """What happened on one connection through the simulator."""

    index: int  # 0 for the first connection accepted, then 1, 2...
    settings: LinkSettings
    bytes_up: int = 0  # client -> target, delivered
    bytes_down: int = 0  # target -> client, delivered
    disconnect_after_s: float | None = None  # the random disconnect drawn for it
    cut_reason: str | None = None  # cut_after_bytes, random_disconnect, stopped, error...
    closed: bool = False


class LinkSim:
    """A shaping TCP proxy to ``target_host:target_port``. Settings as in LinkSettings."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0, settings: LinkSettings | None = None,
                 **setting_values: Any) -> None:
        self.target = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._settings = dataclasses.replace(settings or LinkSettings(), **setting_values)
        self._seed_rngs(self._settings.seed)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.connections: list[LinkStats] = []

    @property
    def settings(self) -> LinkSettings:
        return self._settings

    def configure(self, **changes: Any) -> LinkSettings:
        """Change settings for connections opened from now on (rule 2). A new ``seed``
        restarts both random sequences."""
        self._settings = dataclasses.replace(self._settings, **changes)
        if "seed" in changes:
            self._seed_rngs(self._settings.seed)
        return self._settings

    @property
    def bytes_up(self) -> int:
        """Bytes delivered client -> target, all connections."""
        return sum(c.bytes_up for c in self.connections)

    @property
    def bytes_down(self) -> int:
        """Bytes delivered target -> client, all connections."""
        return sum(c.bytes_down for c in self.connections)

    async def start(self) -> tuple[str, int]:
        """Listen; returns the (host, port) that clients should dial."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, *self._listen)
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def stop(self) -> None:
        """Stop listening and cut every open connection. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.cut("stopped")
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> LinkSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _seed_rngs(self, seed: int | None) -> None:
        # Two sequences, so that the number of chunks (which depends on timing) never
        # shifts the disconnect schedule.
        self._disconnect_rng = random.Random(seed)
        self._jitter_rng = random.Random(None if seed is None else f"jitter:{seed}")

    def _draw_disconnect(self, settings: LinkSettings) -> float | None:
        p = settings.disconnect_per_s
        if p <= 0.0:
            return None
        if p >= 1.0:
            return 0.0
        # Survival (1 - p) per second is an exponential law with rate -ln(1 - p).
        return self._disconnect_rng.expovariate(-math.log1p(-p))

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        settings = self._settings
        stats = LinkStats(index=len(self.connections), settings=settings,
                          disconnect_after_s=self._draw_disconnect(settings))
        self.connections.append(stats)
        try:
            try:
                target_reader, target_writer = await asyncio.open_connection(*self.target)
            except OSError as exc:
                log.info("link %d: target %s:%d unreachable: %s", stats.index, *self.target,
                         exc)
                stats.cut_reason, stats.closed = "target_unreachable", True
                client_writer.transport.abort()
                return
            link = _Link(stats, self._jitter_rng, client_reader, client_writer,
                         target_reader, target_writer)
            self._links.add(link)
            try:
                await link.run()
            finally:
                self._links.discard(link)
        finally:
            self._handlers.discard(task)


class _TokenBucket:
    """Debt-style token bucket: taking more than is there sleeps until it is repaid."""

    def __init__(self, bits_per_s: float) -> None:
        self.rate = bits_per_s / 8.0  # bytes per second
        self.burst = max(float(MIN_BURST_BYTES), self.rate * BURST_S)
        self._tokens = self.burst
        self._stamp = asyncio.get_running_loop().time()

    async def take(self, n: int) -> None:
        now = asyncio.get_running_loop().time()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= n
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


_EOF = object()


class _Link:
    """One proxied connection: two one-way pipes, each a reader task and a writer task."""

    def __init__(self, stats: LinkStats, jitter_rng: random.Random,
                 client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                 target_reader: asyncio.StreamReader,
                 target_writer: asyncio.StreamWriter) -> None:
        self.stats = stats
        self.s = stats.settings
        self._jitter_rng = jitter_rng
        self._client = (client_reader, client_writer)
        self._target = (target_reader, target_writer)
        self._cut = asyncio.Event()
        # Rule 4: bytes reserved so far (at read) and delivered so far, counted directions.
        self._reserved = 0
        self._delivered = 0

    def cut(self, reason: str) -> None:
        if not self._cut.is_set():
            self.stats.cut_reason = reason
            log.info("link %d cut: %s", self.stats.index, reason)
            self._cut.set()

    async def run(self) -> None:
        up = self._pipe("up", self._client[0], self._target[1])
        down = self._pipe("down", self._target[0], self._client[1])
        tasks = [asyncio.create_task(c) for c in (*up, *down)]
        if self.stats.disconnect_after_s is not None:
            tasks.append(asyncio.create_task(self._disconnect_later(
                self.stats.disconnect_after_s)))
        both_done = asyncio.ensure_future(asyncio.gather(*tasks[:4]))
        cut = asyncio.create_task(self._cut.wait())
        try:
            pending: set[asyncio.Future[Any]] = {both_done, cut}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if both_done.done() and both_done.exception() is not None:
                self.cut(f"error: {both_done.exception()!r}")
                log.error("link %d failed", self.stats.index, exc_info=both_done.exception())
        finally:
            for task in (*tasks, cut):
                task.cancel()
            await asyncio.gather(*tasks, cut, return_exceptions=True)
            both_done.cancel()
            with contextlib.suppress(BaseException):
                await both_done
            for _, writer in (self._client, self._target):
                if self.s.reset and self._cut.is_set():
                    writer.transport.abort()
                else:
                    writer.close()
            for _, writer in (self._client, self._target):
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            self.stats.closed = True

    def _counts(self, direction: str) -> bool:
        return self.s.cut_after_bytes is not None and self.s.cut_counting in (direction,
                                                                               "both")

    def _reserve(self, direction: str, n: int) -> int:
        """How many of n bytes just read may pass before the cut (rule 4)."""
        if not self._counts(direction):
            return n
        assert self.s.cut_after_bytes is not None
        allowed = min(n, self.s.cut_after_bytes - self._reserved)
        self._reserved += allowed
        return allowed

    def _on_delivered(self, direction: str, n: int) -> None:
        if direction == "up":
            self.stats.bytes_up += n
        else:
            self.stats.bytes_down += n
        if self._counts(direction):
            self._delivered += n
            if self._delivered >= (self.s.cut_after_bytes or 0):
                self.cut("cut_after_bytes")

    def _pipe(self, direction: str, reader: asyncio.StreamReader,
              writer: asyncio.StreamWriter) -> tuple[Coroutine[Any, Any, None],
                                                     Coroutine[Any, Any, None]]:
        """The reader and writer coroutines of one direction ("up" or "down")."""
        queue: asyncio.Queue[Any] = asyncio.Queue(MAX_IN_FLIGHT_CHUNKS)
        loop = asyncio.get_running_loop()
        bucket = _TokenBucket(self.s.bandwidth_bps) if self.s.bandwidth_bps else None

        async def pump_in() -> None:
            last_at = 0.0
            if self._counts(direction) and self.s.cut_after_bytes == 0:
                self.cut("cut_after_bytes")
                return
            while True:
                try:
                    data = await reader.read(READ_CHUNK_BYTES)
                except OSError as exc:
                    self.cut(f"{direction}_error: {exc!r}")
                    return
                if not data:
                    await queue.put(_EOF)
                    return
                data = data[:self._reserve(direction, len(data))]
                # (max: the other direction may have spent the whole cut budget, leaving
                # nothing of this read to pass; range() refuses a step of zero.)
                step = int(bucket.burst) if bucket else max(1, len(data))
                for start in range(0, len(data), step):
                    piece = data[start:start + step]
                    if bucket:
                        await bucket.take(len(piece))
                    delay = self.s.latency_s
                    if self.s.jitter_s:
                        delay = max(0.0, delay + self._jitter_rng.uniform(-self.s.jitter_s,
                                                                          self.s.jitter_s))
                    last_at = max(loop.time() + delay, last_at)  # rule 1: never overtake
                    await queue.put((last_at, piece))
                if len(data) == 0 or (self._counts(direction) and self._reserved
                                      >= (self.s.cut_after_bytes or 0)):
                    return  # the budget is spent: read no more (the cut follows delivery)

        async def pump_out() -> None:
            while True:
                item = await queue.get()
                if item is _EOF:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()  # pass the half-close on
                    return
                deliver_at, piece = item
                wait = deliver_at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    writer.write(piece)
                    await writer.drain()
                except OSError as exc:
                    self.cut(f"{direction}_error: {exc!r}")
                    return
                self._on_delivered(direction, len(piece))

        return pump_in(), pump_out()

    async def _disconnect_later(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self.cut("random_disconnect")
