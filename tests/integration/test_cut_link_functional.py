"""A link cut at any byte loses nothing and resends nothing committed (issue #3).

A LinkSim proxy sits between a node (300 cases) and a fresh relay (60 county content
items) and cuts the connection after k bytes, for 20 values of k spread over the size of
a full cold sync. After each cut:

* each side holds only whole documents the other side had (nothing partial), and its
  checkpoint of the other's feed covers only what it committed (nothing skipped);
* the next session (direct, or through the proxy with the cut switched off) completes,
  and node and relay end identical (same doc ids, same heads);
* that session moves exactly the documents the cut session had not committed, in each
  direction: nothing committed is resent, so after a late cut it sends far fewer
  documents than a full resync.

Pages are made small here (sync.driver.PAGE_DOCS = 25, so a cold sync is a dozen pages
each way, four in flight) so that cuts land between committed pages as well as inside
them; the relay runs in this process, so both sides use the same page size.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

import sync.driver
from node import Node
from sync.errors import SyncError
from sync.linksim import LinkSim

CASES = 300
CONTENT = 60
PAGE_DOCS = 25
CUTS = 20
VILLAGE_SCOPE = "village:KC/A"
COUNTY_SCOPE = "county:KC"
STEP_S = 30.0


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.driver, "PAGE_DOCS", PAGE_DOCS)


async def make_template(make_node, helpers: SimpleNamespace) -> Path:
    """A closed node home holding CASES cases, copied for each cut."""
    node = await make_node("template", village="A", relay_url="")
    for i in range(CASES):
        await helpers.new_case(node.store, VILLAGE_SCOPE, f"case {i} 邻里纠纷",
                               number=f"A-T-{i:04d}")
    path = node.home.path
    await node.store.close()
    return path


class Round:
    """One fresh relay with county content, and one fresh copy of the node."""

    def __init__(self, helpers: SimpleNamespace, root: Path, template: Path) -> None:
        self.h = helpers
        self.root = root
        self.template = template

    async def __aenter__(self) -> Round:
        self.relay = await self.h.start_relay(self.root / "relay")
        for i in range(CONTENT):
            await self.h.new_content(self.relay.store, f"普法 {i}")
        shutil.copytree(self.template, self.root / "node")
        self.node = await Node.open(self.root / "node")
        self.me = self.h.node_identity(self.node)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.node.close()
        await self.relay.runner.cleanup()

    async def session(self, url: str):  # -> SessionResult | None (no link at all)
        try:
            return await self.h.sync_ws(self.node.store, self.me, url, timeout=STEP_S)
        except SyncError:
            return None  # the cut came during the WebSocket handshake

    async def relay_idle(self) -> None:
        """Wait until the relay's side of the cut session has ended (it may still be
        committing a page it read before the cut)."""
        assert await self.h.eventually(
            lambda: _true(self.relay.metrics.sessions_active == 0), timeout=STEP_S,
            interval=0.02)

    async def heads(self) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return (await self.h.doc_heads(self.node.store),
                await self.h.doc_heads(self.relay.store))


async def _true(value: bool) -> bool:
    return value


async def assert_whole_and_checkpointed(r: Round) -> None:
    """After a cut: nothing partial, and no checkpoint beyond what was committed."""
    node_heads, relay_heads = await r.heads()
    for doc_id, heads in relay_heads.items():
        if doc_id in node_heads:
            assert heads == node_heads[doc_id], "a document arrived only in part"
        else:  # only the relay's own content may be missing at the node
            assert doc_id in await _scope_ids(r.relay.store, COUNTY_SCOPE)
    # The relay's checkpoint of the node's feed: every node doc at or below it is there.
    node_peer = await r.relay.store.peer(r.node.store.store_id)
    for doc_id, seq in await r.node.store.query("SELECT doc_id, seq FROM docs"):
        if seq <= node_peer["received_seq"]:
            assert relay_heads.get(doc_id) == node_heads[doc_id], "checkpoint skipped a doc"
    # And the node's checkpoint of the relay's feed.
    relay_peer = await r.node.store.peer(r.relay.store.store_id)
    for doc_id, seq, scope in await r.relay.store.query("SELECT doc_id, seq, scope FROM docs"):
        if seq <= relay_peer["received_seq"] and scope == COUNTY_SCOPE:
            assert node_heads.get(doc_id) == relay_heads[doc_id], "checkpoint skipped a doc"


async def test_cut_at_any_byte_then_resume(make_node, helpers, tmp_path: Path,
                                           small_pages: None) -> None:
    template = await make_template(make_node, helpers)
    node_docs = CASES + 1  # + the village profile

    # The size of a full cold sync, through an uncut proxy.
    async with Round(helpers, tmp_path / "measure", template) as r:
        async with LinkSim("127.0.0.1", r.relay.port) as sim:
            host, port = await sim.start()
            full = await r.session(f"ws://{host}:{port}/v1/sync")
        assert full is not None and full.ok, full
        assert full.counters.docs_sent == node_docs
        assert full.counters.docs_received == CONTENT
        total = sim.bytes_up + sim.bytes_down
    assert full.counters.pages_sent >= CASES // PAGE_DOCS

    cuts = [max(1, int(total * (i + 0.5) / CUTS)) for i in range(CUTS)]
    late = [k for k in cuts if k > total * 0.6]
    outcomes = []
    for n, k in enumerate(cuts):
        async with Round(helpers, tmp_path / f"cut{n}", template) as r:
            async with LinkSim("127.0.0.1", r.relay.port, cut_after_bytes=k) as sim:
                host, port = await sim.start()
                url = f"ws://{host}:{port}/v1/sync"
                cut = await r.session(url)
                await r.relay_idle()
                assert sim.connections[0].bytes_up + sim.connections[0].bytes_down <= k
                await assert_whole_and_checkpointed(r)

                # What the cut session committed, each way.
                from_node = len(await _scope_ids(r.relay.store, VILLAGE_SCOPE))
                content_at_node = len(await _scope_ids(r.node.store, COUNTY_SCOPE))

                # Resume: directly on even rounds, through the proxy uncut on odd ones.
                if n % 2:
                    sim.configure(cut_after_bytes=None)
                    resumed = await r.session(url)
                else:
                    resumed = await r.session(r.relay.url)
                assert resumed is not None and resumed.ok, (k, resumed)

            node_heads, relay_heads = await r.heads()
            assert node_heads == relay_heads, f"replicas differ after a cut at {k} bytes"
            # Nothing committed is resent, nothing is skipped: exactly the rest moves.
            assert resumed.counters.docs_sent == node_docs - from_node, k
            assert resumed.counters.docs_received == CONTENT - content_at_node, k
            assert resumed.counters.docs_changed == CONTENT - content_at_node, k
            outcomes.append((k, cut is not None and cut.ok, from_node, content_at_node,
                             resumed.counters.docs_sent))
            if k in late:
                assert resumed.counters.docs_sent < node_docs, (
                    f"a cut at {k} of {total} bytes resent everything")

    # The cuts spread over the whole session: some before anything was committed, some
    # after a few pages, some after most of them.
    assert any(o[2] == 0 for o in outcomes), outcomes
    assert any(0 < o[2] < node_docs for o in outcomes), outcomes
    assert max(o[2] for o in outcomes) > node_docs // 2, outcomes


async def _scope_ids(store, scope: str) -> set[str]:
    return {r[0] for r in await store.query("SELECT doc_id FROM docs WHERE scope = ?",
                                            (scope,))}


async def test_cut_with_default_pages(make_node, helpers, tmp_path: Path) -> None:
    """With the real page size a cold sync of 300 cases is one page each way. A cut in
    the middle of that page resends it whole; a cut the moment the relay committed it
    (before its acknowledgement can reach the node) resends nothing."""
    template = await make_template(make_node, helpers)
    async with Round(helpers, tmp_path / "measure", template) as r:
        async with LinkSim("127.0.0.1", r.relay.port) as sim:
            host, port = await sim.start()
            full = await r.session(f"ws://{host}:{port}/v1/sync")
        assert full is not None and full.ok
        assert full.counters.pages_sent == 1
        total = sim.bytes_up + sim.bytes_down

    for n in range(2):
        async with Round(helpers, tmp_path / f"default{n}", template) as r:
            sim = LinkSim("127.0.0.1", r.relay.port,
                          cut_after_bytes=total // 3 if n == 0 else None)
            host, port = await sim.start()
            if n == 1:
                def cut_now(event: object) -> None:
                    if event.origin == r.node.store.store_id:  # type: ignore[attr-defined]
                        asyncio.get_running_loop().create_task(sim.stop())
                r.relay.store.subscribe(cut_now)
            try:
                cut = await r.session(f"ws://{host}:{port}/v1/sync")
                await r.relay_idle()
            finally:
                await sim.stop()
            assert cut is None or not cut.ok or n == 1
            await assert_whole_and_checkpointed(r)
            committed = len(await _scope_ids(r.relay.store, VILLAGE_SCOPE))
            assert committed == (0 if n == 0 else CASES + 1)
            resumed = await r.session(r.relay.url)
            assert resumed is not None and resumed.ok
            node_heads, relay_heads = await r.heads()
            assert node_heads == relay_heads
            assert resumed.counters.docs_sent == CASES + 1 - committed
