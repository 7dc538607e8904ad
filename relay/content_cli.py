"""``villagecourt relay content add|list|withdraw``: legal-education content (relay/content.py).

Chinese by default, ``--lang en`` for English, ``--json`` for scripts. The content module
(and aiohttp with it) is imported when a command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from .messages import lang_of, t


def _run(args: argparse.Namespace, fn: Any) -> int:

    from .config import RelayHome, default_relay_home
    from .content import open_blobs

    home = RelayHome(Path(args.relay_home).expanduser() if getattr(args, "relay_home", None)
                     else default_relay_home())
    cfg = home.load()

    async def main() -> int:
        store = await home.open_store()
        blobs = await open_blobs(home)
        try:
            return int(await fn(store, blobs, cfg.county))
        finally:
            await blobs.close()
            await store.close()

    return asyncio.run(main())


def _emit(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def cmd_content_add(args: argparse.Namespace) -> int:
    from .content import add_item

    lang = lang_of(args)
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            print(f"villagecourt: {t(lang, 'no_file', path=f)}", file=sys.stderr)
            return 1

    async def run(store: Any, blobs: Any, county: str) -> int:
        doc_id = await add_item(store, blobs, county, files, title=args.title,
                                topic=args.topic, content_kind=args.kind,
                                summary=args.summary or "", body=args.body or "")
        if args.json:
            _emit({"doc_id": doc_id, "title": args.title, "files": len(files)})
        else:
            print(t(lang, "published", id=doc_id, title=args.title, n=len(files)))
        return 0

    return _run(args, run)


def cmd_content_list(args: argparse.Namespace) -> int:
    from .content import list_items

    lang = lang_of(args)

    async def run(store: Any, blobs: Any, county: str) -> int:
        items = await list_items(store)
        if args.json:
            _emit([{"doc_id": i.doc_id, "title": i.title, "topic": i.topic,
                    "kind": i.content_kind, "withdrawn": i.withdrawn,
                    "files": len(i.media),
                    "bytes": sum(int(m.get("length", 0)) for m in i.media)} for i in items])
            return 0
        if not items:
            print(t(lang, "no_content"))
        for item in items:
            size = sum(int(m.get("length", 0)) for m in item.media)
            state = t(lang, "content_state_withdrawn" if item.withdrawn
                      else "content_state_published")
            print(t(lang, "content_row", id=item.doc_id, state=state, kind=item.content_kind,
                    topic=item.topic, title=item.title, n=len(item.media), bytes=size))
        return 0

    return _run(args, run)


def cmd_content_withdraw(args: argparse.Namespace) -> int:
    from store import DocNotFound
    from sync.errors import NotAuthorized

    from .content import withdraw

    lang = lang_of(args)

    async def run(store: Any, blobs: Any, county: str) -> int:
        try:
            await withdraw(store, args.id)
        except NotAuthorized:
            print(f"villagecourt: {t(lang, 'not_content', id=args.id)}", file=sys.stderr)
            return 1
        except DocNotFound:
            print(f"villagecourt: {t(lang, 'not_found', ref=args.id)}", file=sys.stderr)
            return 1
        if args.json:
            _emit({"doc_id": args.id, "withdrawn": True})
        else:
            print(t(lang, "withdrawn", id=args.id))
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
