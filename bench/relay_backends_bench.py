"""Benchmark: the county relay on SQLite and on PostgreSQL, in the same run (issue #13).

    python -m bench.relay_backends_bench [--cases 10000] [--nodes 200] [--node-cases 20]
                                         [--repeats 3] [--backend both|sqlite|postgresql]
                                         [--skip-cold] [--skip-many]

a) cold sync relay -> new node: a seed node uploads --cases headline-shaped cases
   (bench/sync_bench.py's) to a fresh relay (timed too: node -> relay), then a new node of
   the same village, empty, syncs and receives them all (the figure). The relay runs in
   this process (as sync_bench's (a)): wall times hold both sides' work.
b) --nodes nodes with --node-cases cases each sync at once against a relay run as its own
   process (``villagecourt relay init [--store postgresql://…]`` + ``relay serve
   --insecure``): first contact, then every case changed; p50/p95 session time, the wall
   time, the relay's CPU and the PostgreSQL server's CPU (postmaster and backends).

Each repeat makes a fresh relay per backend (a fresh database on PostgreSQL), the two
backends alternating in order. The nodes are made once and reused (a fresh relay is a new
peer to them: first contact again). PostgreSQL runs durably (fsync, synchronous_commit
on; bench/pgserver.py) on a Unix socket of this machine, as SQLite's store runs with
``synchronous=FULL``. The load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web

from bench.harsh_procs import free_port, proc_status_kb
from bench.pgserver import Server, cpu_s_of_tree
from bench.sync_bench import (
    COUNTY,
    HEALTH_TIMEOUT_S,
    Session,
    cpu_s,
    headline_cases,
    measured_session,
    new_node,
    villagecourt,
)
from node import Node
from node.daemon import node_identity
from relay import keys as relay_keys
from relay.app import create_app
from relay.config import RelayHome
from store import casedoc


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load()}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


class Backends:
    """Where each relay's store goes: "" (store.db) or a fresh database on the server."""

    def __init__(self, server: Server | None) -> None:
        self.server = server

    async def location(self, backend: str) -> str:
        if backend == "sqlite":
            return ""
        assert self.server is not None
        name = f"relay_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(self.server.dsn("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return self.server.dsn(name)


@dataclass
class InProcessRelay:
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/sync"


