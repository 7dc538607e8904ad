"""A second connection opened on a store in the same process must keep SQLite's locks.

POSIX advisory locks belong to the process and the file: closing *any* descriptor of the
store file in a process drops every lock SQLite holds on it there. When the node daemon
opened its blob store (a second connection to store.db) the store check read the file's
header with Python's ``open()`` and closed it: the daemon's SHARED lock on store.db was
gone, so another program of the node closing its own connection took the exclusive lock,
checkpointed and deleted the WAL the daemon was still writing to -- and the store came
out "database disk image is malformed" (found by the chaos soak, seed 300).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from store import Store, new_key
from store.blobs import BlobStore
from store.db import open_db

OTHER_PROGRAM = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode = WAL")
c.execute("SELECT count(*) FROM meta").fetchall()
c.close()  # the last connection closing checkpoints and deletes the WAL
"""


async def _other_program_opens_and_closes(path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", OTHER_PROGRAM, str(path))
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_opening_the_blob_store_keeps_the_stores_locks(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path, key=new_key())
    blobs = await BlobStore.open(path, tmp_path / "blobs")  # the daemon's second connection
    try:
        await _other_program_opens_and_closes(path)
        # we still have the store open: nobody may have deleted its WAL
        assert (tmp_path / "store.db-wal").exists()
    finally:
        await blobs.close()
        await store.close()
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    c.close()


async def test_open_db_twice_in_one_process_keeps_locks(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    first = await open_db(path)
    second = await open_db(path)
    try:
        await _other_program_opens_and_closes(path)
        assert (tmp_path / "store.db-wal").exists()
    finally:
        await second.close()
        await first.close()
