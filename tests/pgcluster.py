"""A throw-away PostgreSQL server for the tests: initdb + pg_ctl in a temp dir, a Unix
socket only (listen_addresses=''), fsync off. Debian's ``postgresql`` package provides
the binaries (``make test`` installs it); if they are missing this FAILS with what to
install, it never skips. As root (CI), the server runs as the ``postgres`` user
(``runuser``), since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import asyncpg

BIN_GLOB = "/usr/lib/postgresql/*/bin"
PORT = 5432  # names the socket file only: nothing listens on TCP
INSTALL = ("PostgreSQL's server binaries (initdb, pg_ctl) are missing: install Debian's "
           "package with `sudo apt-get install postgresql` (make test does it when run "
           "as root)")


class NoPostgres(RuntimeError):
    pass


def find_bindir(pattern: str = BIN_GLOB) -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    found = [Path(p) for p in glob.glob(pattern)
             if (Path(p) / "initdb").is_file() and (Path(p) / "pg_ctl").is_file()]
    if not found:
        raise NoPostgres(INSTALL)
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


@dataclass
class Cluster:
    bindir: Path
    root: Path
    user: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> str:
        return str(self.root)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}&port={PORT}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def _check(self, what: str, done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            log = (self.root / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise NoPostgres(f"{what} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        self._check("initdb", self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"))
        opts = (f"-c listen_addresses='' -k {self.socket_dir} -p {PORT} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        self._check("pg_ctl start", self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-w", "-t", "60",
            "-l", str(self.root / "server.log"), "start"))

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                  "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="villagecourt-pg-"))
    user = "postgres" if os.geteuid() == 0 else getpass.getuser()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    cluster = Cluster(bindir, root, user)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.asynccontextmanager
async def database(cluster: Cluster) -> AsyncIterator[str]:
    """A fresh, empty database on the tests' server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(cluster.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield cluster.dsn(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
