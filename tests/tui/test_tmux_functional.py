"""The real thing: the installed UI in a real terminal (tmux, 80x24), a case registered
with two parties by key presses alone (one at a time, and all in one burst right after
Ctrl+N), then checked in the store.

Skipped only when tmux is not installed (the CI installs it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from node import Node
from store.records import id_check_digit

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """A detached tmux session on its own server socket, so nothing else is touched."""

    def __init__(self, name: str, command: list[str], *, width: int = 80, height: int = 24,
                 env: dict[str, str] | None = None) -> None:
        self.socket = name
        self.session = name
        assert TMUX is not None
        self._tmux = TMUX
        wrapped = " ".join(f"'{part}'" for part in command)
        environment = " ".join(f"{k}='{v}'" for k, v in (env or {}).items())
        self._run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                  f"cd '{ROOT}' && exec env {environment} {wrapped}")

    def _run(self, *args: str) -> str:
        done = subprocess.run([self._tmux, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)
        if done.returncode != 0 and args[0] not in ("kill-server", "has-session"):
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr}")
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Named keys (Tab, C-n, F2) or single characters, one press each."""
        for key in keys:
            self._run("send-keys", "-t", self.session, key)

    def burst(self, *keys: str) -> None:
        """Named keys and texts in one send-keys: one write to the terminal, while the
        program is stopped (SIGSTOP), so that it reads them all at once when it goes on,
        as a program busy on a slow PC does."""
        pid = int(self._run("list-panes", "-t", self.session, "-F", "#{pane_pid}").split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            self._run("send-keys", "-t", self.session, *keys)
            time.sleep(0.3)  # tmux writes them to the terminal meanwhile
        finally:
            os.kill(pid, signal.SIGCONT)

    def text(self, text: str) -> None:
        """Characters as typed (-l: literally; Chinese as an input method commits them)."""
        self._run("send-keys", "-t", self.session, "-l", text)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, *needles: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(n in screen for n in needles):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"not on screen after {timeout}s: {needles!r}\n{screen}")

    def alive(self) -> bool:
        done = subprocess.run([self._tmux, "-L", self.socket, "has-session", "-t",
                               self.session], capture_output=True, timeout=10)
        return done.returncode == 0

    def close(self) -> None:
        self._run("kill-server")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    async def create() -> None:
        node = await Node.create(tmp_path / "node", village="BY", village_name="白云村",
                                 county="KC", director="周主任")
        await node.close()

    asyncio.run(create())
    return tmp_path / "node"


def run_in_terminal(home: Path, name: str, send: Callable[[Terminal], None], *,
                    quit_by_keys: bool = True) -> str:
    """The installed program in tmux at 80x24; ``send`` types; returns the case page.
    ``quit_by_keys=False``: the session is closed instead of Ctrl+Q (a program stopped
    and continued by signals does not read Ctrl+Q again in tmux; a director's never is)."""
    # The installed command, as a director starts it; sync stays on loopback in tests.
    command = str(Path(sys.executable).parent / "villagecourt")
    term = Terminal(f"vc-{name}-{os.getpid()}", [command, "--home", str(home), "tui"],
                    env={"LANG": "C.UTF-8", "TERM": "tmux-256color",
                         "VILLAGECOURT_INTERFACES": "127.0.0.1"})
    try:
        term.wait_for("F1 首页", "F8 English", "近期没有要做的回访")
        send(term)
        screen = term.wait_for("案件 BY-", "张三与李四邻里纠纷", "已登记", "李四")
        term.keys("Escape")
        term.wait_for("F1 首页")
        if quit_by_keys:
            term.keys("C-q")
            deadline = time.monotonic() + 10
            while term.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not term.alive(), "the app did not quit on Ctrl+Q"
    finally:
        term.close()
    return screen


def stored_case(home: Path) -> Any:
    async def read() -> Any:
        node = await Node.open(home)
        try:
            (row,) = await node.cases.search()
            return await node.cases.get(row.doc_id)
        finally:
            await node.close()

    return asyncio.run(read())


FIRST17 = "33080219850315123"
ID_NUMBER = FIRST17 + id_check_digit(FIRST17)
DESCRIPTION = "李四翻建院墙越过界址半米，张三要求拆除"


def check(home: Path, screen: str) -> None:
    assert "被申请人" in screen and "13912345678" in screen
    # The ID number is masked on screen (people may look over the director's shoulder).
    assert ID_NUMBER not in screen and ID_NUMBER[:6] + "********" in screen
    case = stored_case(home)
    assert case.title == "张三与李四邻里纠纷" and case.category == "neighbour"
    assert case.description == DESCRIPTION
    assert [(p.role, p.name, p.phone, p.id_number) for p in case.parties] == [
        ("applicant", "张三", "13912345678", ID_NUMBER), ("respondent", "李四", "", "")]


def test_register_a_case_by_keys_in_a_real_terminal(home: Path) -> None:
    """The keystrokes of docs/tui.md, one at a time, each once the screen shows it."""

    def send(term: Terminal) -> None:
        term.keys("C-n")
        term.wait_for("登记新纠纷", "纠纷类型", "身份证号")
        term.keys("1", "Tab")
        term.text(f"张三13912345678 {ID_NUMBER}")
        term.keys("Tab")
        term.text("李四")
        term.keys("Tab")
        term.text(DESCRIPTION)
        term.keys("C-s")

    check(home, run_in_terminal(home, "keys", send))


def test_the_same_keys_in_one_burst_right_after_ctrl_n(home: Path) -> None:
    """Everything in one write to the terminal, Ctrl+N first: the form does not exist
    when the rest arrives. Nothing is lost or lands in the wrong field."""

    def send(term: Terminal) -> None:
        term.burst("C-n", "1", "Tab", f"张三13912345678 {ID_NUMBER}", "Tab", "李四", "Tab",
                   DESCRIPTION, "C-s")

    check(home, run_in_terminal(home, "burst", send, quit_by_keys=False))
