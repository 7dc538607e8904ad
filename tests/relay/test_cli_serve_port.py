"""`relay serve` on a port another program holds refuses in one line of the operator's
language, exit 1, and does not hang (issue 15). A real relay home and a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("lang, words", [
    ("zh", "已被占用"),
    ("en", "is taken"),
])
def test_relay_serve_on_a_taken_port_refuses(tmp_path: Path, lang: str, words: str) -> None:
    home = str(tmp_path / "relay")
    env = {**os.environ}
    env.pop("VILLAGECOURT_LANG", None)
    subprocess.run([sys.executable, "-m", "node", "relay", "--relay-home", home, "init",
                    "--county", "KC", "--host", "127.0.0.1"], env=env, check=True,
                   capture_output=True, timeout=60)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "node", "relay", "--relay-home", home, "--lang", lang,
             "serve", "--host", "127.0.0.1", "--port", str(taken)],
            env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    refusal = [ln for ln in lines if str(taken) in ln]
    assert len(refusal) == 1 and words in refusal[0], done.stderr
    assert "Traceback" not in done.stderr
    # it never said it listens
    assert done.stdout.strip() == ""
