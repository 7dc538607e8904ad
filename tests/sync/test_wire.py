"""Frames: golden bytes, round trips, and hostile input that may only ever raise
RemoteProtocolError (after h11's fuzzing of its parser)."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sync.errors import RemoteProtocolError
from sync.messages import MAX_RETRY_AFTER_S, Ack, DocEntry, Error, Hello, Message, Page
from sync.wire import (
    MAX_DOCS_PER_PAGE,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_TEXT,
    MAX_STR,
    decode,
    encode,
)

# Golden frames: a change to the encoding breaks these on purpose (bump PROTOCOL_VERSION).
GOLDEN = [
    (Ack(upto=7), bytes.fromhex("01820307")),
    (Error("bad_frame", "x"), bytes.fromhex("01830469626164" "5f6672616d656178")),
    (Page(since=0, upto=0, more=False, docs=()), bytes.fromhex("0185020000f480")),
]


@pytest.mark.parametrize("msg,frame", GOLDEN)
def test_golden_frames(msg, frame):
    assert encode(msg) == frame
    assert decode(frame) == msg


def test_store_ids_travel_as_16_bytes_and_come_back():
    hello = Hello(1, "0123456789abcdef0123456789abcdef", "n1", "director", "KC", "BY", 3,
                  "fedcba9876543210fedcba9876543210")
    frame = encode(hello)
    assert decode(frame) == hello
    assert bytes.fromhex(hello.store_id) in frame and hello.store_id.encode() not in frame
    upper = Hello(1, "0123456789ABCDEF0123456789ABCDEF", "n1", "director", "KC", "BY")
    assert decode(encode(upper)) == upper


def test_large_pages_are_compressed_and_small_frames_are_not():
    docs = tuple(DocEntry(f"{i:032x}", "case", "village:KC/BY", b"same bytes " * 20)
                 for i in range(50))
    frame = encode(Page(0, 50, True, docs))
    assert frame[0] == 0x02 and len(frame) < sum(len(d.data) for d in docs) / 4
    assert decode(frame) == Page(0, 50, True, docs)
    assert encode(Ack(1))[0] == 0x01


ids = st.text(st.characters(codec="utf-8"), max_size=40)
hellos = st.builds(Hello, version=st.integers(0, 2**31), store_id=ids, node_id=ids, role=ids,
                   county=ids, village=ids, have_seq=st.integers(0, 2**62), have_store=ids,
                   capabilities=st.lists(ids, max_size=4).map(tuple))
entries = st.builds(DocEntry, doc_id=ids, kind=ids, scope=ids,
                    data=st.binary(min_size=1, max_size=200))


@st.composite
def pages(draw):
    since = draw(st.integers(0, 2**40))
    return Page(since=since, upto=since + draw(st.integers(0, 1000)), more=draw(st.booleans()),
                docs=tuple(draw(st.lists(entries, max_size=8))))


messages = st.one_of(hellos, pages(), st.builds(Ack, upto=st.integers(0, 2**62)),
                     st.builds(Error, code=ids, message=st.text(max_size=200),
                               retry_after=st.one_of(st.just(0),
                                                     st.integers(1, MAX_RETRY_AFTER_S))))


@settings(max_examples=300)
@given(messages)
def test_every_message_round_trips(msg):
    assert decode(encode(msg)) == msg


def _well_formed(msg: object) -> None:
    """What any decoded message must be, checked apart from decode's own code: one of the
    four messages, every field of its type and within the wire's limits, and the same
    message again after another trip through encode and decode."""
    def text(v: object, limit: int = MAX_STR) -> None:
        assert isinstance(v, str) and len(v) <= limit, v

    def count(v: object) -> None:
        assert type(v) is int and 0 <= v < 2**63, v

    if isinstance(msg, Hello):
        for f in (msg.store_id, msg.node_id, msg.role, msg.county, msg.village, msg.have_store):
            text(f)
        count(msg.version)
        count(msg.have_seq)
        assert isinstance(msg.capabilities, tuple) and len(msg.capabilities) <= 32
        for c in msg.capabilities:
            text(c)
    elif isinstance(msg, Page):
        count(msg.since)
        count(msg.upto)
        assert msg.since <= msg.upto and type(msg.more) is bool
        assert isinstance(msg.docs, tuple) and len(msg.docs) <= MAX_DOCS_PER_PAGE
        for d in msg.docs:
            assert isinstance(d, DocEntry)
            text(d.doc_id)
            text(d.kind)
            text(d.scope)
            assert type(d.data) is bytes and d.data
    elif isinstance(msg, Ack):
        count(msg.upto)
    elif isinstance(msg, Error):
        text(msg.code)
        text(msg.message, MAX_MESSAGE_TEXT)
        assert type(msg.retry_after) is int and 0 <= msg.retry_after <= MAX_RETRY_AFTER_S
    else:
        raise AssertionError(f"decode returned {msg!r}")
    assert decode(encode(msg)) == msg


def _decode_or_refuse(frame: bytes) -> Message | None:
    """decode's message, checked; or None if it refused the frame with one of its codes."""
    try:
        msg = decode(frame)
    except RemoteProtocolError as exc:
        assert exc.code in ("bad_frame", "frame_too_large"), exc.code
        return None
    _well_formed(msg)
    return msg


