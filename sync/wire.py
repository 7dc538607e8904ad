"""Messages to and from frames: the one place the protocol meets bytes (pure).

Frame layout (inside one WebSocket binary message, or one bundle record):

    byte 0      format: 0x01 plain CBOR, 0x02 zlib-compressed CBOR
    bytes 1..   CBOR (RFC 8949) array: [type, field, field, ...]

Types: 1 Hello, 2 Page, 3 Ack, 4 Error (``[4, code, message]``, or
``[4, code, message, retry_after]`` when the sender advises a wait, e.g. ``busy``).

Pages are compressed as a whole: hundreds of small documents share their actor ids, keys
and scope strings, so one zlib stream over a page costs a fraction of compressing
documents one by one (DESIGN.md measured ≈60 B/doc).

``decode`` trusts nothing: any frame that is not exactly a valid message raises
RemoteProtocolError, including frames that inflate past MAX_MESSAGE_BYTES (zip bombs).
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import cbor2

from .errors import RemoteProtocolError
from .messages import MAX_RETRY_AFTER_S, Ack, DocEntry, Error, Hello, Message, Page

FORMAT_PLAIN = 0x01
FORMAT_ZLIB = 0x02
COMPRESS_ABOVE = 256  # bytes of CBOR; smaller frames (hello, ack) are not worth zlib
ZLIB_LEVEL = 6
MAX_FRAME_BYTES = 4 * 1024 * 1024  # on the wire; a page is capped well below (driver)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # after inflating
MAX_DOCS_PER_PAGE = 5000
MAX_STR = 256  # ids, codes, scopes
MAX_MESSAGE_TEXT = 2000

T_HELLO, T_PAGE, T_ACK, T_ERROR = 1, 2, 3, 4


def _id_out(store_id: str) -> bytes | str:
    """Store ids are 32 hex digits: 16 bytes on the wire instead of 33 (every Hello
    carries two; it is most of a reconnect's cost)."""
    if len(store_id) == 32:
        try:
            raw = bytes.fromhex(store_id)
        except ValueError:
            return store_id
        if raw.hex() == store_id:  # lower-case hex only, so decoding gives it back
            return raw
    return store_id


def _id_in(v: Any, what: str) -> str:
    if isinstance(v, bytes):
        if len(v) != 16:
            raise RemoteProtocolError(f"{what} must be 16 bytes", code="bad_frame")
        return v.hex()
    return _str(v, what)


def encode(msg: Message) -> bytes:
    if isinstance(msg, Hello):
        body: list[Any] = [T_HELLO, msg.version, _id_out(msg.store_id), msg.node_id, msg.role,
                           msg.county, msg.village, msg.have_seq, _id_out(msg.have_store),
                           list(msg.capabilities)]
    elif isinstance(msg, Page):
        body = [T_PAGE, msg.since, msg.upto, msg.more,
                [[d.doc_id, d.kind, d.scope, d.data] for d in msg.docs]]
    elif isinstance(msg, Ack):
        body = [T_ACK, msg.upto]
    elif isinstance(msg, Error):
        body = [T_ERROR, msg.code, msg.message[:MAX_MESSAGE_TEXT]]
        if msg.retry_after:
            if not 0 < msg.retry_after <= MAX_RETRY_AFTER_S:
                raise ValueError(f"retry_after must be 1..{MAX_RETRY_AFTER_S} s")
            body.append(msg.retry_after)
    else:
        raise TypeError(f"not a protocol message: {msg!r}")
    raw = cbor2.dumps(body)
    if len(raw) > COMPRESS_ABOVE:
        return bytes([FORMAT_ZLIB]) + zlib.compress(raw, ZLIB_LEVEL)
    return bytes([FORMAT_PLAIN]) + raw


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_MESSAGE_BYTES)
    except zlib.error as exc:
        raise RemoteProtocolError(f"frame does not inflate: {exc}", code="bad_frame") from None
    if d.unconsumed_tail:
        raise RemoteProtocolError("frame inflates past the message size limit",
                                  code="frame_too_large")
    if not d.eof:
        raise RemoteProtocolError("compressed frame is truncated", code="bad_frame")
    if d.unused_data:
        raise RemoteProtocolError("bytes after the compressed frame", code="bad_frame")
    return out


