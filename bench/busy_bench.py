"""More village nodes than the relay's session cap, all at once: every one gets through,
some after being told ``busy``, and the county dashboard still answers.

    python -m bench.busy_bench [--clients 250] [--cap 100] [--cases 10] [--retry 5]

The relay runs as a real process (``villagecourt relay --relay-home H serve
--max-sessions CAP``, mutual TLS on 127.0.0.1) with ``busy_retry_s`` = ``--retry`` in its
config (the default is 30 s; a smaller one keeps the run short, the mechanism is the same).
Each client is a light node as in bench/reconnect_bench.py: its own sealed SQLite store
with ``--cases`` new cases and its own certificate from the county CA, one village each.
All dial at the same instant. A client told busy waits as the node daemon does
(``PeerSchedule.busy``: at least the retry-after, plus up to 30 % of it); any other
failure backs off like the daemon (``PeerSchedule.failed``).

Meanwhile an operator logged in to the dashboard loads the overview (GET /dashboard/)
every 0.25 s, and /healthz is polled for the relay's session count. Reported: clients
completed, how many were told busy (and how often), other failures by code, session
timeouts; completion times from the start; per-session time (p50/p95/max); the relay's
peak concurrent sessions (never above the cap); the relay's RSS idle, peak (VmHWM) and
after; dashboard and /healthz latency idle and under load (p50/p95/max). Exit status 1 if
a client did not finish, a session timed out, the cap was exceeded, a case is missing at
the relay, or the relay's log shows an exception.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harsh_procs import (
    ClientCert,
    RelayProcess,
    free_port,
    init_relay_home,
    make_client_cert,
    unexpected_errors,
)
from relay.accounts import AccountStore
from store import Store, casedoc, new_key
from store.records import CASE, Party
from sync.driver import sync_as_client
from sync.errors import SyncError
from sync.protocol import retry_after_of
from sync.schedule import Backoff, PeerSchedule
from sync.scopes import Identity
from sync.transport_ws import connect_ws

COUNTY = "KC"
SESSION_TIMEOUT_S = 120.0  # one session, connect to last Ack; more is a "timeout"
DEADLINE_S = 600.0  # every client must have finished within this
PROBE_EVERY_S = 0.25
OPERATOR_PASSWORD = "bench-operator-pw"


@dataclass
class Client:
    village: str
    cert: ClientCert
    store: Store
    schedule: PeerSchedule = field(default_factory=PeerSchedule)
    busy: int = 0  # times told busy
    failures: dict[str, int] = field(default_factory=dict)
    finished_s: float | None = None
    session_s: float = 0.0  # the successful session's duration


@dataclass
class Probe:
    samples_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> str:
        if not self.samples_ms:
            return f"no answer ({self.errors} errors)"
        s = sorted(self.samples_ms)
        p95 = s[min(len(s) - 1, int(0.95 * len(s)))]
        return (f"p50 {statistics.median(s):.0f} ms, p95 {p95:.0f} ms, max {s[-1]:.0f} ms "
                f"({len(s)} requests, {self.errors} errors)")


async def attempt(client: Client, url: str) -> tuple[bool, str, int]:
    """One session: (ok, outcome code, retry-after if busy)."""
    try:
        async with asyncio.timeout(SESSION_TIMEOUT_S):
            transport = await connect_ws(url, ssl=client.cert.context(), timeout=60.0)
            try:
                result = await sync_as_client(transport, client.store, client.cert.identity,
                                              label="relay", idle_timeout=60.0)
            finally:
                await transport.close()
    except SyncError as exc:
        return False, exc.code, 0
    except TimeoutError:
        return False, "timeout", 0
    if result.ok:
        return True, "ok", 0
    code = result.error.code if result.error else "?"
    return False, code, retry_after_of(result.error)


async def run_client(client: Client, url: str, t0: float, rng: random.Random,
                     backoff: Backoff) -> None:
    while time.monotonic() - t0 < DEADLINE_S:
        wait = client.schedule.next_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        started = time.monotonic()
        ok, code, retry_after = await attempt(client, url)
        now = time.monotonic()
        if ok:
            client.finished_s = now - t0
            client.session_s = now - started
            client.schedule.succeeded(now, backoff, rng)
            return
        if retry_after:
            client.busy += 1
            client.schedule.busy(now, retry_after, backoff, rng)
        else:
            client.failures[code] = client.failures.get(code, 0) + 1
            client.schedule.failed(now, backoff, rng)


async def new_case(store: Store, village: str, i: int) -> None:
    await store.create(CASE, f"village:{COUNTY}/{village}", lambda d: casedoc.new_case(
        d, number=f"{village}-B-{i:04d}", category="neighbour", title=f"相邻关系纠纷 {i}",
        parties=[Party("applicant", "张三"), Party("respondent", "李四")],
        village=village, county=COUNTY))


class Dashboard:
    """An operator's browser session on the dashboard, over TLS to the relay process."""

    def __init__(self, relay: RelayProcess) -> None:
        self.relay = relay
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Dashboard":
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=30))
        ssl = self.relay.verify_context()
        async with self.http.get(self.relay.base + "/dashboard/login", ssl=ssl) as r:
            page = await r.text()
        m = re.search(r'name="_csrf" value="([^"]+)"', page)
        if m is None:
            raise RuntimeError("no CSRF token on the login page")
        async with self.http.post(self.relay.base + "/dashboard/login", ssl=ssl, data={
                "_csrf": m.group(1), "name": "operator", "password": OPERATOR_PASSWORD},
                allow_redirects=False) as r:
            if r.status != 302:
                raise RuntimeError(f"operator login answered {r.status}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()

    async def timed(self, path: str) -> float:
        """Milliseconds for one GET of ``path`` (which must answer 200)."""
        assert self.http is not None
        t = time.perf_counter()
        async with self.http.get(self.relay.base + path, ssl=self.relay.verify_context(),
                                 allow_redirects=False) as r:
            await r.read()
            if r.status != 200:
                raise aiohttp.ClientError(f"{path} answered {r.status}")
        return (time.perf_counter() - t) * 1000


async def probe(dash: Dashboard, path: str, out: Probe, stop: asyncio.Event,
                peak: list[int] | None = None) -> None:
    while not stop.is_set():
        try:
            out.samples_ms.append(await dash.timed(path))
            if peak is not None:
                health = await dash.relay.healthz(timeout=30.0)
                peak[0] = max(peak[0], int(health.get("sessions", 0)))
        except (aiohttp.ClientError, OSError, TimeoutError):
            out.errors += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY_S)


