"""Shared fixtures: a node home on a tmp path with a real SQLite store.

And the suite's hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE``:

``ci`` (the default: ``make test`` and CI)
    Derandomized: every run draws the same examples (hypothesis derives them from each
    test's name and source), so a test passes or fails the same way on every clone, and no
    example database (``database=None``): a failure one machine once found is not replayed
    on another, nor does a stale ``.hypothesis/`` folder change what runs. ``print_blob``
    prints the ``@reproduce_failure`` line of a failure. ``deadline`` is off and the
    ``too_slow`` health check suppressed: both measure wall-clock time, the only thing
    left that would differ between runs of the same examples (a loaded 2-core CI machine
    is slower than a laptop); the soak keeps the health check.

``soak`` (``make soak``: new examples on every run)
    Randomized, every test's ``max_examples`` multiplied by ``HYPOTHESIS_SOAK_FACTOR``
    (default 20; tests that set no count run 100 x that factor), with the local
    example database (``.hypothesis/``, not committed) so that a failure it finds is
    replayed first on the next soak. A failure prints its ``@reproduce_failure`` blob:
    add it as an ``@example`` (or fix the code) so that the ci profile covers it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from node import Node

from .pgcluster import Cluster, database, start_cluster

SOAK_FACTOR = int(os.environ.get("HYPOTHESIS_SOAK_FACTOR", "20"))

settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "soak", derandomize=False, max_examples=100 * SOAK_FACTOR, print_blob=True, deadline=None,
    database=DirectoryBasedExampleDatabase(
        str(Path(__file__).resolve().parents[1] / ".hypothesis" / "examples")))
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_report_header(config: pytest.Config) -> str:
    extra = f", {SOAK_FACTOR}x max_examples" if PROFILE == "soak" else ""
    return f"hypothesis profile: {PROFILE}{extra}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In the soak, scale each hypothesis test's own ``max_examples`` (a test's
    ``@settings`` wins over the profile, so the profile alone would not reach them) and
    undo a test's own ``derandomize=True``."""
    if PROFILE != "soak":
        return
    seen: set[int] = set()
    for item in items:
        test: Any = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or id(test) in seen:
            continue
        seen.add(id(test))
        soak = settings.get_profile("soak")
        examples = own.max_examples
        if examples != soak.max_examples:  # the test's own count (else the profile's)
            examples *= SOAK_FACTOR
        test._hypothesis_internal_use_settings = settings(
            own, max_examples=examples, derandomize=False, database=soak.database)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await Node.create(tmp_path / "node", village="BY", village_name="白云村", county="KC")
    try:
        yield n
    finally:
        await n.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL server for the whole run (each test makes its own database)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
async def pg_dsn(pg_cluster: Cluster) -> AsyncIterator[str]:
    """A fresh, empty database on the tests' server; dropped afterwards."""
    async with database(pg_cluster) as dsn:
        yield dsn
