"""`case list` and `case add` start without aiohttp, x509 or the relay (issue 15).

A real node home and a real process: the modules loaded by the command, read from
``sys.modules`` after ``node.cli.main`` ran in a fresh interpreter. The timing itself is
bench/cli_bench.py's (docs/benchmarks.md), never a unit test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("aiohttp", "relay", "relay.app", "relay.ca", "relay.config", "cryptography.x509",
         "sync.bundle", "sync.enrolment", "zeroconf", "textual", "node.daemon", "node.identity")

PROBE = """
import io, json, sys, contextlib
from node.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(home: Path, *argv: str) -> dict:
    env = {**os.environ, "VILLAGECOURT_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "node"
    env = {**os.environ, "VILLAGECOURT_HOME": str(path)}
    subprocess.run([sys.executable, "-m", "node", "init", "--village", "BY", "--name", "白云村"],
                   env=env, check=True, capture_output=True, timeout=60)
    return path


@pytest.mark.parametrize("argv", [
    ("case", "list"),
    ("case", "add", "--category", "land", "--title", "地界", "--party", "申请人:张三"),
    ("--lang", "en", "case", "list", "--json"),
])
def test_case_commands_load_nothing_heavy(home: Path, argv: tuple[str, ...]) -> None:
    result = _run(home, *argv)
    assert result["rc"] == 0, result
    loaded = set(result["modules"])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


# `case list` reads the index only: no document is opened, so not even the store's cipher
# (cryptography), nor what only a write or the help needs.
READ_ONLY_SKIPS = ("cryptography", "uuid", "platformdirs", "importlib.resources", "tempfile")


def test_case_list_loads_no_cipher(home: Path) -> None:
    result = _run(home, "case", "list")
    assert result["rc"] == 0, result
    loaded = {m for m in result["modules"] if m.split(".")[0] in READ_ONLY_SKIPS
              or m in READ_ONLY_SKIPS}
    assert not loaded, sorted(loaded)
    # ...while a write seals its document (the probe sees cryptography when it is loaded)
    added = _run(home, "case", "add", "--category", "land", "--title", "地界",
                 "--party", "申请人:张三")
    assert "cryptography.hazmat.primitives.ciphers.aead" in added["modules"]


def test_relay_commands_still_load_what_they_need(home: Path, tmp_path: Path) -> None:
    """The probe can see a heavy import: the relay's init does load the relay's CA."""
    result = _run(home, "relay", "--relay-home", str(tmp_path / "r"), "init", "--county", "KC")
    assert result["rc"] == 0, result
    assert "relay.ca" in result["modules"] and "cryptography.x509" in result["modules"]
