"""The relay home: the county relay's settings, keys and store.

    <home>/config.json      county, relay id, listen address, session cap
                            (max_sessions, busy_retry_s; docs/operations.md)
    <home>/store.db         the county's store (every village's records)
    <home>/keys/store.key   key sealing documents at rest (0600)

Every folder of the home is 0700 and every file 0600; ``RelayHome.tighten`` (run when the
relay starts) brings back an existing home that is looser.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from store import new_key, records
from store.files import private_dir, tighten, write_private
from sync.scopes import Identity

from .ca import CountyCA

ENV_RELAY_HOME = "VILLAGECOURT_RELAY_HOME"
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8765
DEFAULT_MAX_SESSIONS = 100  # concurrent sync sessions; one more is told "busy"
DEFAULT_BUSY_RETRY_S = 30  # what a busy peer is told to wait (jittered ±50 %)


class RelayConfigError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.details: dict[str, str] = {}


@dataclass
class RelayConfig:
    county: str
    relay_id: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str = ""  # what nodes dial, e.g. wss://relay.county.example:8765/v1/sync
    max_sessions: int = DEFAULT_MAX_SESSIONS
    busy_retry_s: int = DEFAULT_BUSY_RETRY_S

    @property
    def identity(self) -> Identity:
        return Identity(self.relay_id, "relay", self.county)

    @property
    def sync_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"wss://{host}:{self.port}/v1/sync"


def default_relay_home() -> Path:
    env = os.environ.get(ENV_RELAY_HOME)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("villagecourt-relay", appauthor=False))


@dataclass(frozen=True)
class RelayHome:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def store_file(self) -> Path:
        return self.path / "store.db"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    def exists(self) -> bool:
        return self.config_file.exists()

    def tighten(self) -> tuple[list[Path], list[Path]]:
        """Folders 0700, files 0600 (logged when anything was looser): (tightened, could
        not be tightened)."""
        return tighten(self.path)

    def load(self) -> RelayConfig:
        if not self.exists():
            raise RelayConfigError("no_relay", f"no relay at {self.path}; run "
                                   "'villagecourt relay init --county CODE' first")
        try:
            cfg = RelayConfig(**json.loads(self.config_file.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise RelayConfigError("bad_config",
                                   f"{self.config_file} is not valid: {exc}") from None
        for name in ("max_sessions", "busy_retry_s"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RelayConfigError("bad_config", f"{self.config_file}: {name} must be a "
                                       f"whole number of at least 1, not {value!r}")
        return cfg

    def store_key(self) -> bytes:
        return (self.keys_dir / "store.key").read_bytes()

    @property
    def ca(self) -> CountyCA:
        return CountyCA(self.keys_dir)

    @property
    def tokens_file(self) -> Path:
        return self.path / "enrol.db"

    def init(self, county: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
             public_url: str = "", force: bool = False) -> RelayConfig:
        """Create the relay home: store key, county CA and the relay's certificate."""
        if self.exists() and not force:
            raise RelayConfigError("relay_exists", f"a relay already exists at {self.path}")
        records.check_code(county, "county")
        cfg = RelayConfig(county=county, relay_id="relay-" + secrets.token_hex(6), host=host,
                          port=port, public_url=public_url)
        private_dir(self.path)
        private_dir(self.keys_dir)
        key_file = self.keys_dir / "store.key"
        if not key_file.exists():
            write_private(key_file, new_key())
        if force or not self.ca.exists():
            self.ca.create(county, cfg.identity)
        else:
            self.ca.issue_relay(cfg.identity)
        write_private(self.config_file,
                      json.dumps(asdict(cfg), ensure_ascii=False, indent=2).encode())
        return cfg

