"""The node's identity: its key and certificate, the pinned county CA, provisioning.

Files in ``<home>/keys`` (all 0600): ``node.key`` (Ed25519), ``node.pem`` (issued by the
county CA), ``ca.pem`` (the county CA, pinned at provisioning; the only trust anchor).

``provision_online`` enrols with a one-time code: it first pins the county CA by checking
the relay's proof that it knows the code (relay/enrol.py explains why that is safe on an
untrusted network), then sends its public key over TLS verified against that CA.
``provision_file`` does the same from an enrolment file on a machine with no network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from store.files import write_private
from store.records import is_short_id
from sync.auth import cert_identity, cert_identity_county
from sync.enrolment import EnrolError, normalize_code, open_enrol_file, proof
from sync.scopes import Identity
from sync.tls import client_context, server_context

from .config import ConfigError, Home, NodeConfig, short_id

ENROL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class NodeKeys:
    keys_dir: Path

    @property
    def key_file(self) -> Path:
        return self.keys_dir / "node.key"

    @property
    def cert_file(self) -> Path:
        return self.keys_dir / "node.pem"

    @property
    def ca_file(self) -> Path:
        return self.keys_dir / "ca.pem"

    def provisioned(self) -> bool:
        return self.key_file.exists() and self.cert_file.exists() and self.ca_file.exists()

    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    def ca(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_file.read_bytes())

    def identity(self) -> Identity:
        return cert_identity(self.cert())

    def client_context(self) -> ssl.SSLContext:
        return client_context(self.ca_file, self.cert_file, self.key_file)

    def server_context(self) -> ssl.SSLContext:
        return server_context(self.cert_file, self.key_file, self.ca_file)

    def write(self, key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> None:
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)
        write_private(self.key_file, key_pem)
        write_private(self.cert_file, cert_pem)
        write_private(self.ca_file, ca_pem)


def keys_of(home: Home) -> NodeKeys:
    return NodeKeys(home.keys_dir)


def relay_urls(url: str) -> tuple[str, str]:
    """(https base for enrolment, wss URL for sync) from what a technician typed:
    ``relay.example:8765``, ``https://relay.example:8765`` or ``wss://…/v1/sync``."""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "wss", "http", "ws") or not parts.netloc:
        raise ConfigError("bad_relay_url", f"not a relay address: {url}")
    secure = parts.scheme in ("https", "wss")
    base = urlunsplit(("https" if secure else "http", parts.netloc, "", "", ""))
    sync = urlunsplit(("wss" if secure else "ws", parts.netloc, "/v1/sync", "", ""))
    return base, sync


def _finish(home: Home, *, identity: Identity, key_pem: bytes, cert_pem: bytes,
            ca_pem: bytes, relay_url: str, village_name: str, language: str,
            director: str, given_short_id: object = None) -> NodeConfig:
    """Write keys and configuration of a freshly enrolled node. Its case-number short id
    is the one the relay gave (unique in the village), else a random one (an older
    relay)."""
    ca = x509.load_pem_x509_certificate(ca_pem)
    if cert_identity_county(ca) != identity.county:
        raise ConfigError("wrong_county", "the certificate and the CA name different counties")
    if home.exists():
        raise ConfigError("node_exists", f"a node already exists at {home.path}",
                          home=str(home.path))
    cfg = home.init(village=identity.village or "county", village_name=village_name
                    or identity.village or identity.county, county=identity.county,
                    language=language, director=director)
    cfg.node_id = identity.node_id
    cfg.role = identity.role
    cfg.relay_url = relay_url
    cfg.short_id = given_short_id if is_short_id(given_short_id) else short_id()
    keys_of(home).write(key_pem, cert_pem, ca_pem)
    home.save(cfg)
    return cfg


async def provision_online(home: Home, relay: str, token: str, *, village_name: str = "",
                           language: str = "zh", director: str = "") -> NodeConfig:
    try:
        code = normalize_code(token)
    except EnrolError as exc:
        raise ConfigError(exc.code, str(exc)) from None
    if home.exists():
        raise ConfigError("node_exists", f"a node already exists at {home.path}",
                          home=str(home.path))
    base, sync_url = relay_urls(relay)
    nonce = secrets.token_bytes(32)
    timeout = aiohttp.ClientTimeout(total=ENROL_TIMEOUT_S)
    # Step 1 over TLS that is not yet verified: we do not know the CA. The proof does.
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession(timeout=timeout) as http:
        hello = await _post(http, f"{base}/v1/enrol/hello",
                            {"lookup": code[:4], "nonce": nonce.hex()}, unverified)
        ca_pem = str(hello.get("ca_pem", "")).encode()
        try:
            ca = x509.load_pem_x509_certificate(ca_pem)
        except ValueError:
            raise ConfigError("bad_relay", "the relay sent no usable CA certificate") from None
        digest = hashlib.sha256(code.encode()).digest()
        expected = proof(digest, nonce, ca.public_bytes(serialization.Encoding.DER))
        proofs = hello.get("proofs") or []
        if not any(hmac.compare_digest(expected, str(p)) for p in proofs):
            raise ConfigError(
                "relay_not_proven",
                "the relay could not prove it issued this code: wrong address, a wrong or "
                "used code, or someone in between. Nothing was sent.")
        # Step 2: TLS verified against the CA we just pinned.
        ca_file_tmp = home.path.parent / f".{home.path.name}.ca.pem"
        ca_file_tmp.parent.mkdir(parents=True, exist_ok=True)
        ca_file_tmp.write_bytes(ca_pem)
        try:
            verified = client_context(ca_file_tmp) if base.startswith("https") else None
        finally:
            ca_file_tmp.unlink(missing_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        answer = await _post(http, f"{base}/v1/enrol",
                             {"code": code, "public_key": public_pem.decode()}, verified)
    cert_pem = str(answer.get("cert_pem", "")).encode()
    cert = x509.load_pem_x509_certificate(cert_pem)
    identity = cert_identity(cert)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return _finish(home, identity=identity, key_pem=key_pem, cert_pem=cert_pem, ca_pem=ca_pem,
                   relay_url=str(answer.get("relay_url") or sync_url),
                   village_name=village_name, language=language, director=director,
                   given_short_id=answer.get("short_id"))


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any],
                ctx: ssl.SSLContext | None) -> dict[str, Any]:
    try:
        async with http.post(url, json=body, ssl=ctx if ctx is not None else False) as resp:
            data = await resp.json(content_type=None)
            if resp.status == 403 and isinstance(data, dict):
                raise ConfigError(str(data.get("error", "enrol_refused")),
                                  str(data.get("message", "the relay refused enrolment")))
            if resp.status != 200 or not isinstance(data, dict):
                raise ConfigError("enrol_failed", f"the relay answered {resp.status}")
            return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ConfigError("relay_unreachable", f"could not reach the relay at {url}: {exc}",
                          ) from None


def provision_file(home: Home, path: Path, code: str, *, village_name: str = "",
                   language: str = "zh", director: str = "") -> NodeConfig:
    try:
        data = open_enrol_file(path, code)
    except EnrolError as exc:
        raise ConfigError(exc.code, str(exc)) from None
    cert_pem = data["cert_pem"].encode()
    identity = cert_identity(x509.load_pem_x509_certificate(cert_pem))
    return _finish(home, identity=identity, key_pem=data["key_pem"].encode(),
                   cert_pem=cert_pem, ca_pem=data["ca_pem"].encode(),
                   relay_url=data.get("relay_url", ""), village_name=village_name,
                   language=language, director=director,
                   given_short_id=data.get("short_id"))


def days_left(cert: x509.Certificate, now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.timezone.utc)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


