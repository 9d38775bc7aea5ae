"""The nopCommerce client against a scripted store (`httpx.MockTransport`)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from agent import secrets
from agent.connectors import errors as e
from agent.connectors.nopcommerce import NopCommerceClient, Order, Product
from agent.connectors.protocols import NopCommerceApi
from tests.connectors.conftest import reply

ORDER_5 = ('{"orders": [{"id": 5, "order_status": "Complete", "payment_status": "Paid", '
           '"shipping_status": "Delivered", "order_total": 43.5000, "order_subtotal_incl_tax": 43.50, '
           '"currency_rate": 1.0, "created_on_utc": "2026-01-28T10:00:00.123", "paid_date_utc": null, '
           '"shipping_method": "Ground", "billing_address": {"id": 13, "country_id": 41, "country": null}, '
           '"shipping_address": {"id": 14}, "customer_tax_display_type": "IncludingTax", '
           '"order_items": [{"id": 12, "quantity": 1, "unit_price_incl_tax": 43.5, "product_id": 32, '
           '"product": {"id": 32, "sku": "LV_511_JN", "price": 43.5000}}]}]}')


class Store:
    """A tiny scripted store: token, orders, products; each test overrides what it needs."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.orders = [{"id": i, "order_status": "Pending", "billing_address": {"id": 100 + i},
                        "shipping_method": "Ground"} for i in range(1, 6)]
        self.products = [{"id": i, "sku": f"SKU-{i}", "tags": ["t"], "price": 10} for i in range(1, 6)]
        self.routes: dict[str, Any] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        if key in self.routes:
            return self.routes[key](request)
        if key == "POST /token":
            body = json.loads(request.content)
            if body.get("password") != "s3cret-pass":
                return reply(403, "Wrong username or password")
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return reply(200, {"access_token": token, "token_type": "Bearer",
                               "expires_at_utc": "2099-01-01T00:00:00Z", "customer_id": 1})
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid_tokens:
            return reply(401)
        params = request.url.params
        if key == "GET /api/orders":
            return reply(200, {"orders": self._page(self.orders, params)})
        if key == "GET /api/products":
            rows = self._page(self.products, params)
            if params.get("fields"):
                wanted = params["fields"].split(",")
                rows = [{k: v for k, v in r.items() if k in wanted} for r in rows]
            return reply(200, {"products": rows})
        if request.method == "GET" and request.url.path.startswith("/api/products/"):
            pid = int(request.url.path.rsplit("/", 1)[1])
            found = [p for p in self.products if p["id"] == pid]
            return reply(200, {"products": found}) if found else reply(404, {"errors": {"product": ["not found"]}})
        return reply(404, {"errors": {"route": ["unknown"]}})

    @staticmethod
    def _page(rows: list[dict], params: httpx.QueryParams) -> list[dict]:
        since = int(params.get("since_id", 0))
        limit = int(params.get("limit", 50))
        assert 1 <= limit <= 250
        return [r for r in sorted(rows, key=lambda r: r["id"]) if r["id"] > since][:limit]


@pytest.fixture
def store() -> Store:
    return Store()


def test_the_client_satisfies_the_protocol(make_nop, store):
    client, _ = make_nop(store)
    assert isinstance(client, NopCommerceApi)


# -- token --------------------------------------------------------------------------------------------
def test_token_is_fetched_with_a_json_body_and_kept_in_the_keyring(make_nop, store, memory_keyring):
    client, rec = make_nop(store)
    list(client.list_orders())
    login = rec.requests[0]
    assert (login.method, login.url.path) == ("POST", "/token")
    assert json.loads(login.content) == {"guest": False, "username": "api@shop.test", "password": "s3cret-pass",
                                         "remember_me": False}
    assert secrets.get("nopcommerce-token") == "tok-1"
    assert rec.requests[1].headers["authorization"] == "Bearer tok-1"
    # a restarted agent reuses the stored token instead of logging in again
    again, rec2 = make_nop(store)
    list(again.list_orders())
    assert "/token" not in [r.url.path for r in rec2.requests]


