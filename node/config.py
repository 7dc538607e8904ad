"""The node home: where a node keeps its settings, keys and store.

    <home>/config.json      settings (village, county, language, node id, relay, port)
    <home>/store.db         the SQLite store (plus -wal and -shm while open)
    <home>/keys/store.key   32-byte key sealing documents at rest (0600, never logged)

Every folder of the home is 0700 and every file 0600; ``Home.tighten`` (run when a node
opens) brings back an existing home that is looser, and ``villagecourt doctor`` says so.

The home defaults to the platform's data directory (platformdirs), and is overridden by
``--home`` or the VILLAGECOURT_HOME environment variable.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from store import new_key, records
from store.files import private_dir, tighten, write_private

ENV_HOME = "VILLAGECOURT_HOME"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
DEFAULT_PORT = 7457  # LAN sync listener; unassigned by IANA
# Media (videos of the county's content) downloads after records, capped so that a phone
# sharing the village's link still gets through; settable in config.json.
DEFAULT_MEDIA_RATE_KBPS = 128
DEFAULT_MEDIA_FREE_MB = 512


class ConfigError(Exception):
    """The node home is missing or its settings are unusable."""

    code = "config_error"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs  # only when neither --home nor the variable says where

    return Path(platformdirs.user_data_dir("villagecourt", appauthor=False))


def short_id(n: int = records.SHORT_ID_LEN) -> str:
    """A random node short id for case numbers: 3 Crockford base32 characters (32,768
    values). A node enrolled by the relay gets one unique in its village instead
    (relay/enrol.py); a random one is for nodes made with ``init`` alone."""
    return "".join(secrets.choice(records.SHORT_ID_ALPHABET) for _ in range(n))


@dataclass
class NodeConfig:
    """The node's settings, kept in config.json."""
    village: str
    village_name: str
    county: str
    node_id: str
    short_id: str
    language: str = DEFAULT_LANGUAGE
    director: str = ""
    relay_url: str = ""
    listen_port: int = DEFAULT_PORT
    role: str = "director"
    media_rate_kbps: int = DEFAULT_MEDIA_RATE_KBPS  # cap on media downloads; 0: no cap
    media_free_mb: int = DEFAULT_MEDIA_FREE_MB  # downloads pause below this much free disk
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return records.village_scope(self.county, self.village)

    @property
    def county_scope(self) -> str:
        return records.county_scope(self.county)


@dataclass(frozen=True)
class Home:
    """A node's home folder: its config, keys, store and media."""
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

    @property
    def store_key_file(self) -> Path:
        return self.keys_dir / "store.key"

    def exists(self) -> bool:
        return self.config_file.exists()

    def tighten(self) -> tuple[list[Path], list[Path]]:
        """Folders 0700, files 0600 (logged when anything was looser): (tightened, could
        not be tightened)."""
        return tighten(self.path)

    def load(self) -> NodeConfig:
        if not self.config_file.exists():
            raise ConfigError("no_node", f"no node at {self.path}; run 'villagecourt init' first",
                              home=str(self.path))
        try:
            raw = json.loads(self.config_file.read_text(encoding="utf-8"))
            cfg = NodeConfig(**raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError("bad_config", f"{self.config_file} is not a valid node config: {exc}",
                              home=str(self.path)) from None
        if cfg.language not in LANGUAGES:
            cfg.language = DEFAULT_LANGUAGE
        for name in ("media_rate_kbps", "media_free_mb", "listen_port"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError("bad_config", f"{self.config_file}: {name} must be a whole "
                                  f"number of 0 or more, not {value!r}", home=str(self.path))
        return cfg

    def save(self, cfg: NodeConfig) -> None:
        private_dir(self.path)
        write_private(self.config_file,
                      json.dumps(asdict(cfg), ensure_ascii=False, indent=2).encode("utf-8"))

    def store_key(self) -> bytes:
        try:
            key = self.store_key_file.read_bytes()
        except FileNotFoundError:
            raise ConfigError("no_store_key", f"the store key is missing from {self.keys_dir}",
                              home=str(self.path)) from None
        if len(key) != 32:
            raise ConfigError("bad_store_key", "the store key file is damaged")
        return key

    def init(self, *, village: str, village_name: str, county: str, language: str,
             director: str = "", force: bool = False) -> NodeConfig:
        """Create a new node home. Refuses to overwrite an existing node."""
        if self.exists() and not force:
            raise ConfigError("node_exists", f"a node already exists at {self.path}",
                              home=str(self.path))
        records.check_code(village, "village")
        records.check_code(county, "county")
        if language not in LANGUAGES:
            raise ConfigError("bad_language", f"language must be one of {', '.join(LANGUAGES)}")
        if not village_name.strip():
            raise ConfigError("bad_name", "the village needs a name")
        cfg = NodeConfig(village=village, village_name=village_name.strip(), county=county,
                         node_id=secrets.token_hex(8), short_id=short_id(), language=language,
                         director=director)
        private_dir(self.path)
        private_dir(self.keys_dir)
        if not self.store_key_file.exists():
            write_private(self.store_key_file, new_key())
        self.save(cfg)
        return cfg

