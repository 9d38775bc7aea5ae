"""The BNG client against the BNG sandbox double over real loopback sockets.

Faults come from the double's switchboard (`server.faults`). Real waits are kept short: Retry-After
is 1 s, a few times at most; everything else waits on a condition with a deadline.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from agent.config import AgentSettings, BngSettings
from agent.connectors import errors as e
from agent.connectors.bng import BngClient
from agent.connectors.resilience import BreakerState, RetryPolicy, SystemClock
from agent.sandbox.faults import FaultRule
from tests.conftest import wait_until

BngServer = pytest.importorskip("agent.sandbox.bng.server").BngServer
KEY = "sandbox-bng-key"


class RecordingClock(SystemClock):
    """The real clock, remembering every sleep the client asked for."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


@pytest.fixture
def server():
    srv = BngServer(port=0, seed=1, api_key=KEY, rate=None)
    srv.start()
    yield srv
    srv.stop()


def make_client(server, *, timeout: float = 5.0, retry: RetryPolicy | None = None, rate: float = 1000,
                burst: int = 1000, key: str = KEY, clock: SystemClock | None = None, page_size: int = 10,
                **agent: Any) -> BngClient:
    settings = BngSettings(url=server.api_url, timeout_seconds=timeout, page_size=page_size,
                           requests_per_second=rate, burst=burst)
    agent_settings = AgentSettings(**{"breaker_failures": 3, "breaker_cooldown_seconds": 0.2,
                                      "breaker_max_cooldown_seconds": 1.0, **agent})
    return BngClient.from_settings(settings, agent_settings, api_key=key, clock=clock or SystemClock(),
                                   retry=retry or RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05,
                                                              max_total_wait=10))


def order_payload(external_id: str, item_no: str = "LV_511_JN", qty: str = "1", price: str = "43.50") -> dict:
    address = {"name": "Victoria Terces", "line1": "201 1st Avenue South", "city": "Saskatoon", "region": "SK",
               "postal_code": "S7K 1J9", "country": "CA"}
    total = Decimal(qty) * Decimal(price)
    return {"customer_no": "C000001", "external_order_id": external_id, "external_order_number": external_id,
            "order_date": "2026-01-28T10:00:00Z", "currency": "USD", "bill_to": address, "ship_to": address,
            "lines": [{"item_no": item_no, "quantity": Decimal(qty), "unit_price": Decimal(price),
                       "line_total": total}],
            "total": total, "custom_fields": {"ORDER_SOURCE": "Web"},
            "dimensions": {"COSTCENTER": "WEB-CA", "CHANNEL": "ONLINE"}}


def test_reads_the_sample_company(server):
    with make_client(server) as client:
        assert client.health().status in ("ok", "degraded")
        items = list(client.iter_items())
        assert len(items) == 50 and len({i.item_no for i in items}) == 50
        assert all(isinstance(i.unit_price, Decimal) for i in items)
        assert {loc.code for loc in client.locations()} == {"MAIN", "WEST"}
        assert any(f.name == "ORDER_SOURCE" and f.required for f in client.custom_fields("sales_order"))
        assert any(d.code == "COSTCENTER" for d in client.dimensions())
        levels = list(client.iter_inventory(item_no="LV_511_JN"))
        assert levels and all(lv.available == lv.on_hand - lv.allocated for lv in levels)


def test_create_find_and_patch_a_sales_order(server):
    with make_client(server) as client:
        order = client.create_sales_order(order_payload("web-1001"))
        assert order.order_no.startswith("SO-") and order.total == Decimal("43.50")
        assert [o.order_no for o in client.find_sales_orders("web-1001")] == [order.order_no]
        patched = client.patch_sales_order(order.order_no, {"payment_status": "Paid"}, row_version="stale-version")
        assert patched.payment_status == "Paid"          # 412 -> one re-read -> applied
        with pytest.raises(e.Conflict):
            client.patch_sales_order(order.order_no, {"status": "Invoiced"})
        txns = client.iter_transactions(after=0)
        sales = [t for t in txns if t.source_document and t.source_document.number == order.order_no]
        assert [t.quantity for t in sales] == [Decimal("-1")]
        assert txns.last_transaction_id >= sales[0].transaction_id


def test_validation_errors_carry_the_field_details(server):
    with make_client(server) as client:
        with pytest.raises(e.ValidationFailed) as info:
            client.create_sales_order(order_payload("web-bad", item_no="NO_SUCH_ITEM"))
        fields = [f for f, _ in info.value.details]
        assert any(f.startswith("lines[0]") for f in fields), info.value.details
        assert not info.value.retryable


def test_customer_round_trip_with_if_match(server):
    with make_client(server) as client:
        (arthur,) = client.find_customers(email="arthur_holmes@nopcommerce.com")
        linked = client.patch_customer(arthur.customer_no, {"external_id": "5"})
        assert linked.external_id == "5" and linked.row_version != arthur.row_version
        assert [c.customer_no for c in client.find_customers(external_id="5")] == [arthur.customer_no]


