"""The backend-neutral part of the document store's write path (store/docs.py's rules).

Every backend (store/docs.py on SQLite, store/pg/store.py on PostgreSQL) decides the same
things the same way, here: which incoming documents of a batch change anything and may be
merged (``plan_merge``), how a document is projected (``project_doc``), and which rows a
batch of writes becomes (``plan_writes``: a new snapshot, a tail chunk, or a compaction;
the projection's record and follow-ups). A backend only runs the rows through its SQL.
The tuples' field order is the column order the docstrings of ``WritePlan`` give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from automerge.core import Document

from . import amdoc
from .errors import CorruptDoc, StoreError, ValidationError
from .projection import PARTY_KEYS, PROJECTED_KEYS, Projection, Tokenizer, party_names, project
from .records import CASE, CONSULTATION, KINDS, check_scope
from .sealed import Sealer
from .types import DocMeta, Incoming, Write, pack_heads, unpack_heads

MAX_TAIL_CHUNKS = 32  # chunks before a document is saved whole again
MIN_COMPACT_BYTES = 4096  # below this, a tail never triggers compaction by size

# doc_id -> (meta, (heads, tail_count, tail_bytes, snapshot size), current document)
Have = dict[str, tuple[DocMeta, tuple[bytes, int, int, int], Document]]


@dataclass
class WritePlan:
    """The rows of one batch of writes, by statement:

    inserts       (doc_id, kind, scope, snapshot, heads, seq, updated_at, last_from)
    drop_tails    (doc_id,)
    snapshots     (snapshot, heads, seq, updated_at, last_from, doc_id)
    tails         (doc_id, n, chunk)
    tail_updates  (heads, seq, updated_at, last_from, chunk length, doc_id)
    records       (doc_id, kind, scope, parent, number, title, category, status, village,
                   created_at, updated_at, closed_at, outcome, search, tokens)
    refollow      (doc_id,) of known documents, whose follow-ups are replaced
    followups     (doc_id, month, due_date, done_date, satisfaction)
    """

    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    drop_tails: list[tuple[Any, ...]] = field(default_factory=list)
    snapshots: list[tuple[Any, ...]] = field(default_factory=list)
    tails: list[tuple[Any, ...]] = field(default_factory=list)
    tail_updates: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)
    refollow: list[tuple[Any, ...]] = field(default_factory=list)
    followups: list[tuple[Any, ...]] = field(default_factory=list)
    metas: list[DocMeta] = field(default_factory=list)


async def project_doc(doc_id: str, kind: str, doc: Document, updated_at: str,
                      tok: Tokenizer,
                      find_case: Callable[[str], Awaitable[Document | None]]) -> Projection:
    """The projection of a document; a consultation's text is redacted of the party names
    of its case (``find_case``: from the batch, the cache or the store; None if not here)."""
    try:
        keys = PROJECTED_KEYS.get(kind)
        data = amdoc.read(doc, keys)
        if keys is not None:  # what the projection did not read must still read back
            amdoc.check_depth(doc, skip=keys)
        names: list[str] = []
        case_id = data.get("case_id") if kind == CONSULTATION else None
        if isinstance(case_id, str) and case_id:
            case = await find_case(case_id)
            names = party_names(amdoc.read(case, PARTY_KEYS)) if case is not None else []
        return project(kind, data, updated_at, tok, names)
    except StoreError:
        raise
    except Exception as exc:  # e.g. nesting too deep to read back (RecursionError)
        raise CorruptDoc(f"document {doc_id} cannot be read back: "
                         f"{type(exc).__name__}", doc_id=doc_id) from exc


async def plan_writes(items: list[Write], first_seq: int, now: str, sealer: Sealer,
                      projection: Callable[[Write, dict[str, Document]],
                                           Awaitable[Projection]],
                      remember: Callable[[str, bytes, Document], None]) -> WritePlan:
    """The rows of ``items``, which take the seqs from ``first_seq`` on.

    For a new document (``old`` None) the snapshot is the bytes it came as when they are
    one whole document (``Write.saved``), else its save(); for a known one the new
    changes since the stored heads go on the tail, or, past the compaction threshold, a
    new snapshot replaces snapshot and tail."""
    plan = WritePlan()
    cases = {w.doc_id: w.doc for w in items if w.kind == CASE}
    for i, w in enumerate(items):
        seq = first_seq + i
        heads = pack_heads(w.doc.get_heads())
        if w.old is None:
            snapshot = sealer.seal(w.doc_id, w.saved if w.saved is not None else w.doc.save())
            plan.inserts.append((w.doc_id, w.kind, w.scope, snapshot, heads, seq, now,
                                 w.last_from))
        else:
            old_heads, tail_count, tail_bytes, snap_len = w.old
            chunk = b"".join(ch.bytes for ch in w.doc.get_changes(unpack_heads(old_heads)))
            if (tail_count + 1 > MAX_TAIL_CHUNKS
                    or tail_bytes + len(chunk) > max(snap_len, MIN_COMPACT_BYTES)):
                plan.drop_tails.append((w.doc_id,))
                plan.snapshots.append((sealer.seal(w.doc_id, w.doc.save()), heads, seq, now,
                                       w.last_from, w.doc_id))
            else:
                plan.tails.append((w.doc_id, tail_count, sealer.seal(w.doc_id, chunk)))
                plan.tail_updates.append((heads, seq, now, w.last_from, len(chunk), w.doc_id))
            plan.refollow.append((w.doc_id,))
        proj = await projection(w, cases)
        r = proj.row
        plan.records.append((w.doc_id, w.kind, w.scope, r["parent"], r["number"], r["title"],
                             r["category"], r["status"], r["village"], r["created_at"],
                             r["updated_at"], r["closed_at"], r["outcome"], r["search"],
                             r["tokens"]))
        plan.followups += [(w.doc_id, m, due, done, sat)
                           for m, due, done, sat in proj.followups]
        remember(w.doc_id, heads, w.doc)
        plan.metas.append(DocMeta(w.doc_id, w.kind, w.scope, heads, seq, now, w.last_from))
    return plan


# An Automerge chunk: magic, 4 bytes of checksum, the chunk type, its length (LEB128).
_MAGIC = b"\x85\x6f\x4a\x83"
_DOCUMENT_CHUNK = 0


def whole_document(data: bytes) -> bool:
    """Whether ``data`` is exactly one Automerge document chunk (what ``save()`` writes),
    nothing before or after it: only such bytes are kept as a new document's snapshot.
    Anything else that loads (change chunks, several chunks) is saved again, as before."""
    if len(data) < 10 or data[:4] != _MAGIC or data[8] != _DOCUMENT_CHUNK:
        return False
    length, shift, i = 0, 0, 9
    while i < len(data) and i < 19:
        byte = data[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return i + length == len(data)
        shift += 7
    return False


def plan_merge(incoming: list[Incoming], have: Have, origin: str,
               check: Callable[[Incoming, DocMeta | None], None] | None) -> list[Write]:
    """The writes that merging ``incoming`` (from ``origin``) into ``have`` makes; raises
    before anything is written if any incoming document is bad (rule 4), claims another
    kind or scope for a known id (rule 5), or is refused by ``check``. Documents whose
    merge changes nothing are left out (an idempotent merge)."""
    writes: list[Write] = []
    seen: set[str] = set()
    for inc in incoming:
        if inc.kind not in KINDS:
            raise ValidationError("bad_kind", f"unknown record kind {inc.kind!r}",
                                  doc_id=inc.doc_id)
        check_scope(inc.scope)
        if inc.doc_id in seen:
            raise ValidationError("duplicate_doc", "a document appears twice in a batch",
                                  doc_id=inc.doc_id)
        seen.add(inc.doc_id)
        try:
            theirs = Document.load(inc.data)
        except Exception as exc:  # Automerge raises its own types for bad bytes
            raise CorruptDoc(f"document {inc.doc_id} from {origin} does not load: {exc}",
                             doc_id=inc.doc_id) from exc
        their_heads = pack_heads(theirs.get_heads())
        if inc.heads and inc.heads != their_heads:
            raise CorruptDoc(f"document {inc.doc_id} from {origin} does not hold the heads "
                             "its sender gave", doc_id=inc.doc_id)
        existing, old, merged = have.get(inc.doc_id, (None, None, theirs))
        if existing is None and not theirs.get_heads():
            # An empty document is never a record (create() refuses one too).
            raise CorruptDoc(f"document {inc.doc_id} from {origin} is empty",
                             doc_id=inc.doc_id)
        if existing is not None and (existing.kind, existing.scope) != (inc.kind, inc.scope):
            raise ValidationError(
                "kind_scope_changed",
                f"document {inc.doc_id} is a {existing.kind} in {existing.scope}; "
                f"the sender claims {inc.kind} in {inc.scope}",
                doc_id=inc.doc_id,
            )
        if check is not None:
            check(inc, existing)
        if existing is not None:
            merged.merge(theirs)
            new_heads = pack_heads(merged.get_heads())
            if new_heads == existing.heads:
                continue
        else:
            new_heads = their_heads
        # The sender holds exactly these heads: no need to offer the doc back to it.
        last_from = origin if new_heads == their_heads else None
        # A new document keeps the bytes it came as for its snapshot (they loaded just
        # now as ``theirs``): no second save() of what was just loaded.
        saved = inc.data if existing is None and whole_document(inc.data) else None
        writes.append(Write(inc.doc_id, inc.kind, inc.scope, merged, old, last_from, saved))
    return writes
