"""Helper process for test_media_sigkill: downloads a node's media from its relay, slowly
(a bandwidth cap), printing each verified block only after it was recorded.

    python media_worker.py HOME RATE_BPS

The parent kills this process with SIGKILL mid-download.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from node import Node
from node.media import MediaService


async def run(home: Path, rate_bps: float) -> None:
    node = await Node.open(home)

    def said(sha: str, have: int, total: int) -> None:
        sys.stdout.write(f"block {have} {total}\n")
        sys.stdout.flush()

    async with MediaService(node, rate_bps=rate_bps, floor=0) as media:
        await media.sync(progress=said)
    await node.close()


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), float(sys.argv[2])))
