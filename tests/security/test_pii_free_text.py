"""Issue #12, item 2, "done when": phones, a landline, an ID number and party names typed
into a case's free text (title, description, session summary, agreement, a consultation)
are in no byte of any file of the node, of a second node of the village, of the county
relay (store.db, -wal, -shm, blobs, logs, config) nor of a USB bundle; search by name and by
phone still finds the case on every replica. A real relay on 127.0.0.1, real sync.
"""

from __future__ import annotations

import logging
from pathlib import Path

from node.bundles import node_signer
from store.records import CASE, Party
from sync.bundle import export_bundle

MOBILE = "13812345678"
LANDLINE = "0571-88776655"
BEIJING = "010 12345678"
ID_NUMBER = "11010519491231002X"
APPLICANT, RESPONDENT = "欧阳明月", "司马青山"


def _needles(party_phone: str, party_id: str) -> dict[str, str]:
    return {
        "mobile": MOBILE, "landline": LANDLINE, "landline digits": "057188776655",
        "landline local": "88776655", "beijing local": "12345678", "id": ID_NUMBER,
        "id lower": ID_NUMBER.lower(), "party phone": party_phone, "party id": party_id,
        "applicant": APPLICANT, "respondent": RESPONDENT,
    }


def _scan(files: list[Path], needles: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a *.part renamed into place meanwhile: read at close
            continue
        for label, text in needles.items():
            if text.encode("utf-8") in data:
                found.setdefault(label, []).append(str(path))
    return found


async def _search(store, query: str) -> set[str]:  # noqa: ANN001 -- a Store
    where, args = store.search_where(query)
    rows = await store.query(
        f"SELECT doc_id FROM records WHERE kind = ? AND {' AND '.join(where)}", (CASE, *args))
    return {r[0] for r in rows}


async def test_free_text_personal_data_in_no_file_and_search_finds(
        county, enrol, sec, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    a1 = await enrol("a1", village="A")
    party_phone, party_id = sec.valid_phone(), sec.valid_id_number()
    needles = _needles(party_phone, party_id)
    case = await a1.cases.register(
        category="neighbour", title=f"{APPLICANT}与{RESPONDENT}宅基地纠纷",
        description=(f"{APPLICANT}（电话{MOBILE}，身份证{ID_NUMBER}）称{RESPONDENT}"
                     f"占用其宅基地，{RESPONDENT}家座机{LANDLINE}。"),
        parties=[Party("applicant", APPLICANT, party_phone, party_id),
                 Party("respondent", RESPONDENT)])
    await a1.cases.change_status(case.doc_id, "mediating")
    await a1.cases.log_session(case.doc_id, date="2026-02-01", participants="双方",
                               summary=f"{RESPONDENT}的儿子留了电话{BEIJING}，约定再谈界址")
    await a1.cases.close(case.doc_id, agreement=f"{RESPONDENT}退还宅基地，{APPLICANT}撤回申请")
    await a1.consultations.ask(case.doc_id, f"{APPLICANT}的电话{MOBILE}，此案如何确权？")
    other = await a1.cases.register(category="loan", title="借款纠纷", description="借款三万元",
                                    parties=[Party("applicant", "某甲"),
                                             Party("respondent", "某乙")])

    stick = tmp_path / "stick"  # before the sync: the whole village feed goes on it
    exported = await export_bundle(a1.store, node_signer(a1), stick)
    assert exported.docs >= 4

    assert (await sec.sync_relay(a1)).ok
    a2 = await enrol("a2", village="A")
    assert (await sec.sync_relay(a2)).ok

    # Nothing personal was logged while registering, exporting and syncing (at DEBUG,
    # aiosqlite logs query parameters: the searches below send what a person typed).
    assert "event=sync_session" in caplog.text
    assert [k for k, v in needles.items() if v in caplog.text] == []

    # Search by name, by phone, last 4, landline, ID number finds the case everywhere.
    for store in (a1.store, a2.store, county.store):
        for q in (APPLICANT, RESPONDENT, MOBILE, "5678", LANDLINE, "6655", BEIJING,
                  ID_NUMBER, party_phone, party_phone[-4:], party_id, "宅基地", "界址"):
            assert await _search(store, q) == {case.doc_id}, q
        assert await _search(store, "借款") == {other.doc_id}
    assert [r.doc_id for r in await a2.cases.search(MOBILE)] == [case.doc_id]
    assert (await a2.cases.get(case.doc_id)).description.startswith(APPLICANT)

    homes = [tmp_path / "a1", tmp_path / "a2", county.home.path]

    def files() -> list[Path]:
        return [f for h in homes for f in sec.files_under(h)] + sorted(
            p for p in stick.rglob("*") if p.is_file())

    # Open: recent commits sit in the -wal files.
    now = files()
    assert any(f.name == "store.db-wal" and f.stat().st_size > 0 for f in now)
    assert any(f.parent.name == "docs" and f.is_relative_to(stick) for f in now)
    assert _scan(now, {"word": "宅基地"}), "the scan does not read the stores"
    assert _scan(now, needles) == {}

    # Closed: everything checkpointed into store.db.
    await a1.close()
    await a2.close()
    await county.stop()
    closed = files()
    assert {f.name for f in closed} >= {"store.db", "manifest.cbor"}
    assert _scan(closed, {"word": "宅基地"})
    assert _scan(closed, needles) == {}
