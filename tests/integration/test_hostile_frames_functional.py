"""Hostile and broken frames against the live relay, over a raw aiohttp WebSocket (#3).

Each case opens a WebSocket to /v1/sync, sends what a broken or hostile peer would, and
reads until the relay ends the session. Every time:

* the session ends clearly: an Error message with the expected code, or a close with
  the expected WebSocket close code;
* the relay's store is unchanged (document count, seq, every document's heads);
* the relay logs the failed session and serves a normal session right afterwards.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import cbor2
import pytest
from aiohttp import WSMsgType
from automerge.core import Document

from store import casedoc
from store.records import CASE, CONTENT, Party
from sync.messages import PROTOCOL_VERSION, Ack, DocEntry, Error, Hello, Message, Page
from sync.wire import FORMAT_PLAIN, FORMAT_ZLIB, MAX_FRAME_BYTES, decode, encode

A = "village:KC/A"
STEP_S = 10.0


def hello(*, version: int = PROTOCOL_VERSION, county: str = "KC", village: str = "A",
          role: str = "director", have_seq: int = 0, have_store: str = "") -> Hello:
    return Hello(version=version, store_id=secrets.token_hex(16),
                 node_id=secrets.token_hex(8), role=role, county=county, village=village,
                 have_seq=have_seq, have_store=have_store)


def saved_case(scope: str = A) -> bytes:
    doc = Document()
    casedoc.new_case(doc, number="A-X-0001", category="neighbour", title="伪造的案件",
                     parties=[Party("applicant", "某人")], village=scope.rsplit("/")[-1],
                     county="KC")
    return doc.save()


def page(*docs: DocEntry, since: int = 0, upto: int = 1) -> Page:
    return Page(since=since, upto=upto, more=False, docs=docs)


@dataclass
class Outcome:
    received: list[Message] = field(default_factory=list)
    close_code: int | None = None
    send_failed: bool = False

    @property
    def error(self) -> Error | None:
        return next((m for m in self.received if isinstance(m, Error)), None)


@dataclass
class Attack:
    """Frames to send before the relay's Hello, and after it (when ``after`` is set the
    attacker first sends ``first``, a Hello, and waits for the relay's Hello)."""

    first: list[bytes | str]
    after: list[bytes] = field(default_factory=list)


async def attack(url: str, plan: Attack) -> Outcome:
    out = Outcome()
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, max_msg_size=MAX_FRAME_BYTES + 1,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=STEP_S)) as ws:
            try:
                for frame in plan.first:
                    if isinstance(frame, str):
                        await ws.send_str(frame)
                    else:
                        await ws.send_bytes(frame)
            except ConnectionError:
                # The relay closed while we were still writing (an oversized frame): read
                # its close frame below, if it reached us.
                out.send_failed = True
            waiting_hello = bool(plan.after)
            while True:
                msg = await ws.receive(timeout=STEP_S)
                if msg.type is not WSMsgType.BINARY:
                    break  # CLOSE / CLOSED / ERROR: the relay ended the link
                got = decode(msg.data)
                out.received.append(got)
                if isinstance(got, Error):
                    break
                if waiting_hello and isinstance(got, Hello):
                    waiting_hello = False
                    for frame in plan.after:
                        await ws.send_bytes(frame)
            await ws.close()
            out.close_code = ws.close_code
    return out


def zlib_frame(msg: Message) -> bytes:
    """A message compressed whatever its size (encode() keeps small ones plain)."""
    body = encode(msg)
    raw = body[1:] if body[0] == FORMAT_PLAIN else zlib.decompress(body[1:])
    return bytes([FORMAT_ZLIB]) + zlib.compress(raw)


def doc(scope: str = A, kind: str = CASE, data: bytes | None = None) -> DocEntry:
    return DocEntry(secrets.token_hex(16), kind, scope, saved_case(scope) if data is None
                    else data)


Check = Callable[[Outcome], None]


def error_code(code: str) -> Check:
    def check(out: Outcome) -> None:
        assert out.error is not None, out
        assert out.error.code == code, out.error

    return check


def closed_with(code: int) -> Check:
    def check(out: Outcome) -> None:
        assert out.error is None, out
        if out.send_failed:
            # The relay closed with ``code`` while we were still writing our frame; the
            # reset that follows can destroy its close frame before we read it.
            assert out.close_code in (code, 1006), out
        else:
            assert out.close_code == code, out

    return check


def hello_then(*after: Message) -> Attack:
    """A valid Hello, then (after the relay's Hello) ``after``."""
    return Attack([encode(hello())], [encode(m) for m in after])


