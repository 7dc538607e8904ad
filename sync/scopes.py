"""Who may read and write what: pure decisions from a peer's identity.

An identity is what a peer is (today from configuration; with certificates, from the
peer's certificate). Its role, county and village give two ScopeSets:

    role        reads                                       writes
    director    village:C/V, county:C                       village:C/V
    judge       village:C/*, county:C, county:C/judge       village:C/* (consultations only),
                                                            county:C/judge
    relay       village:C/*, county:C, county:C/*           the same
    technician  nothing                                     nothing

In a session each side offers ``readable(peer) ∩ writable(self)`` and accepts
``writable(peer) ∩ readable(self)``: a peer never receives what it may not read, and a
side never stores what the peer may not write or what it would not itself read. Both
sides compute the same sets, so they agree on what moves without negotiating it.
"""

from __future__ import annotations

from dataclasses import dataclass

from store import ScopeSet
from store.records import CONSULTATION, check_code

ROLES = ("director", "judge", "relay", "technician")


@dataclass(frozen=True)
class Identity:
    node_id: str
    role: str
    county: str
    village: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        check_code(self.county, "county")
        if self.role == "director":
            check_code(self.village, "village")

    @property
    def label(self) -> str:
        where = f"{self.county}/{self.village}" if self.village else self.county
        return f"{self.role}:{where}:{self.node_id}"


@dataclass(frozen=True)
class Permissions:
    readable: ScopeSet
    writable: ScopeSet
    # Kinds a role may write where its write set is narrower than its read set.
    write_kinds: frozenset[str] | None = None

    def may_write(self, scope: str, kind: str) -> bool:
        if scope not in self.writable:
            return False
        if self.write_kinds is not None and scope.startswith("village:"):
            return kind in self.write_kinds
        return True


def permissions(identity: Identity) -> Permissions:
    c = identity.county
    if identity.role == "director":
        own = f"village:{c}/{identity.village}"
        return Permissions(ScopeSet.of(own, f"county:{c}"), ScopeSet.of(own))
    if identity.role == "judge":
        return Permissions(
            ScopeSet.of(f"village:{c}/*", f"county:{c}", f"county:{c}/judge"),
            ScopeSet.of(f"village:{c}/*", f"county:{c}/judge"),
            write_kinds=frozenset({CONSULTATION}),
        )
    if identity.role == "relay":
        every = ScopeSet.of(f"village:{c}/*", f"county:{c}", f"county:{c}/*")
        return Permissions(every, every)
    return Permissions(ScopeSet.nothing(), ScopeSet.nothing())


def offer_set(me: Identity, peer: Identity) -> ScopeSet:
    """Scopes of documents this side sends to ``peer``: what the peer may read and would
    accept from us (what we may write). A relay forwards everything of its county."""
    return permissions(peer).readable & permissions(me).writable


def accept_set(me: Identity, peer: Identity) -> ScopeSet:
    """Scopes of documents this side stores when ``peer`` sends them."""
    return permissions(peer).writable & permissions(me).readable
