"""Case numbers made offline never collide between nodes of one village: the relay gives
each node it enrols a short id (the middle of ``BY-7QX-0001``) unique in its village --
among every short id it gave the village, and those in the village's case numbers it
holds (nodes enrolled before, or made elsewhere) -- online and in enrolment files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from node import Node
from node.config import Home
from node.identity import provision_file, provision_online
from relay.enrol import SHORT_ID_SPACE, TokenStore, taken_short_ids, write_enrol_file
from store import casedoc
from store.records import Party, is_short_id
from sync.enrolment import EnrolError, pretty


async def test_nodes_of_a_village_get_distinct_short_ids(county, tmp_path: Path) -> None:
    # an old case of village A at the relay, numbered by a node the relay never enrolled
    await county.store.create("case", "village:KC/A", lambda d: casedoc.new_case(
        d, number="A-7QX-0001", category="land", title="旧案", village="A", county="KC",
        parties=[Party("applicant", "甲")]))
    assert await taken_short_ids(county.store, "KC", "A") == {"7QX"}

    online = []
    for i in range(6):
        code, _ = county.tokens.issue("A", "director")
        async with asyncio.timeout(20):
            online.append(await provision_online(Home(tmp_path / f"a{i}"), county.base, code))
    path = tmp_path / "a.enrol"
    code = write_enrol_file(path, county.home.ca, "KC", "A", "director", county.sync_url,
                            tokens=county.tokens,
                            taken=await taken_short_ids(county.store, "KC", "A"))
    offline = provision_file(Home(tmp_path / "off"), path, pretty(code))
    ids = [c.short_id for c in [*online, offline]]
    assert all(is_short_id(s) for s in ids)
    assert len(set(ids)) == 7 and "7QX" not in ids  # distinct, and not the old node's
    # each is the one the relay gave (and keeps), not a node's own random pick
    with sqlite3.connect(county.tokens.path) as db:
        given = dict(db.execute("SELECT node_id, short_id FROM short_ids WHERE village = 'A'"))
    assert given == {c.node_id: c.short_id for c in [*online, offline]}

    # another village may reuse a short id: numbers carry the village code
    code, _ = county.tokens.issue("B", "director")
    b = await provision_online(Home(tmp_path / "b"), county.base, code)
    assert is_short_id(b.short_id)

    # the node numbers its cases with it
    node = await Node.open(tmp_path / "off")
    try:
        case = await node.cases.register(category="loan", title="借款纠纷",
                                         parties=[Party("applicant", "钱七")])
        assert case.number == f"A-{offline.short_id}-0001"
    finally:
        await node.close()


def test_allocation_avoids_every_taken_id_and_says_when_none_is_left(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "enrol.db")
    everything_but_one = sorted(SHORT_ID_SPACE)[:-1]
    last = sorted(SHORT_ID_SPACE)[-1]
    assert tokens.allocate_short_id("A", "n1", taken=everything_but_one) == last
    with pytest.raises(EnrolError) as full:
        tokens.allocate_short_id("A", "n2", taken=everything_but_one)
    assert full.value.code == "no_short_id"
    # kept across restarts of the relay (the table is in enrol.db)
    again = TokenStore(tmp_path / "enrol.db")
    first = again.allocate_short_id("B", "n3")
    assert again.allocate_short_id("B", "n4", taken=SHORT_ID_SPACE - {first, last}) == last
