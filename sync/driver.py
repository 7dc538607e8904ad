"""The one async pump: SyncSession <-> Transport <-> the store (a DocumentStore).

``run_session`` performs the session's actions in order (send, look up a checkpoint,
read a page of the feed, merge a page) and feeds it what arrives, until the session is
done. It owns the timeouts and turns every failure into a SyncError with a stable code:
bad frames and bad documents end the session with an Error to the peer, and the store is
unchanged by anything that was not committed whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from store import DocumentStore, Incoming, StoreError

from .errors import RemoteProtocolError, SyncError, TransportClosed, forget_tracebacks
from .messages import BUSY, DocEntry
from .protocol import (
    PAGE_DOCS,
    Acked,
    Counters,
    Finished,
    LookupPeer,
    MergePage,
    ReadPage,
    Send,
    State,
    SyncSession,
    fit_page,
)
from .scopes import Identity, permissions
from .transport import Transport
from .wire import decode, encode

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 60.0  # no frame for this long ends the session (heartbeats keep links up)


@dataclass
class SessionResult:
    ok: bool
    peer: Identity | None
    peer_store: str
    counters: Counters
    bytes_sent: int
    bytes_received: int
    seconds: float
    error: SyncError | None = None
    started_at: str = field(default_factory=lambda: _now())

    def log_entry(self, label: str) -> dict[str, object]:
        return {
            "started_at": self.started_at, "finished_at": _now(), "peer_id": self.peer_store,
            "peer_label": label, "ok": int(self.ok), "docs_sent": self.counters.docs_sent,
            "docs_received": self.counters.docs_changed, "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "error_code": self.error.code if self.error else None,
            "error": str(self.error) if self.error else None,
        }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


Progress = Callable[[Counters], None]


async def run_session(transport: Transport, store: DocumentStore, session: SyncSession, *,
                      progress: Progress | None = None, label: str = "",
                      idle_timeout: float = IDLE_TIMEOUT_S) -> SessionResult:
    """Run ``session`` to the end over ``transport``. Never raises for protocol or link
    failures: the result says what happened (``ok``, ``error``)."""
    started = time.monotonic()
    result_started = _now()
    actions: deque[object] = deque(session.start())
    try:
        while True:
            while actions:
                action = actions.popleft()
                if isinstance(action, Send):
                    await transport.send(encode(action.msg))
                elif isinstance(action, LookupPeer):
                    actions.extend(session.peer_known(await _held(store, session, action)))
                elif isinstance(action, ReadPage):
                    actions.extend(await _read_page(store, session, action))
                elif isinstance(action, MergePage):
                    actions.extend(await _merge_page(store, session, action))
                    if progress:
                        progress(session.counters)
                elif isinstance(action, Acked):
                    await store.record_peer(session.peer_store, sent_seq=action.upto,
                                            label=label or None)
                    if progress:
                        progress(session.counters)
                elif isinstance(action, Finished):
                    pass
            if session.done:
                break
            try:
                frame = await asyncio.wait_for(transport.recv(), idle_timeout)
            except asyncio.TimeoutError:
                raise TransportClosed(f"no data from the peer for {idle_timeout:.0f} s",
                                      code="timeout") from None
            try:
                msg = decode(frame)
            except RemoteProtocolError as exc:
                actions.extend(session.fail(exc))
                continue
            actions.extend(session.receive(msg))
    except TransportClosed as exc:
        session.fail(exc)
    except SyncError as exc:
        await _tell_peer(transport, session.fail(exc))
    if session.error is not None and session.error.code == "scopes_changed":
        await store.record_peer(session.peer_store, scope_fp="", seen=False)
    forget_tracebacks(session.error)
    ok = session.state is State.DONE
    if not ok and session.error is not None:
        # "busy" is the relay asking us to come back later, not a fault: an info line.
        level = logging.INFO if session.error.code == BUSY else logging.WARNING
        log.log(level, "sync with %s failed: %s (%s)",
                label or session.peer_store or transport.peer_label, session.error,
                session.error.code)
    return SessionResult(
        ok=ok, peer=session.peer, peer_store=session.peer_store, counters=session.counters,
        bytes_sent=transport.bytes_sent, bytes_received=transport.bytes_received,
        seconds=time.monotonic() - started, error=session.error, started_at=result_started,
    )


async def _tell_peer(transport: Transport, actions: Sequence[object]) -> None:
    for a in actions:
        if isinstance(a, Send):
            try:
                await transport.send(encode(a.msg))
            except SyncError:
                pass


async def _held(store: DocumentStore, session: SyncSession, action: LookupPeer) -> int:
    """Server side: our checkpoint of the client's feed, zero if made under other scopes."""
    row = await store.peer(action.store_id)
    fp = session._accept.fingerprint()  # noqa: SLF001 - the driver is the session's partner
    return int(row["received_seq"]) if row["scope_fp"] == fp else 0


