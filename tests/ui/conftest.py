"""Fixtures for the desktop app's tests: a real store behind a real Service, filled via the engine.

The windows are tested against the same store the agent writes, filled through the engine's own
API (runs through History, records through JobQueue enqueue/claim/fail/complete), so what a
window shows is what it would show for real data. No runtime is started unless a test asks for it.
"""

from __future__ import annotations

import pytest

from agent import config as config_mod
from agent import paths as paths_mod
from agent.service import Service
from tests.ui.seed import seed


@pytest.fixture
def paths(isolated_paths):
    return paths_mod.resolve()


@pytest.fixture
def settings():
    return config_mod.parse({"nopcommerce": {"url": "http://127.0.0.1:9", "username": "api@shop.example.com"},
                             "bng": {"url": "http://127.0.0.1:9/api/v1"}})


@pytest.fixture
def service(paths, settings):
    config_mod.save(settings, paths.config_file)
    svc = Service.open(paths, console=False)
    yield svc
    svc.close()


@pytest.fixture
def seeded(service):
    """The service with a week of runs, synced orders and a few dead and quarantined records."""
    seed(service)
    return service


@pytest.fixture
def bridge(qtbot, service):
    from ui.bridge import Bridge

    b = Bridge(service, poll_ms=60_000)
    yield b
    b.close()
    b.runner.wait_idle(10)


@pytest.fixture
def sandbox():
    """Both test doubles on loopback (no bad data, no rate limit)."""
    from agent.sandbox import Sandbox

    with Sandbox(seed=3, bng_rate=None, bad_data_rate=0.0) as box:
        yield box


@pytest.fixture
def present_flows(monkeypatch):
    """Run with the flows that exist in this checkout (flows are written in parallel)."""
    import importlib.util

    from agent import flows as flows_mod

    present = tuple(m for m in flows_mod.MODULES if importlib.util.find_spec(f"agent.flows.{m}") is not None)
    monkeypatch.setattr(flows_mod, "MODULES", present)
    return present
