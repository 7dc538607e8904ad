"""Encrypting bundle files to their recipient (issue #8; docs/bundles.md, "Encryption").

No new keys: every node already holds an Ed25519 key whose certificate the county CA
signed, and every node pins the CA certificate. An Ed25519 key converts to an X25519 key
(the birational map of RFC 7748 §4.1, as libsodium's ``crypto_sign_ed25519_pk_to_curve25519``
and age's ssh-ed25519 recipients do), so:

* village → county: files are encrypted to the county CA's key (only the relay holds it);
* county → village: to the key of the village node's certificate (the relay keeps the
  certificate of each node whose bundle it imported).

Scheme: one random 256-bit file key per bundle, wrapped for the recipient with an
ephemeral X25519 exchange and HKDF-SHA256, then ChaCha20-Poly1305 for each file with a
random nonce and the document id as associated data.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

P = 2**255 - 19
INFO = b"villagecourt-bundle-v1"


class SealError(ValueError):
    pass


def x25519_public(ed_pub: ed25519.Ed25519PublicKey) -> x25519.X25519PublicKey:
    raw = ed_pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P - 2, P) % P
    return x25519.X25519PublicKey.from_public_bytes(u.to_bytes(32, "little"))


def x25519_private(ed_key: ed25519.Ed25519PrivateKey) -> x25519.X25519PrivateKey:
    seed = ed_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return x25519.X25519PrivateKey.from_private_bytes(bytes(h))


def _raw(pub: x25519.X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kek(shared: bytes, eph: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=eph + recipient, info=INFO).derive(shared)


def wrap_key(file_key: bytes, recipient: ed25519.Ed25519PublicKey) -> dict[str, bytes]:
    """The bundle's file key, readable only by the holder of ``recipient``'s private key."""
    r = x25519_public(recipient)
    eph = x25519.X25519PrivateKey.generate()
    e = _raw(eph.public_key())
    kek = _kek(eph.exchange(r), e, _raw(r))
    nonce = os.urandom(12)
    return {"eph": e, "nonce": nonce,
            "wrapped": ChaCha20Poly1305(kek).encrypt(nonce, file_key, INFO)}


def unwrap_key(box: dict[str, bytes], key: ed25519.Ed25519PrivateKey) -> bytes:
    try:
        x = x25519_private(key)
        kek = _kek(x.exchange(x25519.X25519PublicKey.from_public_bytes(bytes(box["eph"]))),
                   bytes(box["eph"]), _raw(x.public_key()))
        return ChaCha20Poly1305(kek).decrypt(bytes(box["nonce"]), bytes(box["wrapped"]), INFO)
    except Exception:  # noqa: BLE001 — a key box of any shape from a stick: it does not open for us
        raise SealError("the bundle's personal data is encrypted to another recipient") from None


def seal(file_key: bytes, doc_id: str, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(file_key).encrypt(nonce, data, doc_id.encode())


def open_sealed(file_key: bytes, doc_id: str, data: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(file_key).decrypt(data[:12], data[12:], doc_id.encode())
    except (InvalidTag, ValueError):  # altered or truncated data; a key of the wrong size
        raise SealError(f"document {doc_id} does not decrypt") from None