async def start_relay(path: Path, store: str) -> InProcessRelay:
    home = RelayHome(path)
    home.init(COUNTY, host="127.0.0.1", port=0, store=store)
    runner = web.AppRunner(create_app(home, tls=False), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert relay_keys.STORE in runner.app
    return InProcessRelay(runner, int(runner.addresses[0][1]))


# --- (a) ---------------------------------------------------------------------------------
async def cold(root: Path, backends: Backends, order: list[str], cases: int, repeats: int
               ) -> dict[str, dict[str, list[float]]]:
    say(f"(a) making the seed node with {cases:,} headline-shaped cases...")
    seed = await new_node(root / "seed", "A")
    made = time.perf_counter()
    await headline_cases(seed.store, seed.config.scope, "A", cases)
    say(f"(a) seed made in {time.perf_counter() - made:.0f} s")
    out: dict[str, dict[str, list[float]]] = {b: {"up": [], "down": []} for b in order}
    try:
        for r in range(repeats):
            for b in (order if r % 2 == 0 else order[::-1]):
                relay = await start_relay(root / f"relay-a-{b}-{r}", await backends.location(b))
                fresh: Node | None = None
                try:
                    up = await measured_session(seed.store, node_identity(seed), relay.url)
                    fresh = await new_node(root / f"fresh-{b}-{r}", "A")
                    down = await measured_session(fresh.store, node_identity(fresh), relay.url)
                    got = down.result.counters.docs_received
                    assert got >= cases, f"{b}: the new node received {got} of {cases}"
                    out[b]["up"].append(up.seconds)
                    out[b]["down"].append(down.seconds)
                    say(f"(a) repeat {r + 1} {b:10}: node -> relay {up.seconds:6.2f} s "
                        f"({up.result.counters.docs_sent} docs); relay -> new node "
                        f"{down.seconds:6.2f} s ({got} docs)")
                finally:
                    if fresh is not None:
                        await fresh.close()
                    await relay.runner.cleanup()
    finally:
        await seed.close()
    return out


# --- (b) ---------------------------------------------------------------------------------
class RelayProcess:
    def __init__(self, home: Path, store: str, max_sessions: int = 0) -> None:
        self.home = home
        self.store = store
        self.max_sessions = max_sessions  # 0: the config's cap (100)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home.parent / f"{home.name}.log"

    def start(self) -> None:
        base = [*villagecourt(), "relay", "--relay-home", str(self.home)]
        init = [*base, "init", "--county", COUNTY, "--host", "127.0.0.1", "--port",
                str(self.port)]
        if self.store:
            init += ["--store", self.store]
        subprocess.run(init, check=True, capture_output=True)
        serve = [*base, "serve", "--insecure"]
        if self.max_sessions:
            serve += ["--max-sessions", str(self.max_sessions)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(serve, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=2) as resp:
                    if resp.status == 200:
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
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Wave:
    ok: int
    failed: int
    secs: list[float]
    wall: float
    relay_cpu: float
    pg_cpu: float
    docs: int


async def all_at_once(nodes: list[Node], relay: RelayProcess, server: Server | None) -> Wave:
    assert relay.proc is not None
    go = asyncio.Event()

    async def one(node: Node) -> Session:
        await go.wait()
        return await measured_session(node.store, node_identity(node), relay.url)

    tasks = [asyncio.create_task(one(n)) for n in nodes]
    await asyncio.sleep(0.1)
    cpu0 = cpu_s(relay.proc.pid)
    pg0 = cpu_s_of_tree(server.postmaster_pid) if server and relay.store else 0.0
    started = time.perf_counter()
    go.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - started
    relay_cpu = cpu_s(relay.proc.pid) - cpu0
    pg_cpu = (cpu_s_of_tree(server.postmaster_pid) - pg0) if server and relay.store else 0.0
    ok = [d for d in done if isinstance(d, Session)]
    failed = [d for d in done if isinstance(d, BaseException)]
    if failed:
        say(f"   {len(failed)} sessions failed, the first: {failed[0]!r}")
    return Wave(len(ok), len(failed), [s.seconds for s in ok], wall, relay_cpu, pg_cpu,
                sum(s.result.counters.docs_sent for s in ok))


async def many(root: Path, backends: Backends, order: list[str], n_nodes: int, per_node: int,
               repeats: int) -> dict[tuple[str, str], list[Wave]]:
    say(f"(b) making {n_nodes} nodes with {per_node} cases each...")
    made = time.perf_counter()
    nodes: list[Node] = []
    cases: list[list[str]] = []
    out: dict[tuple[str, str], list[Wave]] = {}
    try:
        for i in range(n_nodes):
            village = f"V{i:03d}"
            node = await new_node(root / f"node-{i}", village)
            nodes.append(node)
            cases.append(await headline_cases(node.store, node.config.scope, village, per_node))
        say(f"(b) nodes made in {time.perf_counter() - made:.0f} s")
        edits = 0
        for r in range(repeats):
            for b in (order if r % 2 == 0 else order[::-1]):
                relay = RelayProcess(root / f"relay-b-{b}-{r}", await backends.location(b),
                                     max_sessions=n_nodes)
                relay.start()
                assert relay.proc is not None
                try:
                    for phase in ("first contact", "every case changed"):
                        if phase != "first contact":
                            edits += 1
                            for node, ids in zip(nodes, cases):
                                for doc_id in ids:
                                    await node.store.edit(doc_id, lambda doc, e=edits:
                                                          casedoc.log_session(
                                                              doc, date="2024-05-03",
                                                              participants="张三、李四",
                                                              summary=f"第{e}轮回访"))
                        w = await all_at_once(nodes, relay, backends.server)
                        out.setdefault((b, phase), []).append(w)
                        say(f"(b) repeat {r + 1} {b:10} {phase:18}: {w.ok}/{n_nodes} ok, "
                            f"p50 {pct(w.secs, 50):.2f} s p95 {pct(w.secs, 95):.2f} s, all in "
                            f"{w.wall:.2f} s ({w.docs} docs); relay CPU {w.relay_cpu:.1f} s, "
                            f"PostgreSQL CPU {w.pg_cpu:.1f} s; relay peak RSS "
                            f"{proc_status_kb(relay.proc.pid, 'VmHWM') / 1024:.0f} MB")
                finally:
                    relay.stop()
    finally:
        for node in nodes:
            await node.close()
    return out


# --- main --------------------------------------------------------------------------------
def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def run(args: argparse.Namespace) -> int:
    order = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    root = Path(tempfile.mkdtemp(prefix="vc-relaybench-"))
    server: Server | None = None
    say(f"relay backends bench: {order}, cases {args.cases:,}, nodes {args.nodes} x "
        f"{args.node_cases}, repeats {args.repeats}; cpus {os.cpu_count()}")
    try:
        if "postgresql" in order:
            # Not under root (0700): the server runs as the postgres user when this runs as root.
            server = Server(Path(tempfile.mkdtemp(prefix="vc-relaybench-pg-")), durable=True,
                            keep=False)
            server.start()
        backends = Backends(server)
        lines: list[str] = []
        if not args.skip_cold:
            a = await cold(root, backends, order, args.cases, args.repeats)
            lines.append(f"(a) cold sync, {args.cases:,} cases (median of {args.repeats}); "
                         f"load after {load()}")
            for b in order:
                lines.append(f"  {b:10}: relay -> new node {med(a[b]['down']):.2f} s "
                             f"({args.cases / med(a[b]['down']):,.0f} docs/s); node -> relay "
                             f"{med(a[b]['up']):.2f} s")
            if len(order) == 2:
                lines.append(f"  PostgreSQL / SQLite: relay -> new node "
                             f"{med(a['postgresql']['down']) / med(a['sqlite']['down']):.2f}x; "
                             f"node -> relay "
                             f"{med(a['postgresql']['up']) / med(a['sqlite']['up']):.2f}x")
        if not args.skip_many:
            m = await many(root, backends, order, args.nodes, args.node_cases, args.repeats)
            lines.append(f"(b) {args.nodes} nodes x {args.node_cases} cases at once (median of "
                         f"{args.repeats} relays); load after {load()}")
            for (b, phase), ws in m.items():
                lines.append(
                    f"  {b:10} {phase:18}: ok {min(w.ok for w in ws)}/{args.nodes} (worst); "
                    f"session p50 {med([pct(w.secs, 50) for w in ws]):.2f} s, p95 "
                    f"{med([pct(w.secs, 95) for w in ws]):.2f} s; all done in "
                    f"{med([w.wall for w in ws]):.2f} s; relay CPU "
                    f"{med([w.relay_cpu for w in ws]):.1f} s, PostgreSQL CPU "
                    f"{med([w.pg_cpu for w in ws]):.1f} s")
            if len(order) == 2:
                for phase in ("first contact", "every case changed"):
                    sq = med([w.wall for w in m[("sqlite", phase)]])
                    pg = med([w.wall for w in m[("postgresql", phase)]])
                    lines.append(f"  PostgreSQL / SQLite, {phase}: all done in {pg / sq:.2f}x")
        print()
        print("\n".join(lines))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.relay_backends_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--node-cases", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    p.add_argument("--skip-cold", action="store_true")
    p.add_argument("--skip-many", action="store_true")
    return asyncio.run(run(parse(p, argv)))


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    return p.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
