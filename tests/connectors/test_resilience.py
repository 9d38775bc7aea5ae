"""Retry maths, the token bucket and the circuit breaker, on a fake clock."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from agent.connectors.errors import CircuitOpen
from agent.connectors.resilience import (
    BreakerState,
    CircuitBreaker,
    FakeClock,
    RetryPolicy,
    TokenBucket,
    parse_retry_after,
    server_wait_hint,
)


class Ceiling(random.Random):
    """A random source that always returns the top of the range: shows the jitter's upper bound."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Floor(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


# -- retry policy ----------------------------------------------------------------------------------
def test_backoff_ceiling_doubles_per_attempt_and_is_capped():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n, Ceiling()) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_is_full_jitter_from_zero():
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    assert policy.backoff(5, Floor()) == 0.0
    rng = random.Random(1)
    samples = [policy.backoff(4, rng) for _ in range(2000)]
    assert all(0.0 <= s <= 8.0 for s in samples)
    # spread over the whole range, not clustered at the top like "equal jitter" would be
    assert min(samples) < 0.5 and max(samples) > 7.5
    assert 3.5 < sum(samples) / len(samples) < 4.5


def test_server_hint_beats_computed_backoff():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert policy.delay(1, Ceiling(), server_hint=7.0) == 7.0
    assert policy.delay(1, Ceiling(), server_hint=0.0) == 0.0
    assert policy.delay(3, Ceiling()) == 2.0


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=20), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(20.0)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now.timestamp()) == 0.0


def test_retry_after_wins_over_rate_limit_reset():
    assert server_wait_hint({"retry-after": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "9"}) == 2.0
    assert server_wait_hint({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9"}) == 9.0
    assert server_wait_hint({"x-ratelimit-remaining": "4", "x-ratelimit-reset": "9"}) is None
    assert server_wait_hint({}) is None


# -- token bucket --------------------------------------------------------------------------------------
def test_bucket_allows_a_burst_then_paces_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    waits = [bucket.reserve() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])
    clock.advance(10)
    assert bucket.tokens == pytest.approx(3.0)     # refills, but never beyond the burst


def test_bucket_acquire_sleeps_on_the_injected_clock():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=1, clock=clock)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    assert clock.sleeps == [pytest.approx(0.5)]


def test_bucket_refuses_a_wait_longer_than_allowed_without_taking_a_token():
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    bucket.reserve()
    assert bucket.reserve(max_wait=0.5) is None
    assert bucket.reserve(max_wait=1.0) == pytest.approx(1.0)


def test_bucket_obeys_server_saying_nothing_remains_until_reset():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=20, clock=clock)
    bucket.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"})
    assert bucket.reserve() == pytest.approx(2.1)   # the pause, then its turn in the refilled bucket


def test_bucket_never_holds_more_than_the_server_says_remain():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=20, clock=clock)
    bucket.observe({"x-ratelimit-remaining": "2", "x-ratelimit-reset": "1"})
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_bucket_is_thread_safe_every_reservation_gets_its_own_slot():
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=5, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(waits) == 200
    expected = [0.0] * 5 + [k / 100 for k in range(1, 196)]
    assert sorted(waits) == pytest.approx(expected)


def test_bucket_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


# -- circuit breaker ------------------------------------------------------------------------------------
def _breaker(clock: FakeClock, events: list) -> CircuitBreaker:
    breaker = CircuitBreaker("bng", failure_threshold=3, cooldown=30, max_cooldown=100, clock=clock)
    breaker.add_listener(lambda system, old, new, snap: events.append((system, old.value, new.value, snap)))
    return breaker


def test_breaker_opens_after_consecutive_failures_and_fails_fast():
    clock, events = FakeClock(), []
    breaker = _breaker(clock, events)
    for _ in range(2):
        assert breaker.allow() is False
        breaker.record_failure("reset")
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("reset")
    assert breaker.state is BreakerState.OPEN
    assert [(e[1], e[2]) for e in events] == [("closed", "open")]
    with pytest.raises(CircuitOpen) as info:
        breaker.allow()
    snap = breaker.snapshot()
    assert info.value.next_probe_at == snap.next_probe_at
    assert snap.next_probe_at == datetime.fromtimestamp(clock.time() + 30, UTC)
    assert snap.failures == 3 and snap.last_error == "reset"
    assert info.value.retryable and info.value.error_class == "connection"
    assert "paused" in str(info.value)


def test_a_success_resets_the_consecutive_count():
    clock, events = FakeClock(), []
    breaker = _breaker(clock, events)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_breaker_lets_one_probe_through_after_the_cooldown():
    clock, events = FakeClock(), []
    breaker = _breaker(clock, events)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(29.9)
    with pytest.raises(CircuitOpen):
        breaker.allow()
    clock.advance(0.2)
    assert breaker.allow() is True                  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.allow()                             # only one probe at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().next_probe_at is None
    assert [(e[1], e[2]) for e in events] == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_failed_probes_double_the_cooldown_up_to_the_maximum():
    clock, events = FakeClock(), []
    breaker = _breaker(clock, events)
    for _ in range(3):
        breaker.record_failure()
    cooldowns = []
    for _ in range(4):
        clock.advance(breaker.snapshot().cooldown_seconds)
        assert breaker.allow() is True
        breaker.record_failure("still down")
        cooldowns.append(breaker.snapshot().cooldown_seconds)
    assert cooldowns == [60, 100, 100, 100]
    assert breaker.state is BreakerState.OPEN
    # back up: closes and the cool-down starts small again next time
    clock.advance(100)
    breaker.allow()
    breaker.record_success()
    for _ in range(3):
        breaker.record_failure()
    assert breaker.snapshot().cooldown_seconds == 30


def test_probe_without_verdict_lets_the_next_call_probe():
    clock, events = FakeClock(), []
    breaker = _breaker(clock, events)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow() is True
    breaker.release_probe()
    assert breaker.allow() is True


def test_listener_errors_do_not_break_the_breaker():
    clock = FakeClock()
    breaker = CircuitBreaker("nopcommerce", failure_threshold=1, clock=clock)
    breaker.add_listener(lambda *a: 1 / 0)
    seen = []
    breaker.add_listener(lambda system, old, new, snap: seen.append((system, new, snap.as_dict()["state"])))
    breaker.record_failure()
    assert seen == [("nopcommerce", BreakerState.OPEN, "open")]


def test_snapshot_serializes_for_the_store():
    clock = FakeClock()
    breaker = CircuitBreaker("bng", failure_threshold=1, cooldown=10, clock=clock)
    breaker.record_failure("connection refused")
    data = breaker.snapshot().as_dict()
    assert data["state"] == "open" and data["failures"] == 1 and data["last_error"] == "connection refused"
    assert data["next_probe_at"].endswith("+00:00")
    breaker.reset()
    assert breaker.snapshot().as_dict()["next_probe_at"] is None
