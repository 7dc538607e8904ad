"""A set of scopes, written as exact scopes and subtree patterns, usable both in Python
and as an SQL predicate over ``docs.scope``.

    "village:KC/BY"    exactly that scope
    "village:KC/*"     every scope under "village:KC/" (all villages of county KC)
    "*"                everything (a store's own view of itself)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScopeSet:
    """A set of scope patterns (village:KC/A, county:KC...)."""
    patterns: frozenset[str]

    @classmethod
    def of(cls, *patterns: str) -> "ScopeSet":
        return cls(frozenset(patterns))

    @classmethod
    def nothing(cls) -> "ScopeSet":
        return cls(frozenset())

    def __contains__(self, scope: object) -> bool:
        if not isinstance(scope, str):
            return False
        for p in self.patterns:
            if p == "*" or p == scope:
                return True
            if p.endswith("/*") and scope.startswith(p[:-1]):
                return True
        return False

    def __and__(self, other: "ScopeSet") -> "ScopeSet":
        """Patterns that lie in both sets (exact where one is narrower)."""
        out: set[str] = set()
        for a in self.patterns:
            for b in other.patterns:
                if a == b:
                    out.add(a)
                elif _covers(a, b):
                    out.add(b)
                elif _covers(b, a):
                    out.add(a)
        return ScopeSet(frozenset(out))

    def fingerprint(self) -> str:
        return "|".join(sorted(self.patterns))

    def sql(self, column: str = "scope") -> tuple[str, list[str]]:
        """An SQL boolean expression and its parameters."""
        if "*" in self.patterns:
            return "1", []
        parts: list[str] = []
        params: list[str] = []
        exact = sorted(p for p in self.patterns if not p.endswith("/*"))
        if exact:
            parts.append(f"{column} IN ({','.join('?' * len(exact))})")
            params += exact
        for p in sorted(p for p in self.patterns if p.endswith("/*")):
            prefix = p[:-1]  # keeps the trailing '/'
            # A range scan on the index instead of LIKE (whose wildcards '_' would match).
            parts.append(f"({column} >= ? AND {column} < ?)")
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        return ("(" + " OR ".join(parts) + ")") if parts else "0", params


def _covers(wide: str, narrow: str) -> bool:
    if wide == "*":
        return True
    if wide.endswith("/*"):
        base = wide[:-1]
        return narrow.startswith(base) and narrow != wide
    return False
