"""Chaos with real processes (issue #6): five nodes and the relay, random partitions and
flaky links, SIGKILL of nodes, of the relay and of edits in flight, concurrent edits from
the command line; after healing every replica is identical and every edit reported saved
is there. bench/chaos_soak.py is the engine (its docstring says exactly what a run does);
``python -m bench.chaos_soak --seeds 50`` is the soak.

Also here: the regression tests of what the chaos found when two programs of one node
open its new store at the same moment, or a command cannot open it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench.chaos_soak import TROUBLE, make_plan, run_seed
from bench.harsh_procs import child_env
from node.config import Home

SEED = int(os.environ.get("VILLAGECOURT_CHAOS_SEED", "7"))
DURATION_S = float(os.environ.get("VILLAGECOURT_CHAOS_DURATION", "16"))


@pytest.mark.slow
async def test_replicas_converge_and_keep_every_saved_edit_under_chaos(tmp_path: Path) -> None:
    result = await run_seed(tmp_path, SEED, duration=DURATION_S)
    print(result.line())
    assert result.ok, "\n".join(result.problems)
    # The run did what it says: edits saved, and every kind of trouble happened.
    assert result.saved_cases >= 5
    assert result.saved_cases + result.saved_sessions >= 10
    planned: dict[str, int] = {}
    for step in make_plan(SEED, DURATION_S):
        planned[step.kind] = planned.get(step.kind, 0) + 1
    assert result.actions == planned
    for action in ("case_add", "case_session", *TROUBLE):
        assert result.actions.get(action, 0) >= 1, (action, result.actions)
    assert all(n > 0 for n in result.docs_per_village.values())


def test_a_chaos_plan_depends_on_its_seed_alone_and_holds_every_kind_of_trouble() -> None:
    # Found on CI: the plan used to be drawn while the run went on, so a slow machine drew
    # fewer actions and a seed sometimes did no kill of a node at all.
    for seed in range(1, 60):
        plan = make_plan(seed, 3.0)
        assert plan == make_plan(seed, 3.0)
        kinds = {s.kind for s in plan}
        assert set(TROUBLE) <= kinds, (seed, kinds)
        assert all(0 <= s.at < 3.0 for s in plan)
        assert [s.at for s in plan] == sorted(s.at for s in plan)
    assert make_plan(1, 16.0) != make_plan(2, 16.0)


OPENER = textwrap.dedent("""
    import asyncio, sys, time
    from node import Node

    async def main(home, start):
        while time.time() < start:
            await asyncio.sleep(0.001)
        node = await Node.open(home)
        await node.close()

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
""")


def test_programs_opening_a_new_node_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    # Found by the chaos test: right after provisioning, `villagecourt serve` and a
    # `villagecourt case add` opened the node's new store at once. Three races, each of
    # which failed one of them: both read schema version 0 and the second migration failed
    # ("table meta already exists"); SQLite refused the second switch to WAL at once
    # ("database is locked", without waiting); both created the village profile and the
    # second failed ("already exists") -- and then hung forever instead of exiting, its
    # store left open.
    script = tmp_path / "opener.py"
    script.write_text(OPENER)
    for attempt in range(8):
        home = Home(tmp_path / f"node-{attempt}")
        home.init(village="A", village_name="甲村", county="KC", language="en", director="")
        start = time.time() + 0.6  # every process starts opening in the same millisecond
        procs = [subprocess.Popen([sys.executable, str(script), str(home.path), str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=child_env(), start_new_session=True)
                 for _ in range(5)]
        try:
            for p in procs:
                _, err = p.communicate(timeout=60)
                assert p.returncode == 0, err.decode()[-4000:]
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)


def test_a_command_that_cannot_open_the_node_exits_instead_of_hanging(tmp_path: Path) -> None:
    # Found by the chaos test: `case add` hung for good when opening the node failed after
    # its store was open (here: the store stays locked by another program while the
    # village profile must be written), because the store's threads kept it alive.
    home = Home(tmp_path / "node")
    home.init(village="A", village_name="甲村", county="KC", language="en", director="")
    opener = subprocess.run([sys.executable, "-m", "node", "--home", str(home.path),
                             "case", "list"], env=child_env(), capture_output=True, timeout=60)
    assert opener.returncode == 0, opener.stderr.decode()
    db = sqlite3.connect(home.store_file, isolation_level=None)
    try:
        for table in ("records", "docs"):  # the village profile, made again on open
            db.execute(f"DELETE FROM {table} WHERE kind = 'village'")
        db.execute("BEGIN IMMEDIATE")  # another program holds the write lock throughout
        started = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "node", "--home", str(home.path),
                              "--lang", "en", "case", "list"], env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        assert p.returncode == 1, err.decode()
        assert "in use by another program" in err.decode()
        assert time.monotonic() - started < 25
    finally:
        db.execute("ROLLBACK")
        db.close()
