"""Fixtures for the connector tests: a fake clock, recorded mock transports and ready clients.

Unit tests never sleep: every client here gets a `FakeClock` whose `sleep` only moves time on
(and records how long was asked for), and an `httpx.MockTransport` whose handler plays the server.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.config import AgentSettings, BngSettings, NopCommerceSettings
from agent.connectors.bng import BngClient
from agent.connectors.http import HttpClient
from agent.connectors.nopcommerce import NopCommerceClient
from agent.connectors.resilience import CircuitBreaker, FakeClock, RetryPolicy, TokenBucket

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A mock transport that remembers every request it was given."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    if isinstance(body, bytes | str):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def sequence(*responses: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> Handler:
    """A handler that plays the given replies (or raises the given errors) in order, repeating the last."""
    items = list(responses)
    state = {"i": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        item = items[min(state["i"], len(items) - 1)]
        state["i"] += 1
        if isinstance(item, Exception):
            raise item
        if callable(item) and not isinstance(item, httpx.Response):
            return item(request)
        return item
    return handler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def agent_settings() -> AgentSettings:
    return AgentSettings(breaker_failures=3, breaker_cooldown_seconds=30, breaker_max_cooldown_seconds=240)


@pytest.fixture
def make_http(clock: FakeClock) -> Callable[..., tuple[HttpClient, Recorder]]:
    def build(handler: Handler, *, system: str = "bng", retry: RetryPolicy | None = None,
              limiter: TokenBucket | None = None, breaker: CircuitBreaker | None = None,
              **kwargs: Any) -> tuple[HttpClient, Recorder]:
        recorder = Recorder(handler)
        http = HttpClient(system, "http://remote.test/api", transport=recorder.transport, clock=clock,
                          rng=random.Random(7), retry=retry or RetryPolicy(), limiter=limiter,
                          breaker=breaker or CircuitBreaker(system, failure_threshold=3, cooldown=30,
                                                            max_cooldown=240, clock=clock), **kwargs)
        return http, recorder
    return build


@pytest.fixture
def nop_settings() -> NopCommerceSettings:
    return NopCommerceSettings(url="http://shop.test", username="api@shop.test", page_size=2,
                               requests_per_second=1000)


@pytest.fixture
def bng_settings() -> BngSettings:
    return BngSettings(url="http://bng.test/api/v1", company="ACME", page_size=2, requests_per_second=1000,
                       burst=1000)


@pytest.fixture
def make_nop(nop_settings: NopCommerceSettings, agent_settings: AgentSettings,
             clock: FakeClock) -> Callable[..., tuple[NopCommerceClient, Recorder]]:
    def build(handler: Handler, **kwargs: Any) -> tuple[NopCommerceClient, Recorder]:
        recorder = Recorder(handler)
        client = NopCommerceClient.from_settings(nop_settings, agent_settings, password="s3cret-pass",
                                                 transport=recorder.transport, clock=clock,
                                                 rng=random.Random(7), **kwargs)
        return client, recorder
    return build


@pytest.fixture
def make_bng(bng_settings: BngSettings, agent_settings: AgentSettings,
             clock: FakeClock) -> Callable[..., tuple[BngClient, Recorder]]:
    def build(handler: Handler, **kwargs: Any) -> tuple[BngClient, Recorder]:
        recorder = Recorder(handler)
        client = BngClient.from_settings(bng_settings, agent_settings, api_key="bng-key-123",
                                         transport=recorder.transport, clock=clock, rng=random.Random(7),
                                         **kwargs)
        return client, recorder
    return build