def test_a_revoked_token_is_renewed_once_and_the_request_repeated(make_nop, store):
    client, rec = make_nop(store)
    client.get_product(1)
    store.valid_tokens.clear()                     # revoked in the store's admin
    assert client.get_product(2).sku == "SKU-2"
    assert rec.paths()[-3:] == ["GET /api/products/2", "POST /token", "GET /api/products/2"]
    assert secrets.get("nopcommerce-token") == "tok-2"


def test_renewal_happens_only_once_per_request(make_nop, store):
    client, rec = make_nop(store)
    store.routes["GET /api/products/1"] = lambda request: reply(401)
    with pytest.raises(e.Unauthorized):
        client.get_product(1)
    assert rec.paths().count("POST /token") == 2    # first login + one renewal, then give up
    assert client.breaker.snapshot().failures == 0


def test_wrong_password_is_a_plain_auth_error(make_nop, store, nop_settings, agent_settings):
    client = NopCommerceClient.from_settings(nop_settings, agent_settings, password="wrong",
                                             transport=httpx.MockTransport(store))
    with pytest.raises(e.Unauthorized) as info:
        client.get_order(1)
    assert "refused the API user's e-mail or password" in str(info.value)
    assert info.value.error_class == "auth" and not info.value.retryable


def test_password_comes_from_the_keyring_when_not_given(store, nop_settings, agent_settings):
    secrets.set("nopcommerce", "s3cret-pass")
    client = NopCommerceClient.from_settings(nop_settings, agent_settings, transport=httpx.MockTransport(store))
    assert client.get_product(3).id == 3


# -- models -----------------------------------------------------------------------------------------------
def test_order_models_keep_money_exact_dates_utc_and_enum_ids(make_nop, store):
    store.routes["GET /api/orders/5"] = lambda request: reply(200, ORDER_5)
    client, _ = make_nop(store)
    order = client.get_order(5)
    assert order.order_total == Decimal("43.5") and str(order.order_total) == "43.5000"
    assert order.currency_rate == Decimal("1.0")
    assert order.created_on_utc == datetime(2026, 1, 28, 10, 0, 0, 123000, tzinfo=UTC)
    assert (order.order_status_id, order.payment_status_id, order.shipping_status_id) == (30, 30, 40)
    assert order.customer_tax_display_type_id == 0
    assert order.order_items[0].sku == "LV_511_JN"
    assert order.order_items[0].product.price == Decimal("43.5")
    assert order.number == "5"


def test_models_accept_ids_or_names():
    order = Order.model_validate({"id": 1, "order_status_id": 20, "payment_status": "partiallyrefunded"})
    assert order.order_status == "Processing" and order.payment_status_id == 35
    product = Product.model_validate({"id": 1, "manage_inventory_method_id": 1, "product_type": "GroupedProduct"})
    assert product.manage_inventory_method == "ManageStock" and product.product_type_id == 10
    assert Order.model_validate({"id": 1, "created_on_utc": "2026-01-28T10:00:00.1234567"}).created_on_utc \
        .tzinfo is UTC


# -- paging and queries ----------------------------------------------------------------------------------------
def test_paging_by_since_id_returns_every_record_once(make_nop, store):
    client, rec = make_nop(store)
    ids = [o.id for o in client.list_orders()]
    assert ids == [1, 2, 3, 4, 5]
    pages = [dict(r.url.params) for r in rec.requests if r.url.path == "/api/orders"]
    assert [p["since_id"] for p in pages] == ["0", "2", "4"]
    assert all(p["limit"] == "2" for p in pages)


def test_limit_is_capped_at_250_and_fields_keep_the_id(make_nop, store):
    client, rec = make_nop(store)
    list(client.list_orders(limit=1000, fields="order_status,order_total"))
    params = rec.requests[-1].url.params
    assert params["limit"] == "250"
    assert params["fields"] == "id,order_status,order_total"


def test_filters_send_names_and_utc_dates(make_nop, store):
    client, rec = make_nop(store)
    since = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    list(client.list_orders(status=20, created_at_min=since, payment_status="paid", shipping_status=20))
    params = rec.requests[-1].url.params
    assert params["status"] == "Processing"       # the plugin silently ignores numeric ids
    assert params["payment_status"] == "Paid" and params["shipping_status"] == "NotYetShipped"
    assert params["created_at_min"] == "2026-01-01T08:00:00Z"
    with pytest.raises(ValueError):
        list(client.list_orders(status="Shipped"))


