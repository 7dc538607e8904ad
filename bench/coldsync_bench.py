"""Cold sync benchmark (issue #16, item 3): a new store receiving 10,000 cases at once.

    python -m bench.coldsync_bench [--cases 10000] [--repeats 3] [--profile FILE]
                                   [--compare COMMIT]

a) cold push: a village node holding --cases headline-shaped cases (the shape of
   bench/sync_bench.py) syncs to a fresh relay, --repeats times (a new relay each time);
b) cold pull: a new node of the same village syncs from the relay that holds them,
   --repeats times (a new node each time);
c) the receiver's merge alone: the pages the new node was sent, merged again into a fresh
   store with no network and no sender in the same process.

For (a) and (b): wall time of the session (connect to close; relay and node share this
process and its one Python thread, so both sides' work is in it), protocol bytes per case,
and the receiver's time inside ``Store.merge`` (the relay's for a push, the node's for a
pull). Medians of the repeats; the load average is printed before and after each part.

``--profile FILE``: one more pull with cProfile switched on while the new node's
``merge`` runs (work of the relay that runs while merge awaits SQLite is counted too);
the 20 most expensive functions are printed and the stats written to FILE.

``--compare COMMIT``: runs this script first on the code of an older commit (``git
archive`` into a temporary folder, this script copied in, put first on PYTHONPATH), then
on the working tree, one after the other in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from automerge.core import Document

from bench.sync_bench import COUNTY, InProcessRelay, measured_session, new_node, start_relay
from node.daemon import node_identity
from store import Incoming, Store, casedoc, new_key
from store.records import CASE, CATEGORIES, Party

BUILD_BATCH = 500
_PARTIES = [Party("applicant", "张三", "13800138000"), Party("respondent", "李四")]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def headline_docs(scope: str, village: str, n: int) -> list[Incoming]:
    """``n`` cases of bench/sync_bench.py's headline shape, as saved documents."""
    cats = list(CATEGORIES)
    out = []
    for i in range(n):
        doc = Document()
        casedoc.new_case(doc, number=f"{village}-B7Q-{i:05d}", category=cats[i % len(cats)],
                         title=f"case {i} 邻里纠纷", parties=_PARTIES, village=village,
                         county=COUNTY, created_at="2024-05-01T08:00:00+00:00")
        out.append(Incoming(f"{i:032x}", CASE, scope, doc.save()))
    return out


class MergeClock:
    """Wraps one store's ``merge``: total seconds inside it, the pages it was given, and
    optionally a profiler switched on while it runs."""

    def __init__(self, store: Any, profiler: cProfile.Profile | None = None) -> None:
        self.seconds = 0.0
        self.pages: list[list[Incoming]] = []
        inner = store.merge

        async def merge(incoming: list[Incoming], **kw: Any) -> Any:
            self.pages.append(list(incoming))
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            try:
                return await inner(incoming, **kw)
            finally:
                if profiler is not None:
                    profiler.disable()
                self.seconds += time.perf_counter() - started

        store.merge = merge


def med(values: list[float]) -> float:
    return statistics.median(values)


def report(what: str, n: int, walls: list[float], merges: list[float],
           payloads: list[int]) -> None:
    print(f"  {what}: wall {med(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}),"
          f" receiver's merge {med(merges):.2f} s, {med(payloads) / n:.1f} B/case "
          f"({med(payloads):,.0f} B)", flush=True)


async def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="vc-coldsync-"))
    n = args.cases
    try:
        print(f"making a node with {n:,} headline cases... (load {load()})", flush=True)
        node = await new_node(root / "node", "A")
        docs = headline_docs(node.config.scope, "A", n)
        for i in range(0, n, BUILD_BATCH):
            await node.store.merge(docs[i:i + BUILD_BATCH], origin="bench-builder")
        me = node_identity(node)

        print(f"(a) cold push, node -> new relay (load {load()})", flush=True)
        walls, merges, payloads = [], [], []
        relay: InProcessRelay | None = None
        for r in range(args.repeats):
            if relay is not None:
                await relay.runner.cleanup()
            relay = await start_relay(root / f"relay-{r}")
            clock = MergeClock(relay.store)
            s = await measured_session(node.store, me, relay.url)
            assert s.result.counters.docs_sent == n + 1, s.result.counters
            walls.append(s.seconds)
            merges.append(clock.seconds)
            payloads.append(s.payload)
        report("cold push", n, walls, merges, payloads)
        print(f"  (load {load()})", flush=True)
        assert relay is not None

        print(f"(b) cold pull, relay -> new node (load {load()})", flush=True)
        walls, merges, payloads = [], [], []
        pages: list[list[Incoming]] = []
        for r in range(args.repeats + (1 if args.profile else 0)):
            profiling = r == args.repeats
            fresh = await new_node(root / f"puller-{r}", "A")
            profiler = cProfile.Profile() if profiling else None
            clock = MergeClock(fresh.store, profiler)
            s = await measured_session(fresh.store, node_identity(fresh), relay.url)
            assert s.result.counters.docs_received >= n, s.result.counters
            (held,), = await fresh.store.query("SELECT count(*) FROM docs WHERE kind = 'case'")
            assert held == n, held
            await fresh.close()
            if profiler is not None:
                print(f"  profiled pull: wall {s.seconds:.2f} s, merge {clock.seconds:.2f} s")
                profiler.dump_stats(args.profile)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
                continue
            walls.append(s.seconds)
            merges.append(clock.seconds)
            payloads.append(s.payload)
            pages = clock.pages
        report("cold pull", n, walls, merges, payloads)
        print(f"  (load {load()})", flush=True)
        await relay.runner.cleanup()
        await node.close()

        print(f"(c) the receiver's merge alone: {len(pages)} pages again into a fresh "
              f"store (load {load()})", flush=True)
        alone = []
        for r in range(args.repeats):
            store = await Store.open(root / f"alone-{r}.db", key=new_key())
            started = time.perf_counter()
            for page in pages:
                await store.merge(page, origin="relay")
            alone.append(time.perf_counter() - started)
            await store.close()
        print(f"  merge alone: {med(alone):.2f} s (runs {', '.join(f'{a:.2f}' for a in alone)})"
              f", {med(alone) / n * 1e6:.0f} us/case (load {load()})", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare(args: argparse.Namespace, argv: list[str]) -> int:
    here = Path(__file__).resolve()
    repo = here.parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="vc-coldsync-compare-"))
    try:
        archive = subprocess.run(["git", "-C", str(repo), "archive", args.compare],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        shutil.copy(here, tmp / "bench" / here.name)
        rest = [a for i, a in enumerate(argv)
                if a != "--compare" and (i == 0 or argv[i - 1] != "--compare")
                and not a.startswith("--compare=")]
        for label, src in ((f"before: {args.compare}", tmp), ("after: working tree", repo)):
            print(f"== {label} ==", flush=True)
            env = {**os.environ, "PYTHONPATH": str(src)}
            rc = subprocess.run([sys.executable, "-m", "bench.coldsync_bench", *rest],
                                cwd=src, env=env).returncode
            if rc:
                return rc
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.coldsync_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", metavar="FILE", help="profile one more pull's merge")
    p.add_argument("--compare", metavar="COMMIT", help="run on COMMIT's code first")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if args.compare:
        return compare(args, argv)
    print(f"villagecourt cold sync benchmark (cases={args.cases}, repeats={args.repeats}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus)", flush=True)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
