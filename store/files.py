"""Writing small secret files safely (keys, configuration), and keeping a home private.

A node's or relay's home holds the store, its keys and drafts: every folder in it is
0700 and every file 0600 (docs/operations.md). New ones are made so; ``tighten`` brings an
existing home back to that (homes made by older versions were 0755/0644), and
``loose_paths`` is what ``villagecourt doctor`` checks. On Windows the POSIX modes mean
nothing (the user's profile folder is private by its ACL): both do nothing there.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077  # any of these bits set: group or others may read, write or enter


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
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if os.name != "nt" and os.stat(path).st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)
    return path


def loose_paths(root: Path) -> list[tuple[Path, int]]:
    """Folders and files under ``root`` (itself included) that others may use, with
    their modes. Symbolic links are neither followed nor reported (their own mode means
    nothing; what they point to inside the home is checked where it is)."""
    if os.name == "nt" or not root.exists():
        return []
    found: list[tuple[Path, int]] = []

    def look(p: Path) -> None:
        try:
            st = os.lstat(p)
        except OSError:
            return  # gone meanwhile (a temporary file)
        if (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)) and st.st_mode & OTHERS:
            found.append((p, stat.S_IMODE(st.st_mode)))

    look(root)
    for top, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            look(Path(top) / name)
    return found


def tighten(root: Path) -> tuple[list[Path], list[Path]]:
    """Make every folder under ``root`` 0700 and every file 0600 where others had any
    access. Returns (what was tightened, what could not be: e.g. owned by another user)."""
    fixed: list[Path] = []
    failed: list[Path] = []
    for p, _mode in loose_paths(root):
        try:
            os.chmod(p, PRIVATE_DIR if stat.S_ISDIR(os.lstat(p).st_mode) else PRIVATE_FILE,
                     follow_symlinks=False)
            fixed.append(p)
        except FileNotFoundError:
            pass  # gone meanwhile: an SQLite -shm or -wal file removed as its connection closed
        except (OSError, NotImplementedError):
            failed.append(p)
    if fixed:
        log.warning("event=home_tightened home=%s paths=%d first=%s", root, len(fixed), fixed[0])
    if failed:
        log.error("event=home_loose home=%s paths=%d first=%s", root, len(failed), failed[0])
    return fixed, failed