def test_count_orders(make_nop, store):
    store.routes["GET /api/orders/count"] = lambda request: reply(200, {"count": 7})
    client, _rec = make_nop(store)
    assert client.count_orders(status="Pending") == 7


# -- order updates -------------------------------------------------------------------------------------------------
def test_order_put_always_sends_both_address_ids_and_the_shipping_method(make_nop, store):
    store.routes["GET /api/orders/5"] = lambda request: reply(200, ORDER_5)
    store.routes["PUT /api/orders/5"] = lambda request: reply(200, ORDER_5)
    client, rec = make_nop(store)
    order = client.get_order(5)
    client.update_order_status(order, order_status="Complete", payment_status=30)
    body = rec.bodies()[-1]
    assert body == {"order": {"billing_address": {"id": 13}, "shipping_address": {"id": 14},
                              "shipping_method": "Ground", "order_status": "Complete", "payment_status": "Paid"}}


def test_order_without_shipping_address_sends_the_billing_id_and_rereads_trimmed_orders(make_nop, store):
    full = {"orders": [{"id": 3, "billing_address": {"id": 9}, "shipping_address": None, "shipping_method": None}]}
    store.routes["GET /api/orders/3"] = lambda request: reply(200, full)
    store.routes["PUT /api/orders/3"] = lambda request: reply(200, full)
    client, rec = make_nop(store)
    trimmed = Order.model_validate({"id": 3, "order_status": "Pending"})
    client.update_order_status(trimmed, order_status="Cancelled")
    assert rec.paths()[-2:] == ["GET /api/orders/3", "PUT /api/orders/3"]
    assert rec.bodies()[-1]["order"] == {"billing_address": {"id": 9}, "shipping_address": {"id": 9},
                                         "shipping_method": None, "order_status": "Cancelled"}


def test_order_put_500_is_the_known_plugin_defect_retryable_and_not_looped(make_nop, store):
    store.routes["GET /api/orders/5"] = lambda request: reply(200, ORDER_5)
    store.routes["PUT /api/orders/5"] = lambda request: reply(
        500, {"errors": {"internal_server_error": ["please, contact the store owner"]}})
    client, rec = make_nop(store)
    for _ in range(5):
        with pytest.raises(e.PluginDefect) as info:
            client.update_order_status(5, order_status="Complete")
    assert info.value.retryable and "known plugin defect" in str(info.value)
    assert rec.paths().count("PUT /api/orders/5") == 5        # one PUT per call, no loop
    assert client.breaker.state.value == "closed"             # a record problem, not the store being down


def test_errors_body_becomes_field_details(make_nop, store):
    store.routes["PUT /api/products/1"] = lambda request: reply(
        422, {"errors": {"name": ["'Name' must not be empty.", "name is required"], "price": ["invalid"]}})
    client, _rec = make_nop(store)
    with pytest.raises(e.ValidationFailed) as info:
        client.update_product(client.get_product(1), name="")
    assert info.value.details == [("name", "'Name' must not be empty."), ("name", "name is required"),
                                  ("price", "invalid")]
    assert "name: name is required" in str(info.value)


def test_missing_record_is_not_found(make_nop, store):
    client, _ = make_nop(store)
    with pytest.raises(e.NotFound) as info:
        client.get_product(99)
    assert info.value.details == [("product", "not found")]


# -- products -------------------------------------------------------------------------------------------------------
def test_product_put_always_sends_the_current_tags(make_nop, store):
    store.routes["PUT /api/products/2"] = lambda request: reply(200, {"products": [store.products[1]]})
    client, rec = make_nop(store)
    client.update_product(2, stock_quantity=25, price=Decimal("19.9900"))
    assert rec.paths()[-2:] == ["GET /api/products/2", "PUT /api/products/2"]
    assert rec.requests[-1].content == b'{"product":{"stock_quantity":25,"price":19.9900,"tags":["t"]}}'
    product = Product.model_validate({"id": 2, "tags": ["a", "b"]})
    client.update_product(product, published=False)
    assert rec.bodies()[-1] == {"product": {"published": False, "tags": ["a", "b"]}}


