"""Errors of the sync layer. Each has a stable ``code`` that travels to the peer in an
``error`` message and that the CLI and TUI translate for people.

    SyncError
    ├── LocalProtocolError      we were about to do something the protocol forbids (a bug)
    ├── RemoteProtocolError     the peer sent something malformed, oversized, or out of order
    │   └── VersionMismatch     the peer speaks a protocol version we do not
    ├── NotAuthorized           the peer may not read or write what it asked for
    ├── PeerError               the peer ended the session with an error of its own
    └── TransportClosed         the link went away (timeout, reset, closed)
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    code = "sync_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details


class LocalProtocolError(SyncError):
    code = "local_protocol_error"


class RemoteProtocolError(SyncError):
    code = "protocol_error"


class VersionMismatch(RemoteProtocolError):
    code = "version_mismatch"


class NotAuthorized(SyncError):
    code = "not_authorized"


class PeerError(SyncError):
    code = "peer_error"


class TransportClosed(SyncError):
    code = "transport_closed"


def forget_tracebacks(exc: BaseException | None) -> None:
    """Drop the tracebacks of ``exc`` and of its causes.

    A traceback holds the frames it passed through; when one of them also holds the
    exception (a session's ``error``, the waiter of asyncio's start_tls), that is a
    reference cycle only the cyclic GC frees, and until it runs the frames keep their
    buffers alive. Found by bench/fuzz_relay.py: a 16 KiB zip bomb kept 16 MiB per session,
    garbage on the TLS port ~70 KB per connection, on a relay that rarely does a full GC."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__