# name -> (the attack, given the id of a case the relay holds; what must happen)
CASES: dict[str, tuple[Callable[[str], Attack], Check]] = {
    "malformed_bytes": (lambda _: Attack([b"\x01\xff\xfe\x00garbage"]),
                        error_code("bad_frame")),
    "unknown_format": (lambda _: Attack([b"\x07" + cbor2.dumps([1])]),
                       error_code("bad_frame")),
    "empty_frame": (lambda _: Attack([b""]), error_code("bad_frame")),
    "not_a_message": (lambda _: Attack([bytes([FORMAT_PLAIN]) + cbor2.dumps({"t": 1})]),
                      error_code("bad_frame")),
    "oversized_frame": (lambda _: Attack([b"\x01" + b"\x00" * MAX_FRAME_BYTES]),
                        closed_with(1009)),
    "truncated_zlib": (lambda _: Attack([zlib_frame(hello())[:-6]]),
                       error_code("bad_frame")),
    "zip_bomb": (lambda _: Attack([bytes([FORMAT_ZLIB]) + zlib.compress(b"\x00" * (20 << 20))]),
                 error_code("frame_too_large")),
    "text_frame": (lambda _: Attack(["hello relay"]), closed_with(1003)),
    "page_before_hello": (lambda _: Attack([encode(page(doc()))]),
                          error_code("out_of_order")),
    "ack_before_hello": (lambda _: Attack([encode(Ack(3))]), error_code("out_of_order")),
    "second_hello": (lambda _: hello_then(hello()), error_code("out_of_order")),
    "page_with_gap": (lambda _: hello_then(page(doc(), since=5, upto=6)),
                      error_code("out_of_order")),
    "ack_of_nothing": (lambda _: hello_then(Ack(999)), error_code("out_of_order")),
    "wrong_version": (lambda _: Attack([encode(hello(version=PROTOCOL_VERSION + 1))]),
                      error_code("version_mismatch")),
    "wrong_county": (lambda _: Attack([encode(hello(county="XC"))]),
                     error_code("wrong_county")),
    "bad_identity": (lambda _: Attack([encode(hello(role="emperor"))]),
                     error_code("bad_hello")),
    "other_village_doc": (lambda _: hello_then(page(doc(), doc("village:KC/B"))),
                          error_code("not_authorized")),
    "county_content_from_a_village": (lambda _: hello_then(page(doc("county:KC", CONTENT))),
                                      error_code("not_authorized")),
    "corrupt_automerge_doc": (
        lambda _: hello_then(page(doc(), doc(data=b"\x85\x6f\x4a\x83not automerge"))),
        error_code("bad_document")),
    "known_doc_claims_other_kind": (
        lambda known: hello_then(page(DocEntry(known, "screening", A, saved_case()))),
        error_code("bad_document")),
    "same_doc_twice": (
        lambda known: hello_then(page(*[DocEntry(known, CASE, A, saved_case())] * 2)),
        error_code("bad_document")),
    "unknown_kind": (lambda _: hello_then(page(doc(kind="spell"))),
                     error_code("bad_document")),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_frames_change_nothing(name: str, relay, make_node, helpers) -> None:
    # The relay holds something to protect: a village's cases and county content.
    a1 = await make_node("a1", village="A")
    known = [await helpers.new_case(a1.store, A, f"已有案件 {i}") for i in range(3)]
    assert (await helpers.sync_relay(a1)).ok
    await helpers.new_content(relay.store, "普法")
    before = (await helpers.store_state(relay.store), await helpers.doc_heads(relay.store))

    build, check = CASES[name]
    outcome = await attack(relay.url, build(known[0]))
    check(outcome)

    after = (await helpers.store_state(relay.store), await helpers.doc_heads(relay.store))
    assert after == before, "a refused session changed the relay's store"
    assert await helpers.eventually(
        lambda: _true(relay.metrics.sessions_active == 0), timeout=STEP_S)
    last = (await relay.store.sync_log(limit=1))[0]
    assert last["ok"] == 0 and last["error_code"], last
    if outcome.error is not None:
        assert last["error_code"] == outcome.error.code
    else:  # closed without an Error message: the relay's log says why
        assert last["error_code"] == "protocol_error"
        assert ("1009" if name == "oversized_frame" else "text frame") in last["error"]

    # The relay keeps serving: a normal session right after.
    new = await helpers.new_case(a1.store, A, "之后的案件")
    res = await helpers.sync_relay(a1)
    assert res.ok, res.error
    assert res.counters.docs_sent == 1
    assert (await helpers.doc_heads(relay.store))[new] == (await helpers.doc_heads(a1.store))[new]


async def _true(value: bool) -> bool:
    return value
