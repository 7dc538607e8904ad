"""Sync benchmarks (issue #3): what a village node and the county relay cost each other.

    python -m bench.sync_bench [--cases 10000] [--repeats 3] [--nodes 200]
                               [--demo-cases 1000] [--node-cases 20] [--skip-many]

a) cold sync of --cases headline-shaped cases node -> relay over a loopback WebSocket,
   both stores on SQLite: wall time, protocol bytes per case, and what TCP carried
   (HTTP upgrade, WebSocket framing) counted at a byte-counting TCP proxy; then the same
   for --demo-cases realistic cases (node/demo.py);
b) incremental sync after one change in that store: bytes each way, frames, round trips;
c) reconnect with nothing changed: protocol bytes, and the WebSocket handshake apart;
d) --nodes nodes, each with --node-cases cases, syncing all at once against one relay run
   as a separate process (``villagecourt relay serve``): first contact (new cases), then
   every case changed; p50/p95 session time and the relay's peak RSS (VmHWM).

Figures are medians over --repeats runs. (a)-(c) run the relay in this process, so node
and relay share one Python thread: wall times include both sides' work. The relay of (d)
runs without TLS (--insecure): TLS handshakes are not in these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.harsh_procs import free_port, proc_status_kb
from node import Node
from node.daemon import node_identity
from node.demo import fill_demo
from relay import keys as relay_keys
from relay.app import create_app
from relay.config import RelayHome
from store import Store, casedoc
from store.records import CASE, CATEGORIES, Party
from sync.driver import SessionResult, sync_as_client
from sync.linksim import LinkSim
from sync.scopes import Identity
from sync.transport_ws import connect_ws

COUNTY = "KC"
SESSION_TIMEOUT_S = 600.0
HEALTH_TIMEOUT_S = 30.0


# --- measuring ---------------------------------------------------------------------------
class FrameLog:
    """A Transport that records every frame (direction, size) of the one it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frames: list[tuple[str, int]] = []

    @property
    def bytes_sent(self) -> int:
        return int(self.inner.bytes_sent)

    @property
    def bytes_received(self) -> int:
        return int(self.inner.bytes_received)

    @property
    def peer_label(self) -> str:
        return str(self.inner.peer_label)

    async def send(self, frame: bytes) -> None:
        await self.inner.send(frame)
        self.frames.append(("sent", len(frame)))

    async def recv(self) -> bytes:
        frame: bytes = await self.inner.recv()
        self.frames.append(("received", len(frame)))
        return frame

    async def close(self) -> None:
        await self.inner.close()

    @property
    def round_trips(self) -> int:
        """Times the client went from sending to receiving: each is one wait for the
        peer (Hello -> Hello is the first)."""
        trips, last = 0, ""
        for direction, _ in self.frames:
            if direction == "received" and last == "sent":
                trips += 1
            last = direction
        return trips


@dataclass
class Conn:
    up: int = 0  # client -> server, bytes on TCP
    down: int = 0
    up_head: int = 0  # the HTTP upgrade request (up to and including the blank line)
    down_head: int = 0  # the 101 response


