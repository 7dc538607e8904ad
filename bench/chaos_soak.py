"""Chaos: five village nodes and the county relay as real processes, partitions, power cuts
and concurrent edits; afterwards every replica must be identical and no edit that was
reported saved may be missing (issue #6).

    python -m bench.chaos_soak --seeds 50 [--first-seed 1] [--duration 25] [--keep DIR]

One run (one seed):

1. A relay home and a relay process (``villagecourt relay serve``, mutual TLS on
   127.0.0.1). Five nodes -- three of village A, two of village B -- each provisioned
   with a one-time token through ``villagecourt provision`` (the real enrolment), then
   pointed at the relay through its own link simulator (sync/linksim.py), and each running
   ``villagecourt serve --no-discovery``.
2. For ``--duration`` seconds, at moments drawn from the seed: edits through the
   command line while the daemons run (``case add --json``, ``case session``), manual
   ``villagecourt sync``, partitions (a node's link goes down, then up), flaky links
   (random disconnects, a cut after N bytes), SIGKILL of a node daemon, of the relay, and
   of an edit command in the middle of its work, then restarts. The whole plan (which
   action, on which node, with which parameters) is drawn from the seed before the run
   starts, and holds every kind of trouble at least once; a kill or a partition aimed at
   a node that is already down waits for it to be back. So a seed always does the same
   things, however fast the machine -- only their interleaving with the processes varies.
   An edit counts as *reported saved* when its command exited 0 and printed its output.
3. Heal: every process up, every link clean; the daemons are stopped with SIGTERM (they
   must exit 0), then every node runs ``villagecourt sync`` in rounds until a round in
   which nothing moves (bounded).
4. Check, with every process stopped, on the stores themselves: each village's documents
   have the same ids and heads on its nodes and at the relay, the county documents too;
   every case and session reported saved is there, with its text; every store passes its
   integrity check; no process logged a traceback.

A small seed count runs in the normal suite (tests/harsh/test_chaos_functional.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harsh_procs import (
    Proc,
    RelayProcess,
    free_port,
    init_relay_home,
    run_command,
    unexpected_errors,
    villagecourt,
)
from node.config import Home
from relay.enrol import TokenStore
from store import Store
from sync.linksim import LinkSim

VILLAGES = ("A", "A", "A", "B", "B")
COUNTY = "KC"
HEAL_ROUNDS = 8
SYNC_OK = re.compile(r"Synced with .*: (\d+) sent, (\d+) received")


@dataclass
class Saved:
    what: str  # "case" | "session"
    node: str
    village: str
    doc_id: str
    text: str  # the case's title, or the session's summary


@dataclass
class NodeSlot:
    name: str
    village: str
    home: Path
    sim_port: int
    sim: LinkSim | None = None
    daemon: Proc | None = None
    partitioned: bool = False
    busy: bool = False  # a kill or a partition of this node is under way


# What a step does, by where a draw in [0, 1) falls; above the last bound: nothing.
PLAN_WEIGHTS = (("case_add", 0.30), ("case_session", 0.55), ("sync", 0.65),
                ("partition", 0.73), ("flaky_link", 0.81), ("kill_node", 0.88),
                ("kill_relay", 0.93), ("kill_edit", 0.97))
TROUBLE = ("partition", "flaky_link", "kill_node", "kill_relay", "kill_edit")


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the chaos phase began
    kind: str
    node: int  # index into the node slots
    seed: int  # the step's own random source, for its parameters


@dataclass
class ChaosResult:
    seed: int
    seconds: float = 0.0
    actions: dict[str, int] = field(default_factory=dict)
    saved_cases: int = 0
    saved_sessions: int = 0
    failed_edits: dict[str, int] = field(default_factory=dict)
    heal_rounds: int = 0
    docs_per_village: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    slowest: list[tuple[float, str]] = field(default_factory=list)  # commands over 5 s
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        acts = " ".join(f"{k}={v}" for k, v in sorted(self.actions.items()))
        fails = " ".join(f"{k}={v}" for k, v in sorted(self.failed_edits.items())) or "-"
        phases = "/".join(f"{v:.0f}" for v in self.phases.values())
        return (f"seed {self.seed:>4}: {'ok' if self.ok else 'FAILED'} in {self.seconds:5.1f} s"
                f" (setup/chaos/drain/heal/check {phases});"
                f" saved {self.saved_cases} cases, {self.saved_sessions} sessions; heal "
                f"rounds {self.heal_rounds}; docs {self.docs_per_village}; actions {acts}; "
                f"refused edits {fails}"
                + (f"; slow: {sorted(self.slowest, reverse=True)[:4]}" if self.slowest else ""))


def make_plan(seed: int, duration: float, nodes: int = len(VILLAGES)) -> list[Step]:
    """A run's actions, drawn from the seed alone: ~4 a second for ``duration`` seconds,
    with every kind of trouble at least once (when there is room for them)."""
    r = random.Random(seed)
    steps: list[Step] = []
    at = 0.0
    while True:
        at += r.expovariate(4.0)
        if at >= duration:
            break
        node, roll, step_seed = r.randrange(nodes), r.random(), r.randrange(2**32)
        kind = next((k for k, upto in PLAN_WEIGHTS if roll < upto), None)
        if kind is not None:
            steps.append(Step(at, kind, node, step_seed))
    for kind in TROUBLE:
        if not any(s.kind == kind for s in steps):
            spare = [i for i, s in enumerate(steps) if s.kind not in TROUBLE]
            if spare:
                i = r.choice(spare)
                steps[i] = Step(steps[i].at, kind, steps[i].node, steps[i].seed)
    return steps


class Chaos:
    def __init__(self, root: Path, seed: int, *, duration: float = 20.0,
                 max_commands: int = 3) -> None:
        self.root = root
        self.seed = seed
        self.rng = random.Random(seed)
        self.duration = duration
        self.result = ChaosResult(seed)
        self.port = free_port()
        self.relay_home = init_relay_home(root / "relay", self.port)
        # The dashboard's warning pass writes warnings on its own schedule (at each relay
        # start, then every 15 min): one landing after the last heal round would make the
        # replicas differ for a moment at the check (seed 319). Off: what the chaos
        # writes, the check accounts for.
        (self.relay_home.path / "dashboard.json").write_text(
            json.dumps({"warning_interval_s": 0}))
        self.relay = RelayProcess(self.relay_home, self.port, root / "logs" / "relay.log")
        self.nodes: list[NodeSlot] = []
        self.saved: list[Saved] = []
        self.cases: dict[str, list[str]] = {"A": [], "B": []}  # doc ids reported saved
        self.tasks: set[asyncio.Task[Any]] = set()
        self.commands = asyncio.Semaphore(max_commands)
        self.relay_busy = False
        self.counter = 0

    async def command(self, slot: NodeSlot, *args: str, timeout: float = 120.0,
                      kill_after: float | None = None) -> Any:
        """``villagecourt --home <node> --lang en ARGS`` as a process; slow ones are noted."""
        ran = await run_command(villagecourt("--home", str(slot.home), "--lang", "en", *args),
                                timeout=timeout, kill_after=kill_after)
        if ran.seconds > 5.0:
            self.result.slowest.append((round(ran.seconds, 1), f"{slot.name} {args[0]} "
                                        f"{args[1] if len(args) > 1 else ''} rc={ran.rc}"))
        return ran

    def count(self, name: str) -> None:
        self.result.actions[name] = self.result.actions.get(name, 0) + 1

    # --- setting up ------------------------------------------------------------------------
    async def setup(self) -> None:
        await self.relay.start()
        tokens = TokenStore(self.relay_home.tokens_file)
        names = [f"{v.lower()}{i + 1}" for i, v in enumerate(VILLAGES)]
        self.nodes = [NodeSlot(n, v, self.root / n, free_port())
                      for n, v in zip(names, VILLAGES)]

        async def provision(slot: NodeSlot) -> None:
            code, _ = tokens.issue(slot.village, "director")
            ran = await run_command(villagecourt(
                "--home", str(slot.home), "--lang", "en", "provision", "--relay",
                f"127.0.0.1:{self.port}", "--token", code, "--name", f"{slot.village}村",
                "--no-sync"))
            if ran.rc != 0:
                raise RuntimeError(f"provisioning {slot.name} failed: {ran.err or ran.out}")
            home = Home(slot.home)
            cfg = home.load()
            cfg.relay_url = f"wss://127.0.0.1:{slot.sim_port}/v1/sync"
            home.save(cfg)

        await asyncio.gather(*(provision(s) for s in self.nodes))
        for slot in self.nodes:
            slot.sim = LinkSim("127.0.0.1", self.port, listen_port=slot.sim_port,
                               seed=self.rng.randrange(2**32))
            await slot.sim.start()
            slot.daemon = Proc(villagecourt("--home", str(slot.home), "--lang", "en", "-v",
                                            "serve", "--host", "127.0.0.1", "--port", "0",
                                            "--no-discovery"),
                               self.root / "logs" / f"{slot.name}.log")
            slot.daemon.spawn()

    # --- actions ---------------------------------------------------------------------------
    def _next_marker(self) -> int:
        self.counter += 1
        return self.counter

    async def add_case(self, slot: NodeSlot, rng: random.Random, *,
                       kill_after: float | None = None) -> None:
        n = self._next_marker()
        title = f"混沌案件 s{self.seed} n{n}"
        async with self.commands:
            ran = await self.command(
                slot, "case", "add", "--category",
                rng.choice(["neighbour", "family", "land"]), "--title", title,
                "--party", "申请人:张三", "--party", "被申请人:李四", "--json",
                kill_after=kill_after)
        if ran.rc == 0 and ran.out.strip():
            doc_id = str(json.loads(ran.out)["doc_id"])
            self.saved.append(Saved("case", slot.name, slot.village, doc_id, title))
            self.cases[slot.village].append(doc_id)
            self.result.saved_cases += 1
        else:
            self._refused("case_add", ran.rc, ran.err)

    async def log_session(self, slot: NodeSlot, rng: random.Random) -> None:
        # Mostly a case this node registered (it has it), sometimes any case of the
        # village (it may not have arrived yet): concurrent sessions on shared cases.
        own = [s.doc_id for s in self.saved if s.what == "case" and s.node == slot.name]
        known = own if own and rng.random() < 0.6 else self.cases[slot.village]
        if not known:
            return await self.add_case(slot, rng)
        doc_id = rng.choice(known[-8:])
        n = self._next_marker()
        summary = f"调解记录 s{self.seed} n{n}"
        async with self.commands:
            ran = await self.command(slot, "case", "session", doc_id, "--summary", summary,
                                     "--participants", "双方")
        if ran.rc == 0 and ran.out.strip():
            self.saved.append(Saved("session", slot.name, slot.village, doc_id, summary))
            self.result.saved_sessions += 1
        else:
            self._refused("case_session", ran.rc, ran.err)

    def _refused(self, what: str, rc: int | None, err: str) -> None:
        if rc is None:
            key = f"{what}:killed"
        elif "not found" in err.lower() or "no case" in err.lower():
            key = f"{what}:not_here_yet"
        elif "locked" in err.lower():
            key = f"{what}:store_locked"
        else:
            key = f"{what}:rc{rc}"
            # An edit command that fails for any other reason is worth a look.
            if "Traceback" in err:
                self.result.problems.append(f"{what} crashed: {err.strip()[-300:]}")
        self.result.failed_edits[key] = self.result.failed_edits.get(key, 0) + 1

    async def sync_now(self, slot: NodeSlot) -> None:
        async with self.commands:
            ran = await self.command(slot, "sync")
        if ran.rc not in (0, 1) or "Traceback" in ran.err:
            self.result.problems.append(f"sync on {slot.name}: rc {ran.rc} {ran.err[-300:]}")

    @staticmethod
    async def _free(is_busy: Any, limit: float = 60.0) -> None:
        """Wait (bounded) until a node or the relay is no longer down for another action."""
        deadline = time.monotonic() + limit
        while is_busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def partition(self, slot: NodeSlot, seconds: float) -> None:
        assert slot.sim is not None
        await self._free(lambda: slot.busy)
        slot.busy = slot.partitioned = True
        try:
            await slot.sim.stop()  # every connection cut, nothing listens: a dead link
            await asyncio.sleep(seconds)
        finally:
            await slot.sim.start()
            slot.partitioned = slot.busy = False

    async def flaky(self, slot: NodeSlot, seconds: float, rng: random.Random) -> None:
        assert slot.sim is not None
        if rng.random() < 0.5:
            slot.sim.configure(disconnect_per_s=rng.choice([0.3, 0.6, 0.9]),
                               latency_s=rng.choice([0.0, 0.02, 0.1]))
        else:
            slot.sim.configure(cut_after_bytes=rng.randint(100, 30_000),
                               reset=rng.random() < 0.5)
        try:
            await asyncio.sleep(seconds)
        finally:
            slot.sim.configure(disconnect_per_s=0.0, latency_s=0.0, cut_after_bytes=None,
                               reset=False)

    async def kill_node(self, slot: NodeSlot, down: float) -> None:
        assert slot.daemon is not None
        await self._free(lambda: slot.busy)
        slot.busy = True
        try:
            await slot.daemon.kill()
            await asyncio.sleep(down)
        finally:
            slot.daemon.spawn()
            slot.busy = False

    async def kill_relay(self, down: float) -> None:
        await self._free(lambda: self.relay_busy)
        self.relay_busy = True
        try:
            await self.relay.kill()
            await asyncio.sleep(down)
        finally:
            await self.relay.start()
            self.relay_busy = False

    def spawn(self, name: str, coro: Any) -> None:
        self.count(name)
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start(self, step: Step) -> None:
        slot, rng = self.nodes[step.node], random.Random(step.seed)
        actions = {
            "case_add": lambda: self.add_case(slot, rng),
            "case_session": lambda: self.log_session(slot, rng),
            "sync": lambda: self.sync_now(slot),
            "partition": lambda: self.partition(slot, rng.uniform(0.5, 4.0)),
            "flaky_link": lambda: self.flaky(slot, rng.uniform(1.0, 4.0), rng),
            "kill_node": lambda: self.kill_node(slot, rng.uniform(0.2, 2.0)),
            "kill_relay": lambda: self.kill_relay(rng.uniform(0.2, 2.5)),
            "kill_edit": lambda: self.add_case(slot, rng, kill_after=rng.uniform(0.05, 0.6)),
        }
        self.spawn(step.kind, actions[step.kind]())

    async def chaos(self) -> None:
        began = time.monotonic()
        for step in make_plan(self.seed, self.duration, len(self.nodes)):
            await asyncio.sleep(max(0.0, began + step.at - time.monotonic()))
            self.start(step)
        self.result.phases["chaos"] = time.monotonic() - began
        t = time.monotonic()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=120)
        self.result.phases["drain"] = time.monotonic() - t

    # --- healing and checking --------------------------------------------------------------
    async def heal(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        if not self.relay.alive:
            await self.relay.start()
        for slot in self.nodes:
            assert slot.sim is not None and slot.daemon is not None
            slot.sim.configure(disconnect_per_s=0.0, latency_s=0.0, cut_after_bytes=None,
                               reset=False)
            await slot.sim.start()
            slot.daemon.spawn()
        # Let the daemons run a moment in the healed network, then stop them cleanly (once
        # they are up: a SIGTERM before `serve` has set up its handler ends it as any
        # program, with -15; the store is safe either way).
        await asyncio.sleep(1.0)

        async def stop(slot: NodeSlot) -> None:
            assert slot.daemon is not None
            await _wait_ready(slot, timeout=30.0)
            t = time.monotonic()
            rc = await slot.daemon.terminate()
            if rc != 0:
                self.result.problems.append(f"daemon {slot.name} exited {rc} on SIGTERM")
            if time.monotonic() - t > 5.0:
                self.result.slowest.append((round(time.monotonic() - t, 1),
                                            f"{slot.name} serve: SIGTERM to exit"))

        await asyncio.gather(*(stop(s) for s in self.nodes))
        for rounds in range(1, HEAL_ROUNDS + 1):
            runs = await asyncio.gather(*(self.command(s, "sync") for s in self.nodes))
            self.result.heal_rounds = rounds
            moved = 0
            for slot, ran in zip(self.nodes, runs):
                m = SYNC_OK.search(ran.out)
                if ran.rc != 0 or m is None:
                    moved += 1
                    if rounds == HEAL_ROUNDS:
                        self.result.problems.append(
                            f"sync on {slot.name} still fails after healing: {ran.err[-200:]}")
                else:
                    moved += int(m.group(1)) + int(m.group(2))
            if moved == 0 or time.monotonic() > deadline:
                break
        if moved:
            self.result.problems.append(f"still syncing after {self.result.heal_rounds} "
                                        "rounds")

    async def check(self) -> None:
        rc = await self.relay.terminate()
        if rc != 0:
            self.result.problems.append(f"relay exited {rc} on SIGTERM")
        for slot in self.nodes:
            assert slot.sim is not None
            await slot.sim.stop()
        stores: dict[str, Store] = {}
        try:
            stores["relay"] = await Store.open(self.relay_home.store_file,
                                               key=self.relay_home.store_key())
            for slot in self.nodes:
                home = Home(slot.home)
                stores[slot.name] = await Store.open(home.store_file,
                                                     key=home.store_key_file.read_bytes())
            heads: dict[str, dict[str, tuple[str, bytes]]] = {}
            for name, store in stores.items():
                rows = await store.query("SELECT doc_id, scope, heads FROM docs")
                heads[name] = {r[0]: (str(r[1]), bytes(r[2])) for r in rows}
                problems = await store.check()
                if problems:
                    self.result.problems.append(f"{name} integrity: {problems[:3]}")

            def part(name: str, prefix: str) -> dict[str, bytes]:
                return {d: h for d, (scope, h) in heads[name].items() if scope.startswith(
                    prefix)}

            for village in sorted(set(VILLAGES)):
                prefix = f"village:{COUNTY}/{village}"
                want = part("relay", prefix)
                self.result.docs_per_village[village] = len(want)
                for slot in self.nodes:
                    if slot.village != village:
                        if part(slot.name, prefix):
                            self.result.problems.append(f"{slot.name} holds {prefix} docs")
                        continue
                    got = part(slot.name, prefix)
                    if got != want:
                        missing = sorted(set(want) - set(got))[:3]
                        extra = sorted(set(got) - set(want))[:3]
                        differ = sorted(d for d in set(got) & set(want)
                                        if got[d] != want[d])[:3]
                        self.result.problems.append(
                            f"{slot.name} differs from the relay in {prefix}: missing "
                            f"{missing}, extra {extra}, other heads {differ}")
            county = part("relay", f"county:{COUNTY}")
            for slot in self.nodes:
                if part(slot.name, f"county:{COUNTY}") != county:
                    self.result.problems.append(f"{slot.name}: county documents differ")
            # Every edit reported saved, everywhere its village is.
            for s in self.saved:
                holders = ["relay"] + [n.name for n in self.nodes if n.village == s.village]
                for name in holders:
                    data = await _read(stores[name], s.doc_id)
                    if data is None:
                        self.result.problems.append(
                            f"{s.what} {s.text!r} saved on {s.node} is missing at {name}")
                    elif s.what == "case" and data.get("title") != s.text:
                        self.result.problems.append(
                            f"case {s.doc_id} at {name} has title {data.get('title')!r}")
                    elif s.what == "session" and s.text not in [
                            x.get("summary") for x in data.get("sessions") or []
                            if isinstance(x, dict)]:
                        self.result.problems.append(
                            f"session {s.text!r} saved on {s.node} is missing at {name}")
        finally:
            for store in stores.values():
                await store.close()
        for log in sorted((self.root / "logs").glob("*.log")):
            errors = unexpected_errors(log)
            if errors:
                self.result.problems.append(f"{log.name}: {errors[:2]}")

    def kill_everything(self) -> None:
        self.relay.kill_now()
        for slot in self.nodes:
            if slot.daemon is not None:
                slot.daemon.kill_now()


async def _wait_ready(slot: NodeSlot, timeout: float) -> None:
    """Until the daemon's latest start has printed that sync is running."""
    assert slot.daemon is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and slot.daemon.alive:
        text = slot.daemon.log.read_text(errors="replace") if slot.daemon.log.exists() else ""
        if "Sync is running" in text.rsplit("=== start", 1)[-1]:  # since the latest start
            return
        await asyncio.sleep(0.1)


