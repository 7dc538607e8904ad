"""Legal-education content at the county (issue #8; docs/content.md).

``villagecourt relay content add FILE... --title T --topic TOPIC --kind K [--summary S]``
publishes a content item (a document in county scope) whose ``media`` list names each file
by SHA-256 with its 128 KiB block hashes; the files go into the relay's blob store.
``content list`` and ``content withdraw ID`` (the item leaves every village's list at its
next sync; its media is no longer served).

The relay serves blocks at ``GET /v1/blobs/<sha256>/<n>`` to a peer whose certificate
gives it read access to a published item referencing the blob (sync/media.py).
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web

from store import Store, kinds
from store.amdoc import ROOT, append_map, put
from store.blobs import BlobStore
from store.records import CONTENT, county_scope
from sync.errors import NotAuthorized
from sync.media import MediaIndex
from sync.scopes import permissions

from . import keys
from .config import RelayHome, default_relay_home

BLOBS = web.AppKey("blobs", BlobStore)
INDEX = web.AppKey("media_index", MediaIndex)


def blob_root(home: RelayHome) -> Path:
    return home.path / "blobs"


async def open_blobs(home: RelayHome) -> BlobStore:
    return await BlobStore.open(home.store_file, blob_root(home), floor=0)


async def add_item(store: Store, blobs: BlobStore, county: str, files: list[Path], *,
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


async def list_items(store: Store, *, include_withdrawn: bool = True) -> list[kinds.ContentItem]:
    sql = "SELECT doc_id FROM records WHERE kind = ?"
    if not include_withdrawn:
        sql += " AND status = 'published'"
    rows = await store.query(sql + " ORDER BY created_at DESC", (CONTENT,))
    return [kinds.read_content(r[0], await store.read(r[0])) for r in rows]


async def withdraw(store: Store, doc_id: str) -> None:
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


# --- the command -----------------------------------------------------------------------------
def _relay_home(args: argparse.Namespace) -> RelayHome:
    return RelayHome(Path(args.relay_home).expanduser() if getattr(args, "relay_home", None)
                     else default_relay_home())


def _run(args: argparse.Namespace, fn: Any) -> int:
    home = _relay_home(args)
    cfg = home.load()

    async def main() -> int:
        store = await Store.open(home.store_file, key=home.store_key())
        blobs = await open_blobs(home)
        try:
            return int(await fn(store, blobs, cfg.county))
        finally:
            await blobs.close()
            await store.close()

    return asyncio.run(main())


def cmd_content_add(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            print(f"villagecourt: no such file: {f}")
            return 1

    async def run(store: Store, blobs: BlobStore, county: str) -> int:
        doc_id = await add_item(store, blobs, county, files, title=args.title,
                                topic=args.topic, content_kind=args.kind,
                                summary=args.summary or "", body=args.body or "")
        print(f"published {doc_id}: {args.title} ({len(files)} file(s)); villages receive it "
              "at their next sync, media after the records")
        return 0

    return _run(args, run)


def cmd_content_list(args: argparse.Namespace) -> int:
    async def run(store: Store, blobs: BlobStore, county: str) -> int:
        for item in await list_items(store):
            size = sum(int(m.get("length", 0)) for m in item.media)
            state = "withdrawn" if item.withdrawn else "published"
            print(f"{item.doc_id}  {state:9}  {item.content_kind:12}  {item.topic}  "
                  f"{item.title}  [{len(item.media)} file(s), {size} bytes]")
        return 0

    return _run(args, run)


def cmd_content_withdraw(args: argparse.Namespace) -> int:
    async def run(store: Store, blobs: BlobStore, county: str) -> int:
        await withdraw(store, args.id)
        print(f"withdrawn {args.id}: it leaves every village's list at its next sync")
        return 0

    return _run(args, run)


def add_content_commands(rsub: Any) -> None:
    content = rsub.add_parser("content", help="legal-education content for the villages")
    csub = content.add_subparsers(dest="content_cmd", metavar="ACTION")
    csub.required = True
    s = csub.add_parser("add", help="publish an article, typical case or video")
    s.add_argument("files", nargs="*", metavar="FILE", help="media files (video, audio, pdf)")
    s.add_argument("--title", required=True)
    s.add_argument("--topic", required=True, help="e.g. 婚姻家庭")
    s.add_argument("--kind", required=True, choices=["article", "typical-case", "video"])
    s.add_argument("--summary")
    s.add_argument("--body", help="the article's text")
    s.set_defaults(func=cmd_content_add)
    s = csub.add_parser("list", help="published and withdrawn items")
    s.set_defaults(func=cmd_content_list)
    s = csub.add_parser("withdraw", help="withdraw an item from every village")
    s.add_argument("id")
    s.set_defaults(func=cmd_content_withdraw)
