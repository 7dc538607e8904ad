"""Encryption at rest of document bytes (AES-256-GCM).

Documents hold personal data (party phones and ID numbers); the store keeps every
document snapshot and change chunk sealed with a key the node (or relay) hands in, so the
raw SQLite file never holds them in plain text. The document id is the associated data:
a sealed chunk moved to another document's row does not open.

Sealed layout: 1 byte version (1) | 12 bytes random nonce | ciphertext + 16 byte tag.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CorruptDoc

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12  # the AES-GCM standard nonce; random nonces are safe below 2**32 seals/key


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class Sealer:
    """Seals and opens byte strings bound to a document id. ``None`` key: plain passthrough
    (only for tests that look at raw bytes on purpose)."""

    def __init__(self, key: bytes | None) -> None:
        if key is not None and len(key) != KEY_BYTES:
            raise ValueError("store key must be 32 bytes")
        self._aead = AESGCM(key) if key is not None else None

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    def seal(self, doc_id: str, data: bytes) -> bytes:
        if self._aead is None:
            return data
        nonce = os.urandom(NONCE_BYTES)
        return bytes([VERSION]) + nonce + self._aead.encrypt(nonce, data, doc_id.encode())

    def open(self, doc_id: str, sealed: bytes) -> bytes:
        if self._aead is None:
            return sealed
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != VERSION:
            raise CorruptDoc(f"document {doc_id} is not sealed with this store's format",
                             doc_id=doc_id)
        try:
            return self._aead.decrypt(sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:],
                                      doc_id.encode())
        except InvalidTag:
            raise CorruptDoc(f"document {doc_id} does not open with this store's key",
                             doc_id=doc_id) from None


SEARCH_KEY_INFO = b"villagecourt/search-tokens/v1"
# Stores opened without a key (tests that read raw bytes on purpose) still hash personal
# values in their index, with this fixed key: such a store protects nothing anyway.
_NO_KEY = bytes(KEY_BYTES)


def search_key(store_key: bytes | None) -> bytes:
    """The key of the search index's tokens (store/projection.py), derived from the store
    key with HKDF-SHA256: kept wherever the store key is kept (its file, its backup), never
    stored itself, and independent of it (a token says nothing about the sealing key)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=SEARCH_KEY_INFO).derive(store_key if store_key is not None else _NO_KEY)
