"""The relay's cap on concurrent sync sessions, end to end: a real relay (aiohttp on
127.0.0.1, real SQLite) capped at 2, and five village nodes whose real sync loops
(node.daemon.Syncer) are told ``busy``, wait the retry-after, and all get through."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import aiohttp
import pytest

from node import Node
from node.daemon import Syncer
from node.events import Event, SyncFinished, SyncStarted
from relay import keys
from relay.app import create_app, start
from relay.config import RelayConfigError, RelayHome
from store import casedoc
from store.records import CASE, Party
from sync.schedule import Backoff
from sync.transport_ws import connect_ws

COUNTY = "KC"
VILLAGES = ("VA", "VB", "VC", "VD", "VE")


def _relay_home(path: Path, **settings: object) -> RelayHome:
    home = RelayHome(path)
    home.init(COUNTY, host="127.0.0.1", port=0)
    cfg = json.loads(home.config_file.read_text(encoding="utf-8"))
    cfg.update(settings)
    home.config_file.write_text(json.dumps(cfg), encoding="utf-8")
    return home


async def _node(path: Path, village: str, relay_url: str) -> Node:
    node = await Node.create(path, village=village, village_name=f"{village}村", county=COUNTY)
    node.config.relay_url = relay_url
    node.home.save(node.config)
    await node.store.create(CASE, f"village:{COUNTY}/{village}", lambda d: casedoc.new_case(
        d, number=f"{village}-1", category="neighbour", title="院墙纠纷",
        parties=[Party("applicant", "张三"), Party("respondent", "李四")]))
    return node


async def test_five_nodes_against_a_relay_capped_at_two_all_get_through(tmp_path: Path):
    # A retry-after of about a second keeps the test short (jittered: 1 or 2 s).
    home = _relay_home(tmp_path / "relay", busy_retry_s=1)
    relay = await start(home, "127.0.0.1", 0, tls=False, max_sessions=2)
    metrics = relay.app[keys.METRICS]
    url = f"ws://127.0.0.1:{relay.port}/v1/sync"
    nodes: list[Node] = []
    syncers: list[Syncer] = []
    try:
        # Two connections that never say Hello hold both slots: every node is told busy.
        holders = [await connect_ws(url, timeout=10.0) for _ in range(2)]
        assert metrics.sessions_active == 2
        nodes = [await _node(tmp_path / v, v, url) for v in VILLAGES]
        events: dict[str, list[tuple[float, Event]]] = {v: [] for v in VILLAGES}
        done = {v: asyncio.Event() for v in VILLAGES}
        by_village: dict[str, Syncer] = {}
        failures_seen: list[int] = []  # the relay schedule's failure count at each dial
        for village, node in zip(VILLAGES, nodes):
            def listen(event: Event, village: str = village) -> None:
                if isinstance(event, (SyncStarted, SyncFinished)) and event.peer == "relay":
                    events[village].append((time.monotonic(), event))
                    if isinstance(event, SyncStarted) and village in by_village:
                        failures_seen.append(by_village[village]._relay.failures)  # noqa: SLF001
                    if isinstance(event, SyncFinished) and event.ok:
                        done[village].set()
            node.events.subscribe(listen)
        async with asyncio.timeout(90):
            for i, (village, node) in enumerate(zip(VILLAGES, nodes)):
                # After a real failure this backoff would dial again within 0.2 s: well
                # before any retry-after, so a busy answer taken for a failure shows.
                syncer = Syncer(node, listen_host="127.0.0.1", listen_port=0, discovery=False,
                                rng=random.Random(i), backoff=Backoff(base=0.2, jitter=0.0))
                by_village[village] = syncer
                await syncer.start()
                syncers.append(syncer)
            # Each loop dials at once; while the holders hold, each is told busy.
            while not all(any(isinstance(e, SyncFinished) for _, e in events[v])
                          for v in VILLAGES):
                await asyncio.sleep(0.05)
            assert metrics.sessions_total["busy"] >= len(VILLAGES)
            for h in holders:
                await h.close()
            await asyncio.gather(*(d.wait() for d in done.values()))

        busy_told = 0
        for village, syncer in zip(VILLAGES, syncers):
            seen = events[village]
            finished = [(t, e) for t, e in seen if isinstance(e, SyncFinished)]
            assert finished[0][1].error_code == "busy"  # the holders had both slots
            assert finished[-1][1].ok
            for (t, e), (t_next, e_next) in zip(seen, seen[1:]):
                if isinstance(e, SyncFinished) and not e.ok:
                    # The only failure is "busy", and the next dial waited its retry-after.
                    assert e.error_code == "busy" and 1 <= e.retry_after <= 2
                    assert isinstance(e_next, SyncStarted)
                    assert t_next - t >= e.retry_after
                    busy_told += 1
            assert syncer._relay.failures == 0  # noqa: SLF001 - the schedule under test
        assert busy_told >= len(VILLAGES)
        # Being busy is not a failure: no dial came after a counted failure.
        assert failures_seen and set(failures_seen) == {0}
        # Every village's case reached the county.
        rows = await relay.store.query("SELECT scope FROM docs WHERE kind = ?", (CASE,))
        assert sorted(r[0] for r in rows) == sorted(f"village:{COUNTY}/{v}" for v in VILLAGES)
        assert metrics.sessions_total["ok"] >= len(VILLAGES)
    finally:
        for syncer in syncers:
            await syncer.stop()
        for node in nodes:
            await node.close()
        await relay.stop()


async def test_the_cap_comes_from_the_config_and_is_reported(tmp_path: Path):
    home = _relay_home(tmp_path / "relay", max_sessions=7)
    relay = await start(home, "127.0.0.1", 0, tls=False)
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{relay.port}"
            async with http.get(f"{base}/healthz") as r:
                assert (await r.json())["max_sessions"] == 7
            async with http.get(f"{base}/metrics") as r:
                assert "villagecourt_sessions_limit 7" in await r.text()
    finally:
        await relay.stop()
    assert create_app(home, tls=False, max_sessions=3)[keys.CONFIG].max_sessions == 3


@pytest.mark.parametrize("value", [0, -5, "100", True, 2.5])
def test_a_bad_cap_in_the_config_is_refused_plainly(tmp_path: Path, value: object):
    home = _relay_home(tmp_path / "relay", max_sessions=value)
    with pytest.raises(RelayConfigError) as exc:
        home.load()
    assert exc.value.code == "bad_config" and "max_sessions" in str(exc.value)


async def test_a_local_edit_does_not_dial_a_busy_relay_before_its_retry_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # An edit normally makes the loop sync within SOON_AFTER_EDIT_S; shortened here so
    # that, were the retry-after not honoured, the edit's dial would come at once.
    monkeypatch.setattr("node.daemon.SOON_AFTER_EDIT_S", 0.1)
    home = _relay_home(tmp_path / "relay", busy_retry_s=20)  # told 10..30 s
    relay = await start(home, "127.0.0.1", 0, tls=False, max_sessions=1)
    url = f"ws://127.0.0.1:{relay.port}/v1/sync"
    holder = await connect_ws(url, timeout=10.0)
    node = await _node(tmp_path / "VA", "VA", url)
    started: list[float] = []
    finished: list[SyncFinished] = []

    def listen(event: Event) -> None:
        if isinstance(event, SyncStarted):
            started.append(time.monotonic())
        elif isinstance(event, SyncFinished):
            finished.append(event)

    node.events.subscribe(listen)
    syncer = Syncer(node, listen_host="127.0.0.1", listen_port=0, discovery=False,
                    rng=random.Random(0))
    try:
        async with asyncio.timeout(30):
            await syncer.start()
            while not finished:
                await asyncio.sleep(0.05)
            assert finished[0].error_code == "busy" and finished[0].retry_after >= 10
            await node.store.create(CASE, f"village:{COUNTY}/VA", lambda d: casedoc.new_case(
                d, number="VA-2", category="neighbour", title="宅基地纠纷",
                parties=[Party("applicant", "王五"), Party("respondent", "赵六")]))
            await asyncio.sleep(3.0)  # the edit's dial would have come after ~0.1-1 s
        assert len(started) == 1, "the relay was dialled again before its retry-after"
        assert syncer._relay.failures == 0  # noqa: SLF001 - the schedule under test
        assert syncer._relay.hold_until - started[0] >= 10  # noqa: SLF001
    finally:
        await syncer.stop()
        await node.close()
        await holder.close()
        await relay.stop()
