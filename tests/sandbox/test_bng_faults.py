"""Injected faults as a plain HTTP client sees them on the BNG double.

The agent's resilience (retries, backoff, duplicate avoidance) is tested against these, so each
fault must look on the wire like the real thing: error bodies and Retry-After for 429/503, a
slow reply, a reset connection, a reply that never comes, a server that is gone for a while, and
— the dangerous one — an order that was created although the client never heard back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from agent.sandbox.bng import BngServer
from agent.sandbox.bng.samples import order_body
from tests.conftest import wait_until

KEY = "sandbox-bng-key"


@pytest.fixture
def server() -> Iterator[BngServer]:
    with BngServer(rate=None) as s:
        yield s


@pytest.fixture
def client(server: BngServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as c:
        yield c


@pytest.mark.parametrize("status, code, retry_after", [
    (429, "rate_limited", "3"), (500, "internal", None), (502, "internal", None), (503, "maintenance", "3"),
])
def test_injected_error_statuses(server: BngServer, client: httpx.Client, status: int, code: str,
                                 retry_after: str | None) -> None:
    server.faults.add(route="/api/v1/items", error_rate=1.0, statuses=[status], retry_after=3, remaining=1)
    reply = client.get("/items")
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert reply.headers.get("Retry-After") == retry_after
    assert "X-RateLimit-Remaining" in reply.headers
    assert client.get("/items").status_code == 200          # the rule was for one request only


def test_faults_switched_through_the_admin_route(server: BngServer, client: httpx.Client) -> None:
    spec = {"rules": [{"route": "/api/v1/changes", "error_rate": 1.0, "statuses": [502], "remaining": 2}]}
    assert httpx.post(server.url + "/_sandbox/faults", json=spec).status_code == 200
    assert [client.get("/changes").status_code for _ in range(3)] == [502, 502, 200]
    assert client.get("/items").status_code == 200


def test_added_latency(server: BngServer, client: httpx.Client) -> None:
    server.faults.add(route="/api/v1/health", latency_ms=150, remaining=1)
    started = time.monotonic()
    assert client.get("/health").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_connection_reset(server: BngServer, client: httpx.Client) -> None:
    server.faults.add(route="/api/v1/items", reset_rate=1.0, remaining=1)
    with pytest.raises(httpx.TransportError):
        client.get("/items")
    assert client.get("/items").status_code == 200


def test_hang_ends_in_a_client_timeout(server: BngServer, client: httpx.Client) -> None:
    server.faults.add(route="/api/v1/items", hang_rate=1.0, hang_seconds=5, remaining=1)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.get("/items", timeout=0.3)
    assert time.monotonic() - started < 2
    assert client.get("/items").status_code == 200


def test_server_down_for_a_while_then_back(server: BngServer, client: httpx.Client) -> None:
    server.faults.down(0.5)
    started = time.monotonic()
    with pytest.raises(httpx.TransportError):
        client.get("/health")

    def answers() -> bool:
        try:
            return client.get("/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=5, interval=0.05, message="BNG back up")
    assert time.monotonic() - started >= 0.45


def test_dropped_reply_still_creates_the_order(server: BngServer, client: httpx.Client) -> None:
    server.faults.add(route="/api/v1/sales-orders", method="POST", drop_reply_rate=1.0, remaining=1)
    with pytest.raises(httpx.TransportError):
        client.post("/sales-orders", json=order_body(external_order_id="9001"))
    assert server.state.count_orders("9001") == 1            # created, though nobody heard back
    found = client.get("/sales-orders", params={"external_order_id": "9001"}).json()["items"]
    assert len(found) == 1                                   # what a careful client checks first
    client.post("/sales-orders", json=order_body(external_order_id="9001"))
    assert server.state.count_orders("9001") == 2            # what a blind retry does
