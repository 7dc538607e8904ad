"""Small helpers over automerge.core: typed puts, prose as Text, reading to plain data.

Rules: fields replaced whole are scalars (last writer wins, deterministically); prose that
two people may edit at once is Automerge Text, edited by the smallest splice so concurrent
edits of different parts both survive; lists of events (sessions, history) only ever grow
by insertion, so concurrent appends are all kept.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from automerge.core import ROOT, Document, ObjType, ScalarType, extract

from .errors import ValidationError

__all__ = ["ROOT", "Document", "put", "set_text", "append_map", "get_obj", "read", "get_str",
           "check_encodable"]

# A lone surrogate is what Python makes of bytes that were not UTF-8 (a command-line argument
# or a file name decoded with surrogateescape); Automerge stores only real Unicode.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_encodable(value: str) -> str:
    """``value`` if it can be stored as UTF-8, else ValidationError ``bad_text``."""
    if not value.isascii() and _SURROGATE.search(value):
        raise ValidationError("bad_text", "text holds characters that are not valid UTF-8")
    return value


def put(tx: Any, obj: bytes, key: str | int, value: Any) -> None:
    """Put a Python scalar with the matching Automerge type."""
    if value is None:
        tx.put(obj, key, ScalarType.Null, None)
    elif isinstance(value, bool):
        tx.put(obj, key, ScalarType.Boolean, value)
    elif isinstance(value, int):
        tx.put(obj, key, ScalarType.Int, value)
    elif isinstance(value, float):
        tx.put(obj, key, ScalarType.F64, value)
    elif isinstance(value, str):
        tx.put(obj, key, ScalarType.Str, check_encodable(value))
    elif isinstance(value, bytes):
        tx.put(obj, key, ScalarType.Bytes, value)
    else:
        raise TypeError(f"cannot store {type(value).__name__} as an Automerge scalar")


def get_obj(tx: Any, obj: bytes, key: str, kind: ObjType) -> bytes:
    """The id of the object at ``key``, creating it if absent."""
    got = tx.get(obj, key)
    if got is not None and isinstance(got[0], ObjType):
        return got[1]
    return tx.put_object(obj, key, kind)


def set_text(tx: Any, obj: bytes, key: str, new: str) -> None:
    """Make the Text at ``key`` read ``new`` with one minimal splice."""
    check_encodable(new)
    text_id = get_obj(tx, obj, key, ObjType.Text)
    old = tx.text(text_id)
    if old == new:
        return
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    tx.splice_text(text_id, start, end_old - start, new[start:end_new])


def append_map(tx: Any, obj: bytes, key: str, values: dict[str, Any]) -> bytes:
    """Append a map of scalars to the list at ``key`` (created if absent)."""
    list_id = get_obj(tx, obj, key, ObjType.List)
    item = tx.insert_object(list_id, tx.length(list_id), ObjType.Map)
    for k, v in values.items():
        put(tx, item, k, v)
    return item


def _thing(doc: Document, value: Any, obj: bytes) -> Any:
    """What ``extract`` makes of one value: a scalar's value, or the object read whole."""
    if not isinstance(value, ObjType):
        return value[1]
    if value == ObjType.Map:
        return _map(doc, obj, None)
    if value == ObjType.List:
        return [_thing(doc, v, o) for v, o in doc.values(obj)]
    if value == ObjType.Text:
        return doc.text(obj)
    return extract(doc, obj)  # any other object type: as automerge-py reads it


def _map(doc: Document, obj: bytes, only: frozenset[str] | None) -> dict[str, Any]:
    """A map read with two calls into Automerge (``keys`` and ``values``, in the same key
    order) instead of one ``get`` per key: each call into the binding costs ~10 us."""
    keys = doc.keys(obj)
    values = doc.values(obj)
    if len(values) != len(keys):  # never seen; read key by key as extract does
        got = [doc.get(obj, k) for k in keys]
        values = [g for g in got if g is not None]
        keys = [k for k, g in zip(keys, got) if g is not None]
    return {k: _thing(doc, v, o) for k, (v, o) in zip(keys, values)
            if only is None or k in only}


MAX_DEPTH = 100  # objects in objects: a record nests 3 or 4 deep; readers recurse


def check_depth(doc: Document, skip: Iterable[str] = (), limit: int = MAX_DEPTH) -> None:
    """``ValueError`` when an object under a root key not in ``skip`` (keys the caller has
    read itself) nests deeper than ``limit``: a document that could not be read back
    whole. Walks only the objects (one call into Automerge each), without recursion."""
    skipped = frozenset(skip)
    stack = [(obj, 1) for key in doc.keys(ROOT) if key not in skipped
             for got in [doc.get(ROOT, key)] if got is not None
             for value, obj in [got] if isinstance(value, ObjType) and value != ObjType.Text]
    while stack:
        obj, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"objects nest more than {limit} deep")
        stack.extend((o, depth + 1) for v, o in doc.values(obj)
                     if isinstance(v, ObjType) and v != ObjType.Text)


def read(doc: Document, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The document as plain data, as ``automerge.core.extract`` gives it; with ``keys``,
    only those keys of the root (each read whole), the rest left out unread."""
    return _map(doc, ROOT, None if keys is None else frozenset(keys))


def get_str(doc: Document, key: str, default: str = "") -> str:
    got = doc.get(ROOT, key)
    if got is None or isinstance(got[0], ObjType):
        return default
    value = got[0][1]
    return value if isinstance(value, str) else default
