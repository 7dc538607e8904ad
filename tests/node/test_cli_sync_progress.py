"""`sync` progress when stderr is not a terminal (a log, a pipe, cron): a whole line every
PROGRESS_EVERY_S seconds of a long sync, never a line per page and never a carriage
return; on a terminal one line rewritten in place (issue 15). The printer is node/cli.py's
own, fed the protocol's real Counters; the clock is stepped by the test so the count of
lines is exact. A real sync through a relay is in tests/bundles/test_cli_messages.py."""

from __future__ import annotations

import io

from node import cli
from sync.protocol import Counters


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(show, clock: Clock, pages: int, seconds_per_page: float) -> None:
    c = Counters()
    for _ in range(pages):
        clock.now += seconds_per_page
        c.pages_received += 1
        c.docs_received += 50
        c.docs_changed += 50
        c.docs_sent += 10
        show(c)


def test_a_long_sync_prints_a_line_every_few_seconds_not_per_page() -> None:
    clock, out = Clock(), io.StringIO()
    show = cli._progress_printer("zh", stream=out, clock=clock)
    _feed(show, clock, pages=640, seconds_per_page=1 / 64)  # 640 pages over 10 s (exact)
    lines = out.getvalue().splitlines()
    assert len(lines) == int(10 / cli.PROGRESS_EVERY_S), lines
    assert "\r" not in out.getvalue()
    # each line whole, in the node's language, with counts that grow
    assert lines[0] == "同步中：已发送 1280 条，已收到 6400 条"  # 2 s: page 128
    received = [int(ln.rsplit("已收到 ", 1)[1].split(" ")[0]) for ln in lines]
    assert received == sorted(received) and len(set(received)) == len(received)


def test_a_short_sync_prints_no_progress_line() -> None:
    clock, out = Clock(), io.StringIO()
    _feed(cli._progress_printer("en", stream=out, clock=clock), clock, pages=30,
          seconds_per_page=0.05)  # 1.5 s
    assert out.getvalue() == ""


def test_quiet_and_json_print_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    _feed(cli._progress_printer("en", True, stream=out, clock=clock), clock, pages=500,
          seconds_per_page=0.1)
    assert out.getvalue() == ""


def test_on_a_terminal_one_line_is_rewritten() -> None:
    clock, out = Clock(), Terminal()
    _feed(cli._progress_printer("en", stream=out, clock=clock), clock, pages=3,
          seconds_per_page=0.01)
    assert out.getvalue() == ("\rSyncing: 10 sent, 50 received\rSyncing: 20 sent, 100 received"
                              "\rSyncing: 30 sent, 150 received")
