"""Benchmark: one village node's store at 10,000 cases (issue #2).

    python -m bench.store_bench [--cases 10000] [--repeats 5] [--home DIR] [--json FILE]
                                [--compare COMMIT]

Builds a node in a temporary home (or ``--home``, which must not exist yet) and registers
``--cases`` cases through ``node.cases.register`` — the real API path: validation, a case
number, one Automerge document, its projection, COMMIT with ``synchronous=FULL``. Titles,
descriptions and parties come from the demo generator (node/demo.py). Then, so that status
filters and follow-ups have something to find, about 60 % of the cases get a mediation
session and about 35 % are closed with an agreement (also through the API; not counted in
"ms per case created").

Measured:
  * ms per case created — wall time of ``register`` calls ÷ cases, and the per-call
    median and 95th percentile;
  * a filtered list of 50 — ``node.cases.search(...)`` with a category/status filter, with
    a Chinese text query, with a party name, a party's phone and its last 4 digits, and
    the unfiltered first page (median and worst of ``--repeats`` runs each; target
    < 50 ms);
  * bytes on disk per case — store.db plus its WAL after the WAL is checkpointed (the node
    closed), ÷ cases; also after ``store.compact()`` folded every change tail;
  * cold open — ``Node.open`` in a fresh Python process (median of ``--repeats``
    processes; target < 1 s), and that process's whole run (interpreter, imports, open,
    first list of 50).

``--compare COMMIT`` runs this same script first on the code of an older commit (``git
archive`` into a temporary folder, put first on ``PYTHONPATH``), with the same arguments
and data, then on the working tree, and prints both and their differences; then it opens
the store the old code built with the new code, timing the migration (issue #12: the
index is rebuilt from every document). The load average is printed with each run.

The operating system's page cache is not dropped between runs (that needs root and would
disturb the machine); "cold" means a new process with no in-memory state of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

from automerge.core import Document

from node import Node
from node.demo import CATEGORY_WEIGHTS, SCENARIOS, DemoPeople
from store import Incoming, casedoc, pack_heads
from store.records import CASE, Party

TARGET_LIST_MS = 50.0
TARGET_OPEN_S = 1.0
TODAY = dt.date(2026, 11, 20)
BULK_BATCH = 500  # documents per merge transaction while building
SESSION_SUMMARY = "听取双方陈述，释法说理，双方差距缩小"
NO_MATCH = "text matching nothing"
STATS = "node.stats() over all cases"
DUE = "followups.due() this week"
OTHER_READS = (STATS, DUE)

# Runs in a fresh interpreter: times Node.open and a first list, prints JSON.
COLD_OPEN = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from node import Node
t1 = time.perf_counter()
async def main():
    t2 = time.perf_counter()
    node = await Node.open(sys.argv[1])
    t3 = time.perf_counter()
    rows = await node.cases.search(limit=50)
    t4 = time.perf_counter()
    await node.close()
    print(json.dumps({"import_s": t1 - t0, "open_s": t3 - t2, "first_list_s": t4 - t3,
                      "rows": len(rows)}))
asyncio.run(main())
"""


