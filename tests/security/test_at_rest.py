"""Issue #4, "done when" 5 and 6: personal data and secrets at rest and in logs.

5. The raw files of a node home and of the relay home (the SQLite store with its -wal and
   -shm files, the token database, the config) hold no party phone or ID number in plain
   text -- neither while the stores are open (recent writes sit in the WAL) nor after
   they are closed and checkpointed.
6. Private key files are 0600 (in 0700 folders), and no secret -- an enrolment code, a
   private key, a store key -- nor any personal data appears in the log output of
   provisioning, sync over the relay and over the LAN.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import stat
from pathlib import Path

import pytest

from node import Node
from node.config import ConfigError, Home
from node.daemon import Syncer
from node.identity import keys_of, provision_file, provision_online
from relay.enrol import write_enrol_file
from store.records import Party
from sync.enrolment import new_code, pretty


def _scan(files: list[Path], needles: dict[str, str]) -> dict[str, list[str]]:
    """{needle label: [files whose raw bytes contain it]} for every needle found."""
    found: dict[str, list[str]] = {}
    for path in files:
        data = path.read_bytes()
        for label, text in needles.items():
            if text.encode("utf-8") in data:
                found.setdefault(label, []).append(path.name)
    return found


async def test_no_phone_or_id_number_in_any_raw_file(county, enrol, sec, tmp_path: Path) -> None:
    a1 = await enrol("a1", village="A")
    personal: dict[str, str] = {}
    titles: list[str] = []
    for i in range(4):
        phone, id_number = sec.valid_phone(), sec.valid_id_number()
        personal[f"phone {i}"], personal[f"id {i}"] = phone, id_number
        title = f"SEARCHABLE-TITLE-{i}"
        titles.append(title)
        case = await a1.cases.register(
            category="loan", title=title, parties=[
                Party("applicant", "钱多多", phone, id_number),
                Party("respondent", "赵欠欠", "0571-87654321" if i == 0 else "")])
        if i == 1:  # an edit: the personal data lands in the change tail too
            await a1.cases.edit(case.doc_id, description=f"联系电话见当事人信息 {i}")
    personal["landline"] = "0571-87654321"
    assert (await sec.sync_relay(a1)).ok
    a2 = await enrol("a2", village="A")  # a second replica: merged, not created locally
    assert (await sec.sync_relay(a2)).ok
    got = await a2.cases.search(limit=100)
    parties = [p for row in got for p in (await a2.cases.get(row.doc_id)).parties]
    assert {p.phone for p in parties} >= {v for k, v in personal.items() if k.startswith("ph")}
    assert {p.id_number for p in parties} >= {v for k, v in personal.items()
                                              if k.startswith("id")}

    homes = [tmp_path / "a1", tmp_path / "a2", county.home.path]
    sanity = {t: t for t in titles}  # titles are projected for search: the scan must see them

    # While everything is open: recent commits live in the -wal files.
    files = [f for h in homes for f in sec.files_under(h)]
    assert any(f.name == "store.db-wal" and f.stat().st_size > 0 for f in files), files
    assert _scan(files, sanity), "the scan sees nothing: it is not reading the stores"
    assert _scan(files, personal) == {}

    # Closed: checkpointed into store.db.
    await a1.close()
    await a2.close()
    await county.stop()
    files = [f for h in homes for f in sec.files_under(h)]
    assert {f.name for f in files} >= {"store.db", "config.json", "enrol.db"}
    assert _scan(files, sanity)
    assert _scan(files, personal) == {}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _secret_forms(path: Path) -> list[str]:
    """How a key file's content could show up in a log line."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:  # PEM: each base64 line of the body
        return [ln for ln in data.decode().splitlines() if ln and not ln.startswith("-----")]
    return [data.hex(), base64.b64encode(data).decode(), repr(data)[2:-1]]


async def test_key_modes_and_no_secret_in_logs(sec, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)  # everything any logger says, from the very start
    county = await sec.start_county(tmp_path / "relay")
    nodes: list[Node] = []
    syncers: list[Syncer] = []
    codes: list[str] = []
    try:
        for name in ("a1", "a2"):
            code, _ = county.tokens.issue("A", "director")
            codes.append(code)
            async with asyncio.timeout(20):
                await provision_online(Home(tmp_path / name), county.base, pretty(code))
            nodes.append(await Node.open(tmp_path / name))
        # Refusals log too: a used code and a wrong code.
        for bad, home in ((codes[0], "x1"), (new_code(), "x2")):
            with pytest.raises(ConfigError):
                await provision_online(Home(tmp_path / home), county.base, bad)
            codes.append(bad)
        # Offline enrolment, with a wrong code first.
        file_code = write_enrol_file(tmp_path / "a3.enrol", county.home.ca, "KC", "A",
                                     "director", county.sync_url)
        codes.append(file_code)
        with pytest.raises(ConfigError):
            provision_file(Home(tmp_path / "x3"), tmp_path / "a3.enrol", new_code())
        provision_file(Home(tmp_path / "a3"), tmp_path / "a3.enrol", file_code)
        nodes.append(await Node.open(tmp_path / "a3"))

        phone, id_number = sec.valid_phone(), sec.valid_id_number()
        await nodes[0].cases.register(category="family", title="日志里不该出现的案件",
                                      parties=[Party("applicant", "某某", phone, id_number)])
        for node in nodes:
            assert (await sec.sync_relay(node)).ok
        # LAN sync between two nodes of the village.
        listener = Syncer(nodes[1], listen_host="127.0.0.1", listen_port=0, discovery=False)
        nodes[1].config.relay_url = ""
        await listener.start()
        syncers.append(listener)
        res = await sec.sync_peer(nodes[2], listener.bound_port)
        assert res.ok, res.error
    finally:
        for s in syncers:
            await s.stop()
        for node in nodes:
            await node.close()
        await county.stop()

    # File modes.
    relay_keys = county.home.keys_dir
    assert _mode(relay_keys) == 0o700
    for f in ("ca.key", "relay.key", "store.key"):
        assert _mode(relay_keys / f) == 0o600, f
    assert _mode(county.home.tokens_file) == 0o600
    key_files = [relay_keys / f for f in ("ca.key", "relay.key", "store.key")]
    for name in ("a1", "a2", "a3"):
        keys = keys_of(Home(tmp_path / name))
        assert _mode(keys.keys_dir) == 0o700
        for f in (keys.key_file, keys.keys_dir / "store.key"):
            assert _mode(f) == 0o600, f
            key_files.append(f)
        assert _mode(Home(tmp_path / name).config_file) == 0o600

    # No secret and no personal data in the log output.
    text = caplog.text
    assert "event=enrolled" in text and "event=sync_session" in text  # logging was on
    leaks = []
    for code in codes:
        for form in {code, pretty(code), code.lower(), pretty(code).lower()}:
            if form in text:
                leaks.append(f"enrolment code {code[:4]}…")
    for f in key_files:
        if any(form in text for form in _secret_forms(f)):
            leaks.append(str(f.relative_to(tmp_path)))
    for value in (phone, id_number):
        if value in text:
            leaks.append("personal data")
    assert leaks == []
