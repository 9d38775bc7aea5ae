"""Fixtures for the flow tests: the real sandbox over loopback, a real store, the real Runtime.

Generic on purpose, so every flow's tests can use them:

- `sandbox` — both doubles running (BNG's rate limit off unless a test asks for it);
  `make_sandbox(**options)` for a differently configured one.
- `make_settings(sandbox, **sections)` — settings pointing at a sandbox, tuned for tests: short
  timeouts, fast retries (`retry_base_seconds` 0.05), a generous BNG rate; keyword arguments
  override whole sections' keys, e.g. `agent={"max_attempts": 3}`.
- `store` — a fresh SQLite store under tmp_path.
- `make_runtime(sandbox, settings=None, store=None)` — a started `Runtime` wired to the sandbox
  (no schedules, no webhook receiver), stopped at the end of the test.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent import flows as flows_mod
from agent.config import Settings
from agent.sandbox import Sandbox
from agent.sandbox.cli import sandbox_config
from agent.store import Store, open_store

FAST_AGENT = {"workers": 4, "retry_base_seconds": 0.05, "retry_max_seconds": 0.5, "max_attempts": 12,
              "breaker_failures": 50, "breaker_cooldown_seconds": 0.2, "breaker_max_cooldown_seconds": 1.0,
              "lease_seconds": 30}


ALL_FLOWS = flows_mod.MODULES


@pytest.fixture(autouse=True)
def _present_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the flows that exist in this checkout (flows written in parallel may be missing)."""
    monkeypatch.setattr(flows_mod, "MODULES", tuple(m for m in ALL_FLOWS if m not in missing_flows()))


def missing_flows() -> tuple[str, ...]:
    """Flow modules the runtime lists that this checkout does not have (yet)."""
    return tuple(m for m in ALL_FLOWS if importlib.util.find_spec(f"agent.flows.{m}") is None)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def build(seed: int = 0, bng_rate: float | None = None, **options: Any) -> Sandbox:
        options.setdefault("bad_data_rate", 0.0)
        sandbox = Sandbox(seed=seed, bng_rate=bng_rate, **options).start()
        started.append(sandbox)
        return sandbox

    yield build
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def make_settings(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    def build(sandbox: Sandbox, **sections: dict[str, Any]) -> Settings:
        monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", sandbox.credentials.nop_password)
        monkeypatch.setenv("BNGSYNC_BNG_API_KEY", sandbox.credentials.bng_api_key)
        settings = sandbox_config(sandbox, **{**FAST_AGENT, **sections.pop("agent", {})})
        data = settings.model_dump(mode="json", exclude_none=True)
        data["nopcommerce"].update({"timeout_seconds": 2, "requests_per_second": 2000})
        data["bng"].update({"timeout_seconds": 2, "requests_per_second": 2000, "burst": 2000})
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        return Settings.model_validate(data)
    return build


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    db = open_store(tmp_path / "data")
    yield db
    db.close()


@pytest.fixture
def make_runtime(make_settings: Callable[..., Settings], store: Store) -> Iterator[Callable[..., Any]]:
    from agent.runtime import Runtime

    started: list[Runtime] = []

    def build(sandbox: Sandbox, settings: Settings | None = None, runtime_store: Store | None = None,
              start: bool = True, **sections: dict[str, Any]) -> Runtime:
        runtime = Runtime(settings or make_settings(sandbox, **sections), runtime_store or store)
        started.append(runtime)
        return runtime.start(schedules=False, webhooks=False) if start else runtime

    yield build
    for runtime in started:
        runtime.stop(timeout=10)
