"""SyncSession: the sync protocol as a pure state machine (no I/O, no clock).

The session never touches a socket or the store. The driver feeds it what arrived
(``receive``) and the results of the work it asked for (``peer_known``, ``page_read``,
``page_merged``); every call returns the list of actions to perform next, in order:

    Send(msg)         put a message on the transport
    LookupPeer(...)   find how far into this peer's feed we hold (receiver's checkpoint)
    ReadPage(...)     read the next page of our feed for this peer
    MergePage(...)    merge a received page and advance the checkpoint, in one transaction
    Acked(upto)       the peer holds our feed up to ``upto`` (for status displays)
    Finished()        both directions are complete; close the transport

Theory of operation. Each store numbers its changes (``seq``). Each side remembers, per
peer, how far into that peer's feed it holds everything; it says so in its Hello, and the
peer sends its feed from there, in pages, with at most WINDOW pages unacknowledged. The
receiver merges a page and advances its checkpoint in one transaction, then acknowledges.
So a link cut at any byte loses at most the pages in flight, which the next session sends
again; nothing is skipped because a checkpoint only moves past what was committed.

Invariants:
1. No Page is sent or accepted before both Hellos; a second Hello is an error.
2. A received page must continue from what the receiver holds (``since`` <= checkpoint);
   a gap is a protocol error, never silently skipped.
3. Every document in a received page lies in the accept set for this peer and is of a
   kind the peer may write there; otherwise the whole page is refused (NotAuthorized)
   and nothing of it is stored.
4. An Ack must name the oldest page in flight.
5. Any error moves the session to ERROR; the peer is told with an Error message unless
   the error came from the peer.

Busy. A relay at its cap of concurrent sessions answers a new connection with
``busy_error(retry_after)`` before any Hello (it runs no session for it). The client's
session ends with PeerError(code="busy") whose ``details["retry_after"]`` is the wait the
relay asked for; ``retry_after_of`` reads it, and PeerSchedule.busy honours it.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from store import ScopeSet, ValidationError

from .errors import (
    LocalProtocolError,
    NotAuthorized,
    PeerError,
    RemoteProtocolError,
    SyncError,
    VersionMismatch,
)
from .messages import (
    BUSY,
    MAX_RETRY_AFTER_S,
    PROTOCOL_VERSION,
    Ack,
    DocEntry,
    Error,
    Hello,
    Message,
    Page,
)
from .scopes import Identity, accept_set, offer_set, permissions

WINDOW = 4  # pages in flight: fills a 400 ms round trip at 64 kbit/s with ~3 KB pages
PAGE_DOCS = 500  # documents per page at most
PAGE_BYTES = 256 * 1024  # raw document bytes per page: a page crosses 64 kbit/s in seconds,
# well inside the heartbeat (a ping queues behind the page on a slow link)


_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # what an error code looks like
_STORE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # 32 hex digits, made by the store


def busy_error(retry_after: int) -> Error:
    """The relay's answer to a connection over its cap: come back in ``retry_after`` s."""
    seconds = max(1, min(int(retry_after), MAX_RETRY_AFTER_S))
    return Error(BUSY, f"the relay is busy; retry in {seconds} s", retry_after=seconds)


