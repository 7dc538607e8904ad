"""``villagecourt relay migrate-store --to postgresql://…``: the county's store moved from
the SQLite file store.db to a PostgreSQL database (issue #13; docs/operations.md).

Steps, each of which stops the command before config.json changes:

1. The relay must be stopped. ``relay serve`` holds an exclusive lock on <home>/relay.lock
   for as long as it runs (relay/config.py, ``RelayHome.lock``); this command takes the
   same lock for the whole move, so a relay cannot start half-way either. As a second
   guard, something answering on the relay's port is taken as a running relay.
2. The destination must hold nothing, or exactly this relay's store (the same store id:
   a run that stopped before the switch; it is emptied and copied again), and then not
   ahead of store.db (a relay that ran on the database and went back: refused).
3. Every part of ``PARTS`` copies its rows, with progress lines on stderr.
4. Every part verifies: the documents row for row (the same sealed bytes, heads and seq
   of each, the checkpoints, counters, sync log and store id; store/transfer.py), then
   every document is loaded from the database with the relay's store key and its heads
   checked.
5. Only when all verified does config.json name the database. store.db stays where it
   is: it keeps the index of the media files in <home>/blobs, and it is the way back
   (set ``store`` to "" in config.json).

The seqs of the feed are kept, so a village's checkpoint of the relay (a seq of the relay's
feed) and the relay's checkpoints of the villages stay true: after the move a village that
had synced receives nothing and sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from store import DocumentStore, Store, transfer
from store.location import check_database_url, describe, open_store

from .accounts import AccountError, AccountStore, account_rows, copy_accounts
from .config import RelayConfigError, RelayHome
from .enrol import TokenStore, copy_enrolment, enrolment_rows

log = logging.getLogger("relay.migrate_store")

Progress = Callable[[str, int, int], None]  # (what, done, total)


class MigrateError(RelayConfigError):
    """A refusal of the move (codes: relay_running, already_migrated, dest_not_empty,
    dest_ahead, accounts_not_empty, verify_failed)."""

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(code, message)
        self.details = dict(details)


@dataclass
class Move:
    """What the parts share: the relay home, both stores, what each part found."""

    home: RelayHome
    src: DocumentStore
    dst: DocumentStore
    to: str
    progress: Progress
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Part:
    """One part of the relay's data: ``copy`` writes it into the destination, ``verify``
    compares (adding to ``move.counts`` and ``move.problems``)."""

    name: str
    copy: Callable[[Move], Awaitable[None]]
    verify: Callable[[Move], Awaitable[None]]


async def _copy_documents(move: Move) -> None:
    await transfer.copy_store(move.src, move.dst, progress=move.progress)


async def _verify_documents(move: Move) -> None:
    result = await transfer.compare(move.src, move.dst)
    move.problems += result.problems
    move.counts["documents"] = result.counts["docs"][1]
    move.counts["documents_source"] = result.counts["docs"][0]
    move.counts["heads_equal"] = result.heads_equal
    move.counts["checkpoints"] = result.counts["peers"][1]
    move.counts["sync_log"] = result.counts["sync_log"][1]
    move.counts["counters"] = result.counts["counters"][1]
    if move.dst.store_id != move.src.store_id:
        move.problems.append("the database's store id is not the relay's")
    # Every document opens with the relay's key and has the heads it is stored with.
    move.problems += await move.dst.check(
        progress=lambda done, total: move.progress("check", done, total))


def _enrolment_stores(move: Move) -> tuple[TokenStore, TokenStore]:
    return TokenStore(move.home.tokens_file), TokenStore(move.to)


async def _copy_enrolment(move: Move) -> None:
    def run() -> None:
        src, dst = _enrolment_stores(move)
        try:
            copy_enrolment(src, dst, move.progress)
        finally:
            src.close()
            dst.close()
    await asyncio.to_thread(run)


async def _verify_enrolment(move: Move) -> None:
    def run() -> None:
        src, dst = _enrolment_stores(move)
        try:
            theirs, ours = enrolment_rows(src), enrolment_rows(dst)
        finally:
            src.close()
            dst.close()
        for table, rows in theirs.items():
            move.counts[f"enrol_{table}"] = len(ours[table])
            if rows != ours[table]:
                move.problems.append(f"enrolment table {table}: {len(rows)} rows in "
                                     f"enrol.db, {len(ours[table])} in the database, or "
                                     "not the same")
    await asyncio.to_thread(run)


def _account_stores(move: Move) -> tuple[AccountStore, AccountStore]:
    src = AccountStore(move.home.accounts_file)
    try:
        return src, AccountStore(move.to)
    except BaseException:
        src.close()
        raise


async def _copy_accounts(move: Move) -> None:
    def run() -> None:
        src, dst = _account_stores(move)
        try:
            copy_accounts(src, dst, move.progress)
        except AccountError as exc:
            raise MigrateError("accounts_not_empty", f"{describe(move.to)}: {exc}",
                               store=describe(move.to), **exc.details) from None
        finally:
            src.close()
            dst.close()
    await asyncio.to_thread(run)


async def _verify_accounts(move: Move) -> None:
    def run() -> None:
        src, dst = _account_stores(move)
        try:
            theirs, ours = account_rows(src), account_rows(dst)
        finally:
            src.close()
            dst.close()
        for table, rows in theirs.items():
            move.counts[f"accounts_{table}"] = len(ours[table])
            if rows != ours[table]:
                move.problems.append(f"account table {table}: {len(rows)} rows in "
                                     f"accounts.db, {len(ours[table])} in the database, or "
                                     "not the same")
    await asyncio.to_thread(run)


# The parts, in order, each counting what it verified in move.counts. The enrolment
# records (one-time codes, short ids given out: relay/enrol.py) and the dashboard's
# accounts with their audit log (relay/accounts.py) live in the relay's database once it
# has one (RelayHome.tokens_location, accounts_location; docs/operations.md). The
# accounts go first: their part may refuse the database (accounts of its own), and then
# nothing else has been written into it.
PARTS: list[Part] = [
    Part("accounts", _copy_accounts, _verify_accounts),
    Part("documents", _copy_documents, _verify_documents),
    Part("enrolment", _copy_enrolment, _verify_enrolment),
]


def relay_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts connections on the relay's port (on this machine)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def migrate_store(home: RelayHome, to: str, *, progress: Progress,
                        parts: list[Part] | None = None) -> dict[str, Any]:
    """Move the relay's store to the database ``to`` (see the module docstring); returns
    the verification's counts. Raises MigrateError (or a StoreError) and leaves
    config.json as it was when anything fails."""
    cfg = home.load()
    check_database_url(to)
    if cfg.store:
        raise MigrateError("already_migrated", f"the relay already keeps its store in "
                           f"{describe(cfg.store)}", store=describe(cfg.store))
    with home.lock("migrate-store"):
        if relay_answers(cfg.host, cfg.port):
            raise MigrateError("relay_running", f"something answers on port {cfg.port}: "
                               "stop the relay first", port=str(cfg.port))
        key = home.store_key()
        src = await Store.open(home.store_file, key=key)
        try:
            dst = await open_store(to, key=key, side_dir=home.path / "store-files")
            try:
                if not await transfer.is_blank(dst):
                    there = await transfer.meta_value(dst, "store_id")
                    if there != src.store_id:
                        raise MigrateError("dest_not_empty", f"{describe(to)} already holds "
                                           "another store", store=describe(to))
                    if await dst.current_seq() > await src.current_seq():
                        # The relay ran on the database, then went back to store.db:
                        # copying again would throw away what the database got since.
                        raise MigrateError("dest_ahead", f"{describe(to)} holds newer "
                                           "changes than store.db", store=describe(to))
                    log.info("event=migrate_again store=%s", describe(to))
                move = Move(home, src, dst, to, progress)
                for part in parts if parts is not None else PARTS:
                    log.info("event=migrate_copy part=%s", part.name)
                    await part.copy(move)
                await dst.close()
                # Opened again, the database answers with the copied store id.
                dst = await open_store(to, key=key, side_dir=home.path / "store-files")
                move.dst = dst
                for part in parts if parts is not None else PARTS:
                    await part.verify(move)
            finally:
                await dst.close()
        finally:
            await src.close()
        if move.problems:
            for p in move.problems[:20]:
                log.error("event=migrate_verify_failed problem=%s", p)
            raise MigrateError("verify_failed", f"verification found {len(move.problems)} "
                               f"differences: {move.problems[0]}",
                               count=str(len(move.problems)), first=move.problems[0])
        home.switch_store(to)
        log.info("event=migrated store=%s documents=%d", describe(to),
                 move.counts.get("documents", 0))
    return {"store": describe(to), "sqlite_left": str(home.store_file), **move.counts}
