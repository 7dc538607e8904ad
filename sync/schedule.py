"""When to try a peer next: exponential backoff with jitter (pure, no clock).

After ``failures`` consecutive failures the next attempt waits
``min(cap, base * 2**(failures-1))`` seconds, spread by ±``jitter`` so that 200 villages
whose relay came back do not all reconnect in the same second (the "thundering herd").
After a success the peer is tried again after ``ok_interval`` (also jittered), or sooner
when something changed locally.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BASE_S = 2.0  # first retry after a failure
CAP_S = 300.0  # never wait more than 5 minutes: a link that comes back is used soon
OK_INTERVAL_S = 60.0  # after a good session, look again in a minute
JITTER = 0.3  # ±30 %


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

    def succeeded(self, now: float, backoff: Backoff, rng: random.Random) -> None:
        self.failures = 0
        self.next_at = now + backoff.delay(0, rng)

    def failed(self, now: float, backoff: Backoff, rng: random.Random) -> None:
        self.failures += 1
        self.next_at = now + backoff.delay(self.failures, rng)

    def due(self, now: float) -> bool:
        return now >= self.next_at