def retry_after_of(error: BaseException | None) -> int:
    """Seconds a peer that was busy asked us to wait; 0 if ``error`` is not a busy one."""
    if getattr(error, "code", "") != BUSY:
        return 0
    value = (getattr(error, "details", None) or {}).get("retry_after", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return 0
    return min(value, MAX_RETRY_AFTER_S)


def _one_line(text: str) -> str:
    """A peer's text for a log line: control characters (newlines...) as spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


class State(Enum):
    AWAIT_HELLO = "await_hello"  # server: waiting for the client's Hello
    SENT_HELLO = "sent_hello"  # client: Hello sent, waiting for the server's
    LOOKUP = "lookup"  # server: got Hello, looking up the client's checkpoint
    ACTIVE = "active"  # pages flow both ways
    DONE = "done"
    ERROR = "error"


# --- actions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    msg: Message


@dataclass(frozen=True)
class LookupPeer:
    store_id: str


@dataclass(frozen=True)
class ReadPage:
    since: int
    offer: ScopeSet
    exclude_from: str  # the peer's store id: docs whose heads came from it are skipped


@dataclass(frozen=True)
class MergePage:
    page: Page
    peer_store: str
    scope_fp: str


@dataclass(frozen=True)
class Acked:
    upto: int


@dataclass(frozen=True)
class Finished:
    pass


Action = Send | LookupPeer | ReadPage | MergePage | Acked | Finished


@dataclass
class Counters:
    pages_sent: int = 0
    pages_received: int = 0
    docs_sent: int = 0
    docs_received: int = 0
    docs_changed: int = 0


def fit_page(entries: list[DocEntry], upto: int, more: bool, *, last_seqs: list[int],
             max_bytes: int = PAGE_BYTES) -> tuple[list[DocEntry], int, bool]:
    """Cut a feed page to ``max_bytes`` of document data (always keeping at least one
    document). ``last_seqs[i]`` is the feed seq of ``entries[i]``. Returns the entries,
    the page's ``upto`` and ``more``."""
    total = 0
    for i, e in enumerate(entries):
        total += len(e.data)
        if total > max_bytes and i > 0:
            return entries[:i], last_seqs[i - 1], True
    return entries, upto, more


@dataclass
class SyncSession:
    """One session with one peer. ``is_client`` sends the first Hello."""

    is_client: bool
    me: Identity
    store_id: str
    # Client only: which store we believe the server is, and how far we hold its feed.
    expect_store: str = ""
    expect_seq: int = 0
    expect_fp: str = ""  # the accept-set fingerprint that checkpoint was made under
    # If set (from the peer's TLS certificate), the Hello's claims must match it.
    authenticated_peer: Identity | None = None

    state: State = field(init=False)
    peer: Identity | None = field(init=False, default=None)
    peer_store: str = field(init=False, default="")
    counters: Counters = field(init=False, default_factory=Counters)
    error: SyncError | None = field(init=False, default=None)
    _held: int = field(init=False, default=0)  # our checkpoint of the peer's feed
    _send_next: int = field(init=False, default=0)
    _in_flight: deque[tuple[int, bool]] = field(init=False, default_factory=deque)
    _reading: bool = field(init=False, default=False)
    _feed_more: bool = field(init=False, default=True)
    _send_done: bool = field(init=False, default=False)
    _recv_done: bool = field(init=False, default=False)
    _merging: bool = field(init=False, default=False)
    _offer: ScopeSet = field(init=False, default_factory=ScopeSet.nothing)
    _accept: ScopeSet = field(init=False, default_factory=ScopeSet.nothing)

    def __post_init__(self) -> None:
        self.state = State.SENT_HELLO if self.is_client else State.AWAIT_HELLO

    # --- driver entry points ----------------------------------------------------------
    def start(self) -> list[Action]:
        if not self.is_client:
            return []
        return [Send(self._hello(self.expect_seq, self.expect_store))]

    def receive(self, msg: Message) -> list[Action]:
        """A message arrived from the peer."""
        if self.state in (State.DONE, State.ERROR):
            return []
        try:
            if isinstance(msg, Error):
                # The peer's words go to logs and the sync log: one line, and a code only
                # if it looks like one (a hostile peer wrote fake log lines with newlines).
                code = msg.code if _CODE.fullmatch(msg.code) else "peer_error"
                advice = {"retry_after": msg.retry_after} if msg.retry_after else {}
                raise PeerError(f"peer ended the session: {_one_line(msg.code)}: "
                                f"{_one_line(msg.message)}", code=code, **advice)
            if isinstance(msg, Hello):
                return self._on_hello(msg)
            if self.state is not State.ACTIVE:
                raise RemoteProtocolError(
                    f"{type(msg).__name__} before the Hello exchange finished",
                    code="out_of_order")
            if isinstance(msg, Page):
                return self._on_page(msg)
            if isinstance(msg, Ack):
                return self._on_ack(msg)
            raise RemoteProtocolError(f"unexpected message {type(msg).__name__}",
                                      code="out_of_order")
        except SyncError as exc:
            return self.fail(exc)

    def peer_known(self, received_seq: int) -> list[Action]:
        """Server: the driver looked up how far we hold the client's feed."""
        if self.state is not State.LOOKUP:
            return self.fail(LocalProtocolError("peer_known outside LOOKUP"))
        self._held = received_seq
        self.state = State.ACTIVE
        return [Send(self._hello(received_seq, self.peer_store)), *self._pump_send()]

    def page_read(self, entries: list[DocEntry], upto: int, more: bool) -> list[Action]:
        """The driver read the next page of our feed (already cut by fit_page)."""
        if self.state is not State.ACTIVE or not self._reading:
            return self.fail(LocalProtocolError("page_read without a ReadPage"))
        self._reading = False
        page = Page(since=self._send_next, upto=upto, more=more, docs=tuple(entries))
        self._send_next = upto
        self._feed_more = more
        self._in_flight.append((upto, more))
        self.counters.pages_sent += 1
        self.counters.docs_sent += len(entries)
        return [Send(page), *self._pump_send()]

    def page_merged(self, upto: int, changed: int) -> list[Action]:
        """The driver committed a received page (and our checkpoint) up to ``upto``."""
        if self.state is not State.ACTIVE or not self._merging:
            return self.fail(LocalProtocolError("page_merged without a MergePage"))
        self._merging = False
        self._held = max(self._held, upto)
        self.counters.docs_changed += changed
        return [Send(Ack(upto)), *self._maybe_finished()]

    def fail(self, exc: SyncError) -> list[Action]:
        """Move to ERROR; tell the peer unless the error is the peer's own."""
        if self.state in (State.DONE, State.ERROR):
            return []
        self.state = State.ERROR
        self.error = exc
        if isinstance(exc, PeerError):
            return []
        return [Send(Error(exc.code, str(exc)))]

    @property
    def done(self) -> bool:
        return self.state in (State.DONE, State.ERROR)

    # --- internals -------------------------------------------------------------------
    def _hello(self, have_seq: int, have_store: str) -> Hello:
        return Hello(version=PROTOCOL_VERSION, store_id=self.store_id, node_id=self.me.node_id,
                     role=self.me.role, county=self.me.county, village=self.me.village,
                     have_seq=have_seq, have_store=have_store)

    def _on_hello(self, hello: Hello) -> list[Action]:
        expected = State.SENT_HELLO if self.is_client else State.AWAIT_HELLO
        if self.state is not expected:
            raise RemoteProtocolError("a second Hello", code="out_of_order")
        if hello.version != PROTOCOL_VERSION:
            raise VersionMismatch(
                f"peer speaks protocol {hello.version}, we speak {PROTOCOL_VERSION}",
                peer_version=hello.version)
        if not _STORE_ID.fullmatch(hello.store_id) or hello.store_id == self.store_id:
            raise RemoteProtocolError("peer has no valid store id, or ours", code="bad_hello")
        try:
            claimed = Identity(hello.node_id, hello.role, hello.county, hello.village)
        except (ValueError, ValidationError) as exc:  # a bad role; a bad county or village
            raise RemoteProtocolError(f"peer identity is not valid: {exc}",
                                      code="bad_hello") from None
        if self.authenticated_peer is not None and claimed != self.authenticated_peer:
            raise NotAuthorized("the Hello does not match the peer's certificate",
                                claimed=claimed.label)
        if claimed.county != self.me.county:
            raise NotAuthorized(f"peer belongs to county {claimed.county}, not "
                                f"{self.me.county}", code="wrong_county")
        self.peer = claimed
        self.peer_store = hello.store_id
        self._offer = offer_set(self.me, claimed)
        self._accept = accept_set(self.me, claimed)
        if not self._offer.patterns and not self._accept.patterns:
            raise NotAuthorized(f"nothing may move between {self.me.label} and "
                                f"{claimed.label}", code="nothing_shared")
        # Where to start sending: the peer's checkpoint counts only if it was ours.
        self._send_next = hello.have_seq if hello.have_store == self.store_id else 0
        if self.is_client:
            same_store = hello.store_id == self.expect_store
            if same_store and self.expect_seq and self.expect_fp != self._accept.fingerprint():
                # Our checkpoint was made under other permissions; the server is already
                # sending from it. End; the driver resets the checkpoint for next time.
                raise SyncError("what may move between us changed; sync again",
                                code="scopes_changed")
            self._held = self.expect_seq if same_store else 0
            self.state = State.ACTIVE
            return self._pump_send()
        self.state = State.LOOKUP
        return [LookupPeer(hello.store_id)]

    def _pump_send(self) -> list[Action]:
        if (self._reading or not self._feed_more or len(self._in_flight) >= WINDOW
                or self.state is not State.ACTIVE):
            return []
        self._reading = True
        return [ReadPage(self._send_next, self._offer, self.peer_store)]

    def _on_page(self, page: Page) -> list[Action]:
        if self._recv_done:
            raise RemoteProtocolError("a page after the last page", code="out_of_order")
        if self._merging:
            raise LocalProtocolError("page arrived while merging (driver must serialize)")
        if page.since > self._held:
            raise RemoteProtocolError(
                f"page starts at {page.since} but we hold only up to {self._held}",
                code="out_of_order")
        assert self.peer is not None
        peer_perms = permissions(self.peer)
        for d in page.docs:
            if d.scope not in self._accept or not peer_perms.may_write(d.scope, d.kind):
                raise NotAuthorized(f"peer may not write a {d.kind} into {d.scope}",
                                    code="not_authorized", doc_id=d.doc_id, scope=d.scope)
        self.counters.pages_received += 1
        self.counters.docs_received += len(page.docs)
        if not page.more:
            self._recv_done = True
        self._merging = True
        return [MergePage(page, self.peer_store, self._accept.fingerprint())]

    def _on_ack(self, ack: Ack) -> list[Action]:
        if not self._in_flight or self._in_flight[0][0] != ack.upto:
            raise RemoteProtocolError(f"acknowledgement of {ack.upto} matches no page in flight",
                                      code="out_of_order")
        _, more = self._in_flight.popleft()
        if not more:
            self._send_done = True
        return [Acked(ack.upto), *self._pump_send(), *self._maybe_finished()]

    def _maybe_finished(self) -> list[Action]:
        if self._send_done and self._recv_done and not self._merging:
            self.state = State.DONE
            return [Finished()]
        return []
