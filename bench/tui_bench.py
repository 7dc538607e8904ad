"""TUI benchmark: start to interactive, and a keystroke in the case filter to the list
redrawn, on a store of N cases (realistic demo data, node.demo.fill_demo).

    python -m bench.tui_bench --cases 10000 [--repeat 7] [--home DIR] [--only-registration]

Budgets (the TUI issue): start to interactive < 1.5 s at 10,000 cases; keystroke to the
list redrawn < 100 ms at 10,000 cases. Medians of the repeats are printed.

How it measures:
- "interactive" = the home page's data is on screen: from before ``Node.open`` to the
  first frame the app writes after the home page has loaded (headless driver, 80x24).
  Measured in-process (Python and Textual already imported) and in a fresh process
  (``--cold``: interpreter start and imports included).
- "redrawn" = from the key event entering the app to the first frame written after the
  list holds the rows for everything typed so far (the "N cases" count under the filter
  follows a few milliseconds later). Keys go in one at a time, the way the slowest input
  method would send them, through the same path as a terminal's.

The store is built once per size and kept (default /tmp/vc-bench/home-<N>); building
10,000 cases takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

BUDGET_START_S = 1.5
BUDGET_KEY_MS = 100.0
SIZE = (80, 24)
# Realistic searches: a surname then a full name, a case number, title words, a category
# word (turns into a filter), each typed key by key and deleted key by key.
TYPED = ["王建国", "0042", "宅基地", "邻里纠纷", "李"]


def default_home(cases: int) -> Path:
    return Path("/tmp/vc-bench") / f"home-{cases}"


async def ensure_store(home: Path, cases: int) -> None:
    from node import Node
    from node.demo import fill_demo

    if (home / "config.json").exists():
        node = await Node.open(home)
        try:
            if await node.cases.count() >= cases:  # (registration rounds add a few)
                return
        finally:
            await node.close()
        raise SystemExit(f"{home} holds another number of cases; pass --home elsewhere")
    print(f"building a store of {cases} cases in {home} (once) ...", file=sys.stderr)
    node = await Node.create(home, village="BY", village_name="白云村", county="KC",
                             director="周主任")
    start = time.perf_counter()

    def progress(i: int, total: int) -> None:
        if i % 500 == 0 or i == total:
            print(f"\r  {i}/{total}  {time.perf_counter() - start:.0f} s", end="",
                  file=sys.stderr, flush=True)

    try:
        await fill_demo(node, cases=cases, seed=7, progress=progress)
    finally:
        await node.close()
    print(file=sys.stderr)


class FrameClock:
    """Notes when the app has produced a frame for the terminal.

    Headless, Textual composes each frame but skips turning it into terminal bytes; the
    clock does that step too (``render_segments``), so a frame costs what it would on a
    real terminal, minus the terminal's own drawing."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.last = 0.0
        original: Callable[[Any, Any], None] = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                self.last = time.perf_counter()

        app._display = display

    async def after(self, moment: float, timeout: float = 5.0) -> float:
        deadline = time.perf_counter() + timeout
        while self.last <= moment:
            if time.perf_counter() > deadline:
                raise TimeoutError("no frame written")
            await asyncio.sleep(0.0005)
        return self.last


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.0005)


async def start_once(home: Path, ready: Callable[[], None] | None = None) -> float:
    """Seconds from opening the node to the home page's data on screen."""
    from node import Node
    from tui.app import make_app
    from tui.screens.home import HomePane
    from tui.screens.main import MainScreen

    t0 = time.perf_counter()
    node = await Node.open(home)
    try:
        app = make_app(node, "zh")
        app.freeze_gc = True  # as run_tui does
        async with app.run_test(size=SIZE):
            frames = FrameClock(app)
            await _until(lambda: isinstance(app.screen, MainScreen))
            pane = app.screen.query_one(HomePane)
            await _until(lambda: pane.loads > 0)
            loaded = time.perf_counter()
            shown = await frames.after(loaded)
            if ready is not None:
                ready()
    finally:
        await node.close()
    return shown - t0


def cold_start_once(home: Path) -> float:
    """Seconds from starting a new Python process to the home page on screen (the child
    says READY then; its shutdown is not counted)."""
    t0 = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "bench.tui_bench", "--child-start",
                           str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        ready = time.perf_counter()
        _, err = child.communicate(timeout=60)
    if not line.startswith("READY"):
        raise RuntimeError(f"child failed: {err[-2000:]}")
    return ready - t0


