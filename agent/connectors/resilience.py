"""Retry policy, client-side rate limiter and circuit breaker, one of each per remote system.

Hand-written rather than taken from tenacity/stamina/pybreaker: the rules here are specific
(Retry-After and X-RateLimit-Reset beat the computed backoff; POSTs are not repeated blindly; a
breaker counts only failures of the *system*, lets exactly one probe through and doubles its
cool-down; its state goes to listeners that persist it and raise alerts), they need an injectable
clock so tests never sleep, and the whole thing is ~250 lines — less than the glue a library would
need to be bent into this shape.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

from agent.connectors.errors import CircuitOpen

log = logging.getLogger(__name__)


# -- time --------------------------------------------------------------------------------------
class Clock(Protocol):
    """Where the resilience layer reads time and sleeps: the real one, or a fake in tests."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock for tests: `sleep` returns at once and moves time forward; every sleep is recorded."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_767_225_600.0):  # 2026-01-01T00:00:00Z
        self._now = start
        self._wall_offset = wall - start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


SYSTEM_CLOCK = SystemClock()


def wall_datetime(clock: Clock, monotonic_at: float) -> datetime:
    """A monotonic instant as an aware UTC datetime (for snapshots people and the store read)."""
    return datetime.fromtimestamp(clock.time() + (monotonic_at - clock.monotonic()), UTC)


# -- retry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How one call retries retryable failures: exponential backoff with full jitter, bounded.

    `max_attempts` counts the first try; `max_total_wait` caps the seconds spent sleeping between
    attempts (including rate-limiter waits), so a call gives up in bounded time and the job
    queue — which retries on a scale of minutes — takes over.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2^(attempt-1))] after failed `attempt` (1-based).

        Full jitter spreads the retries of many workers hitting the same outage instead of
        synchronising them into waves.
        """
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return rng.uniform(0.0, ceiling)

    def delay(self, attempt: int, rng: random.Random, server_hint: float | None = None) -> float:
        """The wait before the next attempt: the server's own hint wins over the computed backoff."""
        if server_hint is not None:
            return max(0.0, server_hint)
        return self.backoff(attempt, rng)


NO_RETRY = RetryPolicy(max_attempts=1, max_total_wait=0.0)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RateLimitInfo:
    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None       # seconds until the window refills

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        def num(name: str) -> float | None:
            raw = headers.get(name)
            if raw is None:
                return None
            try:
                return float(raw)
            except ValueError:
                return None
        return cls(num("x-ratelimit-limit"), num("x-ratelimit-remaining"), num("x-ratelimit-reset"))