class CountingProxy:
    """A plain TCP proxy to 127.0.0.1:``target`` that counts bytes per connection and
    finds where each direction's HTTP header ends (the WebSocket upgrade)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.conns: list[Conn] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        conn = Conn()
        self.conns.append(conn)
        tr, tw = await asyncio.open_connection("127.0.0.1", self.target)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: bool) -> None:
            head = bytearray()
            found = False
            try:
                while data := await r.read(65536):
                    if not found:
                        head += data
                        end = head.find(b"\r\n\r\n")
                        if end >= 0:
                            found = True
                            if up:
                                conn.up_head = end + 4
                            else:
                                conn.down_head = end + 4
                    if up:
                        conn.up += len(data)
                    else:
                        conn.down += len(data)
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(OSError, RuntimeError):
                    w.close()

        tasks = [asyncio.create_task(pipe(cr, tw, True)), asyncio.create_task(pipe(tr, cw, False))]
        self._tasks.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)


@dataclass
class Session:
    """One measured client session."""

    result: SessionResult
    seconds: float  # connect + session + close
    frames: int
    round_trips: int  # sent -> received turns in the frame log (an upper bound)
    tcp: Conn | None = None
    connect_s: float = 0.0  # TCP connect + HTTP upgrade
    sync_s: float = 0.0  # Hello to Finished

    @property
    def payload(self) -> int:
        return self.result.bytes_sent + self.result.bytes_received


async def measured_session(store: Store, me: Identity, url: str, *, label: str = "relay",
                           proxy: CountingProxy | None = None) -> Session:
    started = time.perf_counter()
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        transport = await connect_ws(url, timeout=30.0)
        connected = time.perf_counter()
        log = FrameLog(transport)
        try:
            result = await sync_as_client(log, store, me, label=label)  # type: ignore[arg-type]
            synced = time.perf_counter()
        finally:
            await transport.close()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"sync failed: {result.error}")
    tcp = None
    if proxy is not None:
        await asyncio.sleep(0.05)  # let the proxy see the close frames
        tcp = proxy.conns[-1]
    return Session(result, seconds, len(log.frames), log.round_trips, tcp,
                   connect_s=connected - started, sync_s=synced - connected)


LATENCY_S = 0.05  # one way, for counting round trips: each costs 2 x this


async def round_trips(store: Store, me: Identity, relay_port: int,
                      before: Callable[[], Awaitable[None]] | None = None) -> tuple[float, float]:
    """Round trips of (HTTP upgrade, sync session) measured on a link with LATENCY_S of
    one-way delay (LinkSim): the time each part takes, less its time on plain loopback,
    over the round-trip time. Counts waits on the peer, not frames."""
    rtt = 2 * LATENCY_S
    if before is not None:
        await before()
    plain = await measured_session(store, me, f"ws://127.0.0.1:{relay_port}/v1/sync")
    if before is not None:
        await before()
    async with LinkSim("127.0.0.1", relay_port, latency_s=LATENCY_S) as sim:
        host, port = await sim.start()
        slow = await measured_session(store, me, f"ws://{host}:{port}/v1/sync")
    return ((slow.connect_s - plain.connect_s) / rtt, (slow.sync_s - plain.sync_s) / rtt)


# --- relays and nodes ----------------------------------------------------------------------
@dataclass
class InProcessRelay:
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/sync"

    @property
    def store(self) -> Store:
        return self.runner.app[relay_keys.STORE]


async def start_relay(path: Path) -> InProcessRelay:
    home = RelayHome(path)
    home.init(COUNTY, host="127.0.0.1", port=0)
    try:
        app = create_app(home, tls=False)  # type: ignore[call-arg]
    except TypeError:  # a relay without the TLS switch
        app = create_app(home)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return InProcessRelay(runner, int(runner.addresses[0][1]))


_PARTIES = [Party("applicant", "张三", "13800138000"), Party("respondent", "李四")]


async def headline_cases(store: Store, scope: str, village: str, n: int) -> list[str]:
    """``n`` cases of the small headline shape, written straight into the store."""
    cats = list(CATEGORIES)
    ids = []
    for i in range(n):
        meta = await store.create(CASE, scope, lambda doc, i=i: casedoc.new_case(
            doc, number=f"{village}-B7Q-{i:05d}", category=cats[i % len(cats)],
            title=f"case {i} 邻里纠纷", parties=_PARTIES, village=village, county=COUNTY,
            created_at="2024-05-01T08:00:00+00:00"))
        ids.append(meta.doc_id)
    return ids


async def new_node(path: Path, village: str) -> Node:
    return await Node.create(path, village=village, village_name=f"{village}村", county=COUNTY)


# --- (a) - (c) -----------------------------------------------------------------------------
@dataclass
class Figures:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, value, target)

    def add(self, what: str, value: str, target: str = "") -> None:
        self.rows.append((what, value, target))
        print(f"  {what}: {value}" + (f"   (target {target})" if target else ""), flush=True)


def med(values: list[float]) -> float:
    return statistics.median(values)


def tcp_split(s: Session) -> tuple[int, int, int]:
    """(HTTP upgrade bytes, WebSocket framing + close bytes, TCP total) of a session."""
    assert s.tcp is not None
    total = s.tcp.up + s.tcp.down
    head = s.tcp.up_head + s.tcp.down_head
    return head, total - head - s.payload, total


async def cold(fig: Figures, root: Path, node: Node, n_docs: int, repeats: int,
               name: str) -> InProcessRelay:
    """Cold syncs of ``node`` to fresh relays; returns the last relay (still running)."""
    me = node_identity(node)
    times: list[float] = []
    sessions: list[Session] = []
    relay: InProcessRelay | None = None
    for r in range(repeats + 1):
        if relay is not None:
            await relay.runner.cleanup()
        relay = await start_relay(root / f"relay-{name}-{r}")
        if r < repeats:  # timed: straight to the relay
            s = await measured_session(node.store, me, relay.url)
            times.append(s.seconds)
        else:  # once more through the counting proxy, for what TCP carried
            proxy = CountingProxy(relay.port)
            port = await proxy.start()
            s = await measured_session(node.store, me, f"ws://127.0.0.1:{port}/v1/sync",
                                       proxy=proxy)
            await proxy.stop()
        assert s.result.counters.docs_sent == n_docs, s.result.counters
        sessions.append(s)
    assert relay is not None
    last = sessions[-1]
    head, framing, total = tcp_split(last)
    fig.add(f"(a) cold sync, {name}: docs", f"{n_docs}")
    fig.add(f"(a) cold sync, {name}: wall time (median of {repeats})",
            f"{med(times):.2f} s ({n_docs / med(times):,.0f} docs/s)",
            "<= 3 s for 10,000" if name == "headline" else "")
    per = med([s.payload / n_docs for s in sessions])
    fig.add(f"(a) cold sync, {name}: protocol bytes per doc", f"{per:.0f} B",
            "<= 250 B" if name == "headline" else "")
    up = med([s.result.bytes_sent for s in sessions])
    down = med([s.result.bytes_received for s in sessions])
    fig.add(f"(a) cold sync, {name}: protocol bytes up / down", f"{up:,.0f} / {down:,.0f} B")
    fig.add(f"(a) cold sync, {name}: TCP bytes per doc (all included)",
            f"{total / n_docs:.0f} B")
    fig.add(f"(a) cold sync, {name}: HTTP upgrade / WS framing+close / frames",
            f"{head} B / {framing} B / {last.frames} frames ({last.result.counters.pages_sent}"
            f" pages up)")
    return relay


async def incremental(fig: Figures, node: Node, relay: InProcessRelay, doc_ids: list[str],
                      repeats: int) -> None:
    me = node_identity(node)
    proxy = CountingProxy(relay.port)
    port = await proxy.start()
    url = f"ws://127.0.0.1:{port}/v1/sync"
    try:
        # (b) one change, then sync.
        edits = iter(range(10**6))

        async def change() -> None:
            r = next(edits)
            await node.store.edit(doc_ids[(r * 7919) % len(doc_ids)], lambda doc:
                                  casedoc.log_session(doc, date="2024-05-02",
                                                      participants="张三、李四",
                                                      summary=f"第{r + 1}次调解，双方各退一步"))

        runs: list[Session] = []
        for _ in range(repeats):
            await change()
            runs.append(await measured_session(node.store, me, url, proxy=proxy))
            assert runs[-1].result.counters.docs_sent == 1, runs[-1].result.counters
        up = med([s.result.bytes_sent for s in runs])
        down = med([s.result.bytes_received for s in runs])
        fig.add("(b) one change: protocol bytes up / down", f"{up:.0f} / {down:.0f} B "
                f"({up + down:.0f} B)", "<= 1 KB")
        upgrade_rt, sync_rt = await round_trips(node.store, me, relay.port, change)
        fig.add("(b) one change: frames / round trips of the session",
                f"{med([s.frames for s in runs]):.0f} frames / {sync_rt:.1f} round trips "
                f"(+ {upgrade_rt:.1f} for the HTTP upgrade)", "<= 2 round trips")
        heads = [tcp_split(s) for s in runs]
        fig.add("(b) one change: + HTTP upgrade / WS framing+close",
                f"{med([h[0] for h in heads]):.0f} B / {med([h[1] for h in heads]):.0f} B "
                f"(TCP total {med([h[2] for h in heads]):.0f} B)")
        fig.add("(b) one change: session time", f"{med([s.seconds for s in runs]) * 1000:.1f} ms")

        # (c) nothing changed.
        runs = [await measured_session(node.store, me, url, proxy=proxy)
                for _ in range(repeats)]
        for s in runs:
            c = s.result.counters
            assert c.docs_sent == 0 and c.docs_received == 0, c
        up = med([s.result.bytes_sent for s in runs])
        down = med([s.result.bytes_received for s in runs])
        fig.add("(c) reconnect, nothing new: protocol bytes up / down",
                f"{up:.0f} / {down:.0f} B ({up + down:.0f} B)", "<= 300 B")
        upgrade_rt, sync_rt = await round_trips(node.store, me, relay.port)
        fig.add("(c) reconnect, nothing new: frames / round trips of the session",
                f"{med([s.frames for s in runs]):.0f} frames / {sync_rt:.1f} round trips "
                f"(+ {upgrade_rt:.1f} for the HTTP upgrade)")
        heads = [tcp_split(s) for s in runs]
        fig.add("(c) reconnect: + HTTP upgrade / WS framing+close",
                f"{med([h[0] for h in heads]):.0f} B / {med([h[1] for h in heads]):.0f} B "
                f"(TCP total {med([h[2] for h in heads]):.0f} B)")
        fig.add("(c) reconnect: session time", f"{med([s.seconds for s in runs]) * 1000:.1f} ms")
    finally:
        await proxy.stop()


# --- (d) many nodes, one relay process -----------------------------------------------------
def villagecourt() -> list[str]:
    exe = Path(sys.executable).with_name("villagecourt")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "node"]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RelayProcess:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home.parent / "relay.log"

    def start(self) -> None:
        base = [*villagecourt(), "relay", "--relay-home", str(self.home)]
        subprocess.run([*base, "init", "--county", COUNTY, "--host", "127.0.0.1", "--port",
                        str(self.port)], check=True, capture_output=True)
        serve = [*base, "serve"]
        helptext = subprocess.run([*serve, "--help"], capture_output=True, text=True).stdout
        if "--insecure" in helptext:
            serve.append("--insecure")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relay did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/sync"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def many(fig: Figures, root: Path, n_nodes: int, per_node: int, repeats: int) -> None:
    relay = RelayProcess(root / "relay-many")
    relay.start()
    assert relay.proc is not None
    pid = relay.proc.pid
    nodes: list[Node] = []
    try:
        rss_idle = proc_status_kb(pid, "VmRSS")
        made = time.perf_counter()
        cases: list[list[str]] = []
        for i in range(n_nodes):
            village = f"V{i:03d}"
            node = await new_node(root / f"node-{i}", village)
            nodes.append(node)
            cases.append(await headline_cases(node.store, node.config.scope, village, per_node))
        print(f"  ({n_nodes} nodes with {per_node} cases each made in "
              f"{time.perf_counter() - made:.0f} s)", flush=True)

        async def all_at_once(phase: str) -> None:
            go = asyncio.Event()

            async def one(node: Node) -> Session:
                await go.wait()
                return await measured_session(node.store, node_identity(node), relay.url)

            tasks = [asyncio.create_task(one(n)) for n in nodes]
            await asyncio.sleep(0.1)
            cpu0 = cpu_s(pid)
            started = time.perf_counter()
            go.set()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            wall = time.perf_counter() - started
            relay_cpu = cpu_s(pid) - cpu0
            failed = [d for d in done if isinstance(d, BaseException)]
            ok = [d for d in done if isinstance(d, Session)]
            secs = [s.seconds for s in ok]
            docs = sum(s.result.counters.docs_sent for s in ok)
            fig.add(f"(d) {phase}: sessions ok", f"{len(ok)} of {n_nodes}"
                    + (f" ({len(failed)} failed: {failed[0]!r})" if failed else ""),
                    "all complete")
            if secs:
                fig.add(f"(d) {phase}: session time p50 / p95 / max",
                        f"{pct(secs, 50):.2f} / {pct(secs, 95):.2f} / {max(secs):.2f} s")
                fig.add(f"(d) {phase}: all done in", f"{wall:.2f} s ({docs} docs, "
                        f"{docs / wall:,.0f} docs/s)")
                fig.add(f"(d) {phase}: relay CPU", f"{relay_cpu:.2f} s "
                        f"({relay_cpu / wall:.0%} of one core, "
                        f"{relay_cpu / max(1, len(ok)) * 1000:.1f} ms per session)")

        await all_at_once(f"first contact, {per_node} new cases each")
        for r in range(repeats):
            for node, ids in zip(nodes, cases):
                for doc_id in ids:
                    await node.store.edit(doc_id, lambda doc, r=r: casedoc.log_session(
                        doc, date="2024-05-03", participants="张三、李四",
                        summary=f"第{r + 1}轮回访"))
            await all_at_once(f"round {r + 1}, {per_node} changed cases each")
        fig.add("(d) relay RSS idle -> peak (VmHWM)",
                f"{rss_idle / 1024:.0f} MB -> {proc_status_kb(pid, 'VmHWM') / 1024:.0f} MB")
        (count,) = await _relay_docs(relay.url)
        fig.add("(d) relay holds", f"{count} docs")
    finally:
        relay.stop()
        for node in nodes:
            await node.close()


async def _relay_docs(url: str) -> tuple[int]:
    health = url.replace("ws://", "http://").replace("/v1/sync", "/metrics")
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(health, timeout=10).read())
    for line in text.decode().splitlines():
        if line.startswith("villagecourt_docs "):
            return (int(float(line.split()[1])),)
    return (-1,)


# --- main ----------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> Figures:
    fig = Figures()
    root = Path(tempfile.mkdtemp(prefix="vc-bench-"))
    try:
        print(f"(a) making a node with {args.cases:,} headline-shaped cases...", flush=True)
        node = await new_node(root / "node-headline", "A")
        made = time.perf_counter()
        ids = await headline_cases(node.store, node.config.scope, "A", args.cases)
        print(f"  (made in {time.perf_counter() - made:.0f} s)", flush=True)
        relay = await cold(fig, root, node, args.cases + 1, args.repeats, "headline")
        await incremental(fig, node, relay, ids, args.repeats)
        await relay.runner.cleanup()
        await node.close()

        if args.demo_cases:
            print(f"(a) making a node with {args.demo_cases:,} demo cases...", flush=True)
            demo = await new_node(root / "node-demo", "BY")
            made = time.perf_counter()
            await fill_demo(demo, cases=args.demo_cases)
            print(f"  (made in {time.perf_counter() - made:.0f} s)", flush=True)
            (n_docs,), = await demo.store.query(
                "SELECT count(*) FROM docs WHERE scope = ?", (demo.config.scope,))
            (raw,), = await demo.store.query(
                "SELECT avg(length(snapshot)) FROM docs WHERE kind = 'case'")
            fig.add("(a) demo store: village docs / sealed case snapshot",
                    f"{n_docs} / {raw:.0f} B")
            relay = await cold(fig, root, demo, int(n_docs), args.repeats, "demo")
            await relay.runner.cleanup()
            await demo.close()

        if args.nodes and not args.skip_many:
            print(f"(d) {args.nodes} nodes against one relay process...", flush=True)
            await many(fig, root, args.nodes, args.node_cases, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return fig


def table(fig: Figures, args: argparse.Namespace) -> str:
    w1 = max(len(r[0]) for r in fig.rows)
    w2 = max(len(r[1]) for r in fig.rows)
    lines = [f"villagecourt sync benchmark  (cases={args.cases}, repeats={args.repeats}, "
             f"nodes={args.nodes}, python {sys.version.split()[0]}, {os.cpu_count()} cpus)",
             f"{'measure'.ljust(w1)}  {'value'.ljust(w2)}  target",
             f"{'-' * w1}  {'-' * w2}  {'-' * 18}"]
    lines += [f"{a.ljust(w1)}  {b.ljust(w2)}  {c}" for a, b, c in fig.rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--node-cases", type=int, default=20)
    p.add_argument("--demo-cases", type=int, default=1000)
    p.add_argument("--skip-many", action="store_true", help="skip (d)")
    args = p.parse_args(argv)
    fig = asyncio.run(run(args))
    print()
    print(table(fig, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
