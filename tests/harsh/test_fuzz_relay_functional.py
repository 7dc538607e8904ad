"""Fuzzing everything that parses network or file input (issue #6), and the regression
tests of what the fuzzing found.

* ``test_live_relay_survives_fuzzing``: bench/fuzz_relay.py against a live relay process
  (mutual TLS on 127.0.0.1) with 400 generated inputs (every category at least four
  times): no crash, store unchanged (but for documents it acknowledged), memory flat,
  every refusal clear, no traceback in its log.
  ``python -m bench.fuzz_relay --inputs 10000`` runs the soak.
* Hypothesis, in process: frames (``sync.wire.decode``), documents a peer sends
  (``Store.merge``), the offline enrolment file (``sync.enrolment.open_enrol_file``; there
  is no bundle importer yet, so that is the one import format).
* One regression test per bug found, each against the real code path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import logging
import secrets
import ssl
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import cbor2
import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_relay import odd_docs, run_fuzz
from bench.harsh_procs import make_client_cert
from relay.app import start
from relay.config import RelayHome
from store import CorruptDoc, Incoming, Store, StoreError, new_key
from store.records import CASE, CONSULTATION, CONTENT, SCREENING, VILLAGE, WARNING
from sync.driver import sync_as_server
from sync.enrolment import EnrolError, open_enrol_file, seal_enrol_file
from sync.errors import RemoteProtocolError
from sync.messages import Error, Hello
from sync.protocol import Send, SyncSession
from sync.scopes import Identity
from sync.transport import memory_pair
from sync.wire import MAX_MESSAGE_BYTES, decode, encode

RSS_BOUND_MB = 30.0
SCOPE = "village:KC/A"


async def _until(done: Any, timeout: float = 10.0) -> None:
    """Poll ``done()`` until it is true, for at most ``timeout`` seconds (then the caller's
    assertion says what was missing). Instead of a fixed sleep: the relay's side of a
    connection finishes on its own schedule, later on a loaded machine."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while True:
                ok = done()
                if asyncio.iscoroutine(ok):
                    ok = await ok
                if ok:
                    return
                await asyncio.sleep(0.05)


# --- the live relay ----------------------------------------------------------------------
async def test_live_relay_survives_fuzzing(tmp_path: Path) -> None:
    report = await run_fuzz(tmp_path, inputs=400, seed=20260601, concurrency=8)
    print(report.table())
    assert report.inputs == 400
    assert len(report.by_category) >= 20, report.by_category  # every kind of input ran
    assert not report.problems(RSS_BOUND_MB), report.problems(RSS_BOUND_MB)


# --- frames --------------------------------------------------------------------------------
cbor_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True)
    | st.integers() | st.integers(15_000, 30_000).map(lambda e: 2**e)  # > 4,300 digits
    | st.integers(15_000, 30_000).map(lambda e: -(2**e))
    | st.text(max_size=30) | st.binary(max_size=30)
    | st.builds(lambda n: "x" * n, st.sampled_from([300, 5000, 100_000])),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(cbor_values, min_size=1, max_size=11), st.booleans())
def test_decode_raises_only_the_remote_error_with_a_short_message(body: list[Any],
                                                                  compressed: bool) -> None:
    raw = cbor2.dumps(body)
    frame = (b"\x02" + zlib.compress(raw)) if compressed else (b"\x01" + raw)
    try:
        decode(frame)
    except RemoteProtocolError as exc:
        assert len(str(exc)) < 300  # never a peer's megabytes echoed into logs
        assert exc.code in ("bad_frame", "frame_too_large")


@pytest.mark.parametrize("first", [2**20000, -(2**20000), "x" * 1_000_000, [[[[1]]]] * 1000],
                         ids=["huge_int", "huge_negative_int", "huge_string", "long_list"])
