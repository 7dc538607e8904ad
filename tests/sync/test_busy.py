"""The relay's "busy" answer, pure parts: the Error frame with its retry-after, what a
client session makes of it, and how the schedule honours it (waits at least the
retry-after, and the backoff does not grow)."""

from __future__ import annotations

import random

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node import i18n
from sync.errors import PeerError, RemoteProtocolError
from sync.messages import BUSY, MAX_RETRY_AFTER_S, Error
from sync.protocol import Send, State, SyncSession, busy_error, retry_after_of
from sync.schedule import Backoff, PeerSchedule, jittered_retry_after
from sync.scopes import Identity
from sync.wire import decode, encode

A1 = Identity("a1", "director", "KC", "BY")
STORE_ID = "0123456789abcdef0123456789abcdef"


# --- the frame ---------------------------------------------------------------------------
def test_busy_frame_carries_the_retry_after_and_other_errors_keep_three_fields():
    frame = encode(busy_error(42))
    assert cbor2.loads(frame[1:]) == [4, BUSY, "the relay is busy; retry in 42 s", 42]
    assert decode(frame) == Error(BUSY, "the relay is busy; retry in 42 s", retry_after=42)
    plain = encode(Error("bad_frame", "x"))
    assert cbor2.loads(plain[1:]) == [4, "bad_frame", "x"]
    assert decode(plain).retry_after == 0


@given(st.integers(1, MAX_RETRY_AFTER_S))
def test_busy_error_round_trips_any_allowed_retry_after(seconds):
    msg = busy_error(seconds)
    assert msg.code == BUSY and msg.retry_after == seconds
    assert decode(encode(msg)) == msg


def test_busy_error_clamps_what_it_is_given():
    assert busy_error(0).retry_after == 1
    assert busy_error(10 * MAX_RETRY_AFTER_S).retry_after == MAX_RETRY_AFTER_S


@pytest.mark.parametrize("value", [0, MAX_RETRY_AFTER_S + 1, -1, True, "30", 1.5, None])
def test_a_frame_with_a_bad_retry_after_is_refused(value):
    frame = bytes([0x01]) + cbor2.dumps([4, BUSY, "busy", value])
    with pytest.raises(RemoteProtocolError) as exc:
        decode(frame)
    assert exc.value.code == "bad_frame"


def test_encoding_refuses_a_retry_after_out_of_range():
    with pytest.raises(ValueError):
        encode(Error(BUSY, "busy", retry_after=MAX_RETRY_AFTER_S + 1))


# --- the client session ------------------------------------------------------------------
def _client() -> SyncSession:
    s = SyncSession(True, A1, STORE_ID)
    assert isinstance(s.start()[0], Send)  # the Hello went out; the relay answers busy
    return s


def test_a_client_told_busy_ends_with_the_retry_after_and_does_not_answer():
    s = _client()
    assert s.receive(busy_error(17)) == []  # the peer's own error: nothing sent back
    assert s.state is State.ERROR and isinstance(s.error, PeerError)
    assert s.error.code == BUSY
    assert retry_after_of(s.error) == 17


def test_only_a_busy_error_has_a_retry_after():
    s = _client()
    s.receive(Error("boom", "gave up", retry_after=9))
    assert s.error is not None and s.error.code == "boom"
    assert retry_after_of(s.error) == 0
    assert retry_after_of(None) == 0
    assert retry_after_of(PeerError("x", code=BUSY)) == 0  # busy without advice


def test_a_busy_code_with_control_characters_is_not_taken_as_busy():
    s = _client()
    s.receive(Error("busy\n", "fake", retry_after=5))
    assert s.error is not None and s.error.code == "peer_error"
    assert retry_after_of(s.error) == 0


def test_people_read_busy_with_the_seconds():
    s = _client()
    s.receive(busy_error(25))
    assert i18n.sync_error_message("zh", s.error) == "县里服务器繁忙，25 秒后重试"
    assert i18n.sync_error_message("en", s.error) == \
        "The county relay is busy; retrying in 25 s"
    assert i18n.busy_message("zh", 0) == i18n.t("zh", "busy")


# --- the schedule ------------------------------------------------------------------------
@given(st.integers(0, 40), st.floats(1.0, 3600.0), st.integers(0, 2**32),
       st.floats(0.0, 1e6))
def test_busy_waits_at_least_the_retry_after_and_keeps_the_failures(failures, retry, seed,
                                                                   now):
    b = Backoff()
    s = PeerSchedule(failures=failures)
    s.busy(now, retry, b, random.Random(seed))
    assert s.failures == failures
    assert now + retry <= s.next_at <= now + retry * (1 + b.jitter) + 1e-6
    assert not s.due(now + retry * 0.999) and not s.may_try(now + retry * 0.999)
    assert s.may_try(now + retry)


def test_being_busy_again_and_again_does_not_grow_the_wait():
    b, rng = Backoff(), random.Random(3)
    s = PeerSchedule()
    now = 0.0
    waits = []
    for _ in range(50):
        s.busy(now, 30, b, rng)
        waits.append(s.next_at - now)
        now = s.next_at
    assert s.failures == 0
    assert all(30 <= w <= 30 * (1 + b.jitter) for w in waits)
    # A real failure afterwards starts the backoff from its base, not from 50 "failures".
    s.failed(now, Backoff(jitter=0.0), rng)
    assert s.failures == 1 and s.next_at - now == Backoff().base


def test_a_success_after_busy_lifts_the_hold():
    b, rng = Backoff(jitter=0.0), random.Random(0)
    s = PeerSchedule()
    s.busy(100.0, 20, b, rng)
    assert not s.may_try(110.0)
    s.succeeded(130.0, b, rng)
    assert s.may_try(130.0) and s.failures == 0


@given(st.integers(1, 600), st.integers(0, 2**32))
def test_the_relay_draws_a_whole_retry_after_within_its_spread(base, seed):
    n = jittered_retry_after(base, random.Random(seed))
    assert isinstance(n, int) and n >= 1
    assert base * 0.5 - 1 <= n <= base * 1.5 + 1


def test_the_relay_spreads_a_herd_of_busy_peers():
    rng = random.Random(11)
    draws = [jittered_retry_after(30, rng) for _ in range(200)]
    assert max(draws) - min(draws) >= 20  # most of 15..45 s is used
