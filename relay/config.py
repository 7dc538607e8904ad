"""The relay home: the county relay's settings, keys and store.

    <home>/config.json      county, relay id, listen address, session cap
                            (max_sessions, busy_retry_s; docs/operations.md)
    <home>/store.db         the county's store (every village's records), unless
                            config.json names a PostgreSQL database (``store``); then it
                            keeps only the index of the media files in <home>/blobs
    <home>/keys/store.key   key sealing documents at rest (0600)
    <home>/enrol.db         enrolment records, <home>/accounts.db dashboard accounts and
                            audit; both in the database instead when config.json names one
                            (tokens_location, accounts_location)
    <home>/relay.lock       locked while 'relay serve' or 'relay migrate-store' runs

Every folder of the home is 0700 and every file 0600; ``RelayHome.tighten`` (run when the
relay starts) brings back an existing home that is looser.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import platformdirs

from store import DocumentStore, StoreError, new_key, open_store, records
from store.files import private_dir, tighten, write_private
from store.location import check_database_url
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
    store: str = ""  # "" = the embedded SQLite store.db; else a postgresql:// URL

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
        if not isinstance(cfg.store, str):
            raise RelayConfigError("bad_config", f"{self.config_file}: store must be a "
                                   "postgresql:// URL or empty")
        if cfg.store:
            try:
                check_database_url(cfg.store)
            except StoreError as exc:
                raise RelayConfigError("bad_config", f"{self.config_file}: {exc}") from None
        for name in ("max_sessions", "busy_retry_s"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RelayConfigError("bad_config", f"{self.config_file}: {name} must be a "
                                       f"whole number of at least 1, not {value!r}")
        return cfg

    def store_location(self, cfg: RelayConfig | None = None) -> str | Path:
        """The county's document store: store.db, or the database config.json names."""
        cfg = cfg or self.load()
        return cfg.store or self.store_file

    async def open_store(self, cfg: RelayConfig | None = None) -> DocumentStore:
        """Open the county's document store, wherever config.json says it lives."""
        cfg = cfg or self.load()
        return await open_store(self.store_location(cfg), key=self.store_key(),
                                side_dir=self.path / "store-files")

    @contextmanager
    def lock(self, what: str) -> Iterator[None]:
        """Hold <home>/relay.lock for ``what`` ("serve", "migrate-store"): one of them at a
        time on a relay home. Another holder: RelayConfigError ``relay_locked`` at once.
        The lock goes with the process, so a killed relay leaves nothing to clean up."""
        path = self.path / "relay.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                held = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                err = RelayConfigError("relay_locked", f"{path} is held ({held or '?'}): "
                                       "stop the relay (or the migration) first")
                err.details = {"what": held or "?"}
                raise err from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{what} pid {os.getpid()}".encode(), 0)
            yield
        finally:
            os.close(fd)

    def switch_store(self, store: str) -> RelayConfig:
        """Name ``store`` (a postgresql:// URL, or "" for store.db) in config.json
        (write_private: a crash leaves the old file or the new one)."""
        cfg = self.load()
        if store:
            check_database_url(store)
        cfg.store = store
        write_private(self.config_file,
                      json.dumps(asdict(cfg), ensure_ascii=False, indent=2).encode())
        return cfg

    @property
    def blob_index_file(self) -> Path:
        """The index of the media blocks in <home>/blobs: always a SQLite file here, as it
        describes files on this machine's disk (store.db, beside the documents when they
        are embedded)."""
        return self.store_file

    def store_key(self) -> bytes:
        return (self.keys_dir / "store.key").read_bytes()

    @property
    def ca(self) -> CountyCA:
        return CountyCA(self.keys_dir)

    @property
    def tokens_file(self) -> Path:
        return self.path / "enrol.db"

    def tokens_location(self, cfg: RelayConfig | None = None) -> str | Path:
        """The enrolment records: enrol.db, or the database config.json names."""
        cfg = cfg or self.load()
        return cfg.store or self.tokens_file

    @property
    def accounts_file(self) -> Path:
        return self.path / "accounts.db"

    def accounts_location(self, cfg: RelayConfig | None = None) -> str | Path:
        """The dashboard's accounts and audit log (relay/accounts.py): accounts.db, or the
        database config.json names."""
        cfg = cfg or self.load()
        return cfg.store or self.accounts_file

    def init(self, county: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
             public_url: str = "", store: str = "", force: bool = False) -> RelayConfig:
        """Create the relay home: store key, county CA and the relay's certificate.
        ``store`` is a postgresql:// URL for a database store ("" = embedded SQLite)."""
        if self.exists() and not force:
            raise RelayConfigError("relay_exists", f"a relay already exists at {self.path}")
        records.check_code(county, "county")
        if store:
            check_database_url(store)
        cfg = RelayConfig(county=county, relay_id="relay-" + secrets.token_hex(6), host=host,
                          port=port, public_url=public_url, store=store)
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

