"""The real thing: the installed UI in a real terminal (tmux, 80x24), a case registered
with two parties by key presses alone, then checked in the store.

Skipped only when tmux is not installed (the CI installs it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


def test_register_a_case_by_keys_in_a_real_terminal(home: Path) -> None:
    first17 = "33080219850315123"
    id_number = first17 + id_check_digit(first17)
    # The installed command, as a director starts it; sync stays on loopback in tests.
    command = str(Path(sys.executable).parent / "villagecourt")
    term = Terminal(f"vc-test-{os.getpid()}", [command, "--home", str(home), "tui"],
                    env={"LANG": "C.UTF-8", "TERM": "tmux-256color",
                         "VILLAGECOURT_INTERFACES": "127.0.0.1"})
    try:
        term.wait_for("F1 首页", "F8 English", "近期没有要做的回访")
        # The keystrokes of docs/tui.md, "Register a case with two parties".
        term.keys("C-n")
        term.wait_for("登记新纠纷", "纠纷类型", "身份证号")
        term.text("王五与赵六宅基地界址纠纷")
        term.keys("Tab", "1", "Tab", "Tab")
        term.text("王五")
        term.keys("Tab")
        term.text("13912345678")
        term.keys("Tab")
        term.text(id_number)
        term.keys("Tab", "Tab")
        term.text("赵六")
        term.keys("Tab")
        term.text("0570-3012345")
        term.keys("C-s")
        screen = term.wait_for("案件 BY-", "王五与赵六宅基地界址纠纷", "已登记", "赵六")
        assert "被申请人" in screen and "13912345678" in screen
        # The ID number is masked on screen (people may look over the director's shoulder).
        assert id_number not in screen and id_number[:6] + "********" in screen
        term.keys("Escape")
        term.wait_for("F1 首页")
        term.keys("C-q")
        deadline = time.monotonic() + 10
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive(), "the app did not quit on Ctrl+Q"
    finally:
        term.close()

    async def check() -> None:
        node = await Node.open(home)
        try:
            (row,) = await node.cases.search()
            case = await node.cases.get(row.doc_id)
        finally:
            await node.close()
        assert case.title == "王五与赵六宅基地界址纠纷" and case.category == "neighbour"
        assert [(p.role, p.name, p.phone, p.id_number) for p in case.parties] == [
            ("applicant", "王五", "13912345678", id_number),
            ("respondent", "赵六", "0570-3012345", "")]

    asyncio.run(check())
