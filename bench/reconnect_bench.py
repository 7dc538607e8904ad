"""200 village nodes reconnecting to one county relay at once after an outage (issue #6).

    python -m bench.reconnect_bench [--nodes 200] [--cases 5] [--edits 4] [--seed 1]

The relay runs as a real process (``villagecourt relay --relay-home H serve``, mutual TLS on
127.0.0.1). Each node is lightweight: its own Store (a real SQLite file, sealed) and its
own certificate from the county CA, one village each; its sessions are what
``villagecourt sync`` runs (sync.transport_ws.connect_ws + sync.driver.sync_as_client) and
it retries like the daemon's Syncer (sync.schedule.Backoff: exponential, ±30 % jitter).

1. Every node syncs ``--cases`` cases once, so it and the relay hold checkpoints.
2. Outage: the relay is SIGKILLed. Every node makes ``--edits`` edits (new cases and a
   logged session) and tries the relay once (refused: connect_failed).
3. The relay restarts; when /healthz answers, all nodes reconnect:
      immediate  every session starts in the same instant
      jittered   every node first waits Backoff.delay(1) (2 s ±30 %, the daemon's retry
                 after one failure)
   A failed session is retried after Backoff.delay(failures) until it succeeds.
   Steps 2-3 run once per mode.

Reported per mode: sessions that completed; retries; completion times from the moment
the relay answered (first, last, spread = last - first); per-session time (p50, p95,
max: connect, TLS, both feeds); peak concurrent sessions at the relay; the relay's peak
RSS (VmHWM from /proc) and RSS afterwards. At the end every node's documents must be at
the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harsh_procs import (
    ClientCert,
    RelayProcess,
    free_port,
    init_relay_home,
    make_client_cert,
    unexpected_errors,
)
from store import Store, casedoc, new_key
from store.records import CASE, Party
from sync.driver import SessionResult, sync_as_client
from sync.errors import SyncError
from sync.schedule import Backoff
from sync.scopes import Identity
from sync.transport_ws import connect_ws

COUNTY = "KC"
SESSION_TIMEOUT_S = 180.0
DEADLINE_S = 600.0  # every node must have completed within this after the relay is back


@dataclass
class LightNode:
    village: str
    cert: ClientCert
    store: Store
    cases: list[str] = field(default_factory=list)


@dataclass
class Attempt:
    node: int
    started: float  # seconds after the relay answered again
    finished: float
    ok: bool
    code: str


@dataclass
class StormResult:
    mode: str
    completed: int = 0
    nodes: int = 0
    retries: int = 0
    first_s: float = 0.0
    last_s: float = 0.0
    p50_s: float = 0.0
    p95_s: float = 0.0
    max_s: float = 0.0
    peak_sessions: int = 0
    relay_hwm_mb: float = 0.0
    relay_rss_mb: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def spread_s(self) -> float:
        return self.last_s - self.first_s


async def session(node: LightNode, url: str) -> SessionResult:
    async with asyncio.timeout(SESSION_TIMEOUT_S):
        transport = await connect_ws(url, ssl=node.cert.context(), timeout=60.0)
        try:
            return await sync_as_client(transport, node.store, node.cert.identity,
                                        label="relay", idle_timeout=60.0)
        finally:
            await transport.close()


async def attempt(node: LightNode, url: str) -> tuple[bool, str]:
    try:
        result = await session(node, url)
    except SyncError as exc:
        return False, exc.code
    except (TimeoutError, asyncio.TimeoutError):
        return False, "timeout"
    return result.ok, "ok" if result.ok else (result.error.code if result.error else "?")


async def new_case(node: LightNode, i: int, title: str) -> None:
    scope = f"village:{COUNTY}/{node.village}"
    meta = await node.store.create(CASE, scope, lambda d: casedoc.new_case(
        d, number=f"{node.village}-R-{i:04d}", category="neighbour", title=title,
        parties=[Party("applicant", "张三"), Party("respondent", "李四")],
        village=node.village, county=COUNTY))
    node.cases.append(meta.doc_id)


async def edit(node: LightNode, edits: int, rng: random.Random, tag: str) -> None:
    for e in range(edits):
        if e % 2 == 0 or not node.cases:
            await new_case(node, len(node.cases), f"停电期间 {tag} {e}")
        else:
            doc_id = rng.choice(node.cases)
            await node.store.edit(doc_id, lambda d: casedoc.log_session(
                d, date="2026-03-01", participants="双方", summary=f"断网时记录 {tag} {e}",
                judge_consulted=False, by="主任"))


async def storm(mode: str, nodes: list[LightNode], relay: RelayProcess,
                rng: random.Random, backoff: Backoff) -> StormResult:
    res = StormResult(mode, nodes=len(nodes))
    t0 = time.monotonic()
    attempts: list[Attempt] = []
    done_at: dict[int, float] = {}
    stop_poll = asyncio.Event()

    async def poll_sessions() -> None:
        while not stop_poll.is_set():
            try:
                health = await relay.healthz(timeout=5.0)
                res.peak_sessions = max(res.peak_sessions, int(health.get("sessions", 0)))
            except Exception:  # noqa: BLE001 — a missed poll under load loses one sample, nothing more
                pass
            await asyncio.sleep(0.25)

    async def run(i: int, node: LightNode) -> None:
        failures = 0
        if mode == "jittered":
            await asyncio.sleep(backoff.delay(1, rng))
        while time.monotonic() - t0 < DEADLINE_S:
            start = time.monotonic() - t0
            ok, code = await attempt(node, relay.sync_url)
            end = time.monotonic() - t0
            attempts.append(Attempt(i, start, end, ok, code))
            if ok:
                done_at[i] = end
                return
            failures += 1
            res.failures[code] = res.failures.get(code, 0) + 1
            await asyncio.sleep(backoff.delay(failures, rng))

    poller = asyncio.create_task(poll_sessions())
    try:
        await asyncio.gather(*(run(i, n) for i, n in enumerate(nodes)))
    finally:
        stop_poll.set()
        await poller
    ok = [a for a in attempts if a.ok]
    res.completed = len(done_at)
    res.retries = len(attempts) - len(ok)
    if done_at:
        res.first_s, res.last_s = min(done_at.values()), max(done_at.values())
    durations = sorted(a.finished - a.started for a in ok)
    if durations:
        res.p50_s = statistics.median(durations)
        res.p95_s = durations[min(len(durations) - 1, int(0.95 * len(durations)))]
        res.max_s = durations[-1]
    res.relay_hwm_mb = relay.hwm_kb() / 1024
    res.relay_rss_mb = relay.rss_kb() / 1024
    return res


async def run_bench(root: Path, *, n_nodes: int, cases: int, edits: int, seed: int,
                    modes: tuple[str, ...] = ("immediate", "jittered"),
                    log: bool = True) -> tuple[list[StormResult], dict[str, float]]:
    rng = random.Random(seed)
    backoff = Backoff()
    port = free_port()
    home = init_relay_home(root / "relay", port)
    relay = RelayProcess(home, port, root / "relay.log")
    nodes: list[LightNode] = []
    info: dict[str, float] = {}

    def say(text: str) -> None:
        if log:
            print(text, file=sys.stderr, flush=True)

    try:
        t = time.monotonic()
        for i in range(n_nodes):
            village = f"V{i:03d}"
            ident = Identity(secrets.token_hex(8), "director", COUNTY, village)
            cert = make_client_cert(home, root / "certs" / village, ident)
            store = await Store.open(root / "nodes" / f"{village}.db", key=new_key())
            node = LightNode(village, cert, store)
            nodes.append(node)
            for c in range(cases):
                await new_case(node, c, f"案件 {c}")
        info["setup_s"] = time.monotonic() - t
        say(f"{n_nodes} node stores with {cases} cases each in {info['setup_s']:.1f} s")
        await relay.start()
        info["relay_start_rss_mb"] = relay.rss_kb() / 1024
        # 1. Everyone syncs once (20 at a time): checkpoints on both sides.
        sem = asyncio.Semaphore(20)

        async def first(node: LightNode) -> None:
            async with sem:
                ok, code = await attempt(node, relay.sync_url)
                if not ok:
                    raise RuntimeError(f"first sync of {node.village} failed: {code}")

        t = time.monotonic()
        await asyncio.gather(*(first(n) for n in nodes))
        info["first_sync_s"] = time.monotonic() - t
        say(f"first sync of every node in {info['first_sync_s']:.1f} s")
        results = []
        for mode in modes:
            # 2. Outage: the relay dies; everyone edits and fails to reach it once.
            await relay.kill()
            for k, node in enumerate(nodes):
                await edit(node, edits, rng, f"{mode}{k}")
            refused = await asyncio.gather(*(attempt(n, relay.sync_url) for n in nodes))
            if any(ok for ok, _ in refused):
                raise RuntimeError("a session succeeded while the relay was down")
            # 3. The relay is back: everyone at once.
            await relay.start()
            say(f"{mode}: relay back, {n_nodes} nodes reconnecting")
            results.append(await storm(mode, nodes, relay, rng, backoff))
        # Every node's documents are at the relay now.
        expected = sum(len(n.cases) for n in nodes)
        async with asyncio.timeout(30):
            (count,), = await _relay_count(home.store_file)
        info["relay_docs"] = count
        info["expected_docs"] = expected
        info["log_errors"] = len(unexpected_errors(relay.log))
    finally:
        await relay.terminate()
        relay.kill_now()
        for node in nodes:
            await node.store.close()
    return results, info


async def _relay_count(db: Path) -> list[tuple[int]]:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return [tuple(r) for r in con.execute(
            "SELECT count(*) FROM docs WHERE scope LIKE 'village:%' AND kind = 'case'")]
    finally:
        con.close()


def table(results: list[StormResult]) -> str:
    head = (f"{'mode':<11}{'done':>9}{'retries':>8}{'first s':>9}{'last s':>8}"
            f"{'spread s':>10}{'p50 s':>7}{'p95 s':>7}{'max s':>7}{'peak sess':>10}"
            f"{'relay peak RSS':>16}")
    lines = [head]
    for r in results:
        lines.append(
            f"{r.mode:<11}{f'{r.completed}/{r.nodes}':>9}{r.retries:>8}{r.first_s:>9.2f}"
            f"{r.last_s:>8.2f}{r.spread_s:>10.2f}{r.p50_s:>7.2f}{r.p95_s:>7.2f}"
            f"{r.max_s:>7.2f}{r.peak_sessions:>10}{f'{r.relay_hwm_mb:.0f} MB':>16}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--cases", type=int, default=5, help="cases per node before the outage")
    p.add_argument("--edits", type=int, default=4, help="edits per node during the outage")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mode", choices=["immediate", "jittered"], action="append",
                   help="run only this mode (repeatable; default both)")
    p.add_argument("--keep", help="keep the relay home, its log and the node stores here")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = Path(args.keep)
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reconnect-")))
        results, info = asyncio.run(run_bench(
            root, n_nodes=args.nodes, cases=args.cases, edits=args.edits,
            seed=args.seed, modes=tuple(args.mode or ("immediate", "jittered"))))
    print(f"{args.nodes} nodes reconnect to one relay (a process, mutual TLS, 127.0.0.1) "
          f"after an outage; {os.cpu_count()} cores; each node {args.cases} cases before, "
          f"{args.edits} edits during each outage")
    print("times in seconds from the moment the relay answered /healthz again; 'p50/p95/max'"
          " are per-session times (connect + TLS + both feeds)")
    print(table(results))
    for r in results:
        if r.failures:
            print(f"  {r.mode}: failed attempts by code {r.failures}")
    print(f"relay RSS at start {info['relay_start_rss_mb']:.0f} MB; first sync of all nodes "
          f"{info['first_sync_s']:.1f} s; relay holds {info['relay_docs']:.0f} of "
          f"{info['expected_docs']:.0f} cases")
    bad = [r for r in results if r.completed != r.nodes]
    if bad or info["relay_docs"] != info["expected_docs"] or info["log_errors"]:
        print(f"FAILED: incomplete modes {[r.mode for r in bad]}, relay log errors "
              f"{info['log_errors']:.0f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
