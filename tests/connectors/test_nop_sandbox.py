"""The nopCommerce client against the store double (community API plugin) over loopback sockets.

Real waits are kept short: Retry-After 1 s a few times at most; everything else waits on a
condition with a deadline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from agent import secrets
from agent.config import AgentSettings, NopCommerceSettings
from agent.connectors import errors as e
from agent.connectors.nopcommerce import NopCommerceClient
from agent.connectors.resilience import BreakerState, RetryPolicy, SystemClock
from agent.sandbox import NOP_PASSWORD, NOP_USERNAME
from agent.sandbox.faults import FaultRule
from tests.conftest import wait_until

NopServer = pytest.importorskip("agent.sandbox.nop.server").NopServer


class RecordingClock(SystemClock):
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


@pytest.fixture
def server():
    srv = NopServer(port=0, seed=3, bad_data_rate=0.0)
    srv.start()
    yield srv
    srv.stop()


def make_client(server, *, password: str = NOP_PASSWORD, timeout: float = 5.0, page_size: int = 100,
                retry: RetryPolicy | None = None, clock: SystemClock | None = None, **agent: Any) -> NopCommerceClient:
    settings = NopCommerceSettings(url=server.url, username=NOP_USERNAME, timeout_seconds=timeout,
                                   page_size=page_size, requests_per_second=1000)
    agent_settings = AgentSettings(**{"breaker_failures": 3, "breaker_cooldown_seconds": 0.2,
                                      "breaker_max_cooldown_seconds": 1.0, **agent})
    return NopCommerceClient.from_settings(settings, agent_settings, password=password, clock=clock or SystemClock(),
                                           retry=retry or RetryPolicy(max_attempts=4, base_delay=0.01,
                                                                      max_delay=0.05, max_total_wait=10))


def test_reads_the_sample_store(server):
    with make_client(server) as client:
        orders = list(client.list_orders())
        assert [o.id for o in orders][:5] == [1, 2, 3, 4, 5]
        five = client.get_order(5)
        assert five.order_total == Decimal("43.5") and five.order_status == "Complete"
        assert five.order_status_id == 30 and five.created_on_utc.tzinfo is UTC
        assert five.order_items[0].sku == "LV_511_JN"
        # the real plugin leaves address country names empty: resolve them through the cached directory
        country = client.country(five.billing_address.country_id)
        assert country is not None and country.two_letter_iso_code == "CA"
        assert len(client.countries()) > 100 and client.state_provinces()
        assert {c.currency_code for c in client.currencies()} >= {"USD", "EUR"}
        assert client.count_orders() >= 5


def test_token_is_kept_in_the_keyring_and_renewed_after_revocation(server):
    with make_client(server) as client:
        client.get_order(1)
        assert server.state.counters["tokens_issued"] == 1
        server.state.revoke_tokens()
        assert client.get_order(2).id == 2                 # 401, one new login, the call repeated
        assert server.state.counters["tokens_issued"] == 2
        stored = secrets.get("nopcommerce-token")
        assert stored in server.state.issued_tokens
    with make_client(server) as again:                 # a restart reuses the stored token
        again.get_order(3)
        assert server.state.counters["tokens_issued"] == 2


def test_a_short_lived_token_is_renewed_before_it_expires(server):
    server.state.token_lifetime = timedelta(seconds=2)
    with make_client(server) as client:
        client.get_order(1)
        first = secrets.get("nopcommerce-token")

        def renewed() -> bool:
            client.get_order(1)
            return secrets.get("nopcommerce-token") != first
        wait_until(renewed, timeout=5, interval=0.1, message="the token to be renewed before its expiry")


def test_paging_returns_every_order_once_while_shoppers_place_new_ones(server):
    server.shoppers.place_orders(20)
    with make_client(server, page_size=4) as client:
        before = {o.id for o in client.list_orders(fields="id")}
        seen: list[int] = []
        for order in client.list_orders(fields="id,order_status"):
            seen.append(order.id)
            if len(seen) % 4 == 0:
                server.shoppers.place_order()          # new orders arrive between pages
        assert len(seen) == len(set(seen)), "an order came twice"
        assert before <= set(seen), "an order was skipped"
        assert seen == sorted(seen)


def test_order_status_update_keeps_addresses_and_shipping_method(server):
    with make_client(server) as client:
        placed = server.shoppers.place_order(payment_status="Pending", pickup_in_store=False)
        order = client.get_order(placed["id"])
        updated = client.update_order_status(order, payment_status="Paid")
        assert updated.payment_status == "Paid"
        again = client.get_order(order.id)
        assert again.shipping_method == order.shipping_method
        assert again.billing_address.id == order.billing_address.id
        assert (again.shipping_address.id if again.shipping_address else None) in (
            order.shipping_address.id if order.shipping_address else None, order.billing_address.id)


def test_pickup_orders_can_have_their_status_set(server, caplog):
    server.state.order_put_item_lookup_defect = False
    placed = server.shoppers.place_order(pickup_in_store=True, payment_status="Pending")
    with make_client(server) as client:
        order = client.get_order(placed["id"])
        assert order.pick_up_in_store
        updated = client.update_order_status(order, payment_status="Paid")
        assert client.get_order(order.id).payment_status == "Paid" and updated.payment_status_id == 30
    assert "picked up in store" in caplog.text       # the plugin refused the method: sent again without it


def test_the_known_order_put_defect_is_a_clear_retryable_error(server):
    server.shoppers.place_orders(30)
    with make_client(server) as client:
        product_ids = {p.id for p in client.list_products(fields="id")}
        victim = next(o for o in client.list_orders(since_id=5)
                      if any(i.id not in product_ids for i in o.order_items))
        with pytest.raises(e.PluginDefect) as info:
            client.update_order_status(victim, order_status="Processing")
        assert info.value.retryable and "known plugin defect" in str(info.value)
        assert client.breaker.state is BreakerState.CLOSED


def test_products_tags_and_sku_lookup(server):
    with make_client(server) as client:
        product = client.find_product_by_sku("LV_511_JN")
        assert product is not None and product.price == Decimal("43.5")
        tags = list(product.tags or [])
        updated = client.update_product(product, stock_quantity=25)
        assert updated.stock_quantity == 25
        assert client.get_product(product.id).tags == tags
        assert client.find_product_by_sku("NO-SUCH-SKU") is None


def test_validation_errors_carry_the_field_messages(server):
    with make_client(server) as client, pytest.raises((e.ValidationFailed, e.BadRequest)) as info:
        client.update_product(1, stock_quantity="lots")
    assert info.value.details and not info.value.retryable


def test_dropped_reply_on_a_shipment_create_is_an_unknown_outcome(server):
    with make_client(server) as client:
        order = client.get_order(2)
        server.faults.add(FaultRule(route="/api/orders/2/shipments", method="POST", drop_reply_rate=1.0,
                                    remaining=1))
        with pytest.raises(e.OutcomeUnknown):
            client.create_shipment(2, "1Z999", [(order.order_items[0].id, 1)])
        shipments = client.list_shipments(2)
        assert [s.tracking_number for s in shipments] == ["1Z999"]       # made once, found, not repeated


def test_a_429_storm_is_waited_out_as_told(server):
    server.faults.add(FaultRule(route="/api/orders", error_rate=1.0, statuses=[429], retry_after=1, remaining=2))
    clock = RecordingClock()
    with make_client(server, clock=clock) as client:
        client.request_token()
        started = time.monotonic()
        assert client.get_order(1).id == 1
    assert [s for s in clock.sleeps if s >= 1.0] == [1.0, 1.0]
    assert time.monotonic() - started >= 2.0


def test_a_down_store_opens_the_breaker_and_a_returning_one_closes_it(server):
    events: list[tuple[str, str]] = []
    with make_client(server, retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_total_wait=1)) as client:
        client.breaker.add_listener(lambda system, old, new, snap: events.append((old.value, new.value)))
        client.get_order(1)
        server.faults.down(60)
        for _ in range(3):
            with pytest.raises(e.ConnectionFailed):
                client.get_order(1)
        with pytest.raises(e.CircuitOpen):
            client.get_order(1)
        server.faults.up()

        def probe_succeeds() -> bool:
            try:
                return client.get_order(1).id == 1
            except e.CircuitOpen:
                return False
        wait_until(probe_succeeds, timeout=5, interval=0.05, message="the breaker's probe")
    assert events[0] == ("closed", "open") and events[-1] == ("half_open", "closed")


def test_hanging_replies_time_out(server):
    with make_client(server, timeout=0.3, retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as client:
        client.request_token()
        server.faults.add(FaultRule(route="/api/orders", hang_rate=1.0, hang_seconds=10, remaining=2))
        with pytest.raises(e.Timeout):
            client.get_order(1)


def test_test_connection_against_the_double(server):
    with make_client(server) as client:
        assert client.test_connection().ok
    with make_client(server, password="wrong") as client:
        check = client.test_connection()
        assert check.problem == "auth" and '"Api Users"' in check.message
    server.state.deny("orders")
    with make_client(server) as client:
        check = client.test_connection()
        assert check.problem == "forbidden" and '"Api Users"' in check.message
    server.state.allow()
    settings = NopCommerceSettings(url="http://127.0.0.1:9", username=NOP_USERNAME, timeout_seconds=2)
    with NopCommerceClient.from_settings(settings, AgentSettings(), password="x") as client:
        assert client.test_connection().problem == "refused"


def test_created_at_filter_sends_utc(server):
    with make_client(server) as client:
        future = datetime.now(UTC) + timedelta(days=1)
        assert list(client.list_orders(created_at_min=future)) == []
        assert len(list(client.list_orders(created_at_min=datetime(2000, 1, 1)))) >= 5
