"""Fixtures for the engine tests: a real SQLite store in tmp_path, a queue, a settable clock."""

from __future__ import annotations

import pytest

from agent.engine.history import History
from agent.engine.queue import JobQueue
from agent.store import Store, open_store
from tests.conftest import wait_until

__all__ = ["FakeClock", "wait_until"]


class FakeClock:
    """A wall clock (epoch seconds) that moves only when told."""

    def __init__(self, start: float = 1_767_225_600.0):  # 2026-01-01T00:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def store(tmp_path) -> Store:
    store = open_store(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(store: Store, clock: FakeClock) -> JobQueue:
    """A queue on the fake clock: backoffs and leases move only when the test says so."""
    import random

    return JobQueue(store, max_attempts=3, retry_base=10.0, retry_max=600.0, lease_seconds=60.0, clock=clock,
                    rng=random.Random(1))


@pytest.fixture
def history(store: Store, clock: FakeClock) -> History:
    return History(store, clock=clock)
