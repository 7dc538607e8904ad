"""Revoking a node: a new signed revocation list, published as the county document."""

from __future__ import annotations

import datetime as dt

from store import DocumentStore
from sync import revocations
from sync.auth import revocation_payload, sign_revocations

from .ca import CountyCA


async def revoke(store: DocumentStore, ca: CountyCA, county: str, node_id: str,
                 reason: str = "") -> int:
    """Add ``node_id`` to the list; returns the new version. Revoking twice is a no-op
    that still returns the current version."""
    current = await revocations.current(store, ca.cert(), county)
    if node_id in current.node_ids:
        return current.version
    entries: list[dict[str, object]] = [
        {"node_id": n, "serial": s, "at": "", "reason": ""} for n, s in current.revoked]
    entries.append({"node_id": node_id, "serial": 0, "reason": reason,
                    "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    version = current.version + 1
    signed = sign_revocations(revocation_payload(county, version, entries), ca.key())
    await revocations.publish(store, county, signed, version)
    return version
