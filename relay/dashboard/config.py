"""The dashboard's settings: ``<relay home>/dashboard.json`` (optional; every key has a
documented default, docs/dashboard.md) and the cookie key ``<relay home>/keys/dashboard.key``.

    {
      "stale_after_hours": 72,           a village not heard from for this long is stale
      "reveal_roles": ["operator"],      roles that may reveal party phones and ID numbers
      "session_hours": 8,                a login lasts this long (then log in again)
      "warning_interval_s": 900,         the warning pass runs this often (0: only by hand)
      "cookie_secure": null,             Secure cookies; null: when the relay serves TLS
      "warm_overview": true,             keep the default overview computed ahead
      "warnings": { ... }                thresholds, see docs/warnings.md
    }
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.files import write_private

from ..accounts import ROLES
from ..config import RelayHome
from ..warnings import WarningConfig

CONFIG_NAME = "dashboard.json"
KEY_NAME = "dashboard.key"
ACCOUNTS_NAME = "accounts.db"


@dataclass(frozen=True)
class DashboardConfig:
    stale_after_hours: int = 72
    reveal_roles: tuple[str, ...] = ("operator",)
    session_hours: int = 8
    warning_interval_s: int = 900
    cookie_secure: bool | None = None
    warm_overview: bool = True
    warnings: WarningConfig = field(default_factory=WarningConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DashboardConfig":
        data = dict(data)
        known = {"stale_after_hours", "reveal_roles", "session_hours", "warning_interval_s",
                 "cookie_secure", "warm_overview", "warnings"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown dashboard setting(s): {', '.join(unknown)}")
        roles = tuple(data.pop("reveal_roles", ("operator",)))
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValueError(f"reveal_roles: unknown role(s) {', '.join(bad)}")
        warnings = WarningConfig.from_dict(data.pop("warnings", None))
        cfg = cls(reveal_roles=roles, warnings=warnings, **data)
        if cfg.stale_after_hours < 1 or cfg.session_hours < 1 or cfg.warning_interval_s < 0:
            raise ValueError("stale_after_hours and session_hours must be positive, "
                             "warning_interval_s zero or more")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return {"stale_after_hours": self.stale_after_hours,
                "reveal_roles": list(self.reveal_roles), "session_hours": self.session_hours,
                "warning_interval_s": self.warning_interval_s,
                "cookie_secure": self.cookie_secure, "warm_overview": self.warm_overview,
                "warnings": self.warnings.to_dict()}


def load_config(home: RelayHome) -> DashboardConfig:
    path = home.path / CONFIG_NAME
    if not path.exists():
        return DashboardConfig()
    try:
        return DashboardConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not valid: {exc}") from None


def save_config(home: RelayHome, cfg: DashboardConfig) -> None:
    write_private(home.path / CONFIG_NAME,
                  json.dumps(cfg.to_dict(), ensure_ascii=False, indent=2).encode())


def cookie_key(home: RelayHome) -> bytes:
    """32 random bytes sealing the session cookies (made once; 0600). Replacing the file
    logs everybody out."""
    path = home.keys_dir / KEY_NAME
    if not path.exists():
        home.keys_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} must hold 32 bytes")
    return key


def accounts_file(home: RelayHome) -> Path:
    """accounts.db in the relay home (where the accounts are on an embedded relay; open
    them with ``AccountStore(home.accounts_location())``, which knows the other case)."""
    return home.path / ACCOUNTS_NAME
