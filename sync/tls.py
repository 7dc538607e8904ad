"""Mutual TLS for sync: contexts pinned to the county CA, and a listener that says why
it refused a handshake.

Rules
1. TLS 1.3 only; the only trust anchor is the county CA (pinned from provisioning), never
   the system store. Host names are not checked: peers are found by LAN address, and who a
   peer is comes from its certificate's identity (sync/auth.py), checked after the
   handshake against the role we expect.
2. The server asks for a client certificate but lets a client without one finish the
   handshake (CERT_OPTIONAL), so that such a client is refused *by us* with a clear
   reason ("no_certificate") rather than by a bare TLS alert. A certificate that is
   presented must verify against the CA (OpenSSL ends the handshake otherwise).
3. ``serve_tls`` runs the handshake itself (``loop.start_tls``) before handing the
   connection to aiohttp, so a failed handshake — another county's certificate, an expired
   one — is logged with OpenSSL's reason and counted, instead of vanishing into asyncio's
   debug log.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any, Callable

from aiohttp.http_exceptions import HttpProcessingError

from .errors import forget_tracebacks

log = logging.getLogger("sync.tls")

HANDSHAKE_TIMEOUT_S = 20.0  # a slow 2G link needs a few round trips for TLS 1.3


def server_context(cert_file: Path, key_file: Path, ca_file: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(cafile=str(ca_file))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def client_context(ca_file: Path, cert_file: Path | None = None,
                   key_file: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # rule 1: identity is checked from the certificate instead
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(ca_file))
    if cert_file is not None and key_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


def peer_der(get_extra_info: Callable[[str], Any]) -> bytes | None:
    """The DER certificate the other side presented, from a transport's extra info."""
    ssl_object = get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return bytes(der) if der else None


class _Handshake(asyncio.Protocol):
    """Owns a fresh TCP connection until TLS is up, then hands it to ``make_protocol``."""

    def __init__(self, make_protocol: Callable[[], asyncio.Protocol], ctx: ssl.SSLContext,
                 on_refused: Callable[[str, str], None], tasks: set[asyncio.Task[None]]) -> None:
        self._make = make_protocol
        self._ctx = ctx
        self._on_refused = on_refused
        self._tasks = tasks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the ClientHello must reach start_tls, not us
        task = asyncio.ensure_future(self._upgrade(transport))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _upgrade(self, raw: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        peer = raw.get_extra_info("peername")
        who = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unknown"
        protocol = self._make()
        try:
            tls = await asyncio.wait_for(
                loop.start_tls(raw, protocol, self._ctx, server_side=True),
                HANDSHAKE_TIMEOUT_S)
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError, OSError) as exc:
            reason = _reason(exc)
            log.warning("event=tls_refused remote=%s reason=%s", who, reason)
            self._on_refused(who, reason)
            raw.close()
            forget_tracebacks(exc)
            return
        if tls is None or tls.is_closing():
            # The peer hung up as soon as the handshake was done (a link cut at that
            # moment, a port check): nothing to serve. Handing aiohttp a transport that is
            # already gone made its request handler fail an assertion, logged at ERROR.
            raw.close()
            return
        protocol.connection_made(tls)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "handshake timed out"
    if isinstance(exc, ConnectionResetError):
        # What a client that does not trust our certificate does: it hangs up.
        return "the peer hung up during the handshake (does it trust this county's CA?)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return str(exc) or type(exc).__name__


class _BadRequestLine(logging.Filter):
    """aiohttp answers a malformed HTTP request (a line too long, a bad header...) with 400
    and then logs it at ERROR with a traceback, as if it were our bug. On a listener that
    faces the open network every scanner would fill the log with those: make each one a
    single line, like tls_refused (rule 3)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= int(exc.code or 0) < 500:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "event=bad_http_request remote=%s status=%s reason=%r"
            record.args = (remote, exc.code, str(exc.message).splitlines()[0][:200]
                           if exc.message else type(exc).__name__)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_BAD_REQUEST_LINE = _BadRequestLine()


async def serve_tls(make_protocol: Callable[[], asyncio.Protocol], host: str, port: int,
                    ctx: ssl.SSLContext, *,
                    on_refused: Callable[[str, str], None] | None = None) -> asyncio.Server:
    """Listen on host:port; every connection is TLS-handshaken (rule 3), then served by a
    protocol from ``make_protocol`` (for aiohttp: ``runner.server``)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    refused = on_refused or (lambda who, why: None)
    logging.getLogger("aiohttp.server").addFilter(_BAD_REQUEST_LINE)  # idempotent
    return await loop.create_server(lambda: _Handshake(make_protocol, ctx, refused, tasks),
                                    host, port)
