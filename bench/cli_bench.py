"""Start-up time of the ``villagecourt`` command, whole process (issue 15).

    .venv/bin/python bench/cli_bench.py [--repeats 15]

Runs, as separate processes under ``/usr/bin/time -f "%e %U %S"``, ``python -c pass`` (the
floor), ``villagecourt case list`` and ``villagecourt case add`` on a fresh node home with
50 cases, and prints for each the median and the minimum wall-clock time over the repeats
(also measured here to the millisecond, as /usr/bin/time rounds to 10 ms), the median CPU
time (user + system, which a busy machine inflates less than the wall clock) and the
1-minute load average before and after. The target: ``case list`` and ``case add`` under
250 ms wall-clock.

The children may write bytecode (PYTHONDONTWRITEBYTECODE is dropped from their
environment) and one warm-up run of each comes first: an installed package has its .pyc
files, and compiling the sources at every start is not what a village PC does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 250


def villagecourt() -> list[str]:
    exe = Path(sys.executable).with_name("villagecourt")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "node"]


TIME = "/usr/bin/time"


def timed(cmd: list[str], repeats: int, env: dict[str, str]
          ) -> tuple[float, float, float, float]:
    """Median and minimum wall ms (our clock), median wall ms and median CPU ms as
    /usr/bin/time reports them."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=True)  # warm-up: bytecode written
    walls, time_walls, cpus = [], [], []
    with tempfile.NamedTemporaryFile("r") as report:
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([TIME, "-o", report.name, "-f", "%e %U %S", *cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                           check=True)
            walls.append((time.perf_counter() - t) * 1000)
            report.seek(0)
            wall, user, system = (float(x) for x in report.read().split()[-3:])
            time_walls.append(wall * 1000)
            cpus.append((user + system) * 1000)
    return (statistics.median(walls), min(walls), statistics.median(time_walls),
            statistics.median(cpus))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "VILLAGECOURT_HOME": str(Path(tmp) / "node")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        vc = villagecourt()
        subprocess.run([*vc, "demo", "--cases", "50"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        rows = [("python -c pass", [sys.executable, "-c", "pass"]),
                ("villagecourt case list", [*vc, "case", "list"]),
                ("villagecourt case add", [*vc, "case", "add", "--category", "land", "--title",
                                           "地界纠纷", "--party", "申请人:张三"])]
        worst = 0.0
        for name, cmd in rows:
            median, best, time_median, cpu = timed(cmd, opts.repeats, env)
            print(f"{name:26} median {median:6.0f} ms   min {best:6.0f} ms   "
                  f"/usr/bin/time: median {time_median:4.0f} ms, CPU {cpu:4.0f} ms   "
                  f"({opts.repeats} runs)")
            if name.startswith("villagecourt"):
                worst = max(worst, median)
        print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
        print(f"target: under {TARGET_MS} ms -> {'met' if worst < TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
