"""The county's revocation list as a document: where it lives, reading it back verified.

One document per county, ``revocations-<county>`` in scope ``county:<county>``, holding
``signed`` (bytes, see sync/auth.py) and ``version``. Only the relay may write county
scope, and a reader trusts only what verifies against its pinned CA.
"""

from __future__ import annotations

import logging

from automerge.core import ROOT, ScalarType
from cryptography import x509

from store import DocNotFound, DocumentStore, StoreError
from store.records import REVOCATION, county_scope

from .auth import EMPTY_REVOCATIONS, RevocationList, open_revocations
from .errors import NotAuthorized

log = logging.getLogger(__name__)


def doc_id(county: str) -> str:
    return f"revocations-{county}"


async def current(store: DocumentStore, ca: x509.Certificate, county: str) -> RevocationList:
    """The verified list this store holds (empty if none, or if it does not verify)."""
    try:
        data = await store.read(doc_id(county))
    except DocNotFound:
        return EMPTY_REVOCATIONS
    except StoreError as exc:
        log.error("revocation list unreadable: %s", exc)
        return EMPTY_REVOCATIONS
    signed = data.get("signed")
    if not isinstance(signed, bytes):
        return EMPTY_REVOCATIONS
    try:
        return open_revocations(signed, ca)
    except NotAuthorized as exc:
        log.error("ignoring a revocation list that does not verify: %s", exc)
        return EMPTY_REVOCATIONS


async def publish(store: DocumentStore, county: str, signed: bytes, version: int) -> None:
    """Write a newly signed list (relay only)."""

    def write(doc: object) -> None:
        with doc.transaction() as tx:  # type: ignore[attr-defined]
            tx.put(ROOT, "signed", ScalarType.Bytes, signed)
            tx.put(ROOT, "version", ScalarType.Int, version)

    try:
        await store.edit(doc_id(county), write)
    except DocNotFound:
        await store.create(REVOCATION, county_scope(county), write, doc_id=doc_id(county))
