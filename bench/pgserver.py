"""A PostgreSQL server for the benchmarks, made with tests/pgcluster.py's pieces (initdb,
pg_ctl, a Unix socket only; as root it runs as the ``postgres`` user).

Unlike the tests' server, its data directory may be kept between runs (``keep=True``: the
feed benchmark caches its province-sized tables), and it may run durably (``durable=True``:
fsync and synchronous_commit on, as a county's server would; the tests' server has them
off), so that write benchmarks compare it fairly with SQLite's ``synchronous=FULL``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def pgcluster() -> ModuleType:
    """tests/pgcluster.py, loaded by path (tests/ is not a package)."""
    if "vc_pgcluster" in sys.modules:
        return sys.modules["vc_pgcluster"]
    spec = importlib.util.spec_from_file_location("vc_pgcluster", ROOT / "tests" / "pgcluster.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class Server:
    """``start()`` makes the data directory under ``root`` if there is none, then starts
    the server; ``stop()`` stops it and (unless ``keep``) removes ``root``."""

    def __init__(self, root: Path, *, durable: bool, keep: bool) -> None:
        mod = pgcluster()
        self.root = root
        self.durable = durable
        self.keep = keep
        user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        self.cluster: Any = mod.Cluster(mod.find_bindir(), root, user)

    @property
    def postmaster_pid(self) -> int:
        return int((self.cluster.data / "postmaster.pid").read_text().split()[0])

    def start(self) -> None:
        c = self.cluster
        if not (c.data / "PG_VERSION").exists():
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)
            c._check("initdb", c._run(
                str(c.bindir / "initdb"), "-D", str(c.data), "-U", c.user, "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"))
        durability = ("-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
                      if self.durable else
                      "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        opts = (f"-c listen_addresses='' -k {c.socket_dir} -p {mod_port()} -c max_connections=300 "
                + durability)
        c._check("pg_ctl start", c._run(
            str(c.bindir / "pg_ctl"), "-D", str(c.data), "-o", opts, "-w", "-t", "60",
            "-l", str(self.root / "server.log"), "start"))

    def stop(self) -> None:
        c = self.cluster
        c._run(str(c.bindir / "pg_ctl"), "-D", str(c.data), "-m", "fast", "-w", "stop")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return str(self.cluster.dsn(database))


def mod_port() -> int:
    return int(pgcluster().PORT)


def cpu_s_of_tree(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children still alive (PostgreSQL's
    backends are the postmaster's children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total
