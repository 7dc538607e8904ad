"""Legal-education content at the county (issue #8; docs/content.md).

``villagecourt relay content add FILE... --title T --topic TOPIC --kind K [--summary S]``
publishes a content item (a document in county scope) whose ``media`` list names each file
by SHA-256 with its 128 KiB block hashes; the files go into the relay's blob store.
``content list`` and ``content withdraw ID`` (the item leaves every village's list at its
next sync; its media is no longer served). The commands are relay/content_cli.py (which
imports this module, and aiohttp with it, only when one of them runs).

The relay serves blocks at ``GET /v1/blobs/<sha256>/<n>`` to a peer whose certificate
gives it read access to a published item referencing the blob (sync/media.py).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web

from store import DocumentStore, kinds
from store.amdoc import ROOT, append_map, put
from store.blobs import BlobStore
from store.records import CONTENT, county_scope
from sync.errors import NotAuthorized
from sync.media import MediaIndex
from sync.scopes import permissions

from . import keys
from .config import RelayHome

BLOBS = web.AppKey("blobs", BlobStore)
INDEX = web.AppKey("media_index", MediaIndex)


def blob_root(home: RelayHome) -> Path:
    return home.path / "blobs"


async def open_blobs(home: RelayHome) -> BlobStore:
    return await BlobStore.open(home.blob_index_file, blob_root(home), floor=0)


async def add_item(store: DocumentStore, blobs: BlobStore, county: str, files: list[Path], *,
                   title: str, topic: str, content_kind: str, summary: str = "",
                   body: str = "", by: str = "county") -> str:
    """Publish one item; returns its id. Files are hashed and copied in first, so an
    item never names a blob the relay does not hold."""
    media: list[dict[str, Any]] = []
    for f in files:
        info = await blobs.add_file(f)
        media.append({"sha256": info.sha256, "length": info.length,
                      "block_size": info.block_size, "blocks": info.blocks,
                      "name": f.name, "mime": mimetypes.guess_type(f.name)[0] or ""})

    def write(doc: Any) -> None:
        kinds.new_content(doc, title=title, topic=topic, content_kind=content_kind,
                          summary=summary, body=body, by=by)
        with doc.transaction() as tx:
            for m in media:
                append_map(tx, ROOT, "media", m)

    meta = await store.create(CONTENT, county_scope(county), write)
    return meta.doc_id


async def list_items(store: DocumentStore, *, include_withdrawn: bool = True
                     ) -> list[kinds.ContentItem]:
    rows = await store.views.content(published_only=not include_withdrawn)
    return [kinds.read_content(r[0], await store.read(r[0])) for r in rows]


async def withdraw(store: DocumentStore, doc_id: str) -> None:
    meta = await store.meta(doc_id)
    if meta.kind != CONTENT:
        raise NotAuthorized(f"{doc_id} is not a content item", code="not_content")

    def write(doc: Any) -> None:
        with doc.transaction() as tx:
            put(tx, ROOT, "withdrawn", True)

    await store.edit(doc_id, write)


# --- serving blocks ------------------------------------------------------------------------
async def blob_block(request: web.Request) -> web.StreamResponse:
    from .ws import authenticate

    app = request.app
    try:
        peer = await authenticate(request)
    except NotAuthorized as exc:
        return web.json_response({"error": exc.code, "message": str(exc)}, status=403)
    sha = request.match_info["sha"]
    try:
        n = int(request.match_info["n"])
    except ValueError:
        return web.json_response({"error": "bad_request"}, status=400)
    if peer is None:  # --insecure development mode: no identity, nothing is served
        return web.json_response({"error": "not_authorized"}, status=403)
    if not await app[INDEX].may_fetch(permissions(peer).readable, sha):
        # Knowing the hash is not enough: no published item in the peer's scope names it.
        return web.json_response({"error": "not_authorized",
                                  "message": "no content item you may read uses this file"},
                                 status=403)
    data = await app[BLOBS].read_block(sha, n)
    if data is None:
        return web.json_response({"error": "not_found"}, status=404)
    rng = request.headers.get("Range", "")
    if rng.startswith("bytes=") and rng.endswith("-") and rng[6:-1].isdigit():
        start = int(rng[6:-1])  # the rest of a block cut mid-way (sync/media.py)
        if 0 < start < len(data):
            return web.Response(body=data[start:], status=206,
                                content_type="application/octet-stream",
                                headers={"Content-Range":
                                         f"bytes {start}-{len(data) - 1}/{len(data)}"})
    return web.Response(body=data, content_type="application/octet-stream")


def setup_content(app: web.Application, home: RelayHome) -> None:
    """Blob store and the block route (one line in relay/app.py create_app)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[BLOBS] = await open_blobs(home)
        app[INDEX] = MediaIndex(app[keys.STORE])
        yield
        await app[BLOBS].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_get("/v1/blobs/{sha}/{n}", blob_block)
