"""Fuzz a live county relay with hostile network input (issue #6).

    python -m bench.fuzz_relay [--inputs 10000] [--seed 1] [--concurrency 8]
                               [--rss-bound-mb 30] [--keep DIR]

The relay runs as a real subprocess (``villagecourt relay --relay-home H serve``, mutual
TLS on 127.0.0.1) with a store holding a few villages' cases. The fuzzer sends it
generated inputs from a seeded ``random.Random``, several at a time:

    frames      on an authenticated WebSocket, before or after a valid Hello: random
                bytes; mutated valid frames of every message type; truncated zlib; huge
                declared CBOR lengths; deep nesting; odd CBOR tags; wrong field types;
                out-of-order messages; pages with documents of other scopes; corrupt or
                hostile Automerge documents; zip bombs; oversized and text frames
    handshake   bad Hello fields and versions; garbage HTTP upgrade requests; plain HTTP
                on /v1/sync; garbage bytes on the TLS port; no client certificate; a
                certificate of another county's CA
    enrolment   malformed and deeply nested JSON, huge bodies, bad keys, bad nonces and
                lookups, bad codes

Import formats: there is no bundle importer under sync/ yet, so none is fuzzed here; the
enrolment file parser (node side, no network) is fuzzed in
tests/harsh/test_fuzz_relay_functional.py.

Afterwards it checks, and exits non-zero if any fails:

* the relay process is alive, answers /healthz, and serves a normal session;
* its store is unchanged: the same documents with the same heads, and the same seq
  (a page the relay acknowledged would be allowed to change it; the count is reported
  and is expected to be zero);
* memory is flat: the relay's RSS at the end is within ``--rss-bound-mb`` of its RSS
  after a warm-up in which every category ran ``--warmup-each`` times, both read from
  /proc with no input in flight. The relay runs with glibc's mmap threshold fixed
  (MEASURED_MALLOC) so that large transient buffers -- a zip bomb inflates 16 MiB, 32 MiB
  for a moment -- are returned when freed: RSS then measures what the relay holds, not
  what the allocator keeps for later. (The highest RSS sampled while inputs were in
  flight, and VmHWM, are reported too.)
* every refusal was a clear error: an Error frame with a code of docs/protocol.md, a
  WebSocket close 1003/1009 (text frame, frame too large: sync/transport_ws.py), an HTTP
  4xx with a message, or a TLS refusal counted by the relay (``tls_refused``);
* /metrics stays small (its series do not grow with what peers send);
* the relay's log holds no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import datetime as dt
import json
import os
import random
import secrets
import sqlite3
import ssl
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import cbor2
from aiohttp import WSMsgType
from automerge.core import ROOT, Document, ObjType, ScalarType
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from bench.harsh_procs import (
    ClientCert,
    RelayProcess,
    free_port,
    init_relay_home,
    make_client_cert,
    unexpected_errors,
)
from relay.config import RelayHome
from store import Store, casedoc, new_key
from store.records import CASE, CONSULTATION, CONTENT, SCREENING, Party
from sync.driver import SessionResult, sync_as_client
from sync.errors import RemoteProtocolError
from sync.messages import PROTOCOL_VERSION, Ack, DocEntry, Error, Hello, Message, Page
from sync.scopes import Identity
from sync.transport_ws import connect_ws
from sync.wire import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, decode, encode

COUNTY = "KC"
SCOPE_A = "village:KC/A"

# Every code a refusal may carry (docs/protocol.md "Errors", sync/auth.py certificates).
KNOWN_CODES = frozenset({
    "bad_frame", "frame_too_large", "out_of_order", "version_mismatch", "bad_hello",
    "wrong_county", "not_authorized", "nothing_shared", "bad_document", "scopes_changed",
    "timeout", "transport_closed", "connect_failed", "no_certificate", "expired",
    "not_yet_valid", "bad_certificate", "revoked",
    # A WebSocket-level refusal (a text frame, a frame over the size limit): the relay
    # closes with 1003/1009 and logs the session with this code (node/i18n.py has it).
    "protocol_error",
})
CLEAR_CLOSE_CODES = {1003: "text_frame", 1009: "frame_too_large"}

# glibc raises its mmap threshold each time it frees a large mmapped block, so after the
# first zip bomb a 16 MiB buffer comes from the heap and may stay there: RSS then swings
# by tens of MB with the order of inputs, whatever the relay holds. A fixed threshold
# (glibc's default starting value) returns every large buffer on free, so the RSS of the
# fuzzed relay measures what it holds. (bench/reconnect_bench.py reports RSS as it comes.)
MEASURED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}

MAX_METRICS_LINES = 300  # /metrics of a relay, whatever peers sent (it has ~100)
REFUSAL_WAIT_S = 15.0  # how long a refusal may take to arrive (under load, on 2 cores)
MAYBE_WAIT_S = 1.0  # how long to wait for a refusal that may not come (input may be valid)
CONNECT_S = 15.0


# --- outcomes ------------------------------------------------------------------------------
@dataclass
class Outcome:
    category: str
    result: str  # error:<code> | close:<code> | http:<status> | tls_refused | accepted | ...
    clear: bool  # a refusal that is clear, or no refusal where none was due
    detail: str = ""
    acked_docs: tuple[str, ...] = ()


@dataclass
class Report:
    inputs: int = 0
    seconds: float = 0.0
    by_category: collections.Counter[str] = field(default_factory=collections.Counter)
    by_result: collections.Counter[str] = field(default_factory=collections.Counter)
    category_s: collections.Counter[str] = field(default_factory=collections.Counter)
    unclear: list[Outcome] = field(default_factory=list)
    acked_docs: set[str] = field(default_factory=set)
    tls_inputs: int = 0
    tls_refused_delta: int = 0
    ws_level_inputs: int = 0
    ws_level_refused_delta: int = 0
    rss_start_kb: int = 0
    rss_warm_kb: int = 0  # at the end of the warm-up
    rss_warm_max_kb: int = 0  # the highest seen during the warm-up (the allocator's high water)
    rss_max_kb: int = 0  # the highest seen after it
    rss_end_kb: int = 0
    hwm_kb: int = 0
    store_before: tuple[int, int] = (0, 0)
    store_after: tuple[int, int] = (0, 0)
    changed_docs: set[str] = field(default_factory=set)
    metrics_lines: int = 0  # /metrics at the end: its series must not grow with inputs
    relay_alive: bool = False
    healthy_after: bool = False
    normal_session_ok: bool = False
    log_errors: list[str] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        """RSS after the run against RSS after the warm-up, both with no input in flight
        (the highs in between are transient buffers of inputs in flight)."""
        return (self.rss_end_kb - self.rss_warm_kb) / 1024

    def problems(self, rss_bound_mb: float) -> list[str]:
        out = []
        if not self.relay_alive:
            out.append("the relay process died")
        if not self.healthy_after:
            out.append("the relay does not answer /healthz")
        if not self.normal_session_ok:
            out.append("a normal session failed after the fuzzing")
        if self.changed_docs - self.acked_docs:
            out.append(f"store changed: {sorted(self.changed_docs - self.acked_docs)[:5]}")
        if not self.acked_docs and self.store_before != self.store_after:
            out.append(f"store (docs, seq) {self.store_before} -> {self.store_after}")
        if self.rss_growth_mb > rss_bound_mb:
            out.append(f"relay RSS grew {self.rss_growth_mb:.1f} MB (> {rss_bound_mb} MB)")
        if self.unclear:
            out.append(f"{len(self.unclear)} unclear refusals, e.g. "
                       + "; ".join(f"{o.category}: {o.result} {o.detail[:120]}"
                                   for o in self.unclear[:5]))
        if self.ws_level_refused_delta < self.ws_level_inputs:
            out.append(f"{self.ws_level_inputs} oversized or text frames, only "
                       f"{self.ws_level_refused_delta} sessions ended with protocol_error")
        if self.metrics_lines > MAX_METRICS_LINES:
            out.append(f"/metrics has {self.metrics_lines} lines: series grow with inputs")
        if self.tls_refused_delta < self.tls_inputs:
            out.append(f"{self.tls_inputs} TLS garbage inputs, only "
                       f"{self.tls_refused_delta} tls_refused")
        if self.log_errors:
            out.append(f"relay log shows {len(self.log_errors)} errors: {self.log_errors[:3]}")
        return out

    def table(self) -> str:
        lines = [f"{'category':<22}{'inputs':>8}{'ms each':>10}"]
        for cat, n in sorted(self.by_category.items()):
            lines.append(f"{cat:<22}{n:>8}{self.category_s[cat] / n * 1000:>10.0f}")
        lines.append(f"{'total':<22}{self.inputs:>8}   in {self.seconds:.1f} s "
                     f"({self.inputs / max(self.seconds, 1e-9):.0f} inputs/s)")
        lines.append("")
        lines.append(f"{'outcome':<34}{'count':>8}")
        for res, n in self.by_result.most_common():
            lines.append(f"{res:<34}{n:>8}")
        lines.append("")
        lines.append(f"relay RSS: start {self.rss_start_kb / 1024:.1f} MB; after the warm-up "
                     f"{self.rss_warm_kb / 1024:.1f} MB; at the end "
                     f"{self.rss_end_kb / 1024:.1f} MB (growth {self.rss_growth_mb:+.1f} MB);"
                     f" highest sampled with inputs in flight {self.rss_warm_max_kb / 1024:.1f}"
                     f" MB (warm-up), {self.rss_max_kb / 1024:.1f} MB (after); VmHWM "
                     f"{self.hwm_kb / 1024:.1f} MB")
        lines.append(f"store (docs, seq): before {self.store_before}, after {self.store_after};"
                     f" pages acknowledged: {len(self.acked_docs)} docs")
        lines.append(f"/metrics at the end: {self.metrics_lines} lines")
        lines.append(f"TLS garbage inputs {self.tls_inputs}, tls_refused counted "
                     f"{self.tls_refused_delta}; oversized/text frames {self.ws_level_inputs},"
                     f" protocol_error sessions {self.ws_level_refused_delta}; unclear "
                     f"refusals {len(self.unclear)}")
        return "\n".join(lines)


# --- documents and frames ------------------------------------------------------------------
def case_doc(village: str, title: str) -> bytes:
    doc = Document()
    casedoc.new_case(doc, number=f"{village}-F-{secrets.randbelow(9999):04d}",
                     category="neighbour", title=title,
                     parties=[Party("applicant", "张三"), Party("respondent", "李四")],
                     village=village, county=COUNTY)
    return bytes(doc.save())


def _doc(fn: Callable[[Any], None]) -> bytes:
    d = Document()
    with d.transaction() as tx:
        fn(tx)
    return bytes(d.save())


def odd_docs() -> list[tuple[str, bytes]]:
    """Valid Automerge documents whose content is not what a record looks like: lists
    where maps belong, numbers where lists belong, odd scalar types. The relay may store
    them (they are the sender's own scope) or refuse them, but must do one of the two
    clearly; ``deep`` (nesting too deep to read back) and ``empty`` must be refused."""
    def followups_list(tx: Any) -> None:
        tx.put(ROOT, "title", ScalarType.Str, "x")
        lst = tx.put_object(ROOT, "followups", ObjType.List)
        tx.insert(lst, 0, ScalarType.Int, 1)

    def parties_int(tx: Any) -> None:
        tx.put(ROOT, "parties", ScalarType.Int, 5)

    def sessions_str(tx: Any) -> None:
        tx.put(ROOT, "sessions", ScalarType.Int, 7)
        tx.put(ROOT, "items", ScalarType.Int, 7)

    def followup_done_map(tx: Any) -> None:
        m = tx.put_object(ROOT, "followups", ObjType.Map)
        tx.put(m, "m3_due", ScalarType.Str, "2020-01-01")
        done = tx.put_object(m, "m3_done", ObjType.Map)
        tx.put(done, "x", ScalarType.Int, 1)

    def deep(tx: Any) -> None:
        o = tx.put_object(ROOT, "x", ObjType.List)
        for _ in range(3000):
            o = tx.insert_object(o, 0, ObjType.List)

    def odd_scalars(tx: Any) -> None:
        tx.put(ROOT, "title", ScalarType.Timestamp, dt.datetime(1, 1, 2))
        m = tx.put_object(ROOT, "followups", ObjType.Map)
        tx.put(m, "m1_due", ScalarType.Str, "2020-01-01")
        tx.put(m, "m1_satisfaction", ScalarType.Uint, 2**64 - 1)
        tx.put(ROOT, "status", ScalarType.Uint, 2**64 - 1)

    def empty(tx: Any) -> None:
        pass

    def bytes_title(tx: Any) -> None:
        tx.put(ROOT, "title", ScalarType.Bytes, b"\x00\xff")
        tx.put(ROOT, "status", ScalarType.F64, 1.5)

    return [(f.__name__, _doc(f)) for f in (followups_list, parties_int, sessions_str,
                                              followup_done_map, deep, odd_scalars, empty,
                                              bytes_title)]


def plain(body: Any) -> bytes:
    return b"\x01" + cbor2.dumps(body)


def zframe(raw_cbor: bytes) -> bytes:
    return b"\x02" + zlib.compress(raw_cbor, 6)


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random mutations of ``data``."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        if not b:
            b = bytearray(rng.randbytes(rng.randint(1, 16)))
        if op == 0:  # flip bits
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # replace bytes
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:  # truncate
            b = b[:rng.randrange(len(b))]
        elif op == 3:  # insert
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 32))
        elif op == 4:  # duplicate a slice
            i = rng.randrange(len(b))
            j = min(len(b), i + rng.randint(1, 64))
            b[j:j] = b[i:j]
        elif op == 5:  # delete a slice
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 16)]
        else:  # interesting values
            i = rng.randrange(len(b))
            b[i] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x1B, 0x5B, 0x7B, 0x9B, 0xBB, 0xF6,
                               0xF7, 0xFF, 0x9F, 0xBF])
    return bytes(b)


def mutate_frame(rng: random.Random, frame: bytes) -> bytes:
    """Mutate the frame bytes, or (for compressed frames, half the time) the CBOR inside
    and compress it again, so that mutations reach the CBOR parser behind zlib."""
    if frame[:1] == b"\x02" and rng.random() < 0.5:
        return zframe(mutate(rng, zlib.decompress(frame[1:])))
    if rng.random() < 0.1:
        return bytes([rng.choice([0, 1, 2, 3, 0xFF])]) + frame[1:]
    return mutate(rng, frame)


def huge_header(major: int, n: int) -> bytes:
    """A CBOR head of major type ``major`` declaring length ``n`` (8-byte form)."""
    return bytes([(major << 5) | 27]) + struct.pack(">Q", n)


def weird_value(rng: random.Random, depth: int = 0) -> Any:
    """A CBOR-encodable value of a random, usually wrong, type."""
    choices: list[Callable[[], Any]] = [
        lambda: None, lambda: True, lambda: -1, lambda: 2**64 - 1, lambda: -(2**64),
        lambda: 2**rng.randint(64, 20000), lambda: -(2**rng.randint(64, 20000)),
        lambda: rng.random() * 1e308, lambda: float("nan"), lambda: float("inf"),
        lambda: "x" * rng.choice([0, 1, 257, 5000]), lambda: "\udcff".encode(
            "utf-8", "surrogatepass").decode("utf-8", "replace"),
        lambda: rng.randbytes(rng.randint(0, 64)), lambda: [], lambda: {},
        lambda: {"a": 1}, lambda: cbor2.CBORTag(rng.choice([0, 1, 2, 3, 4, 5, 30, 35, 36,
                                                            37, 258, 260, 261, 55799,
                                                            9999]), rng.choice(
            [0, "x", b"\x01", [1, 2], [1, 10**6], {"k": 1}, -1])),
        lambda: cbor2.CBORSimpleValue(rng.choice([0, 19, 255])),
        lambda: cbor2.undefined,
    ]
    if depth < 3:
        choices.append(lambda: [weird_value(rng, depth + 1) for _ in range(rng.randint(0, 4))])
    return rng.choice(choices)()


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, default=str).encode()
    except ValueError:  # an int too long for str()
        return json.dumps({k: str(type(v)) for k, v in value.items()}).encode()


# --- the fuzzer ----------------------------------------------------------------------------
@dataclass
class Target:
    relay: RelayProcess
    me: ClientCert  # director of village A
    foreign: ClientCert  # a director enrolled at another county's CA
    relay_store_id: str
    known_a_docs: list[str]  # doc ids of village A cases the relay holds


class Fuzzer:
    def __init__(self, target: Target, rng: random.Random, http: aiohttp.ClientSession) -> None:
        self.t = target
        self.rng = rng
        self.http = http
        self.odd = odd_docs()
        self.valid_case = case_doc("A", "模板案件")
        self.ctx = target.me.context()
        self.foreign_ctx = target.foreign.context()
        self.nocert_ctx = target.relay.verify_context()
        # Shared by every per-input copy (see ``for_input``): inputs that the relay refuses
        # below the sync protocol, checked against its counters at the end.
        self.counts: collections.Counter[str] = collections.Counter()
        self._acked: tuple[str, ...] = ()  # doc ids of pages the relay acknowledged
        # (category = the method that makes one input of it, weight)
        cats: list[tuple[str, float]] = [
            ("random_bytes", 6),
            ("mutated_frame", 22),
            ("truncated_zlib", 4),
            ("huge_length", 4),
            ("deep_nesting", 3),
            ("cbor_tags", 3),
            ("wrong_types", 8),
            ("out_of_order", 6),
            ("other_scopes", 6),
            ("bad_documents", 8),
            ("odd_documents", 1),
            ("zip_bomb", 1),
            ("oversized", 0.4),
            ("text_frame", 1),
            ("bad_hello", 6),
            ("http_garbage", 5),
            ("plain_http_sync", 2),
            ("tls_garbage", 3),
            ("no_client_cert", 1),
            ("foreign_ca", 1),
            ("enrol_json", 5),
            ("enrol_values", 5),
        ]
        self.categories = cats

    def only(self, names: list[str]) -> None:
        """Fuzz only these categories."""
        unknown = set(names) - {c[0] for c in self.categories}
        if unknown:
            raise ValueError(f"unknown categories: {sorted(unknown)}")
        self.categories = [c for c in self.categories if c[0] in names]

    def for_input(self) -> Fuzzer:
        """A copy for one input with its own generator, seeded from ours: what an input
        is depends only on the seed and its position, not on how inputs interleave."""
        one = copy.copy(self)
        one.rng = random.Random(self.rng.randrange(2**63))
        one._acked = ()
        return one

    def pick(self) -> tuple[str, Callable[[], Awaitable[Outcome]]]:
        """The next input: a category drawn by weight, bound to its own copy."""
        names = [c[0] for c in self.categories]
        weights = [c[1] for c in self.categories]
        name = self.rng.choices(names, weights)[0]
        return name, self._bound(name)

    def warmup_plan(self, each: int) -> list[tuple[str, Callable[[], Awaitable[Outcome]]]]:
        """Every category ``each`` times, shuffled: after it, the relay has seen every kind
        of input (and its allocator its largest buffers)."""
        plan = [c[0] for c in self.categories for _ in range(each)]
        self.rng.shuffle(plan)
        return [(name, self._bound(name)) for name in plan]

    def _bound(self, name: str) -> Callable[[], Awaitable[Outcome]]:
        one = self.for_input()
        method: Callable[[], Awaitable[Outcome]] = getattr(one, name)
        return method

    # --- helpers -------------------------------------------------------------------------
    def hello(self, **over: Any) -> Hello:
        me = self.t.me.identity
        fields = dict(version=PROTOCOL_VERSION, store_id=secrets.token_hex(16),
                      node_id=me.node_id, role=me.role, county=me.county, village=me.village,
                      have_seq=0, have_store="")
        fields.update(over)
        return Hello(**fields)  # type: ignore[arg-type]

    def valid_frames(self) -> list[bytes]:
        """One valid frame of every message type (the bases of mutation)."""
        doc_id = secrets.token_hex(16)
        docs = (DocEntry(doc_id, CASE, "village:KC/B", self.valid_case),)
        return [
            encode(self.hello()),
            encode(self.hello(have_seq=3, have_store=self.t.relay_store_id)),
            encode(Page(since=0, upto=1, more=False, docs=docs)),
            encode(Page(since=0, upto=0, more=True, docs=())),
            encode(Page(since=4, upto=9, more=False, docs=docs * 1)),
            encode(Ack(upto=1)),
            encode(Error("bad_frame", "a peer's error")),
        ]

    async def ws_exchange(self, frames: list[bytes | str], *, hello_first: bool,
                          expect_refusal: bool, ctx: ssl.SSLContext | None = None,
                          hello: Hello | None = None, wait_ack: bool = False,
                          ) -> tuple[str, str, list[Message], int]:
        """Connect, optionally exchange Hellos, send ``frames``, and read until the relay
        ends the session or goes quiet. Returns (result, detail, messages, close code)."""
        msgs: list[Message] = []
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        try:
            async with asyncio.timeout(CONNECT_S):
                ws = await self.http.ws_connect(
                    self.t.relay.sync_url, ssl=ctx or self.ctx, timeout=timeout,
                    max_msg_size=MAX_FRAME_BYTES + 1, heartbeat=None, autoclose=True)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            return "connect_failed", repr(exc)[:200], msgs, 0
        sent_pages: list[Page] = []
        result, detail = "", ""
        try:
            if hello_first:
                await ws.send_bytes(encode(hello or self.hello()))
                got = await self._read(ws, msgs, REFUSAL_WAIT_S, until_hello=True)
                if got:
                    return got[0], got[1], msgs, ws.close_code or 0
            for f in frames:
                if isinstance(f, str):
                    await ws.send_str(f)
                else:
                    with contextlib.suppress(RemoteProtocolError):
                        m = decode(f)
                        if isinstance(m, Page):
                            sent_pages.append(m)
                    await ws.send_bytes(f)
            got = await self._read(ws, msgs, REFUSAL_WAIT_S if expect_refusal
                                   else MAYBE_WAIT_S, until_ack=wait_ack)
            if got:
                result, detail = got
            else:
                result = "quiet"
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            result, detail = "send_failed", repr(exc)[:200]
            with contextlib.suppress(Exception):
                got = await self._read(ws, msgs, 5.0)
                if got:
                    result, detail = got
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5.0)
        acked = [m.upto for m in msgs if isinstance(m, Ack)]
        self._acked = tuple(d.doc_id for p in sent_pages if p.upto in acked for d in p.docs)
        return result, detail, msgs, ws.close_code or 0

    async def _read(self, ws: Any, msgs: list[Message], wait: float,
                    until_hello: bool = False, until_ack: bool = False,
                    ) -> tuple[str, str] | None:
        """Read frames; return (result, detail) once the relay refused or closed, None if
        it went quiet for ``wait`` seconds (or sent its Hello, or an Ack, if asked)."""
        if until_ack:
            wait = REFUSAL_WAIT_S
        while True:
            try:
                m = await ws.receive(timeout=wait)
            except asyncio.TimeoutError:
                return None
            if m.type is WSMsgType.BINARY:
                try:
                    msg = decode(m.data)
                except RemoteProtocolError as exc:
                    return "undecodable_reply", str(exc)
                msgs.append(msg)
                if isinstance(msg, Error):
                    return f"error:{msg.code}", msg.message
                if (until_hello and isinstance(msg, Hello)) or (until_ack
                                                                 and isinstance(msg, Ack)):
                    return None
                continue
            if m.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return f"close:{ws.close_code}", str(m.extra or "")
            if m.type is WSMsgType.ERROR:
                return "ws_error", repr(m.data)[:200]
            return f"unexpected_{m.type.name}", ""

    def ws_outcome(self, cat: str, got: tuple[str, str, list[Message], int],
                   expect_refusal: bool | None) -> Outcome:
        result, detail, msgs, close_code = got
        acked = getattr(self, "_acked", ())
        self._acked = ()
        if result.startswith("error:"):
            code = result[6:]
            return Outcome(cat, result, code in KNOWN_CODES, detail, acked)
        if result.startswith("close:"):
            code = close_code or int(result[6:] or 0)
            if code in CLEAR_CLOSE_CODES:
                return Outcome(cat, f"close:{code}", True, detail, acked)
            # Closed with no Error frame: only fine if nothing had to be refused.
            seen = ",".join(type(m).__name__ for m in msgs)
            return Outcome(cat, f"close:{code}", expect_refusal is not True,
                           f"{detail} after [{seen}]", acked)
        if result in ("quiet", "send_failed"):
            return Outcome(cat, "accepted" if result == "quiet" else result,
                           expect_refusal is not True, detail, acked)
        return Outcome(cat, result, False, detail, acked)

    # --- frame categories ----------------------------------------------------------------
    async def random_bytes(self) -> Outcome:
        r = self.rng
        n = r.choice([1, 2, 3, 8, 64, 512, 4096])
        frame = r.randbytes(n)
        if r.random() < 0.5:
            frame = bytes([r.choice([1, 2])]) + frame
        hello_first = r.random() < 0.5
        got = await self.ws_exchange([frame], hello_first=hello_first, expect_refusal=True)
        return self.ws_outcome("random_bytes", got, None)

    async def mutated_frame(self) -> Outcome:
        r = self.rng
        base = r.choice(self.valid_frames())
        frame = mutate_frame(r, base)
        hello_first = r.random() < 0.6
        try:
            msg: Message | None = decode(frame)
        except RemoteProtocolError:
            msg = None
        except Exception as exc:  # noqa: BLE001 — decode must raise nothing else: the fuzzer found a bug
            return Outcome("mutated_frame", f"local_decode_raised:{type(exc).__name__}",
                           False, str(exc)[:200])
        # Still a valid message? Then the relay may accept it; otherwise it must refuse.
        expect = True if msg is None else None
        got = await self.ws_exchange([frame], hello_first=hello_first,
                                     expect_refusal=bool(expect))
        return self.ws_outcome("mutated_frame", got, expect)

    async def truncated_zlib(self) -> Outcome:
        r = self.rng
        docs = tuple(DocEntry(secrets.token_hex(16), CASE, "village:KC/B", self.valid_case)
                     for _ in range(r.randint(1, 5)))
        full = encode(Page(0, 1, False, docs))
        assert full[0] == 2
        frame = full[:r.randint(2, len(full) - 1)]
        got = await self.ws_exchange([frame], hello_first=r.random() < 0.7,
                                     expect_refusal=True)
        return self.ws_outcome("truncated_zlib", got, True)

    async def huge_length(self) -> Outcome:
        r = self.rng
        major = r.choice([2, 3, 4, 5])
        n = r.choice([2**32, 2**40, 2**62, 2**63 + 5, 2**64 - 1, MAX_MESSAGE_BYTES + 1])
        head = huge_header(major, n) + r.randbytes(r.randint(0, 32))
        where = r.randrange(3)
        if where == 0:
            raw = head
        elif where == 1:  # as the docs list of a page
            raw = b"\x85\x02\x00\x01\xf4" + head
        else:  # as the data of one document
            raw = (b"\x85\x02\x00\x01\xf4\x81\x84" + cbor2.dumps(secrets.token_hex(16))
                   + cbor2.dumps(CASE) + cbor2.dumps(SCOPE_A) + head)
        frame = (b"\x01" + raw) if r.random() < 0.5 else zframe(raw)
        got = await self.ws_exchange([frame], hello_first=r.random() < 0.7,
                                     expect_refusal=True)
        return self.ws_outcome("huge_length", got, True)

    async def deep_nesting(self) -> Outcome:
        r = self.rng
        depth = r.choice([200, 1000, 5000, 100_000, 1_000_000])
        opener = r.choice([b"\x81", b"\xa1\x00", b"\xc6", b"\x9f", b"\xd8\x1c"])
        raw = opener * depth + b"\x00"
        if r.random() < 0.5:
            raw = b"\x85\x02\x00\x01\xf4" + raw  # inside a page's docs field
        frame = zframe(raw) if len(raw) > MAX_FRAME_BYTES // 2 or r.random() < 0.5 \
            else b"\x01" + raw
        got = await self.ws_exchange([frame], hello_first=r.random() < 0.7,
                                     expect_refusal=True)
        return self.ws_outcome("deep_nesting", got, True)

    async def cbor_tags(self) -> Outcome:
        r = self.rng
        body = [weird_value(r) for _ in range(r.randint(1, 5))]
        if r.random() < 0.7:
            body[0] = r.choice([1, 2, 3, 4, cbor2.CBORTag(r.randrange(2**16), 2)])
        try:
            frame = plain(body)
        except Exception:  # noqa: BLE001 — a mutated body cbor2 cannot encode: send a minimal frame instead
            frame = b"\x01\xc6\x00"
        try:
            msg: Message | None = decode(frame)
        except RemoteProtocolError:
            msg = None
        except Exception as exc:  # noqa: BLE001 — decode must raise nothing else: the fuzzer found a bug
            return Outcome("cbor_tags", f"local_decode_raised:{type(exc).__name__}", False,
                           str(exc)[:200])
        expect = True if msg is None else None
        got = await self.ws_exchange([frame], hello_first=r.random() < 0.7,
                                     expect_refusal=bool(expect))
        return self.ws_outcome("cbor_tags", got, expect)

    async def wrong_types(self) -> Outcome:
        r = self.rng
        me = self.t.me.identity
        kind = r.randrange(4)
        if kind == 0:
            body: list[Any] = [1, PROTOCOL_VERSION, secrets.token_hex(16), me.node_id, me.role,
                               me.county, me.village, 0, "", ["full-docs"]]
            pre = False
        elif kind == 1:
            body = [2, 0, 1, False, [[secrets.token_hex(16), CASE, SCOPE_A, self.valid_case]]]
            pre = True
        elif kind == 2:
            body = [3, 1]
            pre = True
        else:
            body = [4, "bad_frame", "x"]
            pre = r.random() < 0.5
        i = r.randrange(1, len(body))
        if kind == 1 and r.random() < 0.5:  # inside the document entry
            entry = list(body[4][0])
            entry[r.randrange(4)] = weird_value(r)
            body[4] = [entry]
        else:
            body[i] = weird_value(r)
        if r.random() < 0.2:
            body = body[:r.randrange(len(body))] if r.random() < 0.5 else body + [0]
        try:
            frame = plain(body)
        except Exception:  # noqa: BLE001 — a mutated body cbor2 cannot encode: send a shorter one instead
            frame = plain([body[0]])
        try:
            msg: Message | None = decode(frame)
        except RemoteProtocolError:
            msg = None
        except Exception as exc:  # noqa: BLE001 — decode must raise nothing else: the fuzzer found a bug
            return Outcome("wrong_types", f"local_decode_raised:{type(exc).__name__}", False,
                           str(exc)[:200])
        expect = True if msg is None or isinstance(msg, Ack) or (
            isinstance(msg, Page) and not pre) else None
        got = await self.ws_exchange([frame], hello_first=pre, expect_refusal=bool(expect))
        out = self.ws_outcome("wrong_types", got, expect)
        if not out.clear:
            out.detail += f" sent {msg!r:.200}"
        return out

    async def out_of_order(self) -> Outcome:
        r = self.rng
        docs = (DocEntry(secrets.token_hex(16), CASE, "village:KC/B", self.valid_case),)
        plan = r.randrange(6)
        if plan == 0:  # a page before the Hello
            got = await self.ws_exchange([encode(Page(0, 1, False, docs))], hello_first=False,
                                         expect_refusal=True)
        elif plan == 1:  # a second Hello
            got = await self.ws_exchange([encode(self.hello())], hello_first=True,
                                         expect_refusal=True)
        elif plan == 2:  # an Ack before anything
            got = await self.ws_exchange([encode(Ack(r.randrange(5)))], hello_first=False,
                                         expect_refusal=True)
        elif plan == 3:  # an Ack for no page in flight
            got = await self.ws_exchange([encode(Ack(10**6 + r.randrange(10)))],
                                         hello_first=True, expect_refusal=True)
        elif plan == 4:  # a gap: a page that starts past our checkpoint
            got = await self.ws_exchange([encode(Page(5 + r.randrange(100), 200, False,
                                                      ()))],
                                         hello_first=True, expect_refusal=True)
        else:  # a page after the last page
            last = encode(Page(0, 0, False, ()))
            got = await self.ws_exchange([last, last], hello_first=True,
                                         expect_refusal=True)
        return self.ws_outcome("out_of_order", got, True)

    async def other_scopes(self) -> Outcome:
        r = self.rng
        scope = r.choice(["village:KC/B", "county:KC", "county:KC/judge", "county:ZZ",
                          "village:ZZ/A", "village:KC/*", "village:KC/A/x", "nonsense",
                          "", "village:KC/" + "A" * 40])
        kind = r.choice([CASE, CONTENT, CONSULTATION, "revocation", "warning"])
        data = case_doc(scope.rsplit("/", 1)[-1][:8] or "X", "越权")
        docs = [DocEntry(secrets.token_hex(16), CASE, SCOPE_A, self.valid_case)
                for _ in range(r.randint(0, 2))] if r.random() < 0.3 else []
        docs.append(DocEntry(secrets.token_hex(16), kind, scope, data))
        r.shuffle(docs)
        got = await self.ws_exchange([encode(Page(0, 1, False, tuple(docs)))],
                                     hello_first=True, expect_refusal=True)
        return self.ws_outcome("other_scopes", got, True)

    def corrupt_bytes(self) -> bytes:
        """Bytes that do not load as an Automerge document (checked here first)."""
        for _ in range(50):
            data = mutate(self.rng, self.valid_case) if self.rng.random() < 0.8 \
                else self.rng.randbytes(self.rng.randint(1, 400))
            if not data:
                continue
            try:
                Document.load(data)
            except Exception:  # noqa: BLE001 — bytes Automerge refuses: wanted
                return data
        return b"\x85\x6f\x4a\x83garbage"

    async def bad_documents(self) -> Outcome:
        r = self.rng
        plan = r.randrange(5)
        if plan == 0:  # corrupt Automerge bytes
            entry = DocEntry(secrets.token_hex(16), CASE, SCOPE_A, self.corrupt_bytes())
            detail = "corrupt"
        elif plan == 1:  # a document too deeply nested to read back, or an empty one
            name, data = r.choice([d for d in self.odd if d[0] in ("deep", "empty")])
            entry = DocEntry(secrets.token_hex(16), r.choice([CASE, SCREENING, CONSULTATION]),
                             SCOPE_A, data)
            detail = name
        elif plan == 2 and self.t.known_a_docs:  # a known id claimed as another kind
            entry = DocEntry(r.choice(self.t.known_a_docs), r.choice([SCREENING, CONSULTATION]),
                             SCOPE_A, self.valid_case)
            detail = "kind_changed"
        elif plan == 3:  # an unknown kind
            entry = DocEntry(secrets.token_hex(16), r.choice(["nope", "", "CASE", "x" * 200]),
                             SCOPE_A, self.valid_case)
            detail = "bad_kind"
        else:  # the same document twice in one page
            doc_id = secrets.token_hex(16)
            entries = (DocEntry(doc_id, CASE, SCOPE_A, self.corrupt_bytes()),
                       DocEntry(doc_id, CASE, SCOPE_A, self.corrupt_bytes()))
            got = await self.ws_exchange([encode(Page(0, 1, False, entries))],
                                         hello_first=True, expect_refusal=True)
            out = self.ws_outcome("bad_documents", got, True)
            out.detail = "duplicate " + out.detail
            return out
        # A good document next to the bad one: nothing of the page may be stored.
        docs = [entry]
        if r.random() < 0.5:
            docs.insert(r.randrange(2), DocEntry(secrets.token_hex(16), CASE, SCOPE_A,
                                                 case_doc("A", "好的案件")))
        got = await self.ws_exchange([encode(Page(0, 1, False, tuple(docs)))],
                                     hello_first=True, expect_refusal=True)
        out = self.ws_outcome("bad_documents", got, True)
        out.detail = f"{detail} {out.detail}"
        return out

    async def odd_documents(self) -> Outcome:
        """A valid document of odd shape, alone in a page: stored (acknowledged) or
        refused, either clearly. Stored ones are the only store change allowed."""
        name, data = self.rng.choice([d for d in self.odd if d[0] not in ("deep", "empty")])
        entry = DocEntry(secrets.token_hex(16), self.rng.choice([CASE, SCREENING,
                                                                 CONSULTATION]), SCOPE_A, data)
        got = await self.ws_exchange([encode(Page(0, 1, False, (entry,)))], hello_first=True,
                                     expect_refusal=False, wait_ack=True)
        out = self.ws_outcome("odd_documents", got, None)
        if out.result == "accepted" and entry.doc_id not in out.acked_docs:
            out.clear = False  # neither refused nor acknowledged: the relay went quiet
        out.detail = f"{name} {entry.kind} {out.detail}"
        return out

    async def zip_bomb(self) -> Outcome:
        # A page whose one document is 16 MiB of zeros: ~16 KiB on the wire.
        size = MAX_MESSAGE_BYTES + 64
        raw = (b"\x85\x02\x00\x01\xf4\x81\x84" + cbor2.dumps(secrets.token_hex(16))
               + cbor2.dumps(CASE) + cbor2.dumps(SCOPE_A) + b"\x5a" + struct.pack(">I", size)
               + b"\x00" * size)
        frame = b"\x02" + zlib.compress(raw, 9)
        got = await self.ws_exchange([frame], hello_first=self.rng.random() < 0.7,
                                     expect_refusal=True)
        return self.ws_outcome("zip_bomb", got, True)

    async def oversized(self) -> Outcome:
        frame = b"\x01" + b"\x00" * (MAX_FRAME_BYTES + self.rng.choice([0, 1, 1000]))
        self.counts["ws_level"] += 1
        got = await self.ws_exchange([frame], hello_first=self.rng.random() < 0.5,
                                     expect_refusal=True)
        out = self.ws_outcome("oversized", got, True)
        if out.result in ("close:1006", "send_failed"):
            # The relay closes with 1009 as soon as it reads the frame's length; a client
            # still writing megabytes then sees a reset instead of the close frame. The
            # relay's side of it (a session ended with protocol_error) is checked at the end.
            out.clear = True
        return out

    async def text_frame(self) -> Outcome:
        self.counts["ws_level"] += 1
        got = await self.ws_exchange([self.rng.choice(["hello", "{}", "\x00" * 10, "同步"])],
                                     hello_first=self.rng.random() < 0.5, expect_refusal=True)
        return self.ws_outcome("text_frame", got, True)

    # --- handshake -----------------------------------------------------------------------
    async def bad_hello(self) -> Outcome:
        r = self.rng
        me = self.t.me.identity
        field_, value = r.choice([
            ("version", 0), ("version", PROTOCOL_VERSION + 1), ("version", 2**62),
            ("store_id", ""), ("store_id", self.t.relay_store_id), ("node_id", "someone"),
            ("node_id", ""), ("role", "relay"), ("role", "judge"), ("role", "king"),
            ("county", "ZZ"), ("county", ""), ("village", "B"), ("village", ""),
            ("village", "a b"), ("node_id", me.node_id + "x"),
            ("store_id", "s" * 257), ("capabilities", tuple("c" for _ in range(40))),
        ])
        hello = self.hello(**{field_: value})
        got = await self.ws_exchange([encode(hello)], hello_first=False, expect_refusal=True)
        out = self.ws_outcome("bad_hello", got, True)
        out.detail = f"{field_}={str(value)[:20]} {out.detail}"
        return out

    async def raw_tls(self, payload: bytes, ctx: ssl.SSLContext | None,
                      wait: float = 3.0) -> bytes | None:
        """Send ``payload`` on a fresh connection (TLS with ``ctx``, or plain TCP) and
        return what comes back until the relay closes (None: it said nothing in ``wait``
        seconds, or the connection failed)."""
        writer = None
        try:
            async with asyncio.timeout(CONNECT_S):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.t.relay.port, ssl=ctx,
                    server_hostname="relay" if ctx else None)
            writer.write(payload)
            await writer.drain()
            data = b""
            try:
                async with asyncio.timeout(wait):
                    while b"\r\n\r\n" not in data:  # until a whole response head
                        chunk = await reader.read(65536)
                        if not chunk:
                            return data
                        data += chunk
            except (asyncio.TimeoutError, TimeoutError):
                return data or None
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                async with asyncio.timeout(0.3):  # and the body that follows, if any
                    while chunk := await reader.read(65536):
                        data += chunk
            return data
        except (OSError, ssl.SSLError, ConnectionError):
            return b""
        finally:
            if writer is not None:
                writer.transport.abort()

    def upgrade_request(self) -> bytes:
        key = secrets.token_bytes(16).hex()[:22] + "=="
        return (f"GET /v1/sync HTTP/1.1\r\nHost: 127.0.0.1:{self.t.relay.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()

    async def http_garbage(self) -> Outcome:
        r = self.rng
        plan = r.randrange(6)
        if plan == 0:
            payload = mutate(r, self.upgrade_request())
        elif plan == 1:
            payload = r.randbytes(r.randint(1, 2000))
        elif plan == 2:  # a header line past aiohttp's limit
            payload = self.upgrade_request()[:-2] + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n"
        elif plan == 3:  # bad WebSocket version or key
            payload = self.upgrade_request().replace(
                b"Version: 13", r.choice([b"Version: 8", b"Version: x", b"Version: 99"])
            ).replace(b"==", r.choice([b"==", b"", b"!!"]))
        elif plan == 4:  # many headers
            payload = (b"GET /v1/sync HTTP/1.1\r\n" + b"".join(
                f"X-{i}: {i}\r\n".encode() for i in range(r.choice([50, 200, 5000]))) + b"\r\n")
        else:
            payload = r.choice([b"GET / HTTP/1.1\r\n\r\n", b"\r\n\r\n",
                                b"GET /v1/sync HTTP/9.9\r\n\r\n",
                                b"GET /%%% HTTP/1.1\r\nHost: x\r\n\r\n",
                                b"GET /v1/sync HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                                b"POST /v1/enrol HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"zz\r\n"])
        reply = await self.raw_tls(payload, self.ctx)
        return self.http_reply("http_garbage", payload, reply)

    def http_reply(self, cat: str, payload: bytes, reply: bytes | None) -> Outcome:
        complete = b"\r\n\r\n" in payload.lstrip(b"\r\n")  # (empty lines first are skipped)
        if reply is None:
            # The relay waits for the rest of a request: fine if ours was incomplete.
            return Outcome(cat, "waiting", not complete, payload[:60].hex())
        if not reply:
            return Outcome(cat, "closed", not complete, payload[:80].hex())
        line = reply.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split(" ")
        if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
            status = int(parts[1])
            body = reply.split(b"\r\n\r\n", 1)[-1]
            if 400 <= status < 500:
                return Outcome(cat, f"http:{status}", bool(body.strip()) or status == 405,
                               line)
            return Outcome(cat, f"http:{status}", status < 500, line)
        return Outcome(cat, "garbled_reply", False, reply[:80].hex())

    async def plain_http_sync(self) -> Outcome:
        r = self.rng
        method = r.choice(["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS"])
        ctx = self.ctx if r.random() < 0.7 else self.nocert_ctx
        headers = r.choice([{}, {"Upgrade": "websocket"}, {"Connection": "Upgrade"},
                            {"Upgrade": "websocket", "Connection": "Upgrade",
                             "Sec-WebSocket-Version": "13"}])
        try:
            async with asyncio.timeout(CONNECT_S):
                async with self.http.request(method, self.t.relay.base + "/v1/sync",
                                             ssl=ctx, headers=headers,
                                             data=r.randbytes(r.randint(0, 100))) as resp:
                    body = await resp.text(errors="replace")
                    status = resp.status
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            return Outcome("plain_http_sync", "client_error", False, repr(exc)[:200])
        clear = 400 <= status < 500 and (bool(body.strip()) or method == "HEAD")
        return Outcome("plain_http_sync", f"http:{status}", clear, f"{method} {body[:80]}")

    async def tls_garbage(self) -> Outcome:
        r = self.rng
        plan = r.randrange(4)
        if plan == 0:
            payload = r.randbytes(r.randint(1, 3000))
        elif plan == 1:
            payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        elif plan == 2:  # a TLS record header, then garbage
            payload = b"\x16\x03\x01" + struct.pack(">H", r.randint(0, 2**14)) \
                + r.randbytes(r.randint(0, 600))
        else:  # an SSLv2-style hello, or a truncated one
            payload = bytes([0x80, r.randrange(256), 0x01, 0x03, 0x01]) + r.randbytes(30)
        self.counts["tls"] += 1
        reply = await self.raw_tls(payload, None, wait=2.0)
        # The relay must not answer garbage with anything but a TLS alert (or nothing); the
        # refusal is counted and logged (tls_refused), checked at the end of the run.
        ok = reply is None or not reply.startswith(b"HTTP/")
        return Outcome("tls_garbage", "tls_refused" if ok else "http_over_tls_port", ok)

    async def no_client_cert(self) -> Outcome:
        got = await self.ws_exchange([encode(self.hello())], hello_first=False,
                                     expect_refusal=True, ctx=self.nocert_ctx)
        return self.ws_outcome("no_client_cert", got, True)

    async def foreign_ca(self) -> Outcome:
        self.counts["tls"] += 1
        got = await self.ws_exchange([encode(self.hello())], hello_first=False,
                                     expect_refusal=True, ctx=self.foreign_ctx)
        result = got[0]
        # The handshake must fail (the relay does not know that CA) before any HTTP.
        ok = result == "connect_failed"
        return Outcome("foreign_ca", "tls_refused" if ok else result, ok, got[1])

    # --- enrolment -----------------------------------------------------------------------
    async def post(self, cat: str, path: str, body: bytes, ctype: str = "application/json"
                   ) -> Outcome:
        try:
            async with asyncio.timeout(CONNECT_S):
                async with self.http.post(self.t.relay.base + path, data=body,
                                          ssl=self.nocert_ctx,
                                          headers={"Content-Type": ctype}) as resp:
                    text = await resp.text(errors="replace")
                    status = resp.status
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            # aiohttp may reset a connection whose huge body it refused mid-upload.
            if len(body) > 64 * 1024:
                return Outcome(cat, "reset_on_huge_body", True, repr(exc)[:100])
            return Outcome(cat, "client_error", False, repr(exc)[:200])
        if 400 <= status < 500:
            return Outcome(cat, f"http:{status}", bool(text.strip()), text[:100])
        return Outcome(cat, f"http:{status}", status < 500, text[:100])

    async def enrol_json(self) -> Outcome:
        r = self.rng
        path = r.choice(["/v1/enrol/hello", "/v1/enrol"])
        plan = r.randrange(7)
        if plan == 0:
            body = r.randbytes(r.randint(0, 500))
        elif plan == 1:  # deeply nested JSON
            d = r.choice([100, 1000, 20000, 60000])
            body = (b"[" * d + b"]" * d) if r.random() < 0.5 else (b'{"a":' * d + b"1"
                                                                    + b"}" * d)
        elif plan == 2:
            try:
                body = json.dumps(weird_value(r) if r.random() < 0.5 else [1, 2],
                                  default=str).encode()
            except ValueError:  # an int too long for str(): not JSON we can write
                body = b"1" * 5000
        elif plan == 3:  # a huge body
            body = b'{"lookup": "' + b"A" * r.choice([70_000, 200_000, 2_000_000]) + b'"}'
        elif plan == 4:
            body = mutate(r, json.dumps({"lookup": "ABCD", "nonce": "00" * 32,
                                         "code": "7KQ2MX9PRT4WZH3N",
                                         "public_key": "x"}).encode())
        elif plan == 5:  # invalid UTF-8 and lone surrogates
            body = b'{"lookup": "\xff\xfe", "nonce": "\\ud800"}'
        else:
            body = b'{"lookup": "ABCD", "nonce": ' + b"1" * 5000 + b"}"
        return await self.post("enrol_json", path, body)

    def public_key_pem(self) -> str:
        r = self.rng
        plan = r.randrange(6)
        if plan == 0:
            key = x25519.X25519PrivateKey.generate().public_key()
        elif plan == 1:
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
        elif plan == 2:
            key = ed25519.Ed25519PrivateKey.generate().public_key()
            pem = key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            return mutate(r, pem.encode()).decode(errors="replace")
        elif plan == 3:
            return "-----BEGIN PUBLIC KEY-----\n" + r.randbytes(60).hex() \
                + "\n-----END PUBLIC KEY-----\n"
        elif plan == 4:
            return r.choice(["", "x", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                             "CERTIFICATE-----\n", "\x00" * 10])
        else:
            key = ed25519.Ed25519PrivateKey.generate().public_key()
        return key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    async def enrol_values(self) -> Outcome:
        r = self.rng
        if r.random() < 0.5:
            lookup = r.choice(["", "ABCD", "abcd", "A" * 5, "\u0000\u0000\u0000\u0000",
                               "????", "7KQ2"])
            nonce = r.choice(["", "zz", "00" * 15, "00" * 16, "00" * 65, "0" * 33,
                              r.randbytes(32).hex(), "ＡＢ" * 20])
            body: dict[str, Any] = {"lookup": lookup, "nonce": nonce}
            if r.random() < 0.2:
                body[r.choice(["lookup", "nonce"])] = weird_value(r)
            return await self.post("enrol_values", "/v1/enrol/hello", _json_bytes(body))
        code = r.choice(["", "7KQ2-MX9P-RT4W-ZH3N", "short", "O" * 16, "\u00e9" * 16,
                         secrets.token_hex(8).upper(), "-" * 40])
        body = {"code": code, "public_key": self.public_key_pem()}
        if r.random() < 0.2:
            body[r.choice(["code", "public_key"])] = weird_value(r)
        return await self.post("enrol_values", "/v1/enrol", _json_bytes(body))


# --- setting up and checking ---------------------------------------------------------------
def store_snapshot(db: Path) -> tuple[dict[str, bytes], int]:
    """(doc_id -> heads, seq) of a live store, read with a read-only connection."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        docs = {r[0]: bytes(r[1]) for r in con.execute("SELECT doc_id, heads FROM docs")}
        row = con.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        return docs, int(row[0]) if row else 0
    finally:
        con.close()


async def legit_session(relay: RelayProcess, cert: ClientCert, store: Store,
                        timeout: float = 60.0) -> SessionResult:
    async with asyncio.timeout(timeout):
        transport = await connect_ws(relay.sync_url, ssl=cert.context(), timeout=20.0)
        try:
            return await sync_as_client(transport, store, cert.identity, label="relay",
                                        idle_timeout=30.0)
        finally:
            await transport.close()


async def seed_relay(root: Path, relay: RelayProcess, certs: list[ClientCert],
                     cases: int) -> list[str]:
    """Each cert's village gets ``cases`` cases at the relay; returns village A's ids."""
    a_ids: list[str] = []
    for cert in certs:
        store = await Store.open(root / f"seed-{cert.identity.village}.db", key=new_key())
        try:
            scope = f"village:{COUNTY}/{cert.identity.village}"
            for i in range(cases):
                meta = await store.create(CASE, scope, lambda d, i=i: casedoc.new_case(
                    d, number=f"{cert.identity.village}-S-{i:04d}", category="neighbour",
                    title=f"种子案件{i}", parties=[Party("applicant", "张三")],
                    village=cert.identity.village, county=COUNTY))
                if cert.identity.village == "A":
                    a_ids.append(meta.doc_id)
            result = await legit_session(relay, cert, store)
            if not result.ok:
                raise RuntimeError(f"seeding the relay failed: {result.error}")
        finally:
            await store.close()
    return a_ids


async def run_fuzz(root: Path, *, inputs: int, seed: int, concurrency: int = 8,
                   warmup_each: int = 4, progress: Callable[[int, int], None] | None = None,
                   only: list[str] | None = None) -> Report:
    """Start a relay under ``root``, fuzz it with ``inputs`` inputs, check it. The relay
    process is always stopped before this returns."""
    rng = random.Random(seed)
    report = Report()
    port = free_port()
    home = init_relay_home(root / "relay", port)
    # The dashboard's periodic warning pass writes warnings into the store; off here, so
    # that any change to the store is the fuzzer's doing.
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    relay = RelayProcess(home, port, root / "relay.log", env=MEASURED_MALLOC)
    me = make_client_cert(home, root / "certs-a", Identity(secrets.token_hex(8), "director",
                                                           COUNTY, "A"))
    b_cert = make_client_cert(home, root / "certs-b", Identity(secrets.token_hex(8),
                                                               "director", COUNTY, "B"))
    other = RelayHome(root / "other-county")
    other.init("ZZ", host="127.0.0.1", port=0)
    foreign = make_client_cert(other, root / "certs-foreign",
                               Identity(secrets.token_hex(8), "director", "ZZ", "A"))
    try:
        await relay.start()
        report.rss_start_kb = relay.rss_kb()
        a_ids = await seed_relay(root, relay, [me, b_cert], cases=10)
        store_id = str((await relay.healthz())["store_id"])
        before_docs, before_seq = store_snapshot(home.store_file)
        report.store_before = (len(before_docs), before_seq)
        tls_key = 'villagecourt_refusals_total{reason="tls_handshake"}'
        ws_key = 'villagecourt_sessions_total{outcome="protocol_error"}'
        m0 = await relay.metrics()
        tls_before, ws_before = m0.get(tls_key, 0.0), m0.get(ws_key, 0.0)
        target = Target(relay, me, foreign, store_id, a_ids)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        started = time.monotonic()
        async with aiohttp.ClientSession(connector=connector) as http:
            fuzzer = Fuzzer(target, rng, http)
            if only:
                fuzzer.only(only)
            # Per-input randomness comes from the one seeded generator, drawn in order, so
            # the sequence of inputs is the same for a seed (their timing is not).
            sem = asyncio.Semaphore(concurrency)
            done = 0

            async def one(name: str, fn: Callable[[], Awaitable[Outcome]]) -> None:
                nonlocal done
                async with sem:
                    t0 = time.monotonic()
                    try:
                        out = await fn()
                    except Exception as exc:  # noqa: BLE001 — a fuzzer bug must not pass silently
                        out = Outcome(name, f"fuzzer_raised:{type(exc).__name__}", False,
                                      repr(exc)[:200])
                    report.category_s[name] += time.monotonic() - t0
                rss = relay.rss_kb()
                if report.rss_warm_kb:  # the measured phase
                    report.rss_max_kb = max(report.rss_max_kb, rss)
                else:
                    report.rss_warm_max_kb = max(report.rss_warm_max_kb, rss)
                report.by_category[name] += 1
                report.by_result[f"{out.result}"] += 1
                report.acked_docs.update(out.acked_docs)
                if not out.clear:
                    report.unclear.append(out)
                done += 1
                if progress and done % 500 == 0:
                    progress(done, relay.rss_kb())

            warm = fuzzer.warmup_plan(warmup_each)[:inputs]
            for phase in ("warm-up", "measured"):
                plan = iter(warm) if phase == "warm-up" else (
                    fuzzer.pick() for _ in range(inputs - len(warm)))
                tasks = []
                for name, fn in plan:
                    tasks.append(asyncio.create_task(one(name, fn)))
                    # Keep the number of pending tasks bounded (memory of the fuzzer).
                    if len(tasks) >= concurrency * 4:
                        await asyncio.gather(*tasks)
                        tasks = []
                await asyncio.gather(*tasks)
                if phase == "warm-up":
                    await asyncio.sleep(0.5)
                    report.rss_warm_kb = relay.rss_kb()
            report.tls_inputs = fuzzer.counts["tls"]
            report.ws_level_inputs = fuzzer.counts["ws_level"]
        report.inputs = sum(report.by_category.values())
        report.seconds = time.monotonic() - started
        # Let refusals of connections we dropped be counted, then look.
        deadline = time.monotonic() + 25.0
        while time.monotonic() < deadline:
            m1 = await relay.metrics()
            report.tls_refused_delta = int(m1.get(tls_key, 0.0) - tls_before)
            report.ws_level_refused_delta = int(m1.get(ws_key, 0.0) - ws_before)
            if (report.tls_refused_delta >= report.tls_inputs
                    and report.ws_level_refused_delta >= report.ws_level_inputs):
                break
            await asyncio.sleep(0.5)
        _, text = await relay.get("/metrics")
        report.metrics_lines = len(text.splitlines())
        await asyncio.sleep(0.5)
        report.rss_end_kb = relay.rss_kb()
        report.hwm_kb = relay.hwm_kb()
        report.relay_alive = relay.alive
        after_docs, after_seq = store_snapshot(home.store_file)
        report.store_after = (len(after_docs), after_seq)
        report.changed_docs = {d for d, h in after_docs.items() if before_docs.get(d) != h}
        try:
            await relay.healthz()
            report.healthy_after = True
        except Exception:  # noqa: BLE001 — any failure to answer means the relay is not healthy
            report.healthy_after = False
        store = await Store.open(root / "after-b.db", key=new_key())
        try:
            await store.create(CASE, "village:KC/B", lambda d: casedoc.new_case(
                d, number="B-N-0001", category="neighbour", title="正常同步",
                parties=[Party("applicant", "王五")], village="B", county=COUNTY))
            result = await legit_session(relay, b_cert, store)
            report.normal_session_ok = result.ok and result.counters.docs_sent == 1
        finally:
            await store.close()
    finally:
        await relay.terminate()
        relay.kill_now()
    report.log_errors = unexpected_errors(relay.log)
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--warmup-each", type=int, default=4,
                   help="inputs of every category before memory is measured (counted in "
                        "--inputs)")
    p.add_argument("--rss-bound-mb", type=float, default=30.0)
    p.add_argument("--keep", help="keep the relay home and log in this folder")
    p.add_argument("--only", action="append", metavar="CATEGORY",
                   help="fuzz only this category (repeatable)")
    args = p.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = Path(args.keep)
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-")))
        report = asyncio.run(run_fuzz(
            root, inputs=args.inputs, seed=args.seed, concurrency=args.concurrency,
            warmup_each=args.warmup_each, only=args.only,
            progress=lambda n, rss: print(f"  {n} inputs, relay RSS {rss / 1024:.1f} MB",
                                          file=sys.stderr, flush=True)))
        print(f"fuzzing a live relay (mutual TLS, 127.0.0.1): seed {args.seed}, "
              f"concurrency {args.concurrency}, {os.cpu_count()} cores")
        print(report.table())
        problems = report.problems(args.rss_bound_mb)
        for o in report.unclear[:20]:
            print(f"  unclear: {o.category}: {o.result} {o.detail[:160]}")
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems))
            return 1
        print(f"OK: no crash; store unchanged but for the {len(report.acked_docs)} odd but "
              "valid documents the relay acknowledged; memory flat; every refusal clear")
        return 0


if __name__ == "__main__":
    sys.exit(main())

