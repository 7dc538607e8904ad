"""Writing small secret files safely (keys, configuration)."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner (0600), atomically: write a temporary file,
    fsync it, rename it over the target, so a crash leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if absent; the folder itself ends 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "nt" and os.stat(path).st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)
    return path