def test_a_huge_message_type_is_a_bad_frame(first: Any) -> None:
    # Found by the fuzzer: the error message quoted repr() of the type field, and Python
    # refuses repr() of an int over 4,300 digits (ValueError escaped decode, and the
    # relay's session handler died with a traceback instead of answering bad_frame).
    with pytest.raises(RemoteProtocolError) as caught:
        decode(b"\x01" + cbor2.dumps([first, 1]))
    assert caught.value.code == "bad_frame" and len(str(caught.value)) < 100


@pytest.mark.parametrize("field,value", [("county", ""), ("county", "K C"),
                                         ("village", ""), ("village", "a b"),
                                         ("county", "x" * 40)])
def test_a_hello_with_a_malformed_county_or_village_is_bad_hello(field: str,
                                                                   value: str) -> None:
    # Found by the fuzzer: Identity() refused the code with store's ValidationError, which
    # the Hello check did not catch: the relay's handler died instead of answering.
    me = Identity("relay-1", "relay", "KC")
    session = SyncSession(False, me, "relay-store")
    hello = Hello(version=1, store_id="peer-store", node_id="n1", role="director",
                  county="KC", village="A")
    actions = session.receive(Hello(**{**hello.__dict__, field: value}))
    errors = [a.msg for a in actions if isinstance(a, Send) and isinstance(a.msg, Error)]
    assert [e.code for e in errors] == ["bad_hello"]


# --- documents a peer sends ----------------------------------------------------------------
def _build(spec: Any, tx: Any, obj: bytes, key: str | int, insert: bool) -> None:
    """Write a hypothesis-drawn value into an Automerge document."""
    if isinstance(spec, dict):
        new = (tx.insert_object(obj, key, ObjType.Map) if insert
               else tx.put_object(obj, key, ObjType.Map))
        for k, v in spec.items():
            _build(v, tx, new, k, False)
        return
    if isinstance(spec, list):
        new = (tx.insert_object(obj, key, ObjType.List) if insert
               else tx.put_object(obj, key, ObjType.List))
        for i, v in enumerate(spec):
            _build(v, tx, new, i, True)
        return
    kind, value = spec
    (tx.insert if insert else tx.put)(obj, key, kind, value)


scalars = st.one_of(
    st.tuples(st.just(ScalarType.Str), st.text(max_size=12)),
    st.tuples(st.just(ScalarType.Int), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just(ScalarType.Uint), st.integers(0, 2**64 - 1)),
    st.tuples(st.just(ScalarType.F64), st.floats(allow_nan=False)),
    st.tuples(st.just(ScalarType.Boolean), st.booleans()),
    st.tuples(st.just(ScalarType.Bytes), st.binary(max_size=8)),
    st.tuples(st.just(ScalarType.Null), st.none()),
)
fields = st.sampled_from(["title", "number", "status", "parties", "sessions", "followups",
                          "items", "m1_due", "m1_done", "m1_satisfaction", "name", "answer",
                          "question", "place", "date", "x"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(fields, inner, max_size=4), max_leaves=12)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(fields, values, max_size=6),
       st.sampled_from([CASE, SCREENING, CONSULTATION, CONTENT, WARNING, VILLAGE]))
async def test_any_document_is_stored_or_refused_with_a_store_error(tmp_path: Path,
                                                                    root: dict[str, Any],
                                                                    kind: str) -> None:
    # Found by the fuzzer: a case whose followups was a list, or whose parties was a
    # number, raised AttributeError/TypeError out of the projection, through the sync
    # driver, and killed the relay's session handler without an answer.
    doc = Document()
    with doc.transaction() as tx:
        for k, v in root.items():
            _build(v, tx, ROOT, k, False)
    data = bytes(doc.save())
    store = await Store.open(tmp_path / f"{secrets.token_hex(4)}.db", key=new_key())
    try:
        before = await store.current_seq()
        try:
            await store.merge([Incoming(secrets.token_hex(16), kind, SCOPE, data)],
                              origin="peer")
        except StoreError:
            assert await store.current_seq() == before  # refused whole
    finally:
        await store.close()


