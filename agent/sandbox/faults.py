"""Switchable faults for the sandbox servers.

A fault rule matches requests by method and path prefix and decides, per request, whether to
answer normally or misbehave: an error status (429 with Retry-After, 500, 502, 503), added
latency, a connection reset before any reply, a reply that never comes (hang), the whole server
down for a while, or — the case that makes naive retries create duplicates — processing the
request and then dropping the reply. Rules are changed at run time through the Python API,
`/_sandbox/faults` on each server, or `bngsync sandbox` flags. Decisions come from a seeded RNG so
a failing run can be replayed.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    PASS = "pass"
    ERROR = "error"
    RESET = "reset"            # close the connection before replying
    HANG = "hang"              # hold the connection without replying
    DROP_REPLY = "drop_reply"  # do the work, then close without replying


@dataclass
class FaultRule:
    """One rule; the first matching rule with a non-pass outcome wins, latencies add up."""

    route: str = "*"                  # path prefix, or "*" for every path
    method: str = "*"                 # GET, POST, ... or "*"
    error_rate: float = 0.0           # share of requests answered with one of `statuses`
    statuses: list[int] = field(default_factory=lambda: [503])
    retry_after: int = 1              # seconds, sent with 429 and 503
    latency_ms: float = 0.0           # added to every matching request
    latency_jitter_ms: float = 0.0    # plus a uniform random 0..jitter
    reset_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 60.0
    drop_reply_rate: float = 0.0
    remaining: int | None = None      # apply to this many matching requests, then expire

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.route == "*" or path.startswith(self.route)


@dataclass
class Decision:
    action: Action = Action.PASS
    status: int = 0
    retry_after: int = 0
    delay: float = 0.0
    hang_seconds: float = 0.0


class Faults:
    """The fault switchboard of one server (thread-safe)."""

    def __init__(self, seed: int | None = 0):
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._down_until = 0.0
        self.counts: dict[str, int] = {a.value: 0 for a in Action}

    # -- switching -----------------------------------------------------------------------------
    def add(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._down_until = 0.0

    def down(self, seconds: float) -> None:
        """Take the whole server down: every connection is reset for `seconds`."""
        with self._lock:
            self._down_until = time.monotonic() + seconds

    def up(self) -> None:
        with self._lock:
            self._down_until = 0.0

    @property
    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def snapshot(self) -> dict[str, Any]:
        return {"rules": self.rules(), "down_for": max(0.0, self._down_until - time.monotonic()),
                "counts": dict(self.counts)}

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply a JSON spec: {"clear": bool, "rules": [...], "down_seconds": n}."""
        if spec.get("clear"):
            self.clear()
        for raw in spec.get("rules", []):
            self.add(FaultRule(**raw))
        if spec.get("down_seconds"):
            self.down(float(spec["down_seconds"]))

    # -- deciding ------------------------------------------------------------------------------
    def decide(self, method: str, path: str) -> Decision:
        decision = Decision()
        with self._lock:
            if time.monotonic() < self._down_until:
                decision.action = Action.RESET
                self.counts[Action.RESET.value] += 1
                return decision
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                        continue
                    rule.remaining -= 1
                if rule.latency_ms or rule.latency_jitter_ms:
                    decision.delay += (rule.latency_ms + self._rng.uniform(0, rule.latency_jitter_ms)) / 1000
                if decision.action is not Action.PASS:
                    continue
                roll = self._rng.random()
                for action, rate in ((Action.RESET, rule.reset_rate), (Action.HANG, rule.hang_rate),
                                     (Action.DROP_REPLY, rule.drop_reply_rate),
                                     (Action.ERROR, rule.error_rate)):
                    if roll < rate:
                        decision.action = action
                        break
                    roll -= rate
                if decision.action is Action.ERROR:
                    decision.status = self._rng.choice(rule.statuses)
                    decision.retry_after = rule.retry_after
                elif decision.action is Action.HANG:
                    decision.hang_seconds = rule.hang_seconds
            self.counts[decision.action.value] += 1
        return decision


def mix(rate: float, route: str = "*", retry_after: int = 1, hang_seconds: float = 5.0) -> FaultRule:
    """The standard fault mix at a total failure rate: 429s, 5xx, resets, hangs and dropped replies."""
    return FaultRule(route=route, error_rate=rate * 0.55, statuses=[429, 500, 502, 503],
                     retry_after=retry_after, reset_rate=rate * 0.15, hang_rate=rate * 0.1,
                     hang_seconds=hang_seconds, drop_reply_rate=rate * 0.2)
