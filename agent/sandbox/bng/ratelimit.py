"""BNG's rate limit: a token bucket per API key.

The agent must live with 429s (and their Retry-After) in production, so the double enforces the
same limit by default: `rate` tokens per second refill a bucket of `burst`. `X-RateLimit-*`
headers describe the bucket of the key a request used: Limit is the bucket size, Remaining the
whole tokens left, Reset the seconds until the bucket is full again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.sandbox.bng.values import seconds_until


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Thread-safe token buckets keyed by API key; `rate=None` lets everything through."""

    def __init__(self, rate: float | None = 10.0, burst: int = 20,
                 clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock
        self.rate = rate
        self.burst = max(1, int(burst))

    def configure(self, rate: float | None, burst: int | None = None) -> None:
        """Change the limit at run time; buckets start full again."""
        with self._lock:
            self.rate = rate
            if burst is not None:
                self.burst = max(1, int(burst))
            self._buckets.clear()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        elif self.rate:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        return bucket

    def acquire(self, key: str) -> int | None:
        """Take one token; None when allowed, else the Retry-After seconds."""
        if self.rate is None:
            return None
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return seconds_until(now + (1.0 - bucket.tokens) / self.rate, now)

    def headers(self, key: str) -> dict[str, str]:
        """The X-RateLimit-* headers for `key`, without taking a token."""
        if self.rate is None:
            return {"X-RateLimit-Limit": str(self.burst), "X-RateLimit-Remaining": str(self.burst),
                    "X-RateLimit-Reset": "0"}
        with self._lock:
            bucket = self._bucket(key, self._clock())
            missing = self.burst - bucket.tokens
            return {
                "X-RateLimit-Limit": str(self.burst),
                "X-RateLimit-Remaining": str(max(0, math.floor(bucket.tokens))),
                "X-RateLimit-Reset": str(math.ceil(missing / self.rate) if missing > 0 else 0),
            }
