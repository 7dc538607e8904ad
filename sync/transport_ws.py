"""The WebSocket transport: one aiohttp WebSocket, client or server side, as a Transport.

This module owns the I/O adapter between aiohttp's WebSocket API and the Transport protocol
of ``sync/transport.py``. It knows nothing of sync messages: a frame is one WebSocket
*binary* message, and the sans-IO session above decides what the bytes mean.

Rules
1. One frame = one binary message. A text message is a protocol error: the link is closed
   with 1003 (unsupported data) and ``recv`` raises RemoteProtocolError(reason="text_frame").
2. Frames are at most ``max_frame`` bytes on both ends. aiohttp's reader refuses a larger
   incoming message before buffering it; the link closes with 1009 (message too big) and
   ``recv`` raises RemoteProtocolError(reason="frame_too_large"). The sender then sees
   TransportClosed(reason="peer_closed", close_code=1009). ``send`` refuses a frame over
   our own limit with LocalProtocolError and leaves the link open (nothing was sent).
3. Every other way a link ends -- a close frame, a reset, a heartbeat without an answer,
   an idle timeout, ``close()`` on our side -- raises TransportClosed with a short stable
   ``details["reason"]`` (peer_closed, heartbeat_timeout, idle_timeout, closed, reset,
   connect_failed). Once a transport has raised, every later call raises TransportClosed.
4. Both ends set a heartbeat: aiohttp pings after ``heartbeat`` seconds without receiving
   anything and gives the link up when no pong comes back within half of that. The ping
   queues behind whatever we are still sending, so everything in flight must cross the
   link within ``heartbeat / 2``: at 64 kbit/s and the default 20 s, that is ~80 KB. The
   driver keeps pages (and unacknowledged bytes) under that on slow links; a 100 KB frame
   over 256 kbit/s with a 1 s heartbeat ends in heartbeat_timeout (tested).
5. ``bytes_sent``/``bytes_received`` count payload bytes of binary frames, as the memory
   transport does. aiohttp does not expose the bytes on the socket; the wire adds 2-14
   bytes of framing per message (plus TLS records), which is small next to sync pages.
6. One reader at a time (aiohttp forbids concurrent receive); sends are serialized by a
   lock so concurrent senders cannot interleave frames.

Compression: aiohttp can negotiate permessage-deflate (RFC 7692, ``compress=15`` on the
client). It is *off* by default because the sync protocol already zlib-compresses whole
pages of documents (DESIGN.md: ~60 B per doc per page); deflating those bytes again costs
CPU on both ends, and a 32 KiB deflate window per connection on the relay, for nothing.
Pass ``compress=True`` to ``connect_ws`` for a peer that sends uncompressed frames. The
server side accepts the extension whenever a client offers it; the client decides.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from typing import TypeAlias

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from yarl import URL

from .errors import LocalProtocolError, RemoteProtocolError, TransportClosed

log = logging.getLogger(__name__)

# One frame carries one page of the sync protocol. Pages are built to stay well under
# 1 MiB compressed (500 docs at ~60 B); 4 MiB leaves room for a large saved document sent
# whole while bounding what a hostile peer can make us buffer. Same value as aiohttp's
# default max_msg_size.
MAX_FRAME_BYTES = 4 * 1024 * 1024

# Seconds without receiving anything before a ping; a missing pong after half of this ends
# the link (rule 4 says what that asks of frame sizes on slow links). 20 s notices a dead
# LAN peer or relay quickly while costing a few bytes per minute on an idle rural link
# (a ping/pong pair is ~12 bytes).
HEARTBEAT_S = 20.0

# Seconds for TCP connect + TLS handshake + HTTP upgrade. Rural uplinks can take a few
# seconds per round trip under load; 15 s covers three of them with margin.
CONNECT_TIMEOUT_S = 15.0

# Seconds to wait for the peer's close frame after sending ours.
CLOSE_TIMEOUT_S = 5.0

# aiohttp refuses an uncompressed message whose size is >= max_msg_size (reader_py.py,
# "payload_bytes_to_read >= max_msg_size") but a deflated one only when > max_msg_size.
# Passing max_frame + 1 makes our limit inclusive on both paths: a frame of exactly
# max_frame bytes passes, one byte more is refused.
def _aiohttp_limit(max_frame: int) -> int:
    return max_frame + 1


# permessage-deflate window bits (RFC 7692: 8-15); 15 is zlib's default and aiohttp's.
DEFLATE_WINDOW_BITS = 15

_LinkError: TypeAlias = "TransportClosed | RemoteProtocolError"
_WS: TypeAlias = "aiohttp.ClientWebSocketResponse[bool] | web.WebSocketResponse[bool]"


class WsTransport:
    """One WebSocket link as a Transport. Build it with connect_ws or accept_ws."""

    def __init__(self, ws: _WS, *, label: str, max_frame: int = MAX_FRAME_BYTES,
                 idle_timeout: float | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self._ws = ws
        self._label = label
        self._max_frame = max_frame
        self.idle_timeout = idle_timeout
        self._owned_session = session  # closed with the transport when we created it
        self._send_lock = asyncio.Lock()
        self._failure: TransportClosed | None = None
        self.bytes_sent = 0
        self.bytes_received = 0

    # --- Transport protocol -----------------------------------------------------------

    @property
    def peer_label(self) -> str:
        return self._label

    @property
    def websocket(self) -> _WS:
        """The aiohttp WebSocket underneath; a server handler returns it when done."""
        return self._ws

    @property
    def closed(self) -> bool:
        return self._failure is not None or self._ws.closed

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the link has ended (1000 normal, 1009 too big...)."""
        return self._ws.close_code

    @property
    def compressed(self) -> bool:
        """True when permessage-deflate was negotiated for this link."""
        return bool(self._ws.compress)

    def peer_certificate(self) -> bytes | None:
        """The peer's TLS certificate (DER) when the link is TLS and the peer sent one.

        On the server this is the client certificate of a mutual-TLS link; ``sync.auth``
        turns it into an identity. The chain itself was already verified by the SSLContext.
        """
        ssl_object = self._ws.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return der if der else None

    async def send(self, frame: bytes) -> None:
        if self._failure is not None:
            raise self._failure
        if len(frame) > self._max_frame:
            # Rule 2: refusing here keeps the link usable; the peer would end it with 1009.
            raise LocalProtocolError(
                f"frame of {len(frame)} bytes is over the {self._max_frame}-byte limit",
                size=len(frame), limit=self._max_frame)
        if self._ws.closed:
            raise self._fail(self._closed_error())
        async with self._send_lock:
            try:
                await self._ws.send_bytes(bytes(frame))
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                # A reset or a closing socket under us: aiohttp raises
                # ClientConnectionResetError (a ConnectionResetError) or RuntimeError.
                raise self._fail(TransportClosed(
                    f"link to {self._label} broke while sending: {exc}", reason="reset")
                ) from exc
        self.bytes_sent += len(frame)

    async def recv(self, *, timeout: float | None = None) -> bytes:
        """The next binary frame. ``timeout`` (default ``idle_timeout``) bounds the wait in
        seconds; when it passes the link is closed and TransportClosed(reason="idle_timeout")
        is raised, because a peer that says nothing for that long is treated as gone."""
        if self._failure is not None:
            raise self._failure
        limit = self.idle_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                msg = await self._ws.receive()
        except TimeoutError:
            await self._close_quietly(WSCloseCode.GOING_AWAY, b"idle timeout")
            raise self._fail(TransportClosed(
                f"no frame from {self._label} for {limit} s", reason="idle_timeout",
                timeout=limit)) from None

        if msg.type is WSMsgType.BINARY:
            data: bytes = msg.data
            if len(data) > self._max_frame:
                # Only reachable through permessage-deflate, where aiohttp lets a message
                # of exactly max_msg_size (= max_frame + 1) through.
                await self._close_quietly(WSCloseCode.MESSAGE_TOO_BIG, b"frame too large")
                raise self._fail(self._too_large(f"{len(data)} bytes"))
            self.bytes_received += len(data)
            return data
        if msg.type is WSMsgType.TEXT:
            await self._close_quietly(WSCloseCode.UNSUPPORTED_DATA, b"binary frames only")
            raise self._fail(RemoteProtocolError(
                f"{self._label} sent a text frame; villagecourt sync uses binary frames only",
                reason="text_frame"))
        if msg.type is WSMsgType.ERROR:
            raise self._fail(self._error_from(msg.data))
        # CLOSE, CLOSING, CLOSED: aiohttp has answered (or will answer) the close frame.
        if msg.type is WSMsgType.CLOSING:
            await self._close_quietly(WSCloseCode.OK, b"")
        raise self._fail(self._closed_error())

    async def close(self) -> None:
        """Close the link normally (1000). Idempotent; never raises.

        A WebSocket close is a handshake: this waits (at most CLOSE_TIMEOUT_S) for the peer
        to read our close frame and answer it. Frames sent before are delivered first. A
        ``recv`` pending in another task ends with TransportClosed(reason="closed").
        """
        if self._failure is None:
            self._failure = TransportClosed("transport is closed", reason="closed")
        await self._close_quietly(WSCloseCode.OK, b"")
        if self._owned_session is not None:
            session, self._owned_session = self._owned_session, None
            await session.close()

    # --- helpers ----------------------------------------------------------------------

    def _fail(self, error: _LinkError) -> _LinkError:
        """Remember why the link ended; later calls raise TransportClosed with that reason.
        Returns the error to raise now (a RemoteProtocolError is raised once, as is); when
        the link had already ended (say, close() from another task), the first reason wins."""
        if self._failure is not None:
            return self._failure
        if isinstance(error, TransportClosed):
            self._failure = error
        else:
            self._failure = TransportClosed(
                f"link to {self._label} ended: {error}", reason=error.details["reason"])
        return error

    def _closed_error(self) -> _LinkError:
        exc = self._ws.exception()
        if exc is not None:
            return self._error_from(exc)
        code = self._ws.close_code
        if code == WSCloseCode.OK or code is None:
            text = f"{self._label} closed the link"
        elif code == WSCloseCode.MESSAGE_TOO_BIG:
            text = f"{self._label} closed the link: our frame was over its size limit (1009)"
        else:
            text = f"{self._label} closed the link with code {code}"
        return TransportClosed(text, reason="peer_closed", close_code=code)

    def _error_from(self, exc: BaseException) -> _LinkError:
        if isinstance(exc, aiohttp.WebSocketError):
            if exc.code == WSCloseCode.MESSAGE_TOO_BIG:
                return self._too_large(str(exc))
            return RemoteProtocolError(
                f"{self._label} broke the WebSocket protocol: {exc}", reason="bad_frame",
                close_code=exc.code)
        if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
            # aiohttp's heartbeat: a ping went unanswered (client ServerTimeoutError,
            # server asyncio.TimeoutError).
            return TransportClosed(f"{self._label} stopped answering heartbeats: {exc}",
                                   reason="heartbeat_timeout")
        return TransportClosed(f"link to {self._label} broke: {exc!r}", reason="reset")

    def _too_large(self, what: str) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"{self._label} sent a frame over the {self._max_frame}-byte limit; "
            f"link closed with 1009 ({what})", reason="frame_too_large", limit=self._max_frame)

    async def _close_quietly(self, code: int, message: bytes) -> None:
        if self._ws.closed:
            return
        try:
            await self._ws.close(code=code, message=message)
        except (ConnectionError, aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
            log.debug("closing the link to %s: %r", self._label, exc)


async def connect_ws(url: str, *, ssl: ssl_module.SSLContext | None = None,
                     max_frame: int = MAX_FRAME_BYTES, heartbeat: float | None = HEARTBEAT_S,
                     timeout: float = CONNECT_TIMEOUT_S, compress: bool = False,
                     idle_timeout: float | None = None,
                     session: aiohttp.ClientSession | None = None) -> WsTransport:
    """Open a WebSocket to ``url`` (ws:// or wss://) and return it as a Transport.

    ``ssl`` is the client context for wss:// (the county CA pinned, our node certificate
    loaded for mutual TLS); None means the system defaults. ``timeout`` bounds TCP connect,
    TLS handshake and upgrade together; ``heartbeat`` is in seconds (None turns it off,
    leaving dead-peer detection to ``idle_timeout``). A session passed in is left open on
    close; without one, a session is created and closed with the transport. Every failure
    to connect raises TransportClosed(reason="connect_failed").
    """
    target = URL(url)
    label = str(target.origin()) if target.absolute else url
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    try:
        async with asyncio.timeout(timeout):
            ws = await client.ws_connect(
                target,
                ssl=ssl if ssl is not None else True,
                heartbeat=heartbeat,
                max_msg_size=_aiohttp_limit(max_frame),
                compress=DEFLATE_WINDOW_BITS if compress else 0,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                autoclose=True,
                autoping=True,
            )
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        if own:
            await client.close()
        if isinstance(exc, TimeoutError):
            text = f"could not reach {label} within {timeout} s"
        else:
            text = f"could not connect to {label}: {exc}"
        raise TransportClosed(text, reason="connect_failed") from exc
    except BaseException:
        if own:
            await client.close()
        raise
    return WsTransport(ws, label=label, max_frame=max_frame, idle_timeout=idle_timeout,
                       session=client if own else None)


async def accept_ws(request: web.Request, *, max_frame: int = MAX_FRAME_BYTES,
                    heartbeat: float | None = HEARTBEAT_S, compress: bool = True,
                    idle_timeout: float | None = None) -> WsTransport:
    """Answer a WebSocket upgrade in an aiohttp handler and return it as a Transport.

    The handler owns the returned transport: it must ``close()`` it and return
    ``transport.websocket`` (the relay keeps open transports in a WeakSet and closes them
    with GOING_AWAY on shutdown).
    ``compress=True`` only *accepts* permessage-deflate when a client offers it.
    """
    ws = web.WebSocketResponse(
        heartbeat=heartbeat,
        max_msg_size=_aiohttp_limit(max_frame),
        compress=compress,
        timeout=CLOSE_TIMEOUT_S,
        autoclose=True,
        autoping=True,
    )
    try:
        await ws.prepare(request)
    except ValueError:
        # aiohttp fails on some malformed upgrades with ValueError instead of its 400 (a
        # 500 then): an Upgrade header that is not UTF-8 (UnicodeEncodeError when quoting
        # it), a Sec-WebSocket-Key that is not ASCII (base64 refuses it).
        raise web.HTTPBadRequest(text="malformed WebSocket upgrade request") from None
    except ConnectionError:
        # The link was cut between the peer's upgrade request and our answer (a village
        # uplink dropping): nobody is left to answer. Ending the request as an HTTP error
        # keeps it out of the error log (aiohttp drops the answer to a gone peer quietly).
        log.info("the peer hung up during the WebSocket upgrade")
        raise web.HTTPBadRequest(text="connection lost during the WebSocket upgrade") from None
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        label = f"{peer[0]}:{peer[1]}"
    else:
        label = request.remote or "unknown peer"
    return WsTransport(ws, label=label, max_frame=max_frame, idle_timeout=idle_timeout)
