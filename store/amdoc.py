"""Small helpers over automerge.core: typed puts, prose as Text, reading to plain data.

Rules: fields replaced whole are scalars (last writer wins, deterministically); prose that
two people may edit at once is Automerge Text, edited by the smallest splice so concurrent
edits of different parts both survive; lists of events (sessions, history) only ever grow
by insertion, so concurrent appends are all kept.
"""

from __future__ import annotations

import re
from typing import Any

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


def read(doc: Document) -> dict[str, Any]:
    data = extract(doc)
    return data if isinstance(data, dict) else {}


def get_str(doc: Document, key: str, default: str = "") -> str:
    got = doc.get(ROOT, key)
    if got is None or isinstance(got[0], ObjType):
        return default
    value = got[0][1]
    return value if isinstance(value, str) else default
