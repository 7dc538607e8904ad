"""Encryption at rest of document bytes (AES-256-GCM).

Documents hold personal data (party phones and ID numbers); the store keeps every
document snapshot and change chunk sealed with a key the node (or relay) hands in, so the
raw SQLite file never holds them in plain text. The document id is the associated data:
a sealed chunk moved to another document's row does not open.

Sealed layout: 1 byte version (1) | 12 bytes random nonce | ciphertext + 16 byte tag.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING

from .errors import CorruptDoc

if TYPE_CHECKING:  # cryptography is imported by the first seal or open, not by every command
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12  # the AES-GCM standard nonce; random nonces are safe below 2**32 seals/key


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)  # what AESGCM.generate_key does


class Sealer:
    """Seals and opens byte strings bound to a document id. ``None`` key: plain passthrough
    (only for tests that look at raw bytes on purpose)."""

    def __init__(self, key: bytes | None) -> None:
        if key is not None and len(key) != KEY_BYTES:
            raise ValueError("store key must be 32 bytes")
        self._key = key
        self._cipher: AESGCM | None = None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    @property
    def _aead(self) -> "AESGCM":
        """The cipher, made (and cryptography imported) at the first seal or open: a
        command that reads only the index (``case list``) never loads it."""
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            assert self._key is not None
            self._cipher = AESGCM(self._key)
        return self._cipher

    def seal(self, doc_id: str, data: bytes) -> bytes:
        if self._key is None:
            return data
        nonce = os.urandom(NONCE_BYTES)
        return bytes([VERSION]) + nonce + self._aead.encrypt(nonce, data, doc_id.encode())

    def open(self, doc_id: str, sealed: bytes) -> bytes:
        if self._key is None:
            return sealed
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != VERSION:
            raise CorruptDoc(f"document {doc_id} is not sealed with this store's format",
                             doc_id=doc_id)
        from cryptography.exceptions import InvalidTag

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
    stored itself, and independent of it (a token says nothing about the sealing key).

    HKDF (RFC 5869) written out with the standard library's HMAC, so that opening a store
    does not load cryptography: with no salt, extract is HMAC(32 zero bytes, key); one
    block of expand, HMAC(prk, info || 0x01), is the 32 bytes wanted (tests/store checks
    it equals cryptography's HKDF)."""
    ikm = store_key if store_key is not None else _NO_KEY
    prk = hmac.new(bytes(hashlib.sha256().digest_size), ikm, hashlib.sha256).digest()
    return hmac.new(prk, SEARCH_KEY_INFO + b"\x01", hashlib.sha256).digest()[:KEY_BYTES]