async def keystrokes(home: Path, rounds: int) -> tuple[list[float], dict[str, float]]:
    """Milliseconds from each key to the list redrawn; and the raw query times."""
    from textual import events

    from node import Node
    from tui.app import make_app
    from tui.screens.case_list import CasesPane, split_query
    from tui.screens.main import MainScreen

    node = await Node.open(home)
    latencies: list[float] = []
    try:
        # The queries alone, for context.
        q0 = time.perf_counter()
        await node.cases.search("王", limit=100)
        q1 = time.perf_counter()
        await node.cases.count("王")
        q2 = time.perf_counter()
        queries = {"search_ms": (q1 - q0) * 1000, "count_ms": (q2 - q1) * 1000}

        app = make_app(node, "zh")
        app.freeze_gc = True  # as run_tui does
        async with app.run_test(size=SIZE) as pilot:
            frames = FrameClock(app)
            await _until(lambda: isinstance(app.screen, MainScreen))
            await pilot.press("f2")
            pane = app.screen.query_one(CasesPane)
            await _until(lambda: pane.loads > 0)
            field = pane.query_one("#case-filter")
            field.focus()
            await pilot.pause()
            driver = app._driver
            assert driver is not None

            async def key(name: str, char: str | None) -> float:
                before = pane.searches
                t0 = time.perf_counter()
                event = events.Key(name, char)
                event.set_sender(app)
                driver.send_message(event)
                await _until(lambda: pane.searches > before
                             and pane.applied == split_query_now())
                applied = time.perf_counter()
                shown = await frames.after(applied)
                return (shown - t0) * 1000

            def split_query_now() -> tuple[str, str | None, str | None]:
                return pane.query_now()

            for _ in range(rounds):
                for word in TYPED:
                    for ch in word:
                        latencies.append(await key(ch, ch))
                    for _ in word:
                        latencies.append(await key("backspace", None))
            assert split_query(field.value)[0] == ""  # type: ignore[attr-defined]
    finally:
        await node.close()
    return latencies, queries


