"""Backoff with jitter: pure schedule decisions."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sync.schedule import Backoff, PeerSchedule


@given(st.integers(0, 200), st.integers(0, 2**32))
def test_delay_stays_within_jittered_bounds(failures, seed):
    b = Backoff(base=2.0, cap=300.0, ok_interval=60.0, jitter=0.3)
    d = b.delay(failures, random.Random(seed))
    raw = 60.0 if failures == 0 else min(300.0, 2.0 * 2 ** (failures - 1))
    assert raw * 0.7 - 1e-9 <= d <= raw * 1.3 + 1e-9


def test_delay_grows_then_caps():
    b = Backoff(jitter=0.0)
    rng = random.Random(1)
    delays = [b.delay(n, rng) for n in range(1, 12)]
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert delays[-1] == b.cap and sorted(delays) == delays


def test_jitter_spreads_a_herd_of_reconnects():
    b = Backoff()
    rng = random.Random(7)
    delays = [b.delay(3, rng) for _ in range(200)]
    assert max(delays) - min(delays) > 0.4 * 8.0  # spread over most of ±30 % of 8 s


def test_schedule_success_resets_failures():
    b, rng = Backoff(jitter=0.0), random.Random(0)
    s = PeerSchedule()
    assert s.due(0.0)
    s.failed(100.0, b, rng)
    s.failed(102.0, b, rng)
    assert s.failures == 2 and s.next_at == 106.0 and not s.due(105.0) and s.due(106.0)
    s.succeeded(110.0, b, rng)
    assert s.failures == 0 and s.next_at == 110.0 + b.ok_interval