async def _read_page(store: DocumentStore, session: SyncSession, action: ReadPage) -> list[object]:
    me = permissions(session.me)
    page = await store.changes_since(action.since, readable=action.offer, limit=PAGE_DOCS,
                                     exclude_from=action.exclude_from)
    # e.g. a judge's copy of a case is skipped: the peer would refuse it.
    metas = [m for m in page.entries if me.may_write(m.scope, m.kind)]
    data = await store.saved_many([m.doc_id for m in metas])
    entries: list[DocEntry] = []
    seqs: list[int] = []
    for meta in metas:
        if meta.doc_id in data:  # a doc deleted since the feed was read is skipped
            entries.append(DocEntry(meta.doc_id, meta.kind, meta.scope, data[meta.doc_id]))
            seqs.append(meta.seq)
    entries, upto, more = fit_page(entries, page.upto, page.more, last_seqs=seqs)
    return list(session.page_read(entries, upto, more))


async def _merge_page(store: DocumentStore, session: SyncSession,
                      action: MergePage) -> list[object]:
    page = action.page
    incoming = [Incoming(d.doc_id, d.kind, d.scope, d.data) for d in page.docs]
    try:
        changed = await store.merge(incoming, origin=action.peer_store,
                                    checkpoint=(action.peer_store, page.upto, action.scope_fp))
    except StoreError as exc:
        # A document that does not load, or that claims another kind or scope for an id
        # we hold: the peer sent bad data. Nothing of the page was stored.
        raise RemoteProtocolError(f"peer sent a bad document: {exc}",
                                  code="bad_document") from exc
    return list(session.page_merged(page.upto, len(changed)))


async def sync_as_client(transport: Transport, store: DocumentStore, me: Identity, *, label: str,
                         progress: Progress | None = None,
                         authenticated_peer: Identity | None = None,
                         idle_timeout: float = IDLE_TIMEOUT_S) -> SessionResult:
    """One session that we started (to the relay, or to a LAN peer), logged in sync_log.

    ``label`` names the peer for people ("relay", a peer's address); the checkpoint we
    offer is the one we hold for the store last seen under that label."""
    last = await store.last_peer(label=label)
    expect_store, expect_seq, expect_fp = ((last["peer_id"], last["received_seq"],
                                            last["scope_fp"]) if last else ("", 0, ""))
    session = SyncSession(True, me, store.store_id, expect_store=expect_store,
                          expect_seq=int(expect_seq), expect_fp=expect_fp,
                          authenticated_peer=authenticated_peer)
    result = await run_session(transport, store, session, progress=progress, label=label,
                               idle_timeout=idle_timeout)
    await _finish(store, result, label)
    return result


async def sync_as_server(transport: Transport, store: DocumentStore, me: Identity, *,
                         progress: Progress | None = None,
                         authenticated_peer: Identity | None = None,
                         idle_timeout: float = IDLE_TIMEOUT_S) -> SessionResult:
    """One session a peer started with us, logged in sync_log under the peer's identity."""
    session = SyncSession(False, me, store.store_id, authenticated_peer=authenticated_peer)
    result = await run_session(transport, store, session, progress=progress,
                               idle_timeout=idle_timeout)
    label = result.peer.label if result.peer else transport.peer_label
    await _finish(store, result, label, keep_label=True)
    return result


async def _finish(store: DocumentStore, result: SessionResult, label: str, *,
                  keep_label: bool = False) -> None:
    """Note the peer and log the session. ``keep_label``: a session the peer started
    must not rename a peer we already know, because our own sessions to it find our
    checkpoint of its feed by that label (sync_as_client); renaming it made every other
    session with a LAN peer that dials us too start from zero."""
    try:
        if result.peer_store:
            if keep_label and (await store.peer(result.peer_store))["label"]:
                await store.record_peer(result.peer_store)
            else:
                await store.record_peer(result.peer_store, label=label)
        await store.log_sync(result.log_entry(label))
    except StoreError as exc:  # the session's outcome stands; only the log line is lost
        log.warning("could not record the sync session: %s", exc)
