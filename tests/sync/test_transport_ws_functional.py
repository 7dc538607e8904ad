"""The WebSocket transport against a real aiohttp server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSCloseCode, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.errors import LocalProtocolError, RemoteProtocolError, SyncError, TransportClosed
from sync.linksim import LinkSim
from sync.transport import Transport
from sync.transport_ws import WsTransport, accept_ws, connect_ws

SMALL_LIMIT = 256 * 1024  # the server's frame limit in these tests, bytes
STEP_TIMEOUT = 5.0  # seconds any single await in a test may take


@dataclass
class Server:
    url: str  # ws://127.0.0.1:PORT or wss://...
    errors: list[SyncError] = field(default_factory=list)  # what server handlers raised
    served: int = 0  # echo connections that ended
    accepted: list[WsTransport] = field(default_factory=list)


def build_app(server: Server, *, heartbeat: float = 20.0) -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        t = await accept_ws(request, max_frame=SMALL_LIMIT, heartbeat=heartbeat)
        server.accepted.append(t)
        try:
            while True:
                await t.send(await t.recv())
        except SyncError as exc:
            server.errors.append(exc)
        finally:
            server.served += 1
            await t.close()
        return t.websocket  # type: ignore[return-value]

    async def close_now(request: web.Request) -> web.WebSocketResponse:
        t = await accept_ws(request)
        await t.send(b"bye")
        await t.close()
        return t.websocket  # type: ignore[return-value]

    async def text(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hello")
        await ws.receive(timeout=STEP_TIMEOUT)
        return ws

    async def silent(request: web.Request) -> web.WebSocketResponse:
        # Never reads, so never answers a ping: a peer that hangs.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await asyncio.sleep(STEP_TIMEOUT)
        return ws

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/close", close_now)
    app.router.add_get("/text", text)
    app.router.add_get("/silent", silent)
    return app


ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    runners: list[web.AppRunner] = []

    async def start(*, ssl_context: ssl.SSLContext | None = None,
                    heartbeat: float = 20.0) -> Server:
        server = Server(url="")
        runner = web.AppRunner(build_app(server, heartbeat=heartbeat), shutdown_timeout=0.5)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        server.url = f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{port}"
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


async def wait_until(predicate: Callable[[], bool], timeout: float = STEP_TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# --- frames -------------------------------------------------------------------------------

async def test_echo_and_counters(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo")
    try:
        assert isinstance(t, Transport)
        assert t.peer_label == server.url
        assert not t.compressed  # off by default: the protocol compresses pages itself
        frames = [b"", b"x", bytes(range(256)) * 40, b"\x00" * 70_000]
        for frame in frames:
            await t.send(frame)
        got = [await asyncio.wait_for(t.recv(), STEP_TIMEOUT) for _ in frames]
        assert got == frames
        total = sum(map(len, frames))
        assert (t.bytes_sent, t.bytes_received) == (total, total)
    finally:
        await t.close()
    await wait_until(lambda: server.served == 1)
    echo_side = server.accepted[0]
    assert (echo_side.bytes_sent, echo_side.bytes_received) == (total, total)
    assert ":" in echo_side.peer_label


async def test_bidirectional_concurrent_frames(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo")
    frames = [i.to_bytes(4, "big") * (i % 50 + 1) for i in range(300)]

    async def sender() -> None:
        for frame in frames:
            await t.send(frame)

    async def receiver() -> list[bytes]:
        return [await t.recv() for _ in frames]

    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            _, got = await asyncio.gather(sender(), receiver())
        assert got == frames
    finally:
        await t.close()


async def test_compression_is_negotiated_when_asked(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo", compress=True)
    try:
        assert t.compressed
        frame = b"village:KC/BY " * 5000
        await t.send(frame)
        assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == frame
        assert t.bytes_sent == len(frame)  # payload bytes, not compressed bytes
    finally:
        await t.close()


# --- size limit ---------------------------------------------------------------------------

async def test_frame_at_the_limit_passes(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo", max_frame=SMALL_LIMIT)
    try:
        frame = bytes(SMALL_LIMIT)
        await t.send(frame)
        assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == frame
    finally:
        await t.close()


@pytest.mark.parametrize("size", [SMALL_LIMIT, SMALL_LIMIT + 1])
async def test_limit_is_exact_with_compression(start_server: ServerFactory, size: int) -> None:
    server = await start_server()
    # Zeros deflate to a few hundred bytes: only the decompressed size can be checked.
    t = await connect_ws(server.url + "/echo", max_frame=4 * SMALL_LIMIT, compress=True)
    try:
        await t.send(bytes(size))
        if size <= SMALL_LIMIT:
            assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == bytes(size)
        else:
            with pytest.raises(TransportClosed) as closed:
                await asyncio.wait_for(t.recv(), STEP_TIMEOUT)
            assert closed.value.details["close_code"] == WSCloseCode.MESSAGE_TOO_BIG
    finally:
        await t.close()
    if size > SMALL_LIMIT:
        await wait_until(lambda: server.served == 1)
        assert [e.details["reason"] for e in server.errors] == ["frame_too_large"]


async def test_send_over_own_limit_is_refused_locally(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo", max_frame=1000)
    try:
        with pytest.raises(LocalProtocolError, match="over the 1000-byte limit"):
            await t.send(bytes(1001))
        await t.send(b"still open")  # nothing was sent, the link is intact
        assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == b"still open"
    finally:
        await t.close()


async def test_oversized_frame_ends_link_and_server_keeps_serving(
        start_server: ServerFactory) -> None:
    server = await start_server()
    # A peer with a bigger limit than the server's sends one frame over the server's limit.
    big = await connect_ws(server.url + "/echo", max_frame=4 * SMALL_LIMIT)
    try:
        await big.send(bytes(SMALL_LIMIT + 1))
        with pytest.raises(TransportClosed) as closed:
            await asyncio.wait_for(big.recv(), STEP_TIMEOUT)
        assert closed.value.details["close_code"] == WSCloseCode.MESSAGE_TOO_BIG
        assert "size limit" in str(closed.value)
        with pytest.raises(TransportClosed):
            await big.send(b"after")
    finally:
        await big.close()

    await wait_until(lambda: server.served == 1)
    [error] = server.errors
    assert isinstance(error, RemoteProtocolError)
    assert error.details["reason"] == "frame_too_large"
    assert f"over the {SMALL_LIMIT}-byte limit" in str(error)

    # The server still serves everyone else.
    other = await connect_ws(server.url + "/echo")
    try:
        await other.send(b"ok")
        assert await asyncio.wait_for(other.recv(), STEP_TIMEOUT) == b"ok"
    finally:
        await other.close()


# --- text frames, closes, timeouts --------------------------------------------------------

async def test_text_frame_from_client_is_refused(start_server: ServerFactory) -> None:
    server = await start_server()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url + "/echo") as ws:
            await ws.send_str("not binary")
            msg = await ws.receive(timeout=STEP_TIMEOUT)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.data == WSCloseCode.UNSUPPORTED_DATA
    await wait_until(lambda: server.served == 1)
    [error] = server.errors
    assert isinstance(error, RemoteProtocolError)
    assert error.details["reason"] == "text_frame"


async def test_text_frame_from_server_is_refused(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/text")
    try:
        with pytest.raises(RemoteProtocolError, match="text frame"):
            await asyncio.wait_for(t.recv(), STEP_TIMEOUT)
        with pytest.raises(TransportClosed) as later:
            await t.recv()
        assert later.value.details["reason"] == "text_frame"
    finally:
        await t.close()


async def test_peer_close_ends_recv_after_pending_frames(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/close")
    try:
        assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == b"bye"
        with pytest.raises(TransportClosed) as closed:
            await asyncio.wait_for(t.recv(), STEP_TIMEOUT)
        assert closed.value.details == {"reason": "peer_closed", "close_code": WSCloseCode.OK}
        with pytest.raises(TransportClosed):
            await t.send(b"too late")
    finally:
        await t.close()
        await t.close()  # idempotent


async def test_client_heartbeat_detects_a_hung_server(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/silent", heartbeat=0.2)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TransportClosed) as closed:
            await asyncio.wait_for(t.recv(), STEP_TIMEOUT)
        assert closed.value.details["reason"] == "heartbeat_timeout"
        assert loop.time() - started < 2.0  # ping after 0.2 s, given up 0.1 s later
    finally:
        await t.close()


async def test_server_heartbeat_detects_a_hung_client(start_server: ServerFactory) -> None:
    server = await start_server(heartbeat=0.2)
    async with aiohttp.ClientSession() as session:
        # autoping off and never reading: this client never answers the server's pings.
        async with session.ws_connect(server.url + "/echo", autoping=False):
            await wait_until(lambda: server.served == 1)
    [error] = server.errors
    assert isinstance(error, TransportClosed)
    assert error.details["reason"] == "heartbeat_timeout"


async def test_heartbeat_needs_frames_that_cross_within_the_pong_window(
        start_server: ServerFactory) -> None:
    # A known limit, kept as a test so that a change in aiohttp shows up here: the ping
    # waits behind our own frame, so a frame that takes longer than heartbeat / 2 to cross
    # the link ends it. 100 kB at 256 kbit/s takes ~3 s; the pong window is 0.5 s.
    server = await start_server()
    port = int(server.url.rsplit(":", 1)[1])
    async with LinkSim("127.0.0.1", port, bandwidth_bps=256_000) as sim:
        host, sim_port = await sim.start()
        t = await connect_ws(f"ws://{host}:{sim_port}/echo", heartbeat=1.0,
                             max_frame=SMALL_LIMIT)
        try:
            await t.send(bytes(100_000))
            with pytest.raises(TransportClosed) as closed:
                await asyncio.wait_for(t.recv(), STEP_TIMEOUT)
            assert closed.value.details["reason"] == "heartbeat_timeout"
        finally:
            await t.close()


async def test_idle_timeout(start_server: ServerFactory) -> None:
    server = await start_server()
    t = await connect_ws(server.url + "/echo", idle_timeout=0.2)
    try:
        await t.send(b"ping")
        assert await t.recv() == b"ping"  # traffic within the timeout is fine
        with pytest.raises(TransportClosed, match="no frame") as closed:
            await t.recv()
        assert closed.value.details["reason"] == "idle_timeout"
        with pytest.raises(TransportClosed):
            await t.send(b"after")
    finally:
        await t.close()
    await wait_until(lambda: server.served == 1)


async def test_connect_failure_is_transport_closed() -> None:
    # A port nobody listens on: bind one, learn its number, close it.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(TransportClosed) as failed:
        await connect_ws(f"ws://127.0.0.1:{port}/echo", timeout=STEP_TIMEOUT)
    assert failed.value.details["reason"] == "connect_failed"


# --- TLS ----------------------------------------------------------------------------------

@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(tmp: Path, stem: str, subject: str, issuer_key: ec.EllipticCurvePrivateKey | None,
           issuer: x509.Name | None, *, ca: bool,
           san: list[x509.GeneralName] | None = None) -> tuple[Path, Path,
                                                                ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer or _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        assert issuer_key is not None
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    cert_path, key_path = tmp / f"{stem}.pem", tmp / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, key


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca_cert, _, ca_key = _issue(tmp_path, "ca", "Test County CA", None, None, ca=True)
    ca_name = _name("Test County CA")
    server_cert, server_key, _ = _issue(
        tmp_path, "server", "relay", ca_key, ca_name, ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    client_cert, client_key, _ = _issue(tmp_path, "client", "node-7q", ca_key, ca_name,
                                        ca=False)
    return Pki(ca_cert, server_cert, server_key, client_cert, client_key)


def _der(pem: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(
        serialization.Encoding.DER)


async def test_mutual_tls(start_server: ServerFactory, pki: Pki) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server = await start_server(ssl_context=server_ctx)

    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    client_ctx.load_cert_chain(pki.client_cert, pki.client_key)
    t = await connect_ws(server.url + "/echo", ssl=client_ctx)
    try:
        assert server.url.startswith("wss://")
        await t.send(b"sealed")
        assert await asyncio.wait_for(t.recv(), STEP_TIMEOUT) == b"sealed"
        assert t.peer_certificate() == _der(pki.server_cert)
        assert server.accepted[0].peer_certificate() == _der(pki.client_cert)
    finally:
        await t.close()


async def test_tls_refuses_an_untrusted_server(start_server: ServerFactory, pki: Pki) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    server = await start_server(ssl_context=server_ctx)
    with pytest.raises(TransportClosed, match="could not connect") as failed:
        await connect_ws(server.url + "/echo", ssl=ssl.create_default_context(),
                         timeout=STEP_TIMEOUT)
    assert failed.value.details["reason"] == "connect_failed"
