"""The sync protocol's messages: one frozen dataclass each (see docs/protocol.md).

    Hello   who I am, which protocol version I speak, how far into your feed I hold
    Page    documents of my feed after your checkpoint, up to ``upto``; ``more`` if not done
    Ack     I have committed your feed up to ``upto``
    Error   I end this session: a stable ``code`` and a message for logs; with
            ``code == BUSY`` also ``retry_after``, the seconds to wait before dialling again
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROTOCOL_VERSION = 1
# Optional features a peer may announce by name. Version 1 has none: whole documents and
# zlib pages are the protocol itself. (A future "deltas" would go here.)
CAPABILITIES: tuple[str, ...] = ()
# The stable code of "too many sessions at once, come back later" (the relay's cap).
BUSY = "busy"
MAX_RETRY_AFTER_S = 3600  # a retry-after beyond an hour is refused as malformed


@dataclass(frozen=True)
class Hello:
    version: int
    store_id: str  # the sender's store
    node_id: str
    role: str
    county: str
    village: str
    # How far into the receiver's feed the sender holds everything, and which store the
    # sender believes the receiver is: the number is only meaningful for that store.
    have_seq: int = 0
    have_store: str = ""
    capabilities: tuple[str, ...] = CAPABILITIES


@dataclass(frozen=True)
class DocEntry:
    doc_id: str
    kind: str
    scope: str
    data: bytes  # Automerge save() of the whole document


@dataclass(frozen=True)
class Page:
    since: int  # the checkpoint this page continues from
    upto: int  # after merging, the receiver holds the sender's feed up to here
    more: bool
    docs: tuple[DocEntry, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Ack:
    upto: int


@dataclass(frozen=True)
class Error:
    code: str
    message: str
    # Seconds the peer asks us to wait before the next session (0: no advice). Sent with
    # BUSY; on the wire only when non-zero, so other errors keep their 3-field frame.
    retry_after: int = 0


Message = Hello | Page | Ack | Error
