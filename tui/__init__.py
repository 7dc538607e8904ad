"""tui: the directors' terminal UI (Textual).

``run_tui(home)`` opens the node at ``home`` and runs the app until the director quits;
``make_app(node, lang)`` builds the app on an open node (for tests and embedding).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node import Node

    from .app import VillageCourtApp

__all__ = ["make_app", "run_tui"]


def make_app(node: "Node", lang: str | None = None, **kwargs: Any) -> "VillageCourtApp":
    """See ``tui.app.make_app`` (imported lazily: ``import tui`` stays cheap for the CLI)."""
    from .app import make_app as _make_app

    return _make_app(node, lang, **kwargs)


async def run_tui_async(home: Path, lang: str | None = None) -> int:
    """Open the node on this loop (the one the app runs on), run the app, close the node."""
    from node import ConfigError, Node
    from store import StoreError

    from . import i18n

    try:
        node = await Node.open(Path(home))
    except (ConfigError, StoreError) as exc:
        i18n.set_language(lang)
        print(f"villagecourt: {i18n.error_text(exc)}", file=sys.stderr)
        return 1
    media = None
    try:
        from node.media import MediaService

        media = await MediaService.from_config(node).open()
    except Exception as exc:  # noqa: BLE001 — the blob store is for videos: cases work without it
        logging.getLogger(__name__).warning("media unavailable: %s", exc)
    syncer = _syncer(node, media)
    # Sync starts beside the UI and never delays it (zeroconf announcing takes ~1 s).
    starting = asyncio.ensure_future(syncer.start())
    try:
        app = make_app(node, lang)
        app.freeze_gc = True
        result = await app.run_async()
        return int(result or 0)
    finally:
        starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        await syncer.stop()
        if media is not None:
            await media.close()
        await node.close()


def _syncer(node: "Node", media: Any = None) -> Any:
    """The node's background sync: LAN peers (listener, zeroconf) and the relay, then
    media. If another process of this node already listens (``villagecourt serve``), this
    one syncs out only (and whichever downloads media first holds the download lock)."""
    from node.daemon import Syncer, interfaces_from_env

    interfaces = interfaces_from_env()
    return Syncer(node, listen_host=interfaces[0] if interfaces else "0.0.0.0",
                  discovery_interfaces=interfaces, media=media)


def run_tui(home: Path, lang: str | None = None) -> int:
    """Run the terminal UI on the node at ``home``; returns the process exit code."""
    return asyncio.run(run_tui_async(home, lang))
