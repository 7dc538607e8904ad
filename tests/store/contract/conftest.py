"""The storage contract: the same tests on every backend of ``store.DocumentStore``.

A backend is given as an opener: ``await backend.open()`` opens (or reopens) one store, the
same one every time within a test, so that what a closed store kept can be read again;
``await backend.raw()`` is every byte it keeps at rest (to look for plaintext personal
data). SQLite is a real file under tmp_path; PostgreSQL a fresh database on the run's
throw-away server (pgcluster.py), its bytes at rest the server's data directory after a
CHECKPOINT (tables, indexes, WAL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import pytest

from store import DocumentStore, Store, new_key
from store.pg.store import PgStore

from ...pgcluster import Cluster, database

BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Backend:
    name: str
    home: Path
    key: bytes
    opened: list[DocumentStore] = field(default_factory=list)
    dsn: str = ""  # PostgreSQL: the test's own database
    cluster: Cluster | None = None

    @property
    def wipes_overwritten(self) -> bool:
        """Whether text written over is gone from the bytes at rest (SQLite's
        secure_delete); PostgreSQL keeps old row versions until VACUUM."""
        return self.name == "sqlite"

    async def open(self) -> DocumentStore:
        store: DocumentStore
        if self.name == "sqlite":
            store = await Store.open(self.home / "store.db", key=self.key)
        elif self.name == "postgresql":
            store = await PgStore.open(self.dsn, key=self.key, path=self.home / "side")
        else:  # pragma: no cover - each name above has its branch
            raise AssertionError(self.name)
        self.opened.append(store)
        return store

    async def raw(self) -> bytes:
        """Every byte the backend keeps at rest."""
        roots = [self.home]
        if self.cluster is not None:
            admin = await asyncpg.connect(self.cluster.dsn())
            try:
                await admin.execute("CHECKPOINT")  # shared buffers written to the files
            finally:
                await admin.close()
            roots.append(self.cluster.data)
        return b"".join(p.read_bytes() for root in roots
                        for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = Backend(request.param, tmp_path, new_key())
    if b.name != "postgresql":
        yield b
        for store in b.opened:
            await store.close()  # a second close of a closed store is harmless
        return
    b.cluster = request.getfixturevalue("pg_cluster")
    async with database(b.cluster) as b.dsn:
        yield b
        for store in b.opened:
            await store.close()


@pytest.fixture
async def store(backend: Backend) -> DocumentStore:
    return await backend.open()
