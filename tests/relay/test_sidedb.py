"""The side-database adapter on both backends: same answers, Conflict on a unique key,
writes serialised by transaction(), a failed transaction leaves nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from relay.sidedb import Conflict, PgDb, SqliteDb


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        d: Any = SqliteDb(tmp_path / "side.db")
    else:
        d = PgDb(request.getfixturevalue("pg_dsn"), lock_key=0x76637478)
    d.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    yield d
    d.close()


def test_rows_counts_and_conflict(db: Any) -> None:
    assert db.execute("INSERT INTO t VALUES (?, ?)", ("a", 1)) == 1
    with pytest.raises(Conflict):
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 2))
    assert db.execute("UPDATE t SET n = n + 1 WHERE k = ?", ("a",)) == 1
    assert db.execute("UPDATE t SET n = 0 WHERE k = ?", ("zz",)) == 0
    assert db.fetchone("SELECT k, n FROM t WHERE k = ?", ("a",)) == ("a", 2)
    assert db.fetchone("SELECT k FROM t WHERE k = ?", ("zz",)) is None


def test_a_failed_transaction_leaves_nothing(db: Any) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (?, ?)", ("b", 1))
            raise RuntimeError("stop")
    assert db.fetchall("SELECT k FROM t") == []


def test_transactions_are_serialised(db: Any) -> None:
    """Read-then-write in 8 threads at once: no increment is lost."""
    db.execute("INSERT INTO t VALUES (?, ?)", ("c", 0))

    def bump() -> None:
        for _ in range(5):
            with db.transaction() as tx:
                (n,) = tx.fetchone("SELECT n FROM t WHERE k = ?", ("c",))
                tx.execute("UPDATE t SET n = ? WHERE k = ?", (n + 1, "c"))

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert db.fetchone("SELECT n FROM t WHERE k = ?", ("c",)) == (40,)
