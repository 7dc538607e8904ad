""""Sync now" on a real node with its real sync service always ends within seconds in a
result or a plain reason that says what to do: no relay set up (ask the technician to run
provision), or the relay unreachable (last success, next try). Chinese and English."""

from __future__ import annotations

import socket
import time
from typing import AsyncIterator, Iterator

import pytest

from node import Node
from node.daemon import Syncer
from tui.app import make_app
from tui.screens.sync import SYNC_WAIT_S

from .conftest import SIZE, TODAY, add_case, screen_text, wait_for, wait_text

# The pane answers within its own limit (SYNC_WAIT_S, 15 s) whatever happens; a refused
# connection answers at once, and the words checked are those of that answer, not of the
# limit's. The wait allows for a machine busy with other suites (seen: over 10 s).
BOUND_S = SYNC_WAIT_S + 5.0


def flat(app) -> str:  # type: ignore[no-untyped-def]
    """The screen as one line (a long sentence wraps, and words may break at the edge)."""
    return "".join(line.strip() for line in screen_text(app).splitlines())


async def wait_said(pilot, *needles: str) -> str:  # type: ignore[no-untyped-def]
    squash = [n.replace(" ", "") for n in needles]
    await wait_for(pilot, lambda: all(n in flat(pilot.app).replace(" ", "") for n in squash),
                   timeout=BOUND_S, what=" and ".join(needles) + "\n" + screen_text(pilot.app))
    return flat(pilot.app)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never listening.

    A port picked free and released can be taken again before the node connects (a
    listener on port 0 in the same run, or the outgoing end of another connection), and the
    node then reaches something that is not a relay: seen once in CI as "the connection
    dropped". A bound socket keeps the port from both, and the kernel answers a connection
    to it with a reset, which is "connection refused"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
async def syncing(node: Node) -> AsyncIterator[Node]:
    syncer = Syncer(node, listen_host="127.0.0.1", listen_port=0, discovery=False)
    await syncer.start()
    try:
        yield node
    finally:
        await syncer.stop()


@pytest.mark.parametrize(("lang", "said"), [
    ("zh", ("没有可以同步的对象", "请技术员运行 villagecourt provision")),
    ("en", ("Nobody to sync with", "Ask the technician to run villagecourt provision")),
])
async def test_no_relay_set_up_ends_at_once_and_says_what_to_do(syncing: Node, lang: str,
                                                                said: tuple[str, ...]) -> None:
    node = syncing
    assert not node.config.relay_url
    await add_case(node)
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_text(pilot, "(S)")
        started = time.monotonic()
        await pilot.press("s")
        text = await wait_said(pilot, *said)
        assert time.monotonic() - started < BOUND_S
        assert "正在开始同步" not in text and "Starting to sync" not in text


@pytest.mark.parametrize(("lang", "said"), [
    ("zh", ("连不上县服务器", "还没有成功同步过", "会自动再试")),
    ("en", ("Cannot reach the county server", "No sync has worked yet", "tries again by "
            "itself")),
])
async def test_relay_unreachable_says_last_success_and_next_try(syncing: Node, lang: str,
                                                                said: tuple[str, ...],
                                                                refusing_port: int) -> None:
    node = syncing
    node.config.relay_url = f"ws://127.0.0.1:{refusing_port}/sync"  # refuses
    app = make_app(node, lang, clock=lambda: TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_text(pilot, "(S)")
        started = time.monotonic()
        await pilot.press("s")
        text = await wait_said(pilot, *said)
        assert time.monotonic() - started < BOUND_S
        assert node.config.relay_url.split("//")[1].split("/")[0] in text