def test_dropped_reply_on_a_create_is_an_unknown_outcome_not_a_duplicate(server):
    server.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", drop_reply_rate=1.0, remaining=1))
    with make_client(server) as client:
        with pytest.raises(e.OutcomeUnknown) as info:
            client.create_sales_order(order_payload("web-2002"))
        assert info.value.retryable
        # the order did reach BNG exactly once: the flow finds it instead of sending it again
        assert len(client.find_sales_orders("web-2002")) == 1
        assert server.state.count_orders("web-2002") == 1


def test_a_429_storm_is_waited_out_as_told(server):
    server.faults.add(FaultRule(route="/api/v1/items", error_rate=1.0, statuses=[429], retry_after=1, remaining=3))
    clock = RecordingClock()
    with make_client(server, clock=clock, retry=RetryPolicy(max_attempts=5, base_delay=0.01, max_total_wait=10)) \
            as client:
        started = time.monotonic()
        item = client.get_item("LV_511_JN")
        elapsed = time.monotonic() - started
    assert item.item_no == "LV_511_JN"
    assert server.faults.counts["error"] == 3
    assert [s for s in clock.sleeps if s >= 1.0] == [1.0, 1.0, 1.0]    # Retry-After, not the tiny backoff
    assert elapsed >= 3.0


def test_the_client_stays_under_the_servers_rate_limit(server):
    server.limiter.configure(40.0, 5)
    clock = RecordingClock()
    with make_client(server, clock=clock, rate=40.0, burst=5) as client:
        def worker() -> None:
            for _ in range(8):
                client.get_item("LV_511_JN")
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        stats = client.http.stats
    assert stats["requests"] == 32 and stats.get("status_429", 0) == 0, f"bounced off BNG's limit: {stats}"
    assert clock.sleeps, "the client's own bucket should have paced the 32 requests"


def test_a_down_server_opens_the_breaker_and_a_returning_one_closes_it(server):
    events: list[tuple[str, str]] = []
    with make_client(server, retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_total_wait=1)) as client:
        client.breaker.add_listener(lambda system, old, new, snap: events.append((old.value, new.value)))
        assert client.health().status
        server.faults.down(60)
        for _ in range(3):
            with pytest.raises(e.ConnectionFailed):
                client.get_item("LV_511_JN")
        assert client.breaker.state is BreakerState.OPEN
        resets = server.faults.counts["reset"]
        with pytest.raises(e.CircuitOpen) as info:
            client.get_item("LV_511_JN")
        assert info.value.next_probe_at is not None
        assert server.faults.counts["reset"] == resets          # rejected without touching the server
        server.faults.up()

        def probe_succeeds() -> bool:
            try:
                client.get_item("LV_511_JN")
                return True
            except e.CircuitOpen:
                return False
        wait_until(probe_succeeds, timeout=5, interval=0.05, message="the breaker's probe")
        assert client.breaker.state is BreakerState.CLOSED
    assert events[0] == ("closed", "open") and events[-1] == ("half_open", "closed")


def test_hanging_replies_time_out(server):
    server.faults.add(FaultRule(route="/api/v1/items", hang_rate=1.0, hang_seconds=10, remaining=1))
    with make_client(server, timeout=0.3) as client:
        started = time.monotonic()
        assert client.get_item("LV_511_JN").item_no == "LV_511_JN"     # the retry after the timeout succeeds
        assert time.monotonic() - started < 3
    server.faults.add(FaultRule(route="/api/v1/items", hang_rate=1.0, hang_seconds=10, remaining=2))
    with make_client(server, timeout=0.3, retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as client, \
            pytest.raises(e.Timeout):
        client.get_item("LV_511_JN")


def test_paging_returns_every_record_once_while_records_are_added(server):
    with make_client(server, page_size=7) as client:
        seen: list[str] = []
        added = 0
        for item in client.iter_items():
            seen.append(item.item_no)
            if len(seen) % 7 == 0 and added < 5:       # a new item appears between two pages
                added += 1
                server.state.add_item({"item_no": f"NEW-{added}", "description": f"New {added}",
                                       "unit_price": "9.99"})
        assert len(seen) == len(set(seen)), "a record came twice"
        assert len(seen) == 55
        feed = client.iter_changes(after=0)
        seqs = []
        for change in feed:
            seqs.append(change.seq)
            if len(seqs) == 3:
                server.state.update_item("NEW-1", description="Renamed")
        assert seqs == sorted(set(seqs)) and feed.last_seq == seqs[-1]


def test_an_expired_change_feed_position_asks_for_a_full_reread(server):
    with make_client(server) as client:
        client.patch_customer("C000001", {"external_id": "5"})
        client.patch_customer("C000002", {"external_id": "77"})
        server.state.expire_changes()
        with pytest.raises(e.FullResyncRequired):
            list(client.iter_changes(after=0))


def test_test_connection_against_the_double(server):
    with make_client(server) as client:
        assert client.test_connection().ok
    with make_client(server, key="wrong-key") as client:
        check = client.test_connection()
        assert check.problem == "auth" and "API key" in check.message
    settings = BngSettings(url=server.url + "/nothing-here")
    with BngClient.from_settings(settings, AgentSettings(), api_key=KEY) as client:
        assert client.test_connection().problem == "wrong_url"
    settings = BngSettings(url="http://127.0.0.1:9", timeout_seconds=2)
    with BngClient.from_settings(settings, AgentSettings(), api_key=KEY) as client:
        assert client.test_connection().problem == "refused"
