"""Fuzzing the USB bundle importer (sync/bundle.py), the file import format (issue #6).

(Found: a signed manifest whose ``from`` or ``to`` was not a map, whose ``since``/``upto``
was not a number, or whose receipt was malformed made the importer raise AttributeError,
TypeError or ValueError -- a traceback from ``villagecourt bundle import`` instead of a
refusal. Now ``bundle_malformed``.)

A bundle's manifest is signed by its exporter's node key, so a stranger's bytes stop at
the signature; a *hostile enrolled node* can sign anything. Hypothesis draws manifests
such a node could sign -- every field of a wrong type or value, document entries with bad
names, lengths and hashes, files that are missing or differ -- and raw damage to the
manifest file itself. The importer (here the county relay importing a village's stick)
must end with an ImportResult or a SyncError, never another exception, and a bundle it
refuses whole must leave its store unchanged.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.ca import issue
from relay.config import RelayHome
from store import Store, casedoc, new_key
from store.records import CASE, Party
from sync import bundle
from sync.errors import SyncError
from sync.scopes import Identity

COUNTY = "KC"


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("county")
    home = RelayHome(root / "relay")
    cfg = home.init(COUNTY, host="127.0.0.1", port=0)
    key = ed25519.Ed25519PrivateKey.generate()
    exporter = Identity(secrets.token_hex(8), "director", COUNTY, "A")
    cert = issue(home.ca.key(), home.ca.cert(), key.public_key(), exporter)
    doc_bytes = []
    from automerge.core import Document

    for i in range(3):
        d = Document()
        casedoc.new_case(d, number=f"A-F-{i}", category="neighbour", title=f"案件{i}",
                         parties=[Party("applicant", "张三")], village="A", county=COUNTY)
        doc_bytes.append(bytes(d.save()))
    return {"home": home, "relay": cfg.identity, "key": key, "cert": cert,
            "exporter": exporter, "docs": doc_bytes}


def _entry(i: int, data: bytes) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    return {"id": f"{i:032x}", "kind": CASE, "scope": "village:KC/A", "heads": b"",
            "sha256": sha, "length": len(data), "file": f"docs/{sha}.bin", "enc": False}


weird = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                  st.floats(allow_nan=True), st.text(max_size=12), st.binary(max_size=12),
                  st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@st.composite
def manifests(draw: st.DrawFn, county: dict[str, Any], store_id: str) -> dict[str, Any]:
    docs = [_entry(i, d) for i, d in enumerate(county["docs"])]
    body: dict[str, Any] = {
        "format": bundle.FORMAT, "version": bundle.VERSION, "bundle_id": "b" * 32,
        "created_at": "2026-01-01T00:00:00+00:00",
        "from": {"store": secrets.token_hex(16), "identity": county["exporter"].label},
        "to": {"role": "relay", "county": COUNTY, "village": "", "store": store_id},
        "since": 0, "upto": 3, "docs": docs, "blobs": [],
        "receipt": {"store": "x", "of_store": store_id, "have_seq": 1}, "key": None,
    }
    if draw(st.booleans()):  # encrypted entries, with a key box of any shape
        body["key"] = draw(weird | st.dictionaries(st.sampled_from(["eph", "nonce", "wrapped"]),
                                                   st.binary(max_size=40) | weird))
        for entry in docs:
            entry["enc"] = True
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["top", "from", "to", "receipt", "entry"]))
        if where == "top":
            body[draw(st.sampled_from(sorted(body)))] = draw(weird)
        elif where == "entry" and isinstance(body["docs"], list) and body["docs"]:
            i = draw(st.integers(0, len(body["docs"]) - 1))
            entry = body["docs"][i]
            if isinstance(entry, dict):
                entry[draw(st.sampled_from(sorted(entry)))] = draw(weird | st.sampled_from(
                    ["../x.bin", "docs/../../x", "docs/.hidden", "village:KC/B", "county:KC",
                     "revocation", "content", -1, 2**40]))
            else:
                body["docs"][i] = draw(weird)
        elif isinstance(body.get(where), dict):
            key = draw(st.sampled_from(sorted(body[where])))
            body[where][key] = draw(weird)
        else:
            body[where] = draw(weird)
    return body


def _write(path: Path, county: dict[str, Any], body: dict[str, Any],
           files: bool) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "docs").mkdir(exist_ok=True)
    if files:
        for data in county["docs"]:
            (path / "docs" / f"{hashlib.sha256(data).hexdigest()}.bin").write_bytes(data)
    payload = cbor2.dumps(body)
    (path / bundle.MANIFEST).write_bytes(cbor2.dumps({
        "payload": payload, "signature": county["key"].sign(payload),
        "chain": [county["cert"].public_bytes(Encoding.DER)]}))


async def _import(store: Store, county: dict[str, Any], path: Path) -> None:
    before = await store.current_seq()
    try:
        await bundle.import_bundle(store, county["relay"], county["home"].ca.cert(), path,
                                   decrypt_key=county["home"].ca.key())
    except SyncError:
        assert await store.current_seq() == before  # refused whole: nothing stored


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
async def test_a_signed_hostile_manifest_ends_in_a_result_or_a_sync_error(
        tmp_path: Path, county: dict[str, Any], data: st.DataObject) -> None:
    store = await Store.open(tmp_path / f"{secrets.token_hex(4)}.db", key=new_key())
    try:
        body = data.draw(manifests(county, store.store_id))
        path = tmp_path / secrets.token_hex(4)
        _write(path, county, body, files=data.draw(st.booleans()))
        await _import(store, county, path)
    finally:
        await store.close()


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
async def test_a_damaged_manifest_file_is_refused_with_a_sync_error(
        tmp_path: Path, county: dict[str, Any], data: st.DataObject) -> None:
    store = await Store.open(tmp_path / f"{secrets.token_hex(4)}.db", key=new_key())
    try:
        path = tmp_path / secrets.token_hex(4)
        _write(path, county, data.draw(manifests(county, store.store_id)), files=True)
        raw = bytearray((path / bundle.MANIFEST).read_bytes())
        for _ in range(data.draw(st.integers(1, 6))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(raw)))
        (path / bundle.MANIFEST).write_bytes(bytes(raw[:cut]) if data.draw(st.booleans())
                                             else bytes(raw))
        await _import(store, county, path)
    finally:
        await store.close()