def _str(v: Any, what: str, limit: int = MAX_STR) -> str:
    if not isinstance(v, str) or len(v) > limit:
        raise RemoteProtocolError(f"{what} must be a string of at most {limit}", code="bad_frame")
    return v


def _int(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**63:
        raise RemoteProtocolError(f"{what} must be a non-negative integer", code="bad_frame")
    return v


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise RemoteProtocolError(f"{what} must be true or false", code="bad_frame")
    return v


def _list(v: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(v, list) or len(v) > limit:
        raise RemoteProtocolError(f"{what} must be a list of at most {limit}", code="bad_frame")
    return v


def decode(frame: bytes) -> Message:
    """Parse one frame; raises RemoteProtocolError on anything but a valid message."""
    if not isinstance(frame, (bytes, bytearray)) or len(frame) < 2:
        raise RemoteProtocolError("empty or truncated frame", code="bad_frame")
    if len(frame) > MAX_FRAME_BYTES:
        raise RemoteProtocolError("frame exceeds the size limit", code="frame_too_large")
    fmt = frame[0]
    if fmt == FORMAT_ZLIB:
        raw = _inflate(bytes(frame[1:]))
    elif fmt == FORMAT_PLAIN:
        raw = bytes(frame[1:])
    else:
        raise RemoteProtocolError(f"unknown frame format {fmt:#x}", code="bad_frame")
    buf = io.BytesIO(raw)
    try:
        body = cbor2.CBORDecoder(buf).decode()
    except Exception as exc:  # noqa: BLE001 — cbor2 raises several types for malformed input
        raise RemoteProtocolError(f"frame is not valid CBOR: {type(exc).__name__}",
                                  code="bad_frame") from None
    if buf.tell() != len(raw):  # cbor2.loads would ignore them: exactly one item
        raise RemoteProtocolError("bytes after the message", code="bad_frame")
    if not isinstance(body, list) or not body:
        raise RemoteProtocolError("frame is not a message array", code="bad_frame")
    t = body[0]
    try:
        if t == T_HELLO and len(body) == 10:
            caps = _list(body[9], "capabilities", 32)
            return Hello(
                version=_int(body[1], "version"), store_id=_id_in(body[2], "store_id"),
                node_id=_str(body[3], "node_id"), role=_str(body[4], "role"),
                county=_str(body[5], "county"), village=_str(body[6], "village"),
                have_seq=_int(body[7], "have_seq"), have_store=_id_in(body[8], "have_store"),
                capabilities=tuple(_str(c, "capability") for c in caps),
            )
        if t == T_PAGE and len(body) == 5:
            docs = []
            for item in _list(body[4], "docs", MAX_DOCS_PER_PAGE):
                if not isinstance(item, list) or len(item) != 4:
                    raise RemoteProtocolError("a page entry must have 4 fields",
                                              code="bad_frame")
                if not isinstance(item[3], bytes) or not item[3]:
                    raise RemoteProtocolError("document data must be bytes", code="bad_frame")
                docs.append(DocEntry(_str(item[0], "doc_id"), _str(item[1], "kind"),
                                     _str(item[2], "scope"), item[3]))
            since, upto = _int(body[1], "since"), _int(body[2], "upto")
            if upto < since:
                raise RemoteProtocolError("page ends before it starts", code="bad_frame")
            return Page(since=since, upto=upto, more=_bool(body[3], "more"), docs=tuple(docs))
        if t == T_ACK and len(body) == 2:
            return Ack(upto=_int(body[1], "upto"))
        if t == T_ERROR and len(body) in (3, 4):
            retry_after = _int(body[3], "retry_after") if len(body) == 4 else 0
            if len(body) == 4 and not 0 < retry_after <= MAX_RETRY_AFTER_S:
                raise RemoteProtocolError(f"retry_after must be 1..{MAX_RETRY_AFTER_S} s",
                                          code="bad_frame")
            return Error(code=_str(body[1], "code"),
                         message=_str(body[2], "message", MAX_MESSAGE_TEXT),
                         retry_after=retry_after)
    except RemoteProtocolError:
        raise
    raise RemoteProtocolError(f"unknown message type or shape: {_describe(t)}",
                              code="bad_frame")


def _describe(v: Any) -> str:
    """A short, safe description of a peer's value for an error message: never the repr of
    a huge int (Python refuses those with ValueError) nor megabytes of a peer's string."""
    if isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**64:
        return str(v)
    return f"a {type(v).__name__}"
