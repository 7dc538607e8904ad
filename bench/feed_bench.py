"""Benchmark: the feed table at province size on both backends (issue #13).

    python -m bench.feed_bench [--rows 20000000] [--scopes 40000] [--queries 200]
                               [--repeats 3] [--limit 500] [--cache /tmp/vc-bench]
                               [--backend both|sqlite|postgresql] [--rebuild]

Builds the ``docs`` table of a store created by the real migrations (``Store.open`` on a
SQLite file, ``PgStore.open`` on a database of a throw-away PostgreSQL server started from
tests/pgcluster.py) with ``--rows`` rows spread over ``--scopes`` village scopes
(``village:C000/V000`` …: ``--scopes`` / 400 counties of 400 villages), directly in SQL:
a recursive CTE in transactions of 1,000,000 rows on SQLite, ``INSERT … SELECT
generate_series`` on PostgreSQL. Documents are tiny fake bytes (a 1-byte snapshot, 32
bytes of heads): only the feed query is measured. The scope of seq ``i`` is a fixed
integer hash of ``i``, the same on both backends, so both tables hold the same rows.
The ``docs_scope`` index is dropped while loading and made again afterwards with the
migration's own definition; the ``seq`` UNIQUE index and the ``doc_id`` primary key stay
in place (doc ids are ``d`` + the seq, so they arrive in order: a relay whose ids are
random UUIDs has a less tightly packed primary key). PostgreSQL gets ``VACUUM ANALYZE``
afterwards (what autovacuum does on a live relay); SQLite gets no ``ANALYZE``, as the
store never runs one.

The built databases are kept under ``--cache`` (a SQLite file, a PostgreSQL data
directory) and reused by the next run with the same --rows/--scopes.

Measured, through the stores' own ``changes_since`` (so ``current_seq`` is in the time):
  * one village: ``changes_since(seq, readable=ScopeSet.of(<a village>), limit)`` from a
    random seq, a random village each query;
  * one county (what a county relay pulls from the province): ``readable =
    village:<county>/*``;
  * the upward feed: ``readable = *`` (every scope) from a random seq.
p50/p99 of ``--queries`` queries per kind, per repeat; backends alternate within a
repeat; the figure is the median over repeats. Then each table's and index's size on
disk (SQLite: the dbstat table; PostgreSQL: pg_relation_size).

The server runs with fsync off (tests/pgcluster.py): no write is measured here. Both
databases are read warm: the operating system's page cache is not dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.pgserver import Server
from store import ScopeSet, Store
from store.pg.store import PgStore

KEY = bytes(range(32))  # a fixed key: the cached stores are reopened by the next run
VILLAGES_PER_COUNTY = 400
CHUNK = 1_000_000
HASH_A = 1103515245
HASH_C = 12345
HASH_M = 2147483648
UPDATED_AT = "2026-11-20T08:00:00Z"
ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load()}] {msg}", flush=True)


def scope_of(n: int, scopes: int) -> str:
    """The scope index ``n`` as a village scope (the same text the SQL below builds)."""
    return f"village:C{n // VILLAGES_PER_COUNTY:03d}/V{n % VILLAGES_PER_COUNTY:03d}"


def hash_sql(i: str, scopes: int) -> str:
    return f"((({i} * {HASH_A} + {HASH_C}) % {HASH_M}) % {scopes})"


# --- building ----------------------------------------------------------------------------
async def build_sqlite(path: Path, rows: int, scopes: int) -> None:
    done = path.with_suffix(".built")
    if done.exists() and path.exists():
        say(f"sqlite: reusing {path}")
        return
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    store = await Store.open(path, key=KEY)  # the real migrations
    await store.close()
    t0 = time.perf_counter()
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -1000000")
    c.execute("DROP INDEX docs_scope")
    county = f"printf('%03d', {hash_sql('i', scopes)} / {VILLAGES_PER_COUNTY})"
    village = f"printf('%03d', {hash_sql('i', scopes)} % {VILLAGES_PER_COUNTY})"
    for lo in range(1, rows + 1, CHUNK):
        hi = min(rows, lo + CHUNK - 1)
        c.execute("BEGIN")
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO docs (doc_id, kind, scope, snapshot, heads, seq, updated_at) "
            f"SELECT printf('d%010d', i), 'case', 'village:C' || {county} || '/V' || {village}, "
            f"x'00', randomblob(32), i, '{UPDATED_AT}' FROM n", (lo, hi))
        c.execute("COMMIT")
        say(f"sqlite: {hi:,} / {rows:,} rows ({time.perf_counter() - t0:.0f} s)")
    c.execute("INSERT INTO counters (name, value) VALUES ('seq', ?) "
              "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (rows,))
    say("sqlite: CREATE INDEX docs_scope ON docs(scope, seq)")
    c.execute("CREATE INDEX docs_scope ON docs(scope, seq)")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    done.write_text(f"{rows} {scopes}\n")
    say(f"sqlite: built in {time.perf_counter() - t0:.0f} s")


async def build_pg(cluster: Server, name: str, rows: int, scopes: int,
                   side: Path) -> str:
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    try:
        built = await admin.fetchval("SELECT shobj_description(oid, 'pg_database') FROM "
                                     "pg_database WHERE datname = $1", name)
        if built == "built":
            say(f"postgresql: reusing database {name}")
            return cluster.dsn(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = cluster.dsn(name)
    store = await PgStore.open(dsn, key=KEY, path=side)  # the real migrations
    await store.close()
    t0 = time.perf_counter()
    c = await asyncpg.connect(dsn)
    try:
        await c.execute("SET maintenance_work_mem = '1GB'")
        await c.execute("DROP INDEX docs_scope")
        h = hash_sql("i", scopes)
        for lo in range(1, rows + 1, CHUNK):
            hi = min(rows, lo + CHUNK - 1)
            await c.execute(
                "INSERT INTO docs (doc_id, kind, scope, snapshot, heads, seq, updated_at) "
                "SELECT 'd' || lpad(i::text, 10, '0'), 'case', "
                f"'village:C' || lpad(({h} / {VILLAGES_PER_COUNTY})::text, 3, '0') || "
                f"'/V' || lpad(({h} % {VILLAGES_PER_COUNTY})::text, 3, '0'), "
                "'\\x00'::bytea, decode(md5(i::text) || md5((-i)::text), 'hex'), i, "
                f"'{UPDATED_AT}' FROM generate_series($1::bigint, $2::bigint) AS i", lo, hi)
            say(f"postgresql: {hi:,} / {rows:,} rows ({time.perf_counter() - t0:.0f} s)")
        await c.execute("INSERT INTO counters (name, value) VALUES ('seq', $1) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value", rows)
        say("postgresql: CREATE INDEX docs_scope ON docs(scope, seq)")
        await c.execute("CREATE INDEX docs_scope ON docs(scope, seq)")
        say("postgresql: VACUUM ANALYZE docs")
        await c.execute("VACUUM ANALYZE docs")
        await c.execute(f"COMMENT ON DATABASE \"{name}\" IS 'built'")
    finally:
        await c.close()
    say(f"postgresql: built in {time.perf_counter() - t0:.0f} s")
    return dsn


# --- sizes -------------------------------------------------------------------------------
def sqlite_sizes(path: Path) -> dict[str, int]:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        c.close()
    names = {"sqlite_autoindex_docs_1": "doc_id primary key (sqlite_autoindex_docs_1)",
             "sqlite_autoindex_docs_2": "seq unique (sqlite_autoindex_docs_2)"}
    sizes = {names.get(str(n), str(n)): int(s) for n, s in rows
             if n == "docs" or str(n).startswith(("docs_", "sqlite_autoindex_docs"))}
    sizes["(whole file)"] = path.stat().st_size
    return sizes


async def pg_sizes(dsn: str) -> dict[str, int]:
    c = await asyncpg.connect(dsn)
    try:
        rows = await c.fetch(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relname = 'docs' OR c.oid IN (SELECT indexrelid FROM pg_index "
            "WHERE indrelid = 'docs'::regclass) ORDER BY 1")
        sizes = {str(r[0]): int(r[1]) for r in rows}
        sizes["(docs total, with TOAST)"] = int(await c.fetchval(
            "SELECT pg_total_relation_size('docs')"))
        sizes["(whole database)"] = int(await c.fetchval(
            "SELECT pg_database_size(current_database())"))
    finally:
        await c.close()
    return sizes


# --- measuring ---------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def plan(rows: int, scopes: int, queries: int, limit: int, seed: int
         ) -> dict[str, list[tuple[int, ScopeSet]]]:
    rnd = random.Random(seed)
    counties = max(1, scopes // VILLAGES_PER_COUNTY)
    out: dict[str, list[tuple[int, ScopeSet]]] = {"village": [], "county": [], "upward": []}
    for _ in range(queries):
        out["village"].append((rnd.randrange(rows), ScopeSet.of(scope_of(rnd.randrange(scopes),
                                                                          scopes))))
        out["county"].append((rnd.randrange(rows),
                              ScopeSet.of(f"village:C{rnd.randrange(counties):03d}/*")))
        out["upward"].append((rnd.randrange(max(1, rows - limit)), ScopeSet.of("*")))
    return out


async def measure(store: Any, queries: list[tuple[int, ScopeSet]], limit: int
                  ) -> tuple[list[float], int]:
    times: list[float] = []
    got = 0
    for seq, readable in queries:
        t0 = time.perf_counter()
        page = await store.changes_since(seq, readable=readable, limit=limit)
        times.append((time.perf_counter() - t0) * 1000)
        got += len(page.entries)
    return times, got


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


async def run(args: argparse.Namespace) -> int:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    tag = f"{args.rows}x{args.scopes}"
    say(f"feed bench: {args.rows:,} rows over {args.scopes:,} scopes, limit {args.limit}, "
        f"{args.queries} queries per kind, {args.repeats} repeats; cpus {os.cpu_count()}")
    stores: dict[str, Any] = {}
    sizes: dict[str, dict[str, int]] = {}
    cluster: Server | None = None
    sqlite_path = cache / f"feed-{tag}.db"
    try:
        if "sqlite" in backends:
            if args.rebuild:
                sqlite_path.with_suffix(".built").unlink(missing_ok=True)
            await build_sqlite(sqlite_path, args.rows, args.scopes)
            stores["sqlite"] = await Store.open(sqlite_path, key=KEY)
            sizes["sqlite"] = sqlite_sizes(sqlite_path)
        if "postgresql" in backends:
            cluster = Server(cache / "pg", durable=False, keep=True)
            cluster.start()
            name = f"feed_{tag}"
            if args.rebuild:
                admin = await asyncpg.connect(cluster.dsn("postgres"))
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
            dsn = await build_pg(cluster, name, args.rows, args.scopes, cache / "pg-side")
            stores["postgresql"] = await PgStore.open(dsn, key=KEY, path=cache / "pg-side")
            sizes["postgresql"] = await pg_sizes(dsn)
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for r in range(args.repeats):
            qs = plan(args.rows, args.scopes, args.queries, args.limit, seed=1000 + r)
            order = backends if r % 2 == 0 else backends[::-1]
            for kind in ("village", "county", "upward"):
                for b in order:
                    await measure(stores[b], qs[kind][:5], args.limit)  # warm the plan
                    times, got = await measure(stores[b], qs[kind], args.limit)
                    figures.setdefault((b, kind), []).append((pct(times, 50), pct(times, 99)))
                    say(f"repeat {r + 1}: {b:10} {kind:7} p50 {pct(times, 50):7.2f} ms  "
                        f"p99 {pct(times, 99):7.2f} ms  ({got / len(times):.0f} rows/page)")
        print()
        print(f"## feed, {args.rows:,} rows over {args.scopes:,} scopes, limit {args.limit} "
              f"(median over {args.repeats} repeats of {args.queries} queries); "
              f"load after: {load()}")
        print("| query | " + " | ".join(f"{b} p50 / p99 ms" for b in backends) + " |")
        print("|---|" + "---|" * len(backends))
        for kind, label in (("village", "one village"), ("county", "one county (village:C…/*)"),
                            ("upward", "upward feed (*)")):
            cells = []
            for b in backends:
                f = figures[(b, kind)]
                cells.append(f"{statistics.median(x[0] for x in f):.2f} / "
                             f"{statistics.median(x[1] for x in f):.2f}")
            print(f"| {label} | " + " | ".join(cells) + " |")
        for b in backends:
            print(f"\nsizes, {b}: " + "; ".join(f"{k} {mib(v)}" for k, v in sizes[b].items()))
    finally:
        for s in stores.values():
            await s.close()
        if cluster is not None:
            cluster.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feed_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=20_000_000)
    p.add_argument("--scopes", type=int, default=40_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--cache", default="/tmp/vc-bench")
    p.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    p.add_argument("--rebuild", action="store_true", help="build the cached databases again")
    args = p.parse_args(argv)
    if args.scopes % VILLAGES_PER_COUNTY and args.scopes > VILLAGES_PER_COUNTY:
        p.error(f"--scopes must be a multiple of {VILLAGES_PER_COUNTY}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
