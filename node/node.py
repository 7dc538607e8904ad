"""Node: one village node's store and domain services, opened from its home.

The CLI and the TUI talk to this object only. Sync (the daemon) is started on top of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from store import Committed, ScopeSet, Store, StoreError, kinds
from store.records import CONTENT, VILLAGE

from .cases import CaseService
from .config import DEFAULT_LANGUAGE, Home, NodeConfig
from .consultations import ConsultationService
from .education import EducationService
from .events import EventBus, Saved
from .followups import FollowupService
from .stats import Stats, compute


@dataclass
class SyncStatus:
    """Where sync stands: the relay, what it has not acknowledged, peers, history."""
    relay_url: str
    pending_to_relay: int  # local changes the relay has not acknowledged
    last_sync: str | None
    peers: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    online: bool = False


class Node:
    def __init__(self, home: Home, config: NodeConfig, store: Store) -> None:
        self.home = home
        self.config = config
        self.store = store
        self.cases = CaseService(store, config)
        self.followups = FollowupService(store)
        self.consultations = ConsultationService(store, config, self.cases)
        self.education = EducationService(store, config)
        self.events = EventBus()
        # Sync is attached by the daemon (node.daemon); None means "not configured yet".
        self.syncer: Any = None
        self.media: Any = None  # node.media.MediaService while open (daemon, TUI)
        self.tightened: list[Path] = []  # home paths made private when it opened
        self.loose: list[Path] = []  # and those that could not be
        store.subscribe(lambda c: self.events.emit(Saved(c.doc_ids, c.kinds, c.origin)))

    @classmethod
    async def open(cls, home: Path | Home, *, busy_timeout_ms: int | None = None) -> "Node":
        h = home if isinstance(home, Home) else Home(Path(home))
        cfg = h.load()
        # A home made by an older version (or copied) may be readable by others.
        tightened, loose = await asyncio.to_thread(h.tighten)
        kwargs: dict[str, Any] = {}
        if busy_timeout_ms is not None:
            kwargs["busy_timeout_ms"] = busy_timeout_ms
        store = await Store.open(h.store_file, key=h.store_key(), **kwargs)
        try:
            node = cls(h, cfg, store)
            node.tightened, node.loose = tightened, loose  # told by doctor
            await node._ensure_village_profile()
        except BaseException:
            # An open store's connection threads keep the process alive: a command that
            # failed here (the store locked by the daemon) hung forever instead of exiting.
            await store.close()
            raise
        return node

    @classmethod
    async def create(cls, home: Path, *, village: str, village_name: str, county: str,
                     language: str = DEFAULT_LANGUAGE, director: str = "") -> "Node":
        Home(Path(home)).init(village=village, village_name=village_name, county=county,
                        language=language, director=director)
        return await cls.open(Path(home))

    async def close(self) -> None:
        await self.store.close()

    async def __aenter__(self) -> "Node":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ensure_village_profile(self) -> None:
        if not await self.store.views.village_profile_exists(self.config.village):
            c = self.config
            doc_id = f"village-{c.county}-{c.village}"
            try:
                await self.store.create(
                    VILLAGE, c.scope,
                    lambda doc: kinds.new_village(doc, code=c.village, name=c.village_name,
                                                  county=c.county, director=c.director),
                    doc_id=doc_id,
                )
            except StoreError:
                # Another program of this node (the daemon, a command) opened the new store
                # at the same moment and made the profile first: that is all we wanted.
                if not await self.store.views.doc_exists(doc_id):
                    raise

    def subscribe(self, listener: Callable[[Committed], None]) -> Callable[[], None]:
        """Called after every commit, local or from sync (for live screens)."""
        return self.store.subscribe(listener)

    async def sync_status(self) -> SyncStatus:
        """Last sync per peer, changes not yet at the relay, recent sessions."""
        peers = await self.store.peers()
        log = await self.store.sync_log(limit=50)
        relay = next((p for p in peers if p.get("label") == "relay"), None)
        pending = await self.store.count_since(
            relay["sent_seq"] if relay else 0, readable=ScopeSet.of(self.config.scope))
        last_ok = next((e["finished_at"] for e in log if e["ok"]), None)
        return SyncStatus(relay_url=self.config.relay_url, pending_to_relay=pending,
                          last_sync=last_ok, peers=peers, history=log,
                          online=bool(self.syncer and self.syncer.online))

    async def sync_now(self) -> list[Any]:
        """Sync once with the relay and known LAN peers (progress arrives as events).
        Returns the sessions' results (``SessionResult``); empty when there was no one to
        sync with (no relay configured, no LAN peer found)."""
        if self.syncer is None:
            from .config import ConfigError

            raise ConfigError("no_sync", "sync is not running on this node")
        return list(await self.syncer.sync_now() or [])

    async def stats(self, *, on: dt.date | None = None) -> Stats:
        return await compute(self.store, on=on)

    async def warnings(self, *, open_only: bool = True, limit: int = 50) -> list[kinds.Warning]:
        ids = await self.store.views.warnings(status="open" if open_only else None, limit=limit)
        return [kinds.read_warning(i, await self.store.read(i)) for i in ids]

    async def content_count(self) -> int:
        return await self.store.views.count_kind(CONTENT)
