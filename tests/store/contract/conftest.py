"""The storage contract: the same tests on every backend of ``store.DocumentStore``.

A backend is given as an opener: ``await backend.open()`` opens (or reopens) one store, the
same one every time within a test, so that what a closed store kept can be read again;
``backend.raw()`` is every byte it keeps at rest (to look for plaintext personal data).
SQLite is a real file under tmp_path. PostgreSQL joins ``BACKENDS`` with store/pg.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import asyncpg
import pytest

from store import DocumentStore, Store, new_key

from .pgcluster import Cluster, start_cluster

BACKENDS = ["sqlite"]


@dataclass
class Backend:
    name: str
    home: Path
    key: bytes
    opened: list[DocumentStore] = field(default_factory=list)

    async def open(self) -> DocumentStore:
        store: DocumentStore
        if self.name == "sqlite":
            store = await Store.open(self.home / "store.db", key=self.key)
        else:  # pragma: no cover - each name above has its branch
            raise AssertionError(self.name)
        self.opened.append(store)
        return store

    def raw(self) -> bytes:
        """Every byte the backend keeps at rest."""
        return b"".join(p.read_bytes() for p in sorted(self.home.rglob("*")) if p.is_file())


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = Backend(request.param, tmp_path, new_key())
    yield b
    for store in b.opened:
        await store.close()  # a second close of a closed store is harmless


@pytest.fixture
async def store(backend: Backend) -> DocumentStore:
    return await backend.open()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL server for the whole run (each test makes its own database)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
async def pg_dsn(pg_cluster: Cluster) -> AsyncIterator[str]:
    """A fresh, empty database on the tests' server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(pg_cluster.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield pg_cluster.dsn(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