def test_find_by_sku_uses_a_cached_map(make_nop, store, clock):
    client, rec = make_nop(store)
    assert client.find_product_by_sku("sku-3").id == 3
    lists = rec.paths().count("GET /api/products")
    assert client.find_product_by_sku("SKU-4").id == 4
    assert rec.paths().count("GET /api/products") == lists            # served from the map
    assert rec.requests[1].url.params["fields"] == "id,sku"
    store.products.append({"id": 6, "sku": "NEW", "tags": []})
    assert client.find_product_by_sku("NEW").id == 6                   # a miss refreshes the map once
    assert client.find_product_by_sku("nope") is None


def test_countries_are_cached(make_nop, store):
    calls = []

    def countries(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return reply(200, {"countries": [{"id": 41, "name": "Canada", "two_letter_iso_code": "CA",
                                          "ThreeLetterIsoCode": "CAN"}]})
    store.routes["GET /api/countries"] = countries
    client, _ = make_nop(store)
    assert client.country(41).three_letter_iso_code == "CAN"
    assert client.countries()[0].two_letter_iso_code == "CA"
    assert len(calls) == 1


def test_create_shipment_posts_items_and_a_z_date(make_nop, store):
    store.routes["POST /api/orders/4/shipments"] = lambda request: reply(200, {"shipments": [
        {"id": 9, "tracking_number": "1Z", "shipment_items": [{"order_item_id": 7, "quantity": 1}]}]})
    client, rec = make_nop(store)
    shipment = client.create_shipment(4, "1Z", [(7, 1)], shipped_at=datetime(2026, 2, 1, 8, 30))
    assert shipment.id == 9 and shipment.order_id == 4
    assert rec.bodies()[-1] == {"shipment": {"tracking_number": "1Z", "shipped_date_utc": "2026-02-01T08:30:00Z",
                                             "shipment_items": [{"order_item_id": 7, "quantity": 1}]}}


def test_create_shipment_with_lost_reply_is_an_unknown_outcome(make_nop, store):
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    store.routes["POST /api/orders/4/shipments"] = drop
    client, rec = make_nop(store)
    with pytest.raises(e.OutcomeUnknown):
        client.create_shipment(4, "1Z", [(7, 1)])
    assert rec.paths().count("POST /api/orders/4/shipments") == 1


# -- test_connection -----------------------------------------------------------------------------------------------
def test_connection_ok(make_nop, store):
    store.routes["GET /api/orders/count"] = lambda request: reply(200, {"count": 5})
    client, _ = make_nop(store)
    check = client.test_connection()
    assert check.ok and check.problem == "ok" and "api@shop.test" in check.message


def test_connection_plugin_missing(make_nop):
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, "<html>shop</html>") if request.url.path == "/" else reply(404, "")
    client, _ = make_nop(handler)
    check = client.test_connection()
    assert not check.ok and check.problem == "plugin_missing" and "API plugin" in check.message


def test_connection_wrong_url(make_nop):
    client, _ = make_nop(lambda request: reply(404, "Not Found"))
    check = client.test_connection()
    assert check.problem == "wrong_url"


def test_connection_bad_login_mentions_the_api_users_role(make_nop, store, nop_settings, agent_settings):
    client = NopCommerceClient.from_settings(nop_settings, agent_settings, password="nope",
                                             transport=httpx.MockTransport(store))
    check = client.test_connection()
    assert check.problem == "auth" and '"Api Users"' in check.message


def test_connection_forbidden_api_mentions_the_api_users_role(make_nop, store):
    store.routes["GET /api/orders/count"] = lambda request: reply(403, "")
    client, _ = make_nop(store)
    check = client.test_connection()
    assert check.problem == "forbidden" and '"Api Users"' in check.message


@pytest.mark.parametrize("cause,problem", [
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (ConnectionRefusedError(111, "Connection refused"), "refused"),
])
def test_connection_network_problems(make_nop, cause, problem):
    def handler(request: httpx.Request) -> httpx.Response:
        error = httpx.ConnectError(str(cause))
        error.__cause__ = cause
        raise error
    client, _ = make_nop(handler)
    check = client.test_connection()
    assert not check.ok and check.problem == problem


