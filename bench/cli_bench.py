"""Start-up time of the ``villagecourt`` command, whole process (issue 15).

    .venv/bin/python bench/cli_bench.py [--repeats 15]

Runs, as separate processes, ``python -c pass`` (the floor), ``villagecourt case list`` and
``villagecourt case add`` on a fresh node home with 50 cases, and prints for each the median
and the minimum wall-clock time over the repeats (what ``/usr/bin/time -f %e`` reports, to
the millisecond) and the 1-minute load average before and after. The target: ``case list``
and ``case add`` under 250 ms.
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


def timed(cmd: list[str], repeats: int, env: dict[str, str]) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                       check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "VILLAGECOURT_HOME": str(Path(tmp) / "node")}
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
            median, best = timed(cmd, opts.repeats, env)
            print(f"{name:26} median {median:6.0f} ms   min {best:6.0f} ms   "
                  f"({opts.repeats} runs)")
            if name.startswith("villagecourt"):
                worst = max(worst, median)
        print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
        print(f"target: under {TARGET_MS} ms -> {'met' if worst < TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
