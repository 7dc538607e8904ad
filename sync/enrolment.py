"""What node and relay share of enrolment: one-time codes, the proof that pins the county
CA, and the sealed offline enrolment file (relay/enrol.py describes the scheme).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_CHARS = 16  # 80 bits
LOOKUP_CHARS = 4  # sent in the clear to find the token; 60 bits stay secret
FILE_FORMAT = "villagecourt-enrolment-1"
SCRYPT_N = 2**15  # ~0.1 s per guess here; the code has 80 bits anyway


class EnrolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.details: dict[str, Any] = {}


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))


def normalize_code(text: str) -> str:
    """Accept what a person types: lower case, dashes, spaces, O for 0, I/L for 1."""
    s = text.strip().upper().replace("-", "").replace(" ", "")
    s = s.translate(str.maketrans("OILU", "011V"))
    if len(s) != CODE_CHARS or any(c not in ALPHABET for c in s):
        raise EnrolError("bad_token", "the code must be 16 letters and digits")
    return s


def pretty(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def code_hash(code: str) -> bytes:
    return hashlib.sha256(normalize_code(code).encode()).digest()


def proof(code_digest: bytes, nonce: bytes, ca_der: bytes) -> str:
    """HMAC-SHA256 keyed by the code's hash over nonce and CA: only a holder of the code
    can make it, so a node that checks it has the real county CA."""
    return hmac.new(code_digest, nonce + ca_der, hashlib.sha256).hexdigest()


def _file_key(code: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(
        normalize_code(code).encode())


def seal_enrol_file(path: Path, secret: dict[str, str], public: dict[str, str]) -> str:
    """Write ``secret`` sealed with a fresh code (returned), ``public`` in the clear."""
    code = new_code()
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_file_key(code, salt)).encrypt(nonce, json.dumps(secret).encode(),
                                                   FILE_FORMAT.encode())
    from store.files import write_private

    write_private(path, json.dumps({
        "format": FILE_FORMAT, **public, "salt": base64.b64encode(salt).decode(),
        "nonce": base64.b64encode(nonce).decode(), "sealed": base64.b64encode(sealed).decode(),
    }, indent=2).encode())
    return code


def open_enrol_file(path: Path, code: str) -> dict[str, str]:
    try:
        outer = json.loads(path.read_text(encoding="utf-8"))
        if outer.get("format") != FILE_FORMAT:
            raise EnrolError("bad_enrol_file", "this is not a villagecourt enrolment file")
        salt = base64.b64decode(outer["salt"])
        nonce = base64.b64decode(outer["nonce"])
        sealed = base64.b64decode(outer["sealed"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise EnrolError("bad_enrol_file", "the enrolment file is damaged or unreadable") from None
    try:
        plain = AESGCM(_file_key(code, salt)).decrypt(nonce, sealed, FILE_FORMAT.encode())
    except Exception:  # noqa: BLE001 — any failure to decrypt (a bad tag, salt or nonce) is the wrong code
        raise EnrolError("wrong_enrol_code", "the code does not open this enrolment file") from None
    data: dict[str, str] = json.loads(plain)
    return data