def test_pickup_order_whose_shipping_method_the_plugin_rejects_is_updated_without_it(make_nop, store, caplog):
    order = {"id": 4, "pick_up_in_store": True, "billing_address": {"id": 8}, "shipping_address": None,
             "shipping_method": "Pickup in store"}

    def put(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["order"]["shipping_method"]:
            return reply(400, {"errors": {"shipping_option": ["Shipping rate computation method could not be "
                                                              "loaded"]}})
        return reply(200, {"orders": [{**order, "order_status": "Complete", "shipping_method": None}]})
    store.routes["GET /api/orders/4"] = lambda request: reply(200, {"orders": [order]})
    store.routes["PUT /api/orders/4"] = put
    client, rec = make_nop(store)
    updated = client.update_order_status(4, order_status="Complete")
    assert updated.order_status_id == 30
    assert [b["order"]["shipping_method"] for b in rec.bodies()[-2:]] == ["Pickup in store", None]
    assert "picked up in store" in caplog.text


def test_shipping_option_errors_of_shipped_orders_are_not_papered_over(make_nop, store):
    store.routes["GET /api/orders/5"] = lambda request: reply(200, ORDER_5)
    store.routes["PUT /api/orders/5"] = lambda request: reply(400, {"errors": {"shipping_option": ["nope"]}})
    client, rec = make_nop(store)
    with pytest.raises(e.BadRequest) as info:
        client.update_order_status(5, order_status="Complete")
    assert info.value.details == [("shipping_option", "nope")]
    assert rec.paths().count("PUT /api/orders/5") == 1


def test_a_token_about_to_expire_is_renewed_before_use(make_nop, store):
    now = datetime.now(UTC)
    # the first token has lived 100 s of its 105: inside the last tenth, so due for renewal
    windows = iter([(now - timedelta(seconds=100), now + timedelta(seconds=5)), (now, now + timedelta(days=365))])

    def login(request: httpx.Request) -> httpx.Response:
        store.tokens_issued += 1
        token = f"tok-{store.tokens_issued}"
        store.valid_tokens.add(token)
        created, expires = next(windows)
        return reply(200, {"access_token": token, "created_at_utc": created.isoformat(),
                           "expires_at_utc": expires.isoformat()})
    store.routes["POST /token"] = login
    client, rec = make_nop(store)
    client.get_product(1)
    assert rec.paths() == ["POST /token", "GET /api/products/1"]
    client.get_product(1)
    assert rec.paths()[2:] == ["POST /token", "GET /api/products/1"]
    client.get_product(1)
    assert rec.paths().count("POST /token") == 2                       # the year-long token is kept
    assert rec.requests[-1].headers["authorization"] == "Bearer tok-2"


def test_a_probe_that_must_log_in_first_gives_the_breaker_a_true_verdict(make_nop, store, clock):
    client, rec = make_nop(store)
    for _ in range(3):
        client.breaker.record_failure("down")
    clock.advance(30)
    store.routes["GET /api/orders/1"] = lambda request: reply(200, {"orders": [{"id": 1}]})
    assert client.get_order(1).id == 1           # the probe: logs in (no second breaker check), then reads
    assert rec.paths() == ["POST /token", "GET /api/orders/1"]
    assert client.breaker.state.value == "closed"


def test_a_probe_whose_login_fails_reopens_the_breaker(make_nop, store, clock):
    client, _rec = make_nop(store)
    for _ in range(3):
        client.breaker.record_failure("down")
    clock.advance(30)
    store.routes["POST /token"] = lambda request: reply(503)
    with pytest.raises(e.ServiceUnavailable):
        client.get_order(1)
    assert client.breaker.state.value == "open" and client.breaker.snapshot().cooldown_seconds == 60


def test_circuit_open_is_no_verdict_on_the_system(make_http):
    http, _rec = make_http(lambda request: reply(200, {}))
    for _ in range(3):
        http.breaker.record_failure()
    with pytest.raises(e.CircuitOpen) as info:
        http.get("/x")
    assert info.value.local and http.breaker.state.value == "open"
