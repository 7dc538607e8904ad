"""LAN discovery with real zeroconf on 127.0.0.1 (multicast on loopback works here).

Every test uses fresh random node ids, so announcements from other test runs on the same
machine (or earlier tests) can never be mistaken for ours: tests look only at their ids.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from sync.discovery import (
    SERVICE_TYPE,
    Announcement,
    Discovery,
    PeerEvent,
    PeerFound,
    PeerLost,
    build_txt,
    parse_txt,
)

LOOPBACK = ["127.0.0.1"]
FIND_TIMEOUT = 10.0  # seconds; discovery on loopback takes ~1.5 s (mDNS probing)
LOSE_TIMEOUT = 5.0  # seconds; a goodbye packet arrives at once


def new_id() -> str:
    return secrets.token_hex(8)


def discovery(node_id: str, scope: str, port: int, **kw: object) -> Discovery:
    return Discovery(node_id=node_id, village_scope=scope, port=port, protocol_version=1,
                     interfaces=LOOPBACK, **kw)  # type: ignore[arg-type]


async def next_event(d: Discovery, match: Callable[[PeerEvent], bool],
                     timeout: float) -> PeerEvent:
    """The first event on d.events that match accepts; others (other runs) are skipped."""
    async with asyncio.timeout(timeout):
        while True:
            event = await d.events.get()
            if match(event):
                return event


@pytest.fixture
async def stack() -> AsyncIterator[list[Discovery]]:
    started: list[Discovery] = []
    yield started
    await asyncio.gather(*(d.stop() for d in started))


async def test_two_nodes_find_each_other_and_see_goodbye(stack: list[Discovery]) -> None:
    a_id, b_id = new_id(), new_id()
    a = discovery(a_id, "village:KC/BY", 8443)
    b = discovery(b_id, "village:KC/SX", 9443)
    stack += [a, b]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(a.start(), b.start())

    def about(node_id: str) -> Callable[[PeerEvent], bool]:
        return lambda e: e.node_id == node_id

    seen_by_a = await next_event(a, about(b_id), FIND_TIMEOUT)
    seen_by_b = await next_event(b, about(a_id), FIND_TIMEOUT)
    assert seen_by_a == PeerFound(b_id, "village:KC/SX", "127.0.0.1", 9443, 1, ("127.0.0.1",))
    assert seen_by_b == PeerFound(a_id, "village:KC/BY", "127.0.0.1", 8443, 1, ("127.0.0.1",))
    assert loop.time() - started < FIND_TIMEOUT
    assert a.peers[b_id] == seen_by_a

    await b.stop()
    lost = await next_event(a, about(b_id), LOSE_TIMEOUT)
    assert lost == PeerLost(b_id)
    assert b_id not in a.peers


async def test_own_announcement_is_ignored(stack: list[Discovery]) -> None:
    me, other = new_id(), new_id()
    events: list[PeerEvent] = []
    a = discovery(me, "village:KC/BY", 8443, on_event=events.append)
    b = discovery(other, "village:KC/BY", 8444)
    stack += [a, b]
    await asyncio.gather(a.start(), b.start())
    async with asyncio.timeout(FIND_TIMEOUT):
        while other not in a.peers:
            await asyncio.sleep(0.05)
    # By the time the other node is known, our own records have long been in the cache.
    assert me not in a.peers
    assert all(e.node_id != me for e in events)
    assert [e for e in events if e.node_id == other] == [a.peers[other]]


async def test_malformed_announcements_are_ignored_with_a_log_line(
        stack: list[Discovery], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sync.discovery")
    watcher = discovery(new_id(), "village:KC/BY", 8443)
    stack.append(watcher)
    await watcher.start()

    good = new_id()
    bad_txts = [
        {"id": "x", "v": "1", "port": "7000"},  # no scope
        {"id": "x y", "scope": "village:KC/BY", "v": "1", "port": "7000"},  # bad node id
        {"id": new_id(), "scope": "village:KC/BY", "v": "1", "port": "99"},  # port != SRV
        {"id": new_id(), "scope": "phone:138", "v": "1", "port": "7000"},  # not a scope
    ]
    bad_cases = {f"bad-{new_id()}": txt for txt in bad_txts}
    rogue = AsyncZeroconf(interfaces=LOOPBACK)
    try:
        infos = [AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=7000,
                                  properties=txt, server=f"{name}.local.",
                                  parsed_addresses=["127.0.0.1"])
                 for name, txt in bad_cases.items()]
        infos.append(AsyncServiceInfo(
            SERVICE_TYPE, f"good-{good}.{SERVICE_TYPE}", port=7001,
            properties=build_txt(Announcement(good, "village:KC/SX", 1, 7001)),
            server=f"good-{good}.local.", parsed_addresses=["127.0.0.1"]))
        await asyncio.gather(*(rogue.async_register_service(i) for i in infos))

        found = await next_event(watcher, lambda e: e.node_id == good, FIND_TIMEOUT)
        assert found == PeerFound(good, "village:KC/SX", "127.0.0.1", 7001, 1, ("127.0.0.1",))

        def warned() -> set[str]:
            return {name for name in bad_cases for r in caplog.records
                    if r.levelno == logging.WARNING and name in r.getMessage()
                    and "malformed" in r.getMessage()}

        async with asyncio.timeout(FIND_TIMEOUT):
            while warned() != set(bad_cases):
                await asyncio.sleep(0.05)
        bad_ids = {txt.get("id") for txt in bad_cases.values()}
        assert not bad_ids & set(watcher.peers)
        while not watcher.events.empty():
            assert watcher.events.get_nowait().node_id not in bad_ids
    finally:
        await rogue.async_close()


def test_txt_parsing_rules() -> None:
    ann = Announcement("a1b2", "village:KC/BY", 3, 8443)
    txt = build_txt(ann)
    assert set(txt) == {"id", "scope", "v", "port"}  # nothing else, ever
    raw = {k.encode(): v.encode() for k, v in txt.items()}
    assert parse_txt(raw) == ann
    assert parse_txt({**raw, b"future": b"1"}) == ann  # unknown keys are tolerated
    for broken, message in [
        ({**raw, b"port": b"0"}, "port"),
        ({**raw, b"port": b"\xef\xbc\x98"}, "port"),  # a full-width digit is no number
        ({**raw, b"v": None}, "'v'"),
        ({**raw, b"id": b"\xff"}, "UTF-8"),
        ({**raw, b"id": b"a1b2\n"}, "node id"),  # "$" would match before the newline
        ({**raw, b"scope": b"county:"}, "scope"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_txt(broken)


def test_refuses_to_announce_a_bad_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        Discovery(node_id=new_id(), village_scope="Zhang San 13800000000", port=1,
                  protocol_version=1, interfaces=LOOPBACK)