async def run_bench(root: Path, *, n_clients: int, cap: int, cases: int, retry: int,
                    seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    backoff = Backoff()
    port = free_port()
    home = init_relay_home(root / "relay", port)
    cfg = json.loads(home.config_file.read_text(encoding="utf-8"))
    cfg["busy_retry_s"] = retry
    home.config_file.write_text(json.dumps(cfg), encoding="utf-8")
    # No background warning pass: the dashboard's own work would blur the latency figure.
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    accounts = AccountStore(home.accounts_location())
    try:
        accounts.add("operator", "operator", OPERATOR_PASSWORD, display="Bench operator")
    finally:
        accounts.close()
    relay = RelayProcess(home, port, root / "relay.log")
    relay.argv += ["--max-sessions", str(cap)]
    clients: list[Client] = []
    out: dict[str, Any] = {}

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        t = time.monotonic()
        for i in range(n_clients):
            village = f"V{i:03d}"
            ident = Identity(secrets.token_hex(8), "director", COUNTY, village)
            cert = make_client_cert(home, root / "certs" / village, ident)
            store = await Store.open(root / "nodes" / f"{village}.db", key=new_key())
            for c in range(cases):
                await new_case(store, village, c)
            clients.append(Client(village, cert, store))
        say(f"{n_clients} client stores with {cases} cases each in "
            f"{time.monotonic() - t:.1f} s")
        await relay.start()
        out["relay_idle_rss_mb"] = relay.rss_kb() / 1024
        async with Dashboard(relay) as dash:
            idle_dash, idle_health = Probe(), Probe()
            for _ in range(10):
                idle_dash.samples_ms.append(await dash.timed("/dashboard/"))
                idle_health.samples_ms.append(await dash.timed("/healthz"))
            say(f"relay up (cap {cap}, retry-after ~{retry} s); {n_clients} clients dial "
                "at once")
            stop = asyncio.Event()
            load_dash, load_health, peak = Probe(), Probe(), [0]
            probes = [asyncio.create_task(probe(dash, "/dashboard/", load_dash, stop)),
                      asyncio.create_task(probe(dash, "/healthz", load_health, stop, peak))]
            rss_peak_during = 0
            t0 = time.monotonic()
            runs = asyncio.gather(*(run_client(c, relay.sync_url, t0, rng, backoff)
                                    for c in clients))
            while not runs.done():
                rss_peak_during = max(rss_peak_during, relay.rss_kb())
                await asyncio.wait([runs], timeout=0.5)
            await runs
            out["wall_s"] = time.monotonic() - t0
            stop.set()
            await asyncio.gather(*probes)
        out["relay_peak_rss_mb"] = relay.hwm_kb() / 1024
        out["relay_sampled_peak_rss_mb"] = rss_peak_during / 1024
        out["relay_after_rss_mb"] = relay.rss_kb() / 1024
        metrics = await relay.metrics()
        out["relay_busy_answers"] = metrics.get('villagecourt_sessions_total{outcome="busy"}', 0)
        out["relay_ok_sessions"] = metrics.get('villagecourt_sessions_total{outcome="ok"}', 0)
        out["peak_sessions"] = peak[0]
        out["dash_idle"], out["dash_load"] = idle_dash, load_dash
        out["health_idle"], out["health_load"] = idle_health, load_health
        out["log_errors"] = len(unexpected_errors(relay.log))
    finally:
        await relay.terminate()
        relay.kill_now()
        for c in clients:
            await c.store.close()
    out["clients"] = clients
    out["relay_cases"] = _relay_count(home.store_file)
    out["expected_cases"] = n_clients * cases
    return out


def _relay_count(db: Path) -> int:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        (n,), = con.execute("SELECT count(*) FROM docs WHERE kind = 'case'")
        return int(n)
    finally:
        con.close()


def report(args: argparse.Namespace, out: dict[str, Any]) -> int:
    clients: list[Client] = out["clients"]
    done = [c for c in clients if c.finished_s is not None]
    told = [c for c in clients if c.busy]
    failures: dict[str, int] = {}
    for c in clients:
        for code, n in c.failures.items():
            failures[code] = failures.get(code, 0) + n
    sessions = sorted(c.session_s for c in done)
    finish = sorted(c.finished_s for c in done if c.finished_s is not None)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0

    print(f"{args.clients} clients against one relay capped at {args.cap} sessions (a process, "
          f"mutual TLS, 127.0.0.1), retry-after {args.retry} s ±50 %; {args.cases} new cases "
          f"per client; {os.cpu_count()} cores; load average {_loadavg()}")
    print(f"completed               {len(done)}/{len(clients)} in {out['wall_s']:.1f} s")
    print(f"told busy               {len(told)} clients, {sum(c.busy for c in clients)} times "
          f"(relay counted {out['relay_busy_answers']:.0f}); most for one client "
          f"{max((c.busy for c in clients), default=0)}")
    print(f"other failures          {failures or 'none'}")
    print(f"finished after (s)      first {pct(finish, 0):.1f}, p50 {pct(finish, 0.5):.1f}, "
          f"last {finish[-1] if finish else 0:.1f}")
    print(f"session time (s)        p50 {pct(sessions, 0.5):.2f}, p95 {pct(sessions, 0.95):.2f},"
          f" max {sessions[-1] if sessions else 0:.2f}")
    print(f"peak sessions           {out['peak_sessions']} (cap {args.cap}; sampled by /healthz)")
    print(f"relay RSS               idle {out['relay_idle_rss_mb']:.0f} MB, peak (VmHWM) "
          f"{out['relay_peak_rss_mb']:.0f} MB, after {out['relay_after_rss_mb']:.0f} MB")
    print(f"dashboard overview      idle: {out['dash_idle'].summary()}")
    print(f"                        under load: {out['dash_load'].summary()}")
    print(f"/healthz                idle: {out['health_idle'].summary()}")
    print(f"                        under load: {out['health_load'].summary()}")
    print(f"relay holds             {out['relay_cases']} of {out['expected_cases']} cases")
    problems = []
    if len(done) != len(clients):
        problems.append(f"{len(clients) - len(done)} clients did not finish")
    if failures.get("timeout"):
        problems.append(f"{failures['timeout']} sessions timed out")
    if out["peak_sessions"] > args.cap:
        problems.append("the cap was exceeded")
    if out["relay_cases"] != out["expected_cases"]:
        problems.append("cases missing at the relay")
    if out["log_errors"]:
        problems.append(f"{out['log_errors']} exceptions in the relay's log")
    if out["dash_load"].errors or not out["dash_load"].samples_ms:
        problems.append("the dashboard did not always answer")
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=250)
    p.add_argument("--cap", type=int, default=100, help="the relay's --max-sessions")
    p.add_argument("--cases", type=int, default=10, help="new cases per client")
    p.add_argument("--retry", type=int, default=5, help="the relay's busy_retry_s")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", help="keep the relay home, its log and the client stores here")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = Path(args.keep)
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="busy-")))
        print(f"load average before: {_loadavg()}", file=sys.stderr)
        out = asyncio.run(run_bench(root, n_clients=args.clients, cap=args.cap,
                                    cases=args.cases, retry=args.retry, seed=args.seed))
        return report(args, out)


if __name__ == "__main__":
    sys.exit(main())
