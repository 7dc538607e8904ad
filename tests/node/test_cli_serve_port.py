"""`serve` with its LAN port taken says so and why, and listens on a free port it names
(issue 15: it printed 局域网端口 None and ran without LAN discovery). A real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path


def test_serve_on_a_taken_port_picks_a_free_one(tmp_path: Path) -> None:
    home = tmp_path / "node"
    env = {**os.environ, "VILLAGECOURT_HOME": str(home), "VILLAGECOURT_INTERFACES": "127.0.0.1"}
    subprocess.run([sys.executable, "-m", "node", "init", "--village", "BY", "--name", "白云村"],
                   env=env, check=True, capture_output=True, timeout=60)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "--host", "127.0.0.1",
                             "--port", str(taken), "--no-discovery"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the listening line comes after the warning
        assert "同步服务已启动" in line and "None" not in line, line
        port = int(re.search(r"局域网端口 (\d+)", line).group(1))
        assert port != taken
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it really listens there
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        holder.close()
    assert f"局域网端口 {taken} 已被占用" in err and f"改用空闲端口 {port}" in err, err
    assert proc.returncode == 0
