"""Drafts: half-filled forms that survive closing the app (or a power cut).

Each form saves its field values on every change under a stable key (``register``,
``session-<doc id>``...) and deletes the draft after a successful save. A draft holds
personal data (phones, ID numbers), so it is sealed with the node's store key like every
stored document, and written owner-only:

    <home>/drafts/<key>.draft     AES-256-GCM sealed JSON, associated data "draft:<key>"

A draft that does not open (damaged, or another node's key) is ignored and removed: a
draft is a convenience, never the record.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from store.errors import CorruptDoc
from store.sealed import Sealer

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Drafts:
    """Sealed JSON drafts in one directory."""

    def __init__(self, directory: Path, key: bytes | None) -> None:
        self.directory = directory
        self._sealer = Sealer(key)

    def _path(self, key: str) -> Path:
        return self.directory / (_SAFE.sub("_", key) + ".draft")

    def load(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            log.warning("cannot read draft %s", path.name)
            return None
        try:
            data = json.loads(self._sealer.open("draft:" + key, sealed).decode("utf-8"))
        except (CorruptDoc, ValueError):
            log.warning("dropping a draft that does not open: %s", path.name)
            self.delete(key)
            return None
        return data if isinstance(data, dict) else None

    def save(self, key: str, data: dict[str, Any]) -> None:
        """Write atomically (temp file, rename), readable only by the owner. No fsync: a
        draft saved on every keystroke must stay cheap on an old disk."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
            sealed = self._sealer.seal("draft:" + key, raw)
            path = self._path(key)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, sealed)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError:
            log.warning("cannot save draft %s", key, exc_info=True)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("cannot delete draft %s", key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()
