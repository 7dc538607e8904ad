"""The offline installation kit, for real (issue 15): built here with pip, then installed
and run inside a network namespace with no network (``unshare -n``; CI runs as root).

Building uses the package index (or pip's cache); the install and ``demo`` that follow see
no network at all: a wheel missing from the kit fails the install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from node.kit import build_kit

pytestmark = pytest.mark.slow


def test_kit_installs_and_runs_demo_with_no_network(tmp_path: Path) -> None:
    assert os.geteuid() == 0 and shutil.which("unshare"), "the kit test needs root and unshare"
    # The namespace really has no network: even loopback is down.
    probe = subprocess.run(["unshare", "-n", sys.executable, "-c",
                            "import socket; socket.create_connection(('127.0.0.1', 9), 1)"],
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr

    kit = build_kit(tmp_path / "kit")
    names = " ".join(kit.wheels)
    for dist in ("villagecourt-", "aiohttp-", "automerge-", "cryptography-", "textual-"):
        assert dist in names
    assert "--no-index" in kit.install_script.read_text()

    target, home = tmp_path / "village-pc", tmp_path / "node"
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c",
         f"sh {kit.install_script} {target} && "
         f"{target}/bin/villagecourt --home {home} demo --cases 5 && "
         f"{target}/bin/villagecourt --home {home} --lang en case list --json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHON": "python3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "示例数据已生成：5 件案件" in done.stdout
    assert (target / "bin" / "villagecourt").exists()
    assert done.stdout.count('"number"') == 5


def test_kit_without_the_index_says_why(tmp_path: Path) -> None:
    """--no-index with nothing to find: one clear error, no half kit passed off as done."""
    from node.kit import KitError

    with pytest.raises(KitError, match="pip failed"):
        build_kit(tmp_path / "kit", no_index=True)
    assert not (tmp_path / "kit" / "install.sh").exists()
