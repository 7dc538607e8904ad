"""Issue #4, "done when" 8: revocation reaches peers.

Two nodes of village A sync over the LAN. The relay revokes a2; once a1 has synced with
the relay (and so holds the county's signed revocation list), a1's LAN listener refuses
a2 with code ``revoked`` -- and a1, dialling a2's listener, refuses a2's certificate too.
Nothing moves either way after the revocation.
"""

from __future__ import annotations

import logging

from node.identity import keys_of
from relay.revoke import revoke
from store.records import Party
from sync import revocations


async def test_revocation_reaches_lan_peers(county, enrol, listen, sec, caplog) -> None:
    caplog.set_level(logging.INFO)
    a1 = await enrol("a1", village="A")
    a2 = await enrol("a2", village="A")
    a1_daemon = await listen(a1)
    a2.config.relay_url = ""  # a2's daemon: LAN only
    a2_daemon = await listen(a2)

    # Before: the two sync over the LAN.
    first = await a1.cases.register(category="neighbour", title="吊销之前的案件",
                                    parties=[Party("applicant", "张三")])
    res = await sec.sync_peer(a2, a1_daemon.bound_port)
    assert res.ok, res.error
    assert first.doc_id in await sec.doc_heads(a2.store)

    # The relay revokes a2; a1 hears of it at its next relay sync.
    a2_id = keys_of(a2.home).identity().node_id
    version = await revoke(county.store, county.home.ca, "KC", a2_id, reason="lost")
    res = await a1_daemon.sync_relay()
    assert res.ok, res.error
    held = await revocations.current(a1.store, keys_of(a1.home).ca(), "KC")
    assert held.version == version and a2_id in held.node_ids  # verified against the CA

    # After: new work on both sides, none of which may move.
    second = await a1.cases.register(category="family", title="吊销之后的案件",
                                     parties=[Party("applicant", "李四")])
    mine = await a2.cases.register(category="land", title="被吊销节点的案件",
                                   parties=[Party("applicant", "王五")])
    a1_before = await sec.store_state(a1.store)
    a2_before = await sec.store_state(a2.store)
    caplog.clear()

    res = await sec.sync_peer(a2, a1_daemon.bound_port)  # a2 dials a1's listener
    assert not res.ok
    assert res.error is not None and res.error.code == "revoked", res.error
    assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
    refused = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith("refused LAN peer")]
    assert len(refused) == 1 and "(revoked)" in refused[0] and a2_id in refused[0], refused

    res = await sec.sync_peer(a1, a2_daemon.bound_port)  # a1 dials a2's listener
    assert not res.ok
    assert res.error is not None and res.error.code == "revoked", res.error
    assert res.counters.docs_received == 0 and res.counters.docs_sent == 0

    assert await sec.store_state(a1.store) == a1_before
    assert await sec.store_state(a2.store) == a2_before
    assert second.doc_id not in await sec.doc_heads(a2.store)
    assert mine.doc_id not in await sec.doc_heads(a1.store)
    # Each dialling side records the refusal in its sync log (what `status` shows); a2's
    # newest entry is its listener's view of a1 hanging up on it.
    last = (await a1.store.sync_log(limit=1))[0]
    assert last["ok"] == 0 and last["error_code"] == "revoked"
    assert "revoked" in [e["error_code"] for e in await a2.store.sync_log(limit=2)]

    # a1 keeps syncing with the relay as before.
    res = await a1_daemon.sync_relay()
    assert res.ok, res.error
