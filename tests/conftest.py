"""Shared fixtures: a node home on a tmp path with a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from node import Node


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await Node.create(tmp_path / "node", village="BY", village_name="白云村", county="KC")
    try:
        yield n
    finally:
        await n.close()
