"""Issue #4, "done when" 4: a replaced node recovers all its village's cases from the relay.

Node a1 works for a while and syncs; then its machine is lost (the home is deleted). A new
node a2 is enrolled for the same village with a fresh home, and after its first sync it
holds every one of a1's cases: the same document ids, the same heads, readable in full
(personal data included: the relay re-seals it under each store's own key).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from node.identity import keys_of
from store.records import Party

A = "village:KC/A"


async def test_replacement_node_recovers_every_case(county, enrol, sec, tmp_path: Path) -> None:
    a1 = await enrol("a1", village="A")
    cases = []
    for i in range(6):
        case = await a1.cases.register(
            category="neighbour" if i % 2 else "family", title=f"案件 {i} 排水沟纠纷",
            parties=[Party("applicant", f"申请人{i}", sec.valid_phone(), sec.valid_id_number()),
                     Party("respondent", f"被申请人{i}")],
            description="双方因排水问题发生争执。")
        cases.append(case)
    # Some history on a few of them, so heads are more than one change deep.
    await a1.cases.log_session(cases[0].doc_id, date="2024-05-01", participants="双方",
                               summary="第一次调解")
    await a1.cases.change_status(cases[1].doc_id, "mediating")
    await a1.cases.change_status(cases[1].doc_id, "agreed", note="达成协议")
    res = await sec.sync_relay(a1)
    assert res.ok, res.error
    a1_heads = await sec.doc_heads(a1.store, A)
    # Every case; the village profile is left out: each node writes its own on first open
    # (a2's merges with a1's, so its heads differ).
    expected = {c.doc_id: a1_heads[c.doc_id] for c in cases}
    full = {c.doc_id: await a1.cases.get(c.doc_id) for c in cases}
    a1_node_id = keys_of(a1.home).identity().node_id

    # The machine is lost.
    await a1.close()
    shutil.rmtree(tmp_path / "a1")

    a2 = await enrol("a2", village="A")
    assert keys_of(a2.home).identity().node_id != a1_node_id
    res = await sec.sync_relay(a2)
    assert res.ok, res.error

    got = await sec.doc_heads(a2.store, A)
    assert set(expected) <= set(got)
    for doc_id, heads in expected.items():
        assert got[doc_id] == heads, doc_id
    for doc_id, case in full.items():
        again = await a2.cases.get(doc_id)
        assert again.number == case.number and again.title == case.title
        assert again.status == case.status and again.sessions == case.sessions
        assert again.parties == case.parties  # phones and ID numbers too
    assert await a2.cases.count() == len(cases)

    # Work goes on from the new machine, under a new case-number prefix.
    new = await a2.cases.register(category="land", title="新机器登记的案件",
                                  parties=[Party("applicant", "新人")])
    assert new.number not in {c.number for c in cases}
    res = await sec.sync_relay(a2)
    assert res.ok, res.error
    assert (await sec.doc_heads(county.store))[new.doc_id] == \
        (await sec.doc_heads(a2.store))[new.doc_id]