async def _read(store: Store, doc_id: str) -> dict[str, Any] | None:
    try:
        return await store.read(doc_id)
    except Exception:  # noqa: BLE001 — a document the soak cannot read (any store error) counts as missing
        return None


async def run_seed(root: Path, seed: int, *, duration: float = 20.0) -> ChaosResult:
    """One chaos run under ``root``; every process it started is gone when it returns."""
    started = time.monotonic()
    chaos = Chaos(root, seed, duration=duration)
    try:
        t = time.monotonic()
        await chaos.setup()
        chaos.result.phases["setup"] = time.monotonic() - t
        await chaos.chaos()
        t = time.monotonic()
        await chaos.heal()
        chaos.result.phases["heal"] = time.monotonic() - t
        t = time.monotonic()
        await chaos.check()
        chaos.result.phases["check"] = time.monotonic() - t
    finally:
        for task in list(chaos.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*chaos.tasks, return_exceptions=True)
        chaos.kill_everything()
        for slot in chaos.nodes:
            if slot.sim is not None:
                with contextlib.suppress(Exception):
                    await slot.sim.stop()
    chaos.result.seconds = time.monotonic() - started
    return chaos.result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50, help="how many seeds to run")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=25.0,
                   help="seconds of chaos per seed (then heal and check)")
    p.add_argument("--keep", help="keep each seed's homes and logs under this folder")
    args = p.parse_args()
    print(f"chaos: 5 nodes (A×3, B×2) and the relay as processes; {args.duration:g} s of "
          f"chaos per seed; {os.cpu_count()} cores", flush=True)
    failed = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        with contextlib.ExitStack() as stack:
            if args.keep:
                root = Path(args.keep) / f"seed-{seed}"
                root.mkdir(parents=True, exist_ok=True)
            else:
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(
                    prefix=f"chaos-{seed}-")))
            result = asyncio.run(run_seed(root, seed, duration=args.duration))
        print(result.line(), flush=True)
        for problem in result.problems:
            print(f"    {problem}", flush=True)
        if not result.ok:
            failed.append(seed)
    print(f"{args.seeds - len(failed)}/{args.seeds} seeds ok"
          + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