async def registration(home: Path, rounds: int) -> dict[str, list[float]]:
    """Milliseconds of the registration flow at N cases, each from the key (or the call)
    to the first frame written once it is done:

    - ``form``: Ctrl+N on the home page to the form ready (restored, cursor in its
      first field, held keys let in);
    - ``case``: opening a case's page to its data on screen;
    - ``save``: Ctrl+S on a filled form to the new case's page on screen (the store
      holding it: count + 1);
    - ``list``: Esc on that page to the case list (F2, where Ctrl+N was typed) on screen
      holding the new case (its row, and the count + 1 under the filter).

    Each round registers one case (the store grows by ``rounds``; the bench store is
    reused, so its count is checked against ``--cases`` plus what earlier runs added)."""
    from textual import events

    from node import Node
    from tui.app import make_app
    from tui.screens.case_detail import CaseDetailScreen
    from tui.screens.case_form import RegisterCaseScreen
    from tui.screens.case_list import CasesPane
    from tui.screens.main import MainScreen

    node = await Node.open(home)
    out: dict[str, list[float]] = {"form": [], "case": [], "save": [], "list": []}
    try:
        rows = await node.cases.search(limit=rounds)
        app = make_app(node, "zh")
        app.freeze_gc = True
        async with app.run_test(size=SIZE) as pilot:
            frames = FrameClock(app)
            await _until(lambda: isinstance(app.screen, MainScreen))
            driver = app._driver
            assert driver is not None

            def send(*keys: str) -> None:
                for key in keys:
                    event = events.Key(key, key if len(key) == 1 else None)
                    event.set_sender(app)
                    driver.send_message(event)

            async def settle() -> None:
                """Each step starts on a settled screen, as a person reads it before the
                next key: the node's change event handled (gathered for 100 ms), the
                reads it set off done."""
                await asyncio.sleep(0.3)
                await asyncio.wait_for(app.workers.wait_for_complete(), 10)
                await pilot.pause()

            await pilot.press("f2")  # registering from the case list (Ctrl+N works there)
            cases = app.screen.query_one(CasesPane)
            await _until(lambda: cases.loads > 0)
            await settle()
            for i in range(rounds):
                # A case page.
                t0 = time.perf_counter()
                app.open_case(rows[i % len(rows)].doc_id)
                await _until(lambda: isinstance(app.screen, CaseDetailScreen)
                             and app.screen.case is not None)
                out["case"].append((await frames.after(time.perf_counter()) - t0) * 1000)
                app.pop_screen()
                await _until(lambda: isinstance(app.screen, MainScreen))
                await settle()
                # Ctrl+N to the form ready.
                t0 = time.perf_counter()
                send("ctrl+n")
                await _until(lambda: isinstance(app.screen, RegisterCaseScreen)
                             and app.screen.ready)
                out["form"].append((await frames.after(time.perf_counter()) - t0) * 1000)
                form = app.screen
                send("1", "tab", *"张三", "tab", *"李四", "tab", *"院墙越界")
                await _until(lambda: "院墙越界" in form.values()["description"])
                await settle()
                before = await node.cases.count()
                t0 = time.perf_counter()
                send("ctrl+s")
                try:
                    await _until(lambda: isinstance(app.screen, CaseDetailScreen)
                                 and app.screen.case is not None, timeout=30)
                except TimeoutError:
                    raise RuntimeError(f"not saved: {app.screen!r} {form.values()!r} "
                                       f"{form._shown_errors()!r}") from None
                shown = await frames.after(time.perf_counter())
                assert await node.cases.count() == before + 1
                out["save"].append((shown - t0) * 1000)
                new_id = app.screen.doc_id
                await settle()
                # Back to the list: the new case in it.
                t0 = time.perf_counter()
                send("escape")
                await _until(lambda: isinstance(app.screen, MainScreen)
                             and cases.total == before + 1
                             and any(r.doc_id == new_id for r in cases.table._rows))
                out["list"].append((await frames.after(time.perf_counter()) - t0) * 1000)
                await settle()
    finally:
        await node.close()
    return out


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def child_start(home: Path) -> None:
    """In a fresh process: run to interactive, then print READY."""

    async def run() -> None:
        await start_once(home, ready=lambda: print("READY", flush=True))

    asyncio.run(run())


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--only-registration", action="store_true",
                        help="only the registration flow (Ctrl+N, case page, save)")
    parser.add_argument("--child-start", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_start is not None:
        child_start(args.child_start)
        return 0

    home = args.home or default_home(args.cases)
    asyncio.run(ensure_store(home, args.cases))
    if args.only_registration:
        return report_registration(home, args.cases, args.repeat)

    warm = [asyncio.run(start_once(home)) for _ in range(args.repeat)]
    cold = [cold_start_once(home) for _ in range(args.repeat)]
    keys, queries = asyncio.run(keystrokes(home, max(1, args.repeat // 3)))

    start_med, cold_med, key_med = (statistics.median(warm), statistics.median(cold),
                                    statistics.median(keys))
    print(f"TUI benchmark, {args.cases} cases ({home}), {args.repeat} repeats, 80x24")
    print(f"  start to interactive (in process) median {start_med:.3f} s  "
          f"min {min(warm):.3f}  max {max(warm):.3f}   budget {BUDGET_START_S} s")
    print(f"  start to interactive (new process) median {cold_med:.3f} s  "
          f"min {min(cold):.3f}  max {max(cold):.3f}   budget {BUDGET_START_S} s")
    print(f"  keystroke to list redrawn         median {key_med:.1f} ms  "
          f"p90 {p(keys, 0.9):.1f}  max {max(keys):.1f}  ({len(keys)} keys)   "
          f"budget {BUDGET_KEY_MS:.0f} ms")
    print(f"  one search(limit=100) {queries['search_ms']:.1f} ms, "
          f"one count {queries['count_ms']:.1f} ms")
    ok = cold_med < BUDGET_START_S and start_med < BUDGET_START_S and key_med < BUDGET_KEY_MS
    print("  within budget" if ok else "  OVER BUDGET")
    return report_registration(home, args.cases, args.repeat) or (0 if ok else 1)


def report_registration(home: Path, cases: int, repeat: int) -> int:
    print(f"  load average before: {load_average()}")
    flow = asyncio.run(registration(home, repeat))
    ok = True
    for key, what in (("form", "Ctrl+N to form ready       "),
                      ("case", "case page open             "),
                      ("save", "save to the new case's page"),
                      ("list", "Esc to the list holding it ")):
        med = statistics.median(flow[key])
        ok = ok and med < BUDGET_KEY_MS
        print(f"  {what} median {med:.1f} ms  min {min(flow[key]):.1f}  "
              f"max {max(flow[key]):.1f}  ({len(flow[key])} times, {cases}+ cases)   "
              f"budget {BUDGET_KEY_MS:.0f} ms")
    print(f"  load average after: {load_average()}")
    print("  registration within budget" if ok else "  registration OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