def ms(seconds: float) -> float:
    return seconds * 1000.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def case_input(rng: random.Random, people: DemoPeople) -> dict[str, Any]:
    """One realistic registration (the demo's scenarios and made-up people)."""
    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    scenario = rng.choice(SCENARIOS[category])
    applicant = people.party("applicant", TODAY)
    respondent = (Party("respondent", rng.choice(scenario.orgs), people.mobile())
                  if scenario.orgs else people.party("respondent", TODAY))
    headcount = rng.randint(8, 85) if scenario.group else 0
    amount = rng.randint(20, 1200) * 100
    words = {"a": applicant.name, "b": respondent.name, "n": headcount,
             "small": rng.randint(2, 9), "days": rng.choice((7, 15, 30)), "amount": amount,
             "part": amount // 2}
    created = TODAY - dt.timedelta(days=rng.randint(0, 365))
    return {
        "category": category, "title": scenario.title.format(**words),
        "description": scenario.description.format(**words),
        "parties": [applicant, respondent], "group": scenario.group, "headcount": headcount,
        "mediator": people.name(), "created_at": f"{created.isoformat()}T02:00:00+00:00",
        "_agreement": scenario.agreement.format(**words), "_created": created,
    }


def bulk_doc(spec: dict[str, Any], number: str, roll: float, rng: random.Random
             ) -> Document:
    """The same case as ``build`` makes through the API, written with the same mutators
    (store.casedoc) into a document of its own, for merging in batches."""
    doc = Document()
    agreement, created = spec["_agreement"], spec["_created"]
    casedoc.new_case(doc, number=number, village="BY", county="KC", by="bench",
                     **{k: v for k, v in spec.items() if not k.startswith("_")})
    if roll < 0.6:
        session_day = min(TODAY, created + dt.timedelta(days=rng.randint(1, 20)))
        casedoc.log_session(doc, date=session_day.isoformat(), participants="双方、调解员",
                            summary=SESSION_SUMMARY)
        if roll < 0.35:
            closed = min(TODAY, session_day + dt.timedelta(days=rng.randint(0, 30)))
            casedoc.close_case(doc, agreement=agreement, on=closed)
    return doc


async def build(home: Path, cases: int, api_cases: int, seed: int) -> dict[str, Any]:
    """``cases - api_cases`` cases merged in batches (fast), then ``api_cases`` registered
    one by one through the node API (timed): the figure is the cost of registering at
    that store size."""
    rng = random.Random(seed)
    people = DemoPeople(rng)
    node = await Node.create(home, village="BY", village_name="白云村", county="KC")
    register_times: list[float] = []
    other_ops = 0
    t_other = 0.0
    bulk = cases - api_cases
    try:
        t = time.perf_counter()
        batch: list[Incoming] = []
        for i in range(bulk):
            spec = case_input(rng, people)
            doc = bulk_doc(spec, f"BY-BLK-{i + 1:05d}", rng.random(), rng)
            batch.append(Incoming(uuid.uuid4().hex, CASE, node.config.scope, doc.save(),
                                  pack_heads(doc.get_heads())))
            if len(batch) == BULK_BATCH or i == bulk - 1:
                await node.store.merge(batch, origin="bench-bulk")
                batch = []
            if (i + 1) % 2000 == 0:
                print(f"  {i + 1:>6} cases merged", file=sys.stderr, flush=True)
        bulk_s = time.perf_counter() - t

        for i in range(api_cases):
            spec = case_input(rng, people)
            agreement, created = spec.pop("_agreement"), spec.pop("_created")
            t = time.perf_counter()
            case = await node.cases.register(**spec)
            register_times.append(time.perf_counter() - t)

            t = time.perf_counter()
            roll = rng.random()
            if roll < 0.6:
                session_day = min(TODAY, created + dt.timedelta(days=rng.randint(1, 20)))
                await node.cases.log_session(case.doc_id, date=session_day.isoformat(),
                                             participants="双方、调解员", summary=SESSION_SUMMARY)
                other_ops += 1
                if roll < 0.35:
                    closed = min(TODAY, session_day + dt.timedelta(days=rng.randint(0, 30)))
                    await node.cases.close(case.doc_id, agreement=agreement, on=closed)
                    other_ops += 1
            t_other += time.perf_counter() - t
            if (i + 1) % 500 == 0:
                print(f"  {bulk + i + 1:>6} cases, {ms(statistics.mean(register_times)):.2f}"
                      f" ms per register", file=sys.stderr, flush=True)
    finally:
        await node.close()
    return {"register_times": register_times, "other_ops": other_ops, "other_s": t_other,
            "bulk": bulk, "bulk_s": bulk_s}


async def timed(fn: Callable[[], Awaitable[Any]], repeats: int) -> tuple[list[float], Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t)
    return times, result


async def measure_lists(home: Path, repeats: int) -> list[dict[str, Any]]:
    node = await Node.open(home)
    try:
        # A common surname and a name that is in the data, found once through the API.
        some = await node.cases.search(limit=1, offset=123)
        party_name = (await node.cases.get(some[0].doc_id)).parties[0].name
        phone = ""
        for offset in range(123, 400):  # a party with a phone (90 % have one)
            row = (await node.cases.search(limit=1, offset=offset))[0]
            phone = next((p.phone for p in (await node.cases.get(row.doc_id)).parties
                          if p.phone), "")
            if phone:
                break
        queries: list[tuple[str, dict[str, Any]]] = [
            ("category + status filter", {"category": "neighbour", "status": "mediating"}),
            ("Chinese text + category", {"query": "宅基地", "category": "neighbour"}),
            ("Chinese text, 2 words", {"query": "赔偿 纠纷"}),
            ("party full name", {"query": party_name}),
            ("party phone", {"query": phone}),
            ("phone, last 4 digits", {"query": phone[-4:]}),
            ("open cases, no text", {"open_only": True}),
            ("unfiltered first page", {}),
            (NO_MATCH, {"query": "不存在的词语"}),
        ]
        out = []
        for label, kw in queries:
            times, rows = await timed(lambda kw=kw: node.cases.search(limit=50, **kw), repeats)
            total = await node.cases.count(**kw)
            out.append({"label": label, "args": kw, "rows": len(rows), "matches": total,
                        "median_ms": ms(statistics.median(times)), "max_ms": ms(max(times))})
        times, _ = await timed(lambda: node.stats(on=TODAY), repeats)
        out.append({"label": STATS, "args": {}, "rows": 0, "matches": 0,
                    "median_ms": ms(statistics.median(times)), "max_ms": ms(max(times))})
        times, due = await timed(lambda: node.followups.due(on=TODAY), repeats)
        out.append({"label": DUE, "args": {}, "rows": len(due), "matches": 0,
                    "median_ms": ms(statistics.median(times)), "max_ms": ms(max(times))})
        return out
    finally:
        await node.close()


def disk_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.iterdir()
               if p.name in ("store.db", "store.db-wal"))


