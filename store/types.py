"""The backend-neutral types of the document store (every backend speaks them).

``DocMeta`` is what a backend says about one stored document; ``Incoming`` what a peer or a
bundle sent; ``Committed`` what subscribers are told after a commit; ``FeedPage`` one page
of the change feed. ``Write`` is one document about to be persisted by a backend's write
path; ``load_document`` turns stored chunks (snapshot + tail) back into a Document with
the store's own error.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from automerge.core import Document

from .errors import CorruptDoc

HEAD_BYTES = 32


def pack_heads(heads: Iterable[bytes]) -> bytes:
    return b"".join(sorted(heads))


def unpack_heads(blob: bytes) -> list[bytes]:
    return [blob[i:i + HEAD_BYTES] for i in range(0, len(blob), HEAD_BYTES)]


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class DocMeta:
    doc_id: str
    kind: str
    scope: str
    heads: bytes  # packed, sorted
    seq: int
    updated_at: str
    last_from: str | None = None


@dataclass(frozen=True)
class Incoming:
    """A document as a peer (or a bundle) sent it: whole saved bytes, or change chunks
    that apply on top of what we already hold."""

    doc_id: str
    kind: str
    scope: str
    data: bytes
    heads: bytes = b""  # the sender's heads (packed), if it said


@dataclass
class Write:
    doc_id: str
    kind: str
    scope: str
    doc: Document
    old: tuple[bytes, int, int, int] | None  # stored heads, tail count/bytes, snapshot size
    last_from: str | None
    # A new document's snapshot as it came (checked to be one whole document chunk that
    # loads as ``doc``); None: the snapshot is ``doc.save()``.
    saved: bytes | None = None


@dataclass(frozen=True)
class Committed:
    """Told to subscribers after each commit."""

    doc_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    origin: str  # "local" or the peer id the data came from
    seq: int


@dataclass(frozen=True)
class FeedPage:
    entries: list[DocMeta]
    upto: int  # every doc of the feed with seq <= upto that passes the filter is in entries
    more: bool



def load_document(doc_id: str, chunks: list[bytes]) -> Document:
    try:
        return Document.load(b"".join(chunks))
    except Exception as exc:  # Automerge raises its own types for bad bytes
        raise CorruptDoc(f"record {doc_id} does not load: {exc}", doc_id=doc_id) from exc


class CommitListeners:
    """Who is told after each commit, the same for every backend: ``subscribe`` returns
    an unsubscribe function; a listener that fails is logged and never undoes a commit."""

    _listeners: list[Callable[[Committed], None]]

    def subscribe(self, listener: Callable[[Committed], None]) -> Callable[[], None]:
        """Call ``listener`` after every commit; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, event: Committed) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not undo a commit
                logging.getLogger(type(self).__module__).exception("store listener failed")
