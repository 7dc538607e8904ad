"""Benchmark: the county dashboard on a relay holding 400 villages × 1,000 cases.

    python -m bench.dashboard_bench [--villages 400] [--cases 1000] [--home /tmp/vc-bench]
                                    [--backend sqlite|postgresql|both]

Builds (once; reused while its parameters match) a relay home whose store holds
``villages × cases`` case documents spread over the past year, a consultation per fifteen
cases, screenings, village profiles and a last-sync time per village. Case documents are
"lean": registration, then status, outcome, closing day and follow-up visits written in
one transaction (the same keys ``store.casedoc`` writes), because building 400,000 full
demo cases with sessions would take half an hour; the pages measured read the projection,
which is the same for both. Building runs the document work in worker processes and
merges into the store in batches of 500.

Then it serves the relay (plain HTTP on 127.0.0.1, port 0), logs in as an operator and
measures, with a real HTTP client: the overview page cold (first after start) and warm,
a village page, the case page, a full warning pass (cold: group flags read from the
documents; warm: cached), and the relay process's memory. Prints a table and writes
``bench/results/dashboard.json``.

``--backend postgresql`` keeps the relay's store in a database of a PostgreSQL server
started for the bench (bench/pgserver.py; durable, its data directory kept under
``<home>-pg/`` with the relay home, so the build is reused too); ``both`` measures SQLite
then PostgreSQL in the same run (issue #13) and writes ``dashboard-<backend>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from automerge.core import ROOT, Document, ObjType

from bench.harsh_procs import proc_status_kb
from store import Incoming, amdoc, casedoc, kinds, records
from store.records import CASE, CONSULTATION, FOLLOWUP_MONTHS, SCREENING, VILLAGE, Party, add_months

PARAMS_FILE = "bench-params.json"
BATCH = 500
COUNTY = "KC"
CATEGORY_WEIGHTS = {"neighbour": 24, "family": 18, "land": 14, "property": 7, "labour": 8,
                    "loan": 12, "consumer": 5, "environment": 4, "traffic": 5, "other": 3}
TZ = dt.timezone(dt.timedelta(hours=8))


def _ts(day: dt.date, rng: random.Random) -> str:
    local = dt.datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randrange(60),
                        tzinfo=TZ)
    return local.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def village_docs(args: tuple[int, str, str, int, str]) -> list[tuple[str, str, str, bytes]]:
    """Every document of one village (runs in a worker process)."""
    index, code, name, n, today_iso = args
    today = dt.date.fromisoformat(today_iso)
    rng = random.Random(index)
    scope = records.village_scope(COUNTY, code)
    out: list[tuple[str, str, str, bytes]] = []
    doc = Document()
    kinds.new_village(doc, code=code, name=name, county=COUNTY)
    out.append((f"village-{COUNTY}-{code}", VILLAGE, scope, doc.save()))
    cats = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    for k in range(n):
        created = today - dt.timedelta(days=rng.randrange(365))
        category = rng.choices(cats, weights=weights)[0]
        doc = Document()
        phone = f"139{rng.randrange(10 ** 8):08d}"
        casedoc.new_case(doc, number=f"{code}-B-{k:04d}", category=category,
                         title=f"张{k}与李{k}纠纷", description="双方就赔偿数额存在争议。",
                         parties=[Party("applicant", f"张{k}", phone),
                                  Party("respondent", f"李{k}")],
                         group=rng.random() < 0.01, headcount=0, village=code,
                         county=COUNTY, created_at=_ts(created, rng))
        age = (today - created).days
        if age > 30 and rng.random() < 0.85:
            closed = min(today, created + dt.timedelta(days=rng.randint(5, 60)))
            agreed = rng.random() < 0.74
            with doc.transaction() as tx:
                amdoc.put(tx, ROOT, "status", "closed")
                amdoc.put(tx, ROOT, "outcome", "agreed" if agreed else "failed")
                amdoc.put(tx, ROOT, "closed_at", closed.isoformat())
                fu = amdoc.get_obj(tx, ROOT, "followups", ObjType.Map)
                for m in FOLLOWUP_MONTHS:
                    due = add_months(closed, m)
                    amdoc.put(tx, fu, f"m{m}_due", due.isoformat())
                    if due <= today and rng.random() < 0.8:
                        amdoc.put(tx, fu, f"m{m}_done", due.isoformat())
                        amdoc.put(tx, fu, f"m{m}_satisfaction", rng.randint(3, 5))
        elif age > 3:
            with doc.transaction() as tx:
                amdoc.put(tx, ROOT, "status", rng.choice(("mediating", "failed", "escalated")))
        case_id = f"case-{COUNTY}-{code}-{k:04d}"
        out.append((case_id, CASE, scope, doc.save()))
        if k % 15 == 0:
            c = Document()
            kinds.new_consultation(c, case_id=case_id, case_number=f"{code}-B-{k:04d}",
                                   question="借条约定月息2分，超过法定保护上限的部分还能主张吗？",
                                   by="庭务主任")
            with c.transaction() as tx:
                amdoc.put(tx, ROOT, "asked_at", _ts(created, rng))
            if age > 7:
                kinds.answer_consultation(c, answer="超过部分不予支持。", by="王法官")
            out.append((f"consult-{COUNTY}-{code}-{k:04d}", CONSULTATION, scope, c.save()))
    for j in range(10):
        s = Document()
        kinds.new_screening(s, date=(today - dt.timedelta(days=rng.randrange(365))).isoformat(),
                            place=f"{name}文化礼堂", items=["以案说法"],
                            attendance=rng.randint(20, 150))
        out.append((f"screening-{COUNTY}-{code}-{j}", SCREENING, scope, s.save()))
    return out


async def build(home_path: Path, villages: int, cases: int, today: dt.date,
                store_url: str = "") -> float:
    """``store_url``: a postgresql:// database for the relay's store ("" = store.db)."""
    from relay.accounts import AccountStore
    from relay.config import RelayHome
    from relay.demo_county import village_list

    started = time.perf_counter()
    home = RelayHome(home_path)
    home.init(COUNTY, host="127.0.0.1", force=True, store=store_url)
    store = await home.open_store()
    jobs = [(i, code, name, cases, today.isoformat())
            for i, (code, name) in enumerate(village_list(villages))]
    done = 0
    try:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pending: list[Incoming] = []
            for docs in pool.imap_unordered(village_docs, jobs, chunksize=2):
                pending += [Incoming(d, k, s, b) for d, k, s, b in docs]
                while len(pending) >= BATCH:
                    await store.merge(pending[:BATCH], origin="bench")
                    pending = pending[BATCH:]
                done += 1
                if done % 20 == 0:
                    print(f"  built {done}/{villages} villages "
                          f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            if pending:
                await store.merge(pending, origin="bench")
        now = dt.datetime.now(dt.timezone.utc)
        for i, (code, _) in enumerate(village_list(villages)):
            seen = now - dt.timedelta(hours=(i % 97))
            await store.record_peer(f"bench-{code}", label=f"director:{COUNTY}/{code}:{i:016x}",
                                    seen=True, seen_at=seen.isoformat())
    finally:
        await store.close()
    accounts = AccountStore(home.accounts_location())  # accounts.db or the database
    try:
        accounts.add("operator", "operator", "bench-operator-pw", display="Bench operator")
    finally:
        accounts.close()
    return time.perf_counter() - started


def rss_mb() -> float:
    kb = proc_status_kb(os.getpid(), "VmRSS")
    return kb / 1024 if kb else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(home_path: Path, repeat: int) -> dict[str, Any]:
    import aiohttp
    from aiohttp import web

    from relay.app import create_app
    from relay.config import RelayHome
    from relay.dashboard import DASHBOARD_APP
    from relay.dashboard.keys import WARNINGS

    home = RelayHome(home_path)
    # The pass is measured below, by hand: no background pass during the page timings.
    (home_path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    rss_before = rss_mb()
    app = create_app(home, tls=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{base}/dashboard/login") as r:
                page = await r.text()
            token = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore
            async with http.post(f"{base}/dashboard/login", data={
                    "_csrf": token, "name": "operator", "password": "bench-operator-pw"},
                    allow_redirects=False) as r:
                assert r.status == 302, r.status

            async def timed(path: str) -> float:
                t = time.perf_counter()
                async with http.get(base + path) as r:
                    assert r.status == 200, (path, r.status)
                    await r.read()
                return (time.perf_counter() - t) * 1000

            village = "BY"

            async def median_of(path: str) -> float:
                return statistics.median([await timed(path) for _ in range(repeat)])

            # Each figure on its own: one that fails (e.g. a query the backend cannot run)
            # is written as FAILED with its reason, and the others are still measured.
            case_id = f"case-{COUNTY}-{village}-0001"
            pages_ = [("overview_first_ms", lambda: timed("/dashboard/")),  # as the warmer starts
                      ("overview_served_ms", lambda: median_of("/dashboard/")),
                      ("overview_uncached_ms", lambda: median_of("/dashboard/?nocache=1")),
                      ("village_ms", lambda: median_of(f"/dashboard/villages/{village}")),
                      ("case_ms", lambda: median_of(f"/dashboard/cases/{case_id}")),
                      ("export_cases_ms",
                       lambda: timed(f"/dashboard/export/cases.csv?village={village}"))]
            for key, fn in pages_:
                try:
                    out[key] = await fn()
                except AssertionError as exc:
                    out[key] = f"FAILED {exc}"
                if key == "overview_first_ms":
                    await asyncio.sleep(3)
        wp = app[DASHBOARD_APP][WARNINGS]
        wp._flags.clear()  # noqa: SLF001 - measure the cold pass
        try:
            t = time.perf_counter()
            report = await wp.run()
            out["warning_pass_cold_s"] = time.perf_counter() - t
            out["warning_pass_timings"] = {k: round(v, 3) for k, v in report.timings.items()}
            t = time.perf_counter()
            await wp.run()
            out["warning_pass_warm_s"] = time.perf_counter() - t
            out["signals"] = len(report.signals)
        except Exception as exc:  # noqa: BLE001 - the figure says it failed, and why
            out["warning_pass_cold_s"] = f"FAILED {str(exc)[:160]}"
        out["rss_mb_before_app"] = rss_before
        out["rss_mb"] = rss_mb()
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        await runner.cleanup()
    return out


async def pg_size(dsn: str) -> float:
    import asyncpg

    c = await asyncpg.connect(dsn)
    try:
        return int(await c.fetchval("SELECT pg_database_size(current_database())")) / 2 ** 20
    finally:
        await c.close()


async def pg_database(server: Any, name: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(server.dsn("postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return str(server.dsn(name))


def run_one(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    home = Path(args.home) if backend == "sqlite" else Path(f"{args.home}-pg") / "home"
    server: Any = None
    store_url = ""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"== {backend}: load average {load}", file=sys.stderr, flush=True)
    try:
        if backend == "postgresql":
            from bench.pgserver import Server

            server = Server(Path(f"{args.home}-pg") / "pg", durable=True, keep=True)
            server.start()
            store_url = asyncio.run(pg_database(server, f"dash_{args.villages}x{args.cases}"))
        params = {"villages": args.villages, "cases": args.cases, "backend": backend}
        params_file = home / PARAMS_FILE
        if (args.rebuild or not params_file.exists()
                or json.loads(params_file.read_text()) != params):
            if server is not None:
                import asyncpg

                async def fresh() -> None:
                    name = f"dash_{args.villages}x{args.cases}"
                    admin = await asyncpg.connect(server.dsn("postgres"))
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.execute(f'CREATE DATABASE "{name}"')
                    await admin.close()
                asyncio.run(fresh())
            print(f"building {args.villages} villages × {args.cases} cases in {home} "
                  f"({backend}) ...", file=sys.stderr, flush=True)
            home.mkdir(parents=True, exist_ok=True)
            seconds = asyncio.run(build(home, args.villages, args.cases,
                                        dt.datetime.now(TZ).date(), store_url))
            params_file.write_text(json.dumps(params))
            print(f"built in {seconds:.0f} s", file=sys.stderr, flush=True)
        results = asyncio.run(measure(home, args.repeat))
        results.update(params)
        results["load_average"] = load
        results["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        if store_url:
            results["store_mb"] = round(asyncio.run(pg_size(store_url)), 1)
        else:
            results["store_mb"] = round((home / "store.db").stat().st_size / 2 ** 20, 1)
    finally:
        if server is not None:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--villages", type=int, default=400)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--home", default="/tmp/vc-dashboard-bench")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = p.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    failed = 0
    for backend in backends:
        try:
            results = run_one(args, backend)
        except Exception as exc:  # noqa: BLE001 - say which backend failed, go on to the next
            print(f"== {backend}: FAILED: {exc!r}", flush=True)
            failed += 1
            continue
        name = "dashboard.json" if args.backend == "sqlite" else f"dashboard-{backend}.json"
        (out / name).write_text(json.dumps(results, indent=2))
        print(f"== {backend}")
        for k, v in results.items():
            print(f"{k:28} {v if not isinstance(v, float) else round(v, 1)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
