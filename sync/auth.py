"""Who a peer is: its certificate chain to the county CA, and the revocation list.

A node certificate is an X.509 certificate with an Ed25519 key, issued by the county CA,
whose subject alternative name holds one URI naming the node:

    urn:villagecourt:<role>:<county>:<village or ->:<node id>

``peer_identity`` turns the DER certificate a TLS peer presented into an Identity, or
refuses with NotAuthorized and a stable code: ``no_certificate``, ``wrong_county`` (not
issued by our CA), ``expired``, ``not_yet_valid``, ``bad_certificate``, ``revoked``.
TLS already checked the chain when the handshake used our CA; checking again here keeps
the rule in one tested place and covers bundles, which have no TLS.

The revocation list is a CBOR payload signed by the CA key: ``{"county", "version",
"issued_at", "revoked": [{"node_id", "serial", "at", "reason"}]}``. It travels as a
county document; a node trusts only a list whose signature verifies against its pinned CA,
and never one older than the newest it has seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import NotAuthorized
from .scopes import ROLES, Identity

URN_PREFIX = "urn:villagecourt:"
CLOCK_SLACK = dt.timedelta(minutes=5)  # village PCs drift; accept certs a few minutes early


def identity_urn(identity: Identity) -> str:
    return (f"{URN_PREFIX}{identity.role}:{identity.county}:{identity.village or '-'}:"
            f"{identity.node_id}")


def parse_urn(urn: str) -> Identity:
    if not urn.startswith(URN_PREFIX):
        raise ValueError("not a villagecourt identity")
    parts = urn[len(URN_PREFIX):].split(":")
    if len(parts) != 4 or parts[0] not in ROLES:
        raise ValueError("malformed villagecourt identity")
    role, county, village, node_id = parts
    return Identity(node_id, role, county, "" if village == "-" else village)


def cert_identity(cert: x509.Certificate) -> Identity:
    """The identity a certificate names (no validity checks)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        urns = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
                if u.startswith(URN_PREFIX)]
        if len(urns) != 1:
            raise ValueError("expected exactly one villagecourt identity")
        return parse_urn(urns[0])
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise NotAuthorized(f"certificate names no villagecourt identity: {exc}",
                            code="bad_certificate") from None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex (what a token pins)."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def verify_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> None:
    if cert.issuer != ca.subject:
        raise NotAuthorized("certificate was not issued by this county's CA",
                            code="wrong_county")
    key = ca.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise NotAuthorized("county CA key is not Ed25519", code="bad_certificate")
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature:
        raise NotAuthorized("certificate signature does not verify against this county's CA",
                            code="wrong_county") from None


def check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    if now + CLOCK_SLACK < cert.not_valid_before_utc:
        raise NotAuthorized(
            f"certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
            code="not_yet_valid")
    if now > cert.not_valid_after_utc:
        raise NotAuthorized(f"certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}",
                            code="expired")


@dataclass(frozen=True)
class RevocationList:
    county: str
    version: int
    issued_at: str
    revoked: tuple[tuple[str, int], ...]  # (node_id, serial)

    def is_revoked(self, identity: Identity, serial: int | None = None) -> bool:
        return any(node_id == identity.node_id or (serial is not None and s == serial)
                   for node_id, s in self.revoked)

    @property
    def node_ids(self) -> frozenset[str]:
        return frozenset(n for n, _ in self.revoked)


EMPTY_REVOCATIONS = RevocationList("", 0, "", ())


def revocation_payload(county: str, version: int, revoked: list[dict[str, object]]) -> bytes:
    return cbor2.dumps({
        "county": county, "version": version,
        "issued_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "revoked": revoked,
    })


def sign_revocations(payload: bytes, ca_key: ed25519.Ed25519PrivateKey) -> bytes:
    """The signed list: CBOR [payload, signature]."""
    return cbor2.dumps([payload, ca_key.sign(payload)])


def open_revocations(signed: bytes, ca: x509.Certificate) -> RevocationList:
    """Verify a signed revocation list against the county CA; raise NotAuthorized if not."""
    try:
        payload, signature = cbor2.loads(signed)
        key = ca.public_key()
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, payload)
        body = cbor2.loads(payload)
        revoked = tuple((str(r["node_id"]), int(r.get("serial") or 0)) for r in body["revoked"])
        return RevocationList(str(body["county"]), int(body["version"]),
                              str(body["issued_at"]), revoked)
    except InvalidSignature:
        raise NotAuthorized("revocation list signature does not verify",
                            code="bad_revocations") from None
    except Exception as exc:  # noqa: BLE001 — a signed body of any shape: malformed
        raise NotAuthorized(f"revocation list is malformed: {type(exc).__name__}",
                            code="bad_revocations") from None


def peer_identity(der: bytes | None, ca: x509.Certificate, *,
                  revocations: RevocationList = EMPTY_REVOCATIONS,
                  now: dt.datetime | None = None) -> tuple[Identity, x509.Certificate]:
    """The authenticated identity of a peer from the certificate it presented."""
    if not der:
        raise NotAuthorized("the peer presented no certificate", code="no_certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise NotAuthorized("the peer's certificate does not parse",
                            code="bad_certificate") from None
    try:
        # cryptography parses some fields only when read: a damaged certificate (a USB
        # bundle's chain) can load and then raise ValueError at its issuer.
        verify_issued_by(cert, ca)
        check_validity(cert, now or dt.datetime.now(dt.timezone.utc))
        identity = cert_identity(cert)
    except ValueError:
        raise NotAuthorized("the peer's certificate does not parse",
                            code="bad_certificate") from None
    if identity.county != cert_identity_county(ca):
        raise NotAuthorized("certificate names another county", code="wrong_county")
    if revocations.is_revoked(identity, cert.serial_number):
        raise NotAuthorized(f"node {identity.node_id} has been revoked", code="revoked")
    return identity, cert


def cert_identity_county(ca: x509.Certificate) -> str:
    """The county a CA certificate belongs to (its subject's organizational unit)."""
    attrs = ca.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not attrs:
        raise NotAuthorized("county CA certificate names no county", code="bad_certificate")
    return str(attrs[0].value)