async def compact(home: Path) -> float:
    node = await Node.open(home)
    try:
        t = time.perf_counter()
        await node.store.compact()
        return time.perf_counter() - t
    finally:
        await node.close()


def cold_opens(home: Path, repeats: int) -> list[dict[str, float]]:
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD_OPEN, str(home)], check=True,
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        got = json.loads(out.stdout.strip().splitlines()[-1])
        got["process_s"] = wall
        runs.append(got)
    return runs


def machine() -> dict[str, str]:
    return {"python": sys.version.split()[0], "cpus": str(os.cpu_count()),
            "platform": sys.platform}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = None
    if args.home:
        home = Path(args.home)
        if home.exists():
            raise SystemExit(f"{home} exists; give a new directory")
    else:
        tmp = tempfile.mkdtemp(prefix="vc-store-bench-")
        home = Path(tmp) / "node"
    try:
        print(f"building {args.cases} cases in {home} ...", file=sys.stderr, flush=True)
        load_start = load()
        t = time.perf_counter()
        api_cases = min(args.api_cases, args.cases)
        built = await build(home, args.cases, api_cases, args.seed)
        build_s = time.perf_counter() - t
        reg = built["register_times"]
        size = disk_bytes(home)  # the node is closed: the WAL is checkpointed
        lists = await measure_lists(home, args.repeats)
        compact_s = await compact(home)
        size_compacted = disk_bytes(home)
        opens = cold_opens(home, args.repeats)
        return {
            "machine": machine(), "cases": args.cases, "repeats": args.repeats,
            "load_start": load_start, "load_end": load(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"),
            "build_s": build_s,
            "register_ms_per_case": ms(sum(reg) / len(reg)),
            "register_ms_median": ms(statistics.median(reg)),
            "register_ms_p95": ms(pct(reg, 0.95)),
            "api_cases": api_cases, "bulk": built["bulk"], "bulk_s": built["bulk_s"],
            "other_ops": built["other_ops"],
            "other_ms_per_op": ms(built["other_s"] / max(1, built["other_ops"])),
            "lists": lists,
            "bytes": size, "bytes_per_case": size / args.cases,
            "bytes_compacted": size_compacted,
            "bytes_per_case_compacted": size_compacted / args.cases,
            "compact_s": compact_s,
            "open_s_median": statistics.median(o["open_s"] for o in opens),
            "open_s_max": max(o["open_s"] for o in opens),
            "first_list_s_median": statistics.median(o["first_list_s"] for o in opens),
            "import_s_median": statistics.median(o["import_s"] for o in opens),
            "process_s_median": statistics.median(o["process_s"] for o in opens),
        }
    finally:
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    lines = [
        f"store benchmark: {r['cases']:,} cases, {r['repeats']} repeats "
        f"(Python {r['machine']['python']}, {r['machine']['cpus']} CPUs)",
        f"{r.get('date', '')}, load average {r.get('load_start', '?')} at the start, "
        f"{r.get('load_end', '?')} at the end",
        "",
        f"{'figure':<44}{'median':>12}{'worst':>12}  target",
        "-" * 80,
        f"{'ms per case created (register, mean)':<44}{r['register_ms_per_case']:>12.2f}"
        f"{r['register_ms_p95']:>12.2f}  (worst = p95)",
        f"{'  per register call (median)':<44}{r['register_ms_median']:>12.2f}",
        f"{'  sessions and closings (ms per call, mean)':<44}{r['other_ms_per_op']:>12.2f}",
    ]
    for q in r["lists"]:
        listing = q["label"] not in OTHER_READS
        label = (f"list of 50: {q['label']}" if listing else q["label"]) + " (ms)"
        target = ""
        if listing and q["label"] != NO_MATCH:
            target = f"< {TARGET_LIST_MS:.0f} ms {ok(q['median_ms'] < TARGET_LIST_MS)}"
        found = (f"  [{q['rows']} of {q['matches']:,} matches]" if listing
                 else f"  [{q['rows']} rows]" if q["rows"] else "")
        lines.append(f"{label:<44}{q['median_ms']:>12.2f}{q['max_ms']:>12.2f}  {target}{found}")
    lines += [
        f"{'bytes on disk per case':<44}{r['bytes_per_case']:>12,.0f}"
        f"{'':>12}  ({r['bytes'] / 1e6:.1f} MB total)",
        f"{'bytes on disk per case after compact()':<44}{r['bytes_per_case_compacted']:>12,.0f}"
        f"{'':>12}  ({r['bytes_compacted'] / 1e6:.1f} MB, compact {r['compact_s']:.1f} s)",
        f"{'cold open: Node.open, fresh process (s)':<44}{r['open_s_median']:>12.3f}"
        f"{r['open_s_max']:>12.3f}  < {TARGET_OPEN_S:.0f} s "
        f"{ok(r['open_s_median'] < TARGET_OPEN_S)}",
        f"{'  first list of 50 after open (ms)':<44}{ms(r['first_list_s_median']):>12.2f}",
        f"{'  imports (s)':<44}{r['import_s_median']:>12.3f}",
        f"{'  whole process: start..list..exit (s)':<44}{r['process_s_median']:>12.3f}",
        "",
        f"building took {r['build_s']:.1f} s: {r['bulk']:,} cases merged in batches of "
        f"{BULK_BATCH} ({r['bulk_s']:.1f} s), then {r['api_cases']:,} registered through "
        f"node.cases.register (timed above) with {r['other_ops']:,} sessions and closings",
    ]
    return "\n".join(lines)


async def migrate_old(home: Path) -> dict[str, Any]:
    """Open a store the old code built with this code: the migration's time (in a fresh
    process, as a node would at its first start after the upgrade)."""
    code = ("import asyncio, json, sys, time\n"
            "from node import Node\n"
            "async def main():\n"
            "    t = time.perf_counter()\n"
            "    node = await Node.open(sys.argv[1])\n"
            "    opened = time.perf_counter() - t\n"
            "    rows = await node.store.query(\n"
            "        \"SELECT count(*) FROM records WHERE tokens != ''\")\n"
            "    await node.close()\n"
            "    print(json.dumps({'open_s': opened, 'tokenized': rows[0][0]}))\n"
            "asyncio.run(main())\n")
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code, str(home)],
                                  check=True, capture_output=True, text=True)
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def compare(args: argparse.Namespace, argv: list[str]) -> None:
    """Run this script on the code of ``args.compare``, then on the working tree."""
    root = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="vc-store-bench-compare-"))
    try:
        src = tmp / "src"
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(root), "archive", args.compare],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        rest = [a for i, a in enumerate(argv)
                if a != "--compare" and (i == 0 or argv[i - 1] != "--compare")
                and not a.startswith("--compare=")]
        rest = [a for i, a in enumerate(rest) if a not in ("--home", "--json", "--keep")
                and (i == 0 or rest[i - 1] not in ("--home", "--json"))]
        env = {**os.environ, "PYTHONPATH": str(src)}
        before_json, old_home = tmp / "before.json", tmp / "old-node"
        print(f"== before: {args.compare} ==", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), *rest,
                        "--home", str(old_home), "--json", str(before_json)],
                       check=True, env=env, cwd=src, stdout=sys.stderr)
        before = json.loads(before_json.read_text(encoding="utf-8"))
        print("== after: working tree ==", file=sys.stderr, flush=True)
        after = asyncio.run(main_async(args))
        load_m = load()
        migration = asyncio.run(migrate_old(old_home))
        print(f"\n== before: {args.compare} ==\n{report(before)}\n\n== after ==\n"
              f"{report(after)}\n")
        print(f"{'figure (median ms)':<44}{'before':>12}{'after':>12}")
        print("-" * 68)
        print(f"{'register (mean)':<44}{before['register_ms_per_case']:>12.2f}"
              f"{after['register_ms_per_case']:>12.2f}")
        old = {q["label"]: q for q in before["lists"]}
        for q in after["lists"]:
            b = old.get(q["label"])
            was = f"{b['median_ms']:>8.2f} [{b['matches']:>5}]" if b else f"{'-':>16}"
            print(f"{q['label']:<44}{was:>16}{q['median_ms']:>8.2f} [{q['matches']:>5}]")
        print(f"\nmigration: the old store of {args.cases:,} cases opened by this code in "
              f"{migration['open_s']:.2f} s ({migration['tokenized']:,} records tokenized; "
              f"load {load_m})")
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"before": before, "after": after, "migration": migration,
                 "compare": args.compare}, ensure_ascii=False, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--api-cases", type=int, default=1000,
                   help="cases registered one by one through the API (timed); the rest are "
                        "merged in batches first")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--home", help="build the node here (a new directory) instead of a temp dir")
    p.add_argument("--keep", action="store_true", help="keep the temporary node")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--compare", metavar="COMMIT",
                   help="first run this benchmark on the code of an older commit, then on "
                        "the working tree, and print both (see the module docstring)")
    args = p.parse_args()
    if args.compare:
        compare(args, sys.argv[1:])
        return
    result = asyncio.run(main_async(args))
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2),
                                   encoding="utf-8")


if __name__ == "__main__":
    main()
