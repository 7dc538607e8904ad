"""When to try a peer next: exponential backoff with jitter (pure, no clock).

After ``failures`` consecutive failures the next attempt waits
``min(cap, base * 2**(failures-1))`` seconds, spread by ±``jitter`` so that 200 villages
whose relay came back do not all reconnect in the same second (the "thundering herd").
After a success the peer is tried again after ``ok_interval`` (also jittered), or sooner
when something changed locally.

A relay at its cap of sessions answers ``busy`` with a retry-after (seconds). That is not
a failure of the link: ``PeerSchedule.busy`` waits at least the retry-after (plus up to
``jitter`` of it more, so a herd told the same number does not return in the same second)
and leaves the failure count, and so the backoff, as it was. The relay draws each
retry-after with ``jittered_retry_after`` to spread its rejected peers in the first place.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BASE_S = 2.0  # first retry after a failure
CAP_S = 300.0  # never wait more than 5 minutes: a link that comes back is used soon
OK_INTERVAL_S = 60.0  # after a good session, look again in a minute
JITTER = 0.3  # ±30 %
BUSY_SPREAD = 0.5  # the relay's retry-after: its base ±50 %


def jittered_retry_after(base_s: float, rng: random.Random, spread: float = BUSY_SPREAD) -> int:
    """Whole seconds (at least 1) a busy relay tells a peer to wait: ``base_s`` ±spread."""
    raw = base_s * (1.0 + rng.uniform(-spread, spread))
    return max(1, math.ceil(raw))


@dataclass(frozen=True)
class Backoff:
    base: float = BASE_S
    cap: float = CAP_S
    ok_interval: float = OK_INTERVAL_S
    jitter: float = JITTER

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait before the next attempt."""
        if failures <= 0:
            raw = self.ok_interval
        else:
            raw = min(self.cap, self.base * 2 ** min(failures - 1, 30))
        spread = raw * self.jitter
        return max(0.0, raw + rng.uniform(-spread, spread))


@dataclass
class PeerSchedule:
    """Per-peer state the sync loop keeps: consecutive failures and when to try next."""

    failures: int = 0
    next_at: float = 0.0
    hold_until: float = 0.0  # a busy peer's retry-after: not before this, even after edits

    def succeeded(self, now: float, backoff: Backoff, rng: random.Random) -> None:
        self.failures = 0
        self.next_at = now + backoff.delay(0, rng)

    def failed(self, now: float, backoff: Backoff, rng: random.Random) -> None:
        self.failures += 1
        self.next_at = now + backoff.delay(self.failures, rng)

    def busy(self, now: float, retry_after: float, backoff: Backoff,
             rng: random.Random) -> None:
        """The peer was busy and asked for ``retry_after`` seconds: wait that, and up to
        ``backoff.jitter`` of it more. Not a failure: the backoff does not grow."""
        wait = max(0.0, retry_after)
        self.hold_until = now + wait
        self.next_at = self.hold_until + rng.uniform(0.0, wait * backoff.jitter)

    def may_try(self, now: float) -> bool:
        """False while a busy peer's retry-after runs: not even a local edit dials it."""
        return now >= self.hold_until

    def due(self, now: float) -> bool:
        return now >= self.next_at
