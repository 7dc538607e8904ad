"""HTTP endpoints of enrolment (see relay/enrol.py for the scheme).

The token store is stdlib SQLite and the CA lives in files: both are used from worker
threads (``asyncio.to_thread``) so that an enrolment never stalls the relay's sync sessions.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

from sync.enrolment import LOOKUP_CHARS, EnrolError, proof

from . import keys
from .ca import cert_pem
from .enrol import enrol, taken_short_ids

log = logging.getLogger("relay.enrol")
MAX_BODY = 16 * 1024


async def _json(request: web.Request) -> dict[str, object]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def enrol_hello(request: web.Request) -> web.Response:
    """Step 1: the CA certificate and a proof made with each open token of that lookup."""
    body = await _json(request)
    lookup, nonce_hex = str(body.get("lookup", "")), str(body.get("nonce", ""))
    try:
        nonce = bytes.fromhex(nonce_hex)
    except ValueError:
        raise web.HTTPBadRequest(text="nonce must be hex") from None
    if len(lookup) != LOOKUP_CHARS or not 16 <= len(nonce) <= 64:
        raise web.HTTPBadRequest(text="lookup or nonce has the wrong size")
    ca = await asyncio.to_thread(request.app[keys.CA].cert)
    der = ca.public_bytes(Encoding.DER)
    digests = await asyncio.to_thread(request.app[keys.TOKENS].digests_for, lookup)
    proofs = [proof(d, nonce, der) for d in digests]
    return web.json_response({"ca_pem": cert_pem(ca).decode(), "proofs": proofs,
                              "county": request.app[keys.CONFIG].county})


async def enrol_node(request: web.Request) -> web.Response:
    """Step 2: a certificate for the node's key, if the token is good."""
    body = await _json(request)
    app = request.app
    cfg = app[keys.CONFIG]
    try:
        village = await asyncio.to_thread(app[keys.TOKENS].village_of,
                                          str(body.get("code", "")))
        taken = (await taken_short_ids(app[keys.STORE], cfg.county, village)
                 if village else set())
        result = await asyncio.to_thread(
            enrol, app[keys.CA], app[keys.TOKENS], cfg.county, str(body.get("code", "")),
            str(body.get("public_key", "")), taken=taken)
    except EnrolError as exc:
        app[keys.METRICS].refusals[f"enrol_{exc.code}"] += 1
        log.warning("event=enrol_refused remote=%s code=%s", request.remote, exc.code)
        return web.json_response({"error": exc.code, "message": str(exc)}, status=403)
    log.info("event=enrolled node=%s village=%s role=%s remote=%s", result["node_id"],
             result["village"], result["role"], request.remote)
    return web.json_response({**result, "relay_url": _sync_url(request)})


def _sync_url(request: web.Request) -> str:
    """Where the new node should sync: the configured public URL, else the address it just
    used to reach us. (``cfg.sync_url`` would turn a 0.0.0.0 listener into 127.0.0.1 --
    the node's own machine -- and miss a port given to ``relay serve --port``.)"""
    cfg = request.app[keys.CONFIG]
    if cfg.public_url:
        return cfg.public_url
    scheme = "wss" if request.app[keys.TLS] else "ws"
    return f"{scheme}://{request.host}/v1/sync"