def server_wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long the server asked us to wait: Retry-After first, then X-RateLimit-Reset when exhausted."""
    hint = parse_retry_after(headers.get("retry-after"), now)
    if hint is not None:
        return hint
    info = RateLimitInfo.from_headers(headers)
    if info.reset is not None and (info.remaining is None or info.remaining <= 0):
        return max(0.0, info.reset)
    return None


# -- rate limiter ------------------------------------------------------------------------------
class TokenBucket:
    """Client-side token bucket, shared by every worker thread talking to one system.

    Reservations: a caller takes a token at once (the count may go negative) and sleeps outside
    the lock for its computed turn, so waiters are served in order without a condition variable.
    The server's `X-RateLimit-*` headers tighten it: never more tokens than the server says
    remain, and when it says none remain, nothing is sent until its window resets.
    """

    def __init__(self, rate: float, burst: int | float, clock: Clock = SYSTEM_CLOCK):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._stamp = clock.monotonic()     # the instant `_tokens` is valid at; may lie in the future
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def reserve(self, max_wait: float | None = None) -> float | None:
        """Take one token; return the seconds to wait before using it.

        None (and nothing taken) when the wait would be longer than `max_wait`.
        """
        with self._lock:
            now = self.clock.monotonic()
            self._refill(now)
            after = self._tokens - 1.0
            wait = max(0.0, self._stamp - now) + (max(0.0, -after) / self.rate)
            if max_wait is not None and wait > max_wait:
                return None
            self._tokens = after
            return wait

    def acquire(self, max_wait: float | None = None) -> float | None:
        """Reserve and sleep; return the seconds waited, or None when the wait would exceed `max_wait`."""
        wait = self.reserve(max_wait)
        if wait:
            self.clock.sleep(wait)
        return wait

    def pause_for(self, seconds: float) -> None:
        """Send nothing for `seconds` (the server's window is exhausted), then refill from empty."""
        if seconds <= 0:
            return
        with self._lock:
            now = self.clock.monotonic()
            self._refill(now)
            self._tokens = min(self._tokens, 0.0)
            self._stamp = max(self._stamp, now + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to what the server says about its own bucket."""
        info = RateLimitInfo.from_headers(headers)
        if info.remaining is None:
            return
        if info.remaining <= 0:
            self.pause_for(info.reset if info.reset is not None else 1.0 / self.rate)
            return
        with self._lock:
            self._refill(self.clock.monotonic())
            self._tokens = min(self._tokens, info.remaining)

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill(self.clock.monotonic())
            return self._tokens


# -- circuit breaker ---------------------------------------------------------------------------
class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSnapshot:
    system: str
    state: BreakerState
    failures: int                        # consecutive system failures
    cooldown_seconds: float              # the wait before the next probe (grows while down)
    opened_at: datetime | None
    next_probe_at: datetime | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key in ("opened_at", "next_probe_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


BreakerListener = Callable[[str, BreakerState, BreakerState, BreakerSnapshot], None]


class CircuitBreaker:
    """Stops hammering a system that is down, and finds out cheaply when it is back.

    Closed: calls pass; `failure_threshold` consecutive system failures open it. Open: calls fail
    fast with `CircuitOpen` until the cool-down has passed. Then one call — the probe — goes through
    (half-open): success closes the breaker, failure re-opens it with the cool-down doubled (up to
    `max_cooldown`). Record problems (4xx) are not failures of the system and count as proof it is up.
    """

    def __init__(self, system: str, failure_threshold: int = 5, cooldown: float = 30.0,
                 max_cooldown: float = 1800.0, clock: Clock = SYSTEM_CLOCK):
        self.system = system
        self.failure_threshold = max(1, failure_threshold)
        self.base_cooldown = cooldown
        self.max_cooldown = max(cooldown, max_cooldown)
        self.clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._cooldown = cooldown
        self._opened_at: float | None = None
        self._next_probe: float | None = None
        self._probe_out = False
        self._last_error: str | None = None
        self._listeners: list[BreakerListener] = []
        self._lock = threading.Lock()

    # -- listeners -------------------------------------------------------------------------------
    def add_listener(self, listener: BreakerListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: BreakerListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, old: BreakerState, new: BreakerState, snap: BreakerSnapshot) -> None:
        log.info("%s circuit breaker: %s -> %s (failures %d)", self.system, old.value, new.value, snap.failures)
        for listener in list(self._listeners):
            try:
                listener(self.system, old, new, snap)
            except Exception:  # a broken listener must not break the connector
                log.exception("circuit breaker listener failed")

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            system=self.system, state=self._state, failures=self._failures, cooldown_seconds=self._cooldown,
            opened_at=wall_datetime(self.clock, self._opened_at) if self._opened_at is not None else None,
            next_probe_at=(wall_datetime(self.clock, self._next_probe)
                           if self._next_probe is not None and self._state is not BreakerState.CLOSED else None),
            last_error=self._last_error)

    def _move(self, new: BreakerState) -> tuple[BreakerState, BreakerState, BreakerSnapshot] | None:
        old = self._state
        self._state = new
        return (old, new, self._snapshot()) if old is not new else None

    # -- the call protocol -------------------------------------------------------------------------
    def allow(self) -> bool:
        """Before a call: raise `CircuitOpen`, or return True when this call is the half-open probe."""
        change = None
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return False
            now = self.clock.monotonic()
            if self._probe_out or (self._next_probe is not None and now < self._next_probe):
                raise CircuitOpen(system=self.system, next_probe_at=(
                    wall_datetime(self.clock, self._next_probe) if self._next_probe is not None else None))
            self._probe_out = True
            if self._state is BreakerState.OPEN:
                change = self._move(BreakerState.HALF_OPEN)
        if change:
            self._notify(*change)
        return True

    def record_success(self) -> None:
        change = None
        with self._lock:
            self._failures = 0
            self._probe_out = False
            self._last_error = None
            if self._state is not BreakerState.CLOSED:
                self._cooldown = self.base_cooldown
                self._opened_at = self._next_probe = None
                change = self._move(BreakerState.CLOSED)
        if change:
            self._notify(*change)

    def record_failure(self, error: str = "") -> None:
        change = None
        with self._lock:
            self._failures += 1
            self._last_error = error or self._last_error
            now = self.clock.monotonic()
            if self._state is BreakerState.HALF_OPEN:
                self._probe_out = False
                self._cooldown = min(self.max_cooldown, self._cooldown * 2)
                self._next_probe = now + self._cooldown
                change = self._move(BreakerState.OPEN)
            elif self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
                self._cooldown = self.base_cooldown
                self._opened_at = now
                self._next_probe = now + self._cooldown
                change = self._move(BreakerState.OPEN)
        if change:
            self._notify(*change)

    def release_probe(self) -> None:
        """The probe ended without a verdict (e.g. the caller's own bug): let the next call probe."""
        with self._lock:
            self._probe_out = False

    def reset(self) -> None:
        """Close by hand (a person pressed "retry now" after fixing the cause)."""
        self.record_success()


def next_probe_in(snapshot: BreakerSnapshot, now: datetime | None = None) -> timedelta | None:
    if snapshot.next_probe_at is None:
        return None
    return max(timedelta(0), snapshot.next_probe_at - (now or datetime.now(UTC)))