@settings(max_examples=1000)
@given(st.binary(max_size=300))
@example(b"\x01" + cbor2.dumps([3, 7]))  # bytes that happen to be a frame are taken
@example(b"\x01" + cbor2.dumps([3, -7]))
@example(b"\x01" + cbor2.dumps([9]))
@example(b"\x01" + cbor2.dumps([3, 7]) + b"\x00")  # one message and then more bytes
def test_random_bytes_raise_only_the_remote_error(data):
    msg = _decode_or_refuse(data)
    if len(data) < 2 or data[0] not in (0x01, 0x02):
        assert msg is None  # no frame format: never a message
    if data == b"\x01" + cbor2.dumps([3, 7]):
        assert msg == Ack(7)


@pytest.mark.parametrize("msg", [Ack(upto=7), Page(0, 50, True, tuple(
    DocEntry(f"{i:032x}", "case", "village:KC/BY", b"same bytes " * 20) for i in range(50)))],
    ids=["plain", "zlib"])
def test_a_frame_cut_anywhere_or_followed_by_bytes_is_refused(msg):
    # Every cut: a CBOR item or a zlib stream is never whole before its end (the last
    # four bytes of a zlib frame are its checksum); and one message is exactly one frame.
    frame = encode(msg)
    assert decode(frame) == msg
    for cut in range(len(frame)):
        assert _decode_or_refuse(frame[:cut]) is None, cut
    for extra in (b"\x00", b"\x01", cbor2.dumps([3, 1])):
        assert _decode_or_refuse(frame + extra) is None, extra


@settings(max_examples=500)
@given(messages, st.data())
def test_truncated_and_flipped_frames_raise_only_the_remote_error(msg, data):
    frame = bytearray(encode(msg))
    cut = data.draw(st.integers(0, len(frame)))
    mangled = frame[:cut]
    flipped = bool(mangled) and data.draw(st.booleans())
    if flipped:
        i = data.draw(st.integers(0, len(mangled) - 1))
        mangled[i] ^= data.draw(st.integers(1, 255))
    got = _decode_or_refuse(bytes(mangled))
    if cut == len(frame) and not flipped:
        assert got == msg  # the whole frame: the message itself
    elif not flipped:
        assert got is None  # a CBOR item or a zlib stream cut short is never whole


def _shape(value: object) -> object:
    """The CBOR body a message decodes from, with its store ids as text (they may travel
    as 16 bytes or as text)."""
    if isinstance(value, list) and len(value) == 10 and value[0] == 1:
        value = list(value)
        for i in (2, 8):
            if isinstance(value[i], bytes) and len(value[i]) == 16:
                value[i] = value[i].hex()
    return value


def _body(msg: Message) -> list:
    if isinstance(msg, Hello):
        return [1, msg.version, msg.store_id, msg.node_id, msg.role, msg.county, msg.village,
                msg.have_seq, msg.have_store, list(msg.capabilities)]
    if isinstance(msg, Page):
        return [2, msg.since, msg.upto, msg.more,
                [[d.doc_id, d.kind, d.scope, d.data] for d in msg.docs]]
    if isinstance(msg, Ack):
        return [3, msg.upto]
    assert isinstance(msg, Error)
    return [4, msg.code, msg.message] + ([msg.retry_after] if msg.retry_after else [])


cbor_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                           | st.binary(max_size=10),
                           lambda c: st.lists(c, max_size=6) | st.dictionaries(
                               st.text(max_size=5), c, max_size=4),
                           max_leaves=30)


@settings(max_examples=300)
@given(cbor_values | st.builds(lambda t, rest: [t, *rest], st.integers(0, 5),
                               st.lists(cbor_values, max_size=10)))
@example([3, 2**63 - 1])
@example([3, 2**63])
@example([2, 5, 4, False, []])
@example([2, 4, 5, False, [["d", "case", "village:KC/BY", b""]]])
@example([2, 4, 5, True, [["d", "case", "village:KC/BY", b"x"]]])
@example([4, "busy", "later", 0])
@example([4, "busy", "later", MAX_RETRY_AFTER_S + 1])
@example([4, "busy", "later", 30])
@example([1, 1, b"\x00" * 16, "n", "director", "KC", "BY", 0, "", ["x"]])
@example([1, 1, b"\x00" * 15, "n", "director", "KC", "BY", 0, "", []])
@example([1, 1, "s", "n", "director", "KC", "BY", True, "", []])
def test_wrongly_shaped_cbor_raises_only_the_remote_error(value):
    got = _decode_or_refuse(b"\x01" + cbor2.dumps(value))
    if got is not None:  # taken: it must be exactly the message those fields spell
        assert _body(got) == _shape(value), (got, value)


def test_zip_bomb_is_refused():
    bomb = b"\x02" + zlib.compress(b"\x00" * (MAX_MESSAGE_BYTES + 1), 9)
    assert len(bomb) < MAX_FRAME_BYTES
    with pytest.raises(RemoteProtocolError) as info:
        decode(bomb)
    assert info.value.code == "frame_too_large"


def test_oversized_frame_is_refused_before_parsing():
    with pytest.raises(RemoteProtocolError) as info:
        decode(b"\x01" + b"\x00" * MAX_FRAME_BYTES)
    assert info.value.code == "frame_too_large"


@pytest.mark.parametrize("frame", [b"", b"\x01", b"\x07abc", b"\x02not zlib",
                                   b"\x01" + cbor2.dumps([99]), b"\x01" + cbor2.dumps([3, -1]),
                                   b"\x01" + cbor2.dumps([3, True]),
                                   b"\x01" + cbor2.dumps([2, 5, 4, False, []])])
def test_named_bad_frames(frame):
    with pytest.raises(RemoteProtocolError):
        decode(frame)