async def test_odd_documents_are_stored_and_unreadable_ones_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db", key=new_key())
    try:
        deep = dict(odd_docs())["deep"]
        with pytest.raises(CorruptDoc):
            await store.merge([Incoming(secrets.token_hex(16), CASE, SCOPE, deep)],
                              origin="peer")
        assert await store.current_seq() == 0
        for name, data in odd_docs():
            if name in ("deep", "empty"):
                continue
            for kind in (CASE, SCREENING, CONSULTATION):
                await store.merge([Incoming(secrets.token_hex(16), kind, SCOPE, data)],
                                  origin="peer")  # odd, but readable: stored
    finally:
        await store.close()


async def test_a_refused_session_does_not_keep_the_peers_frame_alive(tmp_path: Path) -> None:
    # Found by the fuzzer: a 16 KiB zip bomb (a page inflating past 16 MiB) made the relay
    # hold 16 MiB per session until a full garbage collection -- the error's traceback held
    # the session's frames in a reference cycle. RSS reached 1.1 GB in seconds.
    store = await Store.open(tmp_path / "relay.db", key=new_key())
    me = Identity("relay-1", "relay", "KC")
    size = MAX_MESSAGE_BYTES + 64
    bomb = b"\x02" + zlib.compress(b"\x85\x02\x00\x01\xf4\x81\x84" + cbor2.dumps("d" * 32)
                                   + cbor2.dumps(CASE) + cbor2.dumps(SCOPE) + b"\x5a"
                                   + size.to_bytes(4, "big") + b"\x00" * size, 9)
    hello = encode(Hello(version=1, store_id="peer", node_id="n1", role="director",
                         county="KC", village="A"))
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(3):
            client, server = memory_pair()
            await client.send(hello)
            await client.send(bomb)
            result = await sync_as_server(server, store, me, idle_timeout=5)
            assert result.error is not None and result.error.code == "frame_too_large"
            del result, client, server
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
        await store.close()
    assert current < 8 * 1024 * 1024, f"{current / 2**20:.1f} MiB still held"


# --- the offline enrolment file ------------------------------------------------------------
@pytest.fixture(scope="module")
def enrol_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    path = tmp_path_factory.mktemp("enrol") / "a.enrol"
    code = seal_enrol_file(path, {"node_id": "n1", "key_pem": "k"}, {"county": "KC"})
    return path.read_bytes(), code


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_enrolment_file_is_refused_with_an_enrol_error(
        tmp_path: Path, enrol_file: tuple[bytes, str], data: st.DataObject) -> None:
    good, code = enrol_file
    outer = json.loads(good)
    plan = data.draw(st.sampled_from(["bytes", "field", "json", "deep"]))
    if plan == "bytes":  # flip, cut or splice the file's bytes
        b = bytearray(good)
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.integers(0, 255))
        raw = bytes(b[:data.draw(st.integers(0, len(b)))])
    elif plan == "field":  # one field of another type or value
        key = data.draw(st.sampled_from(sorted(outer)))
        outer[key] = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=20),
                                         st.lists(st.integers(), max_size=3),
                                         st.just(base64.b64encode(b"\x00" * 3).decode())))
        raw = json.dumps(outer).encode()
    elif plan == "json":  # valid JSON of the wrong shape
        raw = json.dumps(data.draw(st.one_of(st.lists(st.integers()), st.text(),
                                             st.dictionaries(st.text(), st.text())))).encode()
    else:  # nested past Python's recursion limit (found: RecursionError escaped)
        depth = data.draw(st.sampled_from([2000, 50_000]))
        raw = b"[" * depth + b"]" * depth
    path = tmp_path / f"{secrets.token_hex(4)}.enrol"
    path.write_bytes(raw)
    try:
        open_enrol_file(path, code)
    except EnrolError as exc:
        assert exc.code in ("bad_enrol_file", "wrong_enrol_code")


