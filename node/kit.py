"""The offline installation kit: a folder for a USB stick that installs villagecourt on a
village PC with no network (issue 15; docs/operations.md, "Installing with no network").

    villagecourt kit build --out /media/usb/villagecourt-kit        (a connected machine)
    sh /media/usb/villagecourt-kit/install.sh [TARGET]             (the village PC)

``build_kit`` writes ``wheels/`` (the project's wheel and a wheel of every dependency, for
this machine's platform and Python or for ``--platform``/``--python-version``), the
generated ``install.sh`` (a venv, then ``pip install --no-index --find-links``: nothing is
fetched) and ``README.txt``. Building needs the package index (or ``--find-links`` of
wheels already here); installing needs only the folder and Python 3.11+ with venv.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT = "villagecourt"
WHEELS = "wheels"

INSTALL_SH = """#!/bin/sh
# villagecourt offline install: no network needed (made by `villagecourt kit build`).
#   sh install.sh [TARGET]      TARGET defaults to $HOME/villagecourt
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=${1:-"$HOME/villagecourt"}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m venv "$TARGET"
"$TARGET/bin/python" -m pip install --quiet --no-index --find-links "$HERE/wheels" \\
    --disable-pip-version-check villagecourt
echo "已安装 / installed: $TARGET/bin/villagecourt"
echo "下一步 / next: $TARGET/bin/villagecourt provision --file 登记文件.enrol --code 登记码"
"""

README = """villagecourt 离线安装包 / offline installation kit

1. 把这个文件夹复制到村里的电脑（或直接在U盘上运行）。
   Copy this folder to the village PC (or run it from the stick).
2. sh install.sh            （安装到 ~/villagecourt，不需要网络 / no network needed）
3. ~/villagecourt/bin/villagecourt provision --file BY.enrol --code 登记码

Python {python} / {platform}; {count} wheels.
"""


class KitError(Exception):
    """The kit could not be built (pip failed: no index, no wheel for the platform)."""

    code = "kit_failed"


@dataclass
class Kit:
    path: Path
    wheels: list[str]
    install_script: Path


def _pip(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    log.info("kit: %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise KitError("pip failed: " + " | ".join(tail))


def build_kit(out: Path, *, project: Path | None = None, platform: str | None = None,
              python_version: str | None = None, find_links: list[Path] | None = None,
              no_index: bool = False) -> Kit:
    """Write the kit into ``out`` (created; wheels already there are kept)."""
    project = project or Path(__file__).resolve().parents[1]
    wheels = out / WHEELS
    wheels.mkdir(parents=True, exist_ok=True)
    links: list[str] = []
    for d in find_links or []:
        links += ["--find-links", str(d)]
    if no_index:
        links.append("--no-index")
    # The project's own wheel (pure Python: any platform).
    _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *links, str(project)])
    own = sorted(wheels.glob(f"{PROJECT}-*.whl"))
    if not own:
        raise KitError("no villagecourt wheel was built")
    target: list[str] = []
    if platform:
        target += ["--platform", platform]
    if python_version:
        target += ["--python-version", python_version]
    # Every dependency as a wheel: binary only, so the village PC compiles nothing.
    _pip(["download", "--quiet", "--only-binary=:all:", "--dest", str(wheels), *target,
          *links, "--find-links", str(wheels), str(own[-1])])
    script = out / "install.sh"
    script.write_text(INSTALL_SH, encoding="utf-8")
    script.chmod(0o755)
    names = sorted(p.name for p in wheels.glob("*.whl"))
    (out / "README.txt").write_text(README.format(
        python=python_version or f"{sys.version_info.major}.{sys.version_info.minor}",
        platform=platform or "this machine's", count=len(names)), encoding="utf-8")
    return Kit(out, names, script)


__all__ = ["Kit", "KitError", "build_kit"]
