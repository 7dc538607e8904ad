"""The county CA: its key and certificate, node and relay certificates, the signed
revocation list.

Files in the relay home (keys 0600, never logged):

    keys/ca.key  ca.pem          the county CA (Ed25519, self-signed, 20 years)
    keys/relay.key  relay.pem    the relay's own certificate, issued by the CA

Certificates name their holder in one SAN URI (sync/auth.py); TLS peers are checked by
chain and identity, not host name, because LAN peers are found by address.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from store.files import write_private
from sync.auth import identity_urn
from sync.scopes import Identity

CA_YEARS = 20
NODE_DAYS = 2 * 365  # a node certificate lasts two years; `doctor` warns 30 days ahead
BACKDATE = dt.timedelta(minutes=10)  # tolerate clocks slightly behind the relay's


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def private_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(path: Path) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def make_ca(county: str) -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"villagecourt county {county} CA"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, county),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, None)
    )
    return key, cert


def issue(ca_key: ed25519.Ed25519PrivateKey, ca_cert: x509.Certificate,
          public_key: ed25519.Ed25519PublicKey, identity: Identity, *,
          days: int = NODE_DAYS, not_before: dt.datetime | None = None) -> x509.Certificate:
    """A certificate for ``identity``'s key, valid for ``days`` (for clients and servers:
    every node is both, for LAN peers)."""
    start = not_before or (_now() - BACKDATE)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.node_id)]))
        .issuer_name(ca_cert.subject).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(identity_urn(identity))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, None)
    )


def new_node_id() -> str:
    return secrets.token_hex(8)


class CountyCA:
    """The CA files of a relay home."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir

    @property
    def ca_key_file(self) -> Path:
        return self.keys_dir / "ca.key"

    @property
    def ca_cert_file(self) -> Path:
        return self.keys_dir / "ca.pem"

    @property
    def relay_key_file(self) -> Path:
        return self.keys_dir / "relay.key"

    @property
    def relay_cert_file(self) -> Path:
        return self.keys_dir / "relay.pem"

    def exists(self) -> bool:
        return self.ca_key_file.exists() and self.ca_cert_file.exists()

    def create(self, county: str, relay: Identity) -> None:
        key, cert = make_ca(county)
        write_private(self.ca_key_file, private_pem(key))
        write_private(self.ca_cert_file, cert_pem(cert))
        self.issue_relay(relay)

    def issue_relay(self, relay: Identity) -> None:
        rkey = ed25519.Ed25519PrivateKey.generate()
        rcert = issue(self.key(), self.cert(), rkey.public_key(), relay, days=365 * 5)
        write_private(self.relay_key_file, private_pem(rkey))
        write_private(self.relay_cert_file, cert_pem(rcert))

    def key(self) -> ed25519.Ed25519PrivateKey:
        return load_key(self.ca_key_file)

    def cert(self) -> x509.Certificate:
        return load_cert(self.ca_cert_file)
