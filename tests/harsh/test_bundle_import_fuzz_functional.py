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


def _valid_body(county: dict[str, Any], store_id: str) -> dict[str, Any]:
    """A manifest the relay (store ``store_id``) imports: its three documents, no key."""
    return {
        "format": bundle.FORMAT, "version": bundle.VERSION, "bundle_id": "b" * 32,
        "created_at": "2026-01-01T00:00:00+00:00",
        "from": {"store": secrets.token_hex(16), "identity": county["exporter"].label},
        "to": {"role": "relay", "county": COUNTY, "village": "", "store": store_id},
        "since": 0, "upto": 3, "docs": [_entry(i, d) for i, d in enumerate(county["docs"])],
        "blobs": [], "receipt": {"store": "x", "of_store": store_id, "have_seq": 1},
        "key": None,
    }


def _set_any_key(draw: st.DrawFn, m: dict[Any, Any], value: st.SearchStrategy[Any]) -> None:
    """Replace one field of ``m`` with a drawn value. An earlier mutation may have left an
    empty map here (``weird`` draws ``{}``): then add a field instead (sampling a key from
    an empty map is no example at all, and made hypothesis give up at random)."""
    key = draw(st.sampled_from(sorted(m, key=repr))) if m else draw(st.text(max_size=8))
    m[key] = draw(value)


@st.composite
def manifests(draw: st.DrawFn, county: dict[str, Any], store_id: str) -> dict[str, Any]:
    body = _valid_body(county, store_id)
    docs = body["docs"]
    if draw(st.booleans()):  # encrypted entries, with a key box of any shape
        body["key"] = draw(weird | st.dictionaries(st.sampled_from(["eph", "nonce", "wrapped"]),
                                                   st.binary(max_size=40) | weird))
        for entry in docs:
            entry["enc"] = True
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["top", "from", "to", "receipt", "entry"]))
        if where == "top":
            _set_any_key(draw, body, weird)
        elif where == "entry" and isinstance(body["docs"], list) and body["docs"]:
            i = draw(st.integers(0, len(body["docs"]) - 1))
            entry = body["docs"][i]
            if isinstance(entry, dict):
                _set_any_key(draw, entry, weird | st.sampled_from(
                    ["../x.bin", "docs/../../x", "docs/.hidden", "village:KC/B", "county:KC",
                     "revocation", "content", -1, 2**40]))
            else:
                body["docs"][i] = draw(weird)
        elif isinstance(body.get(where), dict):
            _set_any_key(draw, body[where], weird)
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


async def _import(store: Store, county: dict[str, Any],
                  path: Path) -> bundle.ImportResult | SyncError:
    """The import's result, or the SyncError that refused the bundle; any other exception
    fails the test. A refusal must leave the store as it was."""
    before = await store.current_seq()
    try:
        return await bundle.import_bundle(store, county["relay"], county["home"].ca.cert(),
                                          path, decrypt_key=county["home"].ca.key())
    except SyncError as exc:
        assert await store.current_seq() == before  # refused whole: nothing stored
        return exc


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
async def test_a_signed_hostile_manifest_ends_in_a_result_or_a_sync_error(
        tmp_path: Path, county: dict[str, Any], data: st.DataObject) -> None:
    store = await Store.open(tmp_path / f"{secrets.token_hex(4)}.db", key=new_key())
    try:
        body = data.draw(manifests(county, store.store_id))
        path = tmp_path / secrets.token_hex(4)
        _write(path, county, body, files=data.draw(st.booleans()))
        outcome = await _import(store, county, path)
        if isinstance(outcome, SyncError):
            assert outcome.code != SyncError.code  # a stable code of its own, not the base's
        else:  # taken: it can only have taken the documents the manifest lists
            assert isinstance(outcome, bundle.ImportResult)
            assert outcome.docs == len(body["docs"])
            assert 0 <= outcome.changed <= outcome.docs
    finally:
        await store.close()


async def test_the_undamaged_manifest_imports(tmp_path: Path, county: dict[str, Any]) -> None:
    # The damaged-manifest test below starts from this bundle: the relay must take it as a
    # bundle (its village documents, sent in clear, are refused one by one: they must
    # travel encrypted), or the refusals of its damaged copies would prove nothing.
    store = await Store.open(tmp_path / "s.db", key=new_key())
    try:
        _write(tmp_path / "b", county, _valid_body(county, store.store_id), files=True)
        outcome = await _import(store, county, tmp_path / "b")
        assert isinstance(outcome, bundle.ImportResult), outcome
        assert outcome.docs == 3 and outcome.changed == 0
        assert [r.code for r in outcome.refused] == ["not_encrypted"] * 3, outcome.refused
    finally:
        await store.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
async def test_a_damaged_manifest_file_is_refused_with_a_sync_error(
        tmp_path: Path, county: dict[str, Any], data: st.DataObject) -> None:
    store = await Store.open(tmp_path / f"{secrets.token_hex(4)}.db", key=new_key())
    try:
        path = tmp_path / secrets.token_hex(4)
        _write(path, county, _valid_body(county, store.store_id), files=True)
        raw = bytearray((path / bundle.MANIFEST).read_bytes())
        # Damage for certain: cut it short, or change bytes (xor with 1..255: never the
        # same byte again, and each position once, so two changes cannot undo each other).
        cut = data.draw(st.none() | st.integers(0, len(raw) - 1))
        flips = data.draw(st.dictionaries(st.integers(0, len(raw) - 1), st.integers(1, 255),
                                          min_size=0 if cut is not None else 1, max_size=6))
        for i, x in flips.items():
            raw[i] ^= x
        (path / bundle.MANIFEST).write_bytes(bytes(raw[:cut]))
        outcome = await _import(store, county, path)
        assert isinstance(outcome, SyncError), outcome
        # Damage is caught as a malformed file, a signature that does not verify, or a
        # certificate that no longer parses or names its holder.
        assert outcome.code in ("bundle_malformed", "bad_signature", "bad_certificate",
                                "wrong_county"), outcome.code
    finally:
        await store.close()