# --- the relay's HTTP side -----------------------------------------------------------------
@pytest.fixture
async def relay(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = RelayHome(tmp_path / "relay")
    home.init("KC", host="127.0.0.1", port=0)
    (home.path / "dashboard.json").write_text(json.dumps({"warning_interval_s": 0}))
    running = await start(home, "127.0.0.1", 0, tls=True)
    running.home = home  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        await running.stop()


def _ctx(relay: Any, tmp_path: Path, *, cert: bool = True) -> ssl.SSLContext:
    home: RelayHome = relay.home
    if not cert:
        from sync.tls import client_context

        return client_context(home.ca.ca_cert_file)
    return make_client_cert(home, tmp_path / "c", Identity(secrets.token_hex(8), "director",
                                                           "KC", "A")).context()


async def _raw(port: int, ctx: ssl.SSLContext | None, payload: bytes,
               wait: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="relay" if ctx else None)
    try:
        writer.write(payload)
        await writer.drain()
        data = b""
        try:
            async with asyncio.timeout(wait):
                while b"\r\n\r\n" not in data:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    data += chunk
        except TimeoutError:
            pass
        return data
    finally:
        writer.transport.abort()


async def test_deeply_nested_enrolment_json_is_a_400(relay: Any, tmp_path: Path) -> None:
    # Found by the fuzzer: json.loads raised RecursionError, which became a 500 and a
    # traceback in the log.
    async with aiohttp.ClientSession() as http:
        # (under the endpoint's 16 KiB body limit, past Python's recursion limit)
        for body in (b"[" * 8000 + b"]" * 8000, b'{"a":' * 2500 + b"1" + b"}" * 2500):
            async with http.post(f"https://127.0.0.1:{relay.port}/v1/enrol/hello",
                                 data=body, ssl=_ctx(relay, tmp_path, cert=False),
                                 headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 400
                assert "JSON" in await resp.text()


@pytest.mark.parametrize("upgrade,key", [
    (b"websock\xff\xfe", b"dGhlIHNhbXBsZSBub25jZQ=="),  # Upgrade not UTF-8
    (b"\xc3\x28", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"websocket", b"dGhlIHNhbXBsZ\xbbub25jZQ=="),  # Sec-WebSocket-Key not ASCII
], ids=["upgrade_latin", "upgrade_bad_utf8", "key_not_ascii"])
async def test_a_malformed_upgrade_header_is_a_400(relay: Any, tmp_path: Path,
                                                   upgrade: bytes, key: bytes) -> None:
    # Found by the fuzzer: aiohttp failed with ValueError instead of its 400 -- quoting a
    # non-UTF-8 Upgrade header in its message, or base64-decoding a non-ASCII key -- and
    # the relay answered 500 with a traceback.
    request = (b"GET /v1/sync HTTP/1.1\r\nHost: x\r\nUpgrade: " + upgrade
               + b"\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
    reply = await _raw(relay.port, _ctx(relay, tmp_path), request)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]


async def test_malformed_http_is_one_log_line_not_a_traceback(
        relay: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Found by the fuzzer: aiohttp answers 400 and logs "Error handling request" with a
    # traceback at ERROR for every malformed request: every scanner on the open network
    # would fill the relay's log. Now one WARNING line: event=bad_http_request.
    caplog.set_level(logging.INFO)
    ctx = _ctx(relay, tmp_path)
    for payload in (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
                    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        reply = await _raw(relay.port, ctx, payload)
        assert reply[:12] in (b"HTTP/1.1 400", b"HTTP/1.0 400"), reply[:80]

    def server_records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "aiohttp.server"]

    await _until(lambda: len(server_records()) >= 2)
    await asyncio.sleep(0.1)  # and no third line after them
    server_records = server_records()
    assert len(server_records) == 2
    for r in server_records:
        assert r.levelno == logging.WARNING and r.exc_info is None
        assert "event=bad_http_request" in r.getMessage()


async def test_hanging_up_during_the_upgrade_is_not_an_error(
        relay: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Found by the chaos test: a link cut between a node's upgrade request and the relay's
    # answer made aiohttp raise ConnectionResetError out of the sync handler (a traceback
    # at ERROR for an everyday event on a village uplink).
    ctx = _ctx(relay, tmp_path)
    request = (b"GET /v1/sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", relay.port, ssl=ctx,
                                                  server_hostname="relay")
        writer.write(request)
        writer.transport.abort()  # gone before the answer
    await asyncio.sleep(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_garbage_on_the_tls_port_leaves_nothing_for_the_garbage_collector(
        relay: Any) -> None:
    # Found by the fuzzer: each refused handshake left asyncio's TLS machinery (buffers of
    # hundreds of KiB) in a reference cycle with the error; the relay grew ~70 KB per
    # connection of garbage until a full collection, which rarely comes.
    def ssl_protocols() -> int:
        return sum(1 for o in gc.get_objects() if type(o).__name__ == "SSLProtocol")

    gc.collect()
    gc.disable()
    try:
        before = ssl_protocols()
        for i in range(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            # \x00 first: never a TLS record type (20-23), which would make the
            # relay wait for the rest of a record until its handshake timeout.
            writer.write(b"\x00" + secrets.token_bytes(199) if i % 2
                         else b"GET / HTTP/1.1\r\n\r\n")
            await writer.drain()
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(5):
                    await reader.read()  # the relay hangs up
            writer.transport.abort()
        await _until(lambda: ssl_protocols() - before < 5, timeout=5.0)
        assert ssl_protocols() - before < 5
    finally:
        gc.enable()


async def test_a_peers_error_code_adds_no_metric_series_and_no_log_lines(
        relay: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Found by the 10,000-input soak (RSS crept up): the relay used the code of a peer's
    # Error frame as a /metrics label -- one new series per code, without bound, and
    # unescaped, so a code with a newline added lines of the peer's own to /metrics
    # (and to the log).
    caplog.set_level(logging.INFO)
    me = Identity(secrets.token_hex(8), "director", "KC", "A")
    cert = make_client_cert(relay.home, tmp_path / "peer", me)
    codes = ['x"} 1\nvillagecourt_forged 999\n#', "bad\nline"] + [
        secrets.token_hex(6) for _ in range(30)]
    async with aiohttp.ClientSession() as http:
        for code in codes:
            async with http.ws_connect(f"wss://127.0.0.1:{relay.port}/v1/sync",
                                       ssl=cert.context()) as ws:
                await ws.send_bytes(encode(Hello(1, secrets.token_hex(16), me.node_id,
                                                 "director", "KC", "A")))
                await ws.send_bytes(encode(Error(code, "bye\nevent=enrolled node=forged")))
                with contextlib.suppress(asyncio.TimeoutError):
                    while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.BINARY:
                        pass
        metrics = ""

        async def all_counted() -> bool:  # the relay counts a session when it has ended it
            nonlocal metrics
            async with http.get(f"https://127.0.0.1:{relay.port}/metrics",
                                ssl=_ctx(relay, tmp_path, cert=False)) as resp:
                metrics = await resp.text()
            return 'villagecourt_sessions_total{outcome="peer_error"} 32' in metrics

        await _until(all_counted)
    sessions = [ln for ln in metrics.splitlines() if ln.startswith("villagecourt_sessions_total")]
    assert sessions == ['villagecourt_sessions_total{outcome="peer_error"} 32'], sessions
    assert "forged" not in metrics
    for r in caplog.records:
        assert "\n" not in r.getMessage(), r.getMessage()


@pytest.mark.parametrize("store_id", ["", "a\nb", "x" * 65, "a b", "中文"])
def test_a_hello_whose_store_id_is_not_an_id_is_bad_hello(store_id: str) -> None:
    # (Same soak: the store id of a Hello went into log lines as it came.)
    session = SyncSession(False, Identity("relay-1", "relay", "KC"), "relay-store")
    actions = session.receive(Hello(version=1, store_id=store_id, node_id="n1",
                                    role="director", county="KC", village="A"))
    errors = [a.msg for a in actions if isinstance(a, Send) and isinstance(a.msg, Error)]
    assert [e.code for e in errors] == ["bad_hello"]
