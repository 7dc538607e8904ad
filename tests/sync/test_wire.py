"""Frames: golden bytes, round trips, and hostile input that may only ever raise
RemoteProtocolError (after h11's fuzzing of its parser)."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.errors import RemoteProtocolError
from sync.messages import MAX_RETRY_AFTER_S, Ack, DocEntry, Error, Hello, Page
from sync.wire import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, decode, encode

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


@settings(max_examples=1500)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_the_remote_error(data):
    try:
        decode(data)
    except RemoteProtocolError:
        pass


@settings(max_examples=500)
@given(messages, st.data())
def test_truncated_and_flipped_frames_raise_only_the_remote_error(msg, data):
    frame = bytearray(encode(msg))
    cut = data.draw(st.integers(0, len(frame)))
    mangled = frame[:cut]
    if mangled and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(mangled) - 1))
        mangled[i] ^= data.draw(st.integers(1, 255))
    try:
        decode(bytes(mangled))
    except RemoteProtocolError:
        pass


@settings(max_examples=300)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                    | st.binary(max_size=10),
                    lambda c: st.lists(c, max_size=6) | st.dictionaries(st.text(max_size=5), c,
                                                                         max_size=4),
                    max_leaves=30))
def test_wrongly_shaped_cbor_raises_only_the_remote_error(value):
    try:
        decode(b"\x01" + cbor2.dumps(value))
    except RemoteProtocolError:
        pass


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
