"""The search key is HKDF-SHA256 written with the standard library (so that opening a store
loads no cryptography); it must stay the very key cryptography's HKDF derives, or every
store's index would stop matching its tokens. The sealing cipher is made at first use;
new document ids are uuid4 hex without the uuid module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from store import CorruptDoc
from store.sealed import KEY_BYTES, SEARCH_KEY_INFO, Sealer, new_key, search_key


@pytest.mark.parametrize("key", [None, bytes(KEY_BYTES), b"\xff" * KEY_BYTES,
                                 bytes(range(KEY_BYTES)), bytes(range(100, 100 + KEY_BYTES))],
                         ids=["none", "zeros", "ones", "0-31", "100-131"])
def test_search_key_is_cryptographys_hkdf(key: bytes | None) -> None:
    expected = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                    info=SEARCH_KEY_INFO).derive(key if key is not None else bytes(KEY_BYTES))
    assert search_key(key) == expected


def test_sealer_seals_and_opens_with_its_cipher_made_late() -> None:
    key = new_key()
    assert len(key) == KEY_BYTES and key != new_key()
    sealed = Sealer(key).seal("doc-1", b"13800138000")
    assert b"13800138000" not in sealed
    assert Sealer(key).open("doc-1", sealed) == b"13800138000"
    with pytest.raises(CorruptDoc):
        Sealer(key).open("doc-2", sealed)  # the id is the associated data
    with pytest.raises(CorruptDoc):
        Sealer(new_key()).open("doc-1", sealed)
    assert Sealer(None).seal("doc-1", b"x") == b"x" and not Sealer(None).enabled


def test_a_sealer_made_but_not_used_loads_no_cryptography() -> None:
    code = ("import sys; from store.sealed import Sealer, new_key, search_key; "
            "s = Sealer(new_key()); search_key(new_key()); "
            "print(any(m.startswith('cryptography') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env={**os.environ}).stdout.strip()
    assert out == "False"


def test_new_doc_ids_are_uuid4_hex() -> None:
    import uuid

    from store.docs import new_doc_id

    ids = {new_doc_id() for _ in range(200)}
    assert len(ids) == 200
    for doc_id in ids:
        u = uuid.UUID(hex=doc_id)
        assert u.hex == doc_id and u.version == 4 and u.variant == uuid.RFC_4122
