"""Real processes for the harsh-conditions tools (issue #6): the relay and node daemons as
subprocesses of the ``villagecourt`` command, node homes with real certificates, and
process-group hygiene.

Used by bench/chaos_soak.py, bench/fuzz_relay.py, bench/reconnect_bench.py and the
tests under tests/harsh/. Rules:

1. Every process runs in its own process group (``start_new_session``) and is ended by
   its group id: SIGKILL for a simulated power cut, SIGTERM for a clean stop. Nothing
   here ever signals a process it did not start.
2. Every wait is bounded: starting, stopping, a one-shot command.
3. Output goes to a log file per process (appended across restarts), so a test can look
   for tracebacks afterwards (``unexpected_errors``).
4. Network traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ed25519

from node.config import Home
from node.identity import keys_of
from relay.ca import cert_pem, issue, private_pem
from relay.config import RelayHome
from sync.scopes import Identity
from sync.tls import client_context

COUNTY = "KC"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0

# What a log must never hold after a run: an exception that escaped a handler or a task.
UNEXPECTED = re.compile(r"Traceback \(most recent call last\)|Error handling request|"
                        r"Unhandled exception|Task exception was never retrieved|"
                        r"Exception in callback")


def villagecourt(*args: str) -> list[str]:
    """argv of the ``villagecourt`` command, run by this very interpreter."""
    return [sys.executable, "-m", "node", *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VILLAGECOURT_HOME", None)
    env.pop("VILLAGECOURT_RELAY_HOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` figure from /proc/PID/status (VmRSS, VmHWM...); 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def unexpected_errors(log: Path) -> list[str]:
    """Lines of ``log`` that show an exception escaping (see UNEXPECTED)."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    return [ln for ln in lines if UNEXPECTED.search(ln)]


# --- relay ---------------------------------------------------------------------------------
def init_relay_home(path: Path, port: int, county: str = COUNTY) -> RelayHome:
    home = RelayHome(path)
    home.init(county, host="127.0.0.1", port=port)
    return home


def write_node_keys(relay_home: RelayHome, keys_dir_home: Home, identity: Identity) -> None:
    """Give a node home a key and a certificate from the county CA (what enrolment
    would hand out), and pin the CA."""
    ca = relay_home.ca
    key = ed25519.Ed25519PrivateKey.generate()
    cert = issue(ca.key(), ca.cert(), key.public_key(), identity)
    keys_of(keys_dir_home).write(private_pem(key), cert_pem(cert), cert_pem(ca.cert()))


@dataclass
class ClientCert:
    """A certificate and key on disk for a client that is not a node home."""

    identity: Identity
    key_file: Path
    cert_file: Path
    ca_file: Path

    def context(self) -> ssl.SSLContext:
        return client_context(self.ca_file, self.cert_file, self.key_file)


def make_client_cert(relay_home: RelayHome, folder: Path, identity: Identity) -> ClientCert:
    ca = relay_home.ca
    folder.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    cert = issue(ca.key(), ca.cert(), key.public_key(), identity)
    out = ClientCert(identity, folder / "client.key", folder / "client.pem", folder / "ca.pem")
    out.key_file.write_bytes(private_pem(key))
    out.key_file.chmod(0o600)
    out.cert_file.write_bytes(cert_pem(cert))
    out.ca_file.write_bytes(cert_pem(ca.cert()))
    return out


@dataclass
class Proc:
    """One long-running subprocess in its own process group, logging to ``log``."""

    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)  # added to the environment
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self) -> None:
        if self.alive:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n=== start {self.starts} at {time.time():.3f} ===\n".encode())
            out.flush()
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**child_env(), **self.env})
        self.starts += 1

    def _signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    async def _wait(self, timeout: float) -> int | None:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.popen.poll()
            if rc is not None:
                return rc
            await asyncio.sleep(0.02)
        return self.popen.poll()

    async def kill(self) -> None:
        """SIGKILL to the whole group: a power cut. Waits until it is gone."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        rc = await self._wait(STOP_TIMEOUT_S)
        self.exit_codes.append(rc if rc is not None else -999)

    async def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``. Returns the exit
        code of the SIGTERM (None if it had to be killed)."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.poll() if self.popen else None
        self._signal_group(signal.SIGTERM)
        rc = await self._wait(timeout)
        if rc is None:
            self._signal_group(signal.SIGKILL)
            await self._wait(STOP_TIMEOUT_S)
        self.exit_codes.append(rc if rc is not None else -998)
        return rc

    def kill_now(self) -> None:
        """Synchronous last resort for finally blocks: SIGKILL the group and reap it."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self._signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(STOP_TIMEOUT_S)
        else:
            # The leader is gone; anything left in its group goes too.
            self._signal_group(signal.SIGKILL)


class RelayProcess(Proc):
    """``villagecourt relay --relay-home H serve`` on 127.0.0.1:port, mutual TLS."""

    def __init__(self, home: RelayHome, port: int, log: Path,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(villagecourt("relay", "--relay-home", str(home.path), "serve",
                                      "--host", "127.0.0.1", "--port", str(port)), log,
                         dict(env or {}))
        self.home = home
        self.port = port

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def sync_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/v1/sync"

    def verify_context(self) -> ssl.SSLContext:
        """TLS to the relay verified against the county CA, without a client certificate
        (what /healthz, /metrics and enrolment need)."""
        return client_context(self.home.ca.ca_cert_file)

    async def start(self, timeout: float = START_TIMEOUT_S) -> None:
        self.spawn()
        await self.wait_healthy(timeout)

    async def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"relay exited with {self.popen and self.popen.poll()}; "
                                   f"see {self.log}")
            try:
                return await self.healthz(timeout=2.0)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                last = exc
            await asyncio.sleep(0.05)
        raise TimeoutError(f"relay not healthy within {timeout} s: {last!r}")

    async def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.get(self.base + path, ssl=self.verify_context()) as resp:
                return resp.status, await resp.text()

    async def healthz(self, timeout: float = 5.0) -> dict[str, Any]:
        status, text = await self.get("/healthz", timeout)
        if status != 200:
            raise aiohttp.ClientError(f"healthz answered {status}")
        data: dict[str, Any] = json.loads(text)
        return data

    async def metrics(self) -> dict[str, float]:
        """/metrics as {"name{labels}": value}."""
        status, text = await self.get("/metrics")
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def rss_kb(self) -> int:
        return proc_status_kb(self.pid, "VmRSS")

    def hwm_kb(self) -> int:
        return proc_status_kb(self.pid, "VmHWM")


# --- one-shot commands ---------------------------------------------------------------------
@dataclass
class Ran:
    argv: list[str]
    rc: int | None  # None: killed by us (timeout or on purpose)
    out: str
    err: str
    seconds: float


async def run_command(argv: list[str], *, timeout: float = COMMAND_TIMEOUT_S,
                      kill_after: float | None = None) -> Ran:
    """Run a command in its own process group; bounded by ``timeout``. ``kill_after``
    SIGKILLs it after that many seconds on purpose (a power cut during the command)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env=child_env())
    limit = timeout if kill_after is None else min(timeout, kill_after)
    killed = False
    try:
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit)
        except asyncio.TimeoutError:
            killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = await asyncio.wait_for(proc.communicate(), STOP_TIMEOUT_S)
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
        raise
    return Ran(argv, None if killed else proc.returncode, out.decode(errors="replace"),
               err.decode(errors="replace"), time.monotonic() - started)
