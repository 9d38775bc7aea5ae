"""The BNG client against a scripted BNG (`httpx.MockTransport`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from agent import secrets
from agent.connectors import errors as e
from agent.connectors.bng import BngClient, SalesOrderCreate
from agent.connectors.protocols import BngApi
from tests.connectors.conftest import reply, sequence

ITEM = {"item_no": "LV_511_JN", "description": "Levi's 511 Jeans", "unit_price": "43.5000", "currency": "USD",
        "uom": "EA", "active": True, "item_type": "inventory", "modified_at": "2026-01-28T10:00:00Z",
        "weight": "0.8", "attributes": {"Material": "Denim", "Waist": 32}}
ORDER = {"order_no": "SO-104000", "customer_no": "C000001", "order_date": "2026-01-28T10:00:00Z", "currency": "USD",
         "status": "New", "payment_status": "Paid", "total": "43.5000", "row_version": "v1",
         "lines": [{"line_no": 1, "item_no": "LV_511_JN", "quantity": "1", "unit_price": "43.5",
                    "line_total": "43.5"}], "shipments": []}
ERROR_422 = {"error": {"code": "validation_failed", "message": "the order is not valid", "details": [
    {"field": "lines[0].item_no", "issue": "unknown item"}, {"field": "total", "issue": "does not add up"}]}}


def test_the_client_satisfies_the_protocol(make_bng):
    client, _ = make_bng(lambda r: reply(200, {}))
    assert isinstance(client, BngApi)


def test_bearer_key_and_company_header(make_bng):
    client, rec = make_bng(lambda r: reply(200, {"items": [{"code": "MAIN", "name": "Main"}]}))
    assert client.locations()[0].code == "MAIN"
    request = rec.requests[0]
    assert request.headers["authorization"] == "Bearer bng-key-123"
    assert request.headers["bng-company"] == "ACME"
    assert str(request.url) == "http://bng.test/api/v1/metadata/locations"


def test_key_comes_from_the_keyring_when_not_given(bng_settings, agent_settings):
    secrets.set("bng", "from-keyring")
    seen = []
    transport = httpx.MockTransport(lambda r: seen.append(r.headers["authorization"]) or reply(200, {"items": []}))
    BngClient.from_settings(bng_settings, agent_settings, transport=transport).locations()
    assert seen == ["Bearer from-keyring"]


def test_cursor_paging_follows_next_cursor(make_bng):
    pages = {None: {"items": [ITEM, {**ITEM, "item_no": "B"}], "next_cursor": "c2"},
             "c2": {"items": [{**ITEM, "item_no": "C"}], "next_cursor": None}}
    client, rec = make_bng(lambda r: reply(200, pages[r.url.params.get("cursor")]))
    items = list(client.iter_items(modified_since=datetime(2026, 1, 1), active=True))
    assert [i.item_no for i in items] == ["LV_511_JN", "B", "C"]
    assert items[0].unit_price == Decimal("43.5") and items[0].modified_at.tzinfo is UTC
    assert items[0].attributes == {"Material": "Denim", "Waist": 32}
    first = rec.requests[0].url.params
    assert first["modified_since"] == "2026-01-01T00:00:00Z" and first["active"] == "true" and first["limit"] == "2"
    assert rec.requests[1].url.params["cursor"] == "c2"


def test_item_numbers_are_escaped_in_paths(make_bng):
    client, rec = make_bng(lambda r: reply(200, {**ITEM, "item_no": "A/B 1"}))
    client.get_item("A/B 1")
    assert rec.requests[0].url.raw_path == b"/api/v1/items/A%2FB%201"


def test_decimals_go_out_as_strings_with_at_most_four_places(make_bng):
    client, rec = make_bng(lambda r: reply(201, ORDER))
    payload = {"customer_no": "C000001", "order_date": datetime(2026, 1, 28, 10, 0), "currency": "USD",
               "bill_to": {"line1": "x", "city": "y", "postal_code": "1", "country": "US"},
               "ship_to": {"line1": "x", "city": "y", "postal_code": "1", "country": "US"},
               "lines": [{"item_no": "LV_511_JN", "quantity": Decimal("1"), "unit_price": Decimal("43.456789"),
                          "line_total": Decimal("43.4568")}],
               "total": Decimal("43.45678")}
    order = client.create_sales_order(payload)
    body = json.loads(rec.requests[0].content)
    assert body["lines"][0]["unit_price"] == "43.4568" and body["total"] == "43.4568"
    assert body["lines"][0]["quantity"] == "1" and body["order_date"] == "2026-01-28T10:00:00Z"
    assert order.order_no == "SO-104000" and order.total == Decimal("43.5")


def test_typed_payloads_serialize_the_same_way(make_bng):
    client, rec = make_bng(lambda r: reply(201, ORDER))
    payload = SalesOrderCreate.model_validate({
        "customer_no": "C000001", "order_date": "2026-01-28T10:00:00Z", "currency": "USD",
        "bill_to": {"line1": "x", "city": "y", "postal_code": "1", "country": "US"},
        "ship_to": {"line1": "x", "city": "y", "postal_code": "1", "country": "US"},
        "lines": [{"item_no": "A", "quantity": "2", "unit_price": "1.5", "line_total": "3.0"}],
        "total": "3.00000", "external_order_id": "5"})
    client.create_sales_order(payload)
    body = json.loads(rec.requests[0].content)
    assert body["total"] == "3.0000" and body["lines"][0]["line_total"] == "3.0"
    assert "comment" not in body and "line_no" not in body["lines"][0]
    assert payload.model_dump(mode="json")["total"] == "3.0000"


def test_create_is_not_repeated_after_a_lost_reply(make_bng):
    client, rec = make_bng(sequence(httpx.ReadTimeout("slow"), reply(201, ORDER)))
    with pytest.raises(e.OutcomeUnknown):
        client.create_sales_order({"customer_no": "C1"})
    assert len(rec.requests) == 1


def test_create_marked_safe_is_repeated(make_bng):
    client, rec = make_bng(sequence(httpx.ReadTimeout("slow"), reply(201, ORDER)))
    assert client.create_sales_order({"customer_no": "C1"}, safe_to_retry=True).order_no == "SO-104000"
    assert len(rec.requests) == 2


def test_validation_details_per_field(make_bng):
    client, _rec = make_bng(lambda r: reply(422, ERROR_422))
    with pytest.raises(e.ValidationFailed) as info:
        client.create_sales_order({"customer_no": "C1"})
    assert info.value.details == [("lines[0].item_no", "unknown item"), ("total", "does not add up")]
    assert info.value.server_message == "the order is not valid"
    assert str(info.value) == "BNG rejected the data: lines[0].item_no: unknown item; total: does not add up"


# -- optimistic updates --------------------------------------------------------------------------------------------
def test_patch_reads_the_row_version_and_sends_if_match(make_bng):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return reply(200, ORDER)
        return reply(200, {**ORDER, "status": "Cancelled", "row_version": "v2"})
    client, rec = make_bng(handler)
    order = client.patch_sales_order("SO-104000", {"status": "Cancelled"})
    assert order.status == "Cancelled"
    assert rec.paths() == ["GET /api/v1/sales-orders/SO-104000", "PATCH /api/v1/sales-orders/SO-104000"]
    assert rec.requests[1].headers["if-match"] == "v1"
    assert json.loads(rec.requests[1].content) == {"status": "Cancelled"}


def test_stale_patch_is_reread_once_then_succeeds(make_bng):
    versions = iter(["v2"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return reply(200, {**ORDER, "row_version": next(versions)})
        if request.headers["if-match"] == "v1":
            return reply(412, {"error": {"code": "stale", "message": "row_version mismatch"}})
        return reply(200, {**ORDER, "payment_status": "Refunded", "row_version": "v3"})
    client, rec = make_bng(handler)
    order = client.patch_sales_order("SO-104000", {"payment_status": "Refunded"}, row_version="v1")
    assert order.row_version == "v3"
    assert [r.headers.get("if-match") for r in rec.requests] == ["v1", None, "v2"]


def test_stale_twice_raises_a_conflict(make_bng):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return reply(200, ORDER)
        return reply(412, {"error": {"code": "stale", "message": "row_version mismatch"}})
    client, rec = make_bng(handler)
    with pytest.raises(e.Stale) as info:
        client.patch_customer("C000001", {"external_id": "4"}, row_version="v0")
    assert info.value.error_class == "conflict" and not info.value.retryable
    assert rec.paths().count("PATCH /api/v1/customers/C000001") == 2


def test_forbidden_status_move_is_a_conflict(make_bng):
    client, _rec = make_bng(lambda r: reply(409, {"error": {"code": "conflict", "message": "Shipped -> New"}}))
    with pytest.raises(e.Conflict) as info:
        client.patch_sales_order("SO-1", {"status": "New"}, row_version="v1")
    assert "Shipped -> New" in str(info.value)


# -- feeds ----------------------------------------------------------------------------------------------------------
def _change(seq: int) -> dict:
    return {"seq": seq, "entity": "sales_order", "key": f"SO-{seq}", "change": "updated", "fields": ["status"],
            "at": "2026-01-28T10:00:00Z"}


def test_change_feed_pages_with_after_and_exposes_the_last_seq(make_bng):
    feed_rows = [_change(s) for s in (11, 12, 13)]

    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        rows = [r for r in feed_rows if r["seq"] > after][:2]
        return reply(200, {"items": rows, "last_seq": rows[-1]["seq"] if rows else after})
    client, rec = make_bng(handler)
    feed = client.iter_changes(after=10, entity="sales_order")
    assert feed.last_seq == 10
    first = next(feed)
    assert first.seq == 11 and feed.last_seq == 11
    assert [c.seq for c in feed] == [12, 13]
    assert feed.last_seq == 13
    assert [r.url.params["after"] for r in rec.requests] == ["10", "12", "13"]
    assert rec.requests[0].url.params["entity"] == "sales_order"


def test_empty_feed_keeps_the_position(make_bng):
    client, _rec = make_bng(lambda r: reply(200, {"items": [], "last_transaction_id": 40}))
    feed = client.iter_transactions(after=40)
    assert list(feed) == [] and feed.last_transaction_id == 40


def test_transactions_parse_signed_decimal_quantities(make_bng):
    rows = [{"transaction_id": 41, "item_no": "A", "location": "MAIN", "type": "sale", "quantity": "-2.5",
             "posted_at": "2026-01-28T10:00:00Z",
             "source_document": {"type": "sales_order", "number": "SO-1", "external_order_id": "5"}}]
    client, _ = make_bng(sequence(reply(200, {"items": rows, "last_transaction_id": 41}),
                                  reply(200, {"items": [], "last_transaction_id": 41})))
    feed = client.iter_transactions(after=40, location="MAIN")
    (txn,) = list(feed)
    assert txn.quantity == Decimal("-2.5") and txn.source_document.external_order_id == "5"
    assert feed.last_transaction_id == 41


def test_too_old_position_needs_a_full_resync(make_bng):
    client, _ = make_bng(lambda r: reply(410, {"error": {"code": "gone", "message": "older than 30 days"}}))
    with pytest.raises(e.FullResyncRequired) as info:
        list(client.iter_changes(after=1))
    assert "full re-read" in str(info.value)


def test_finders_filter_by_external_reference(make_bng):
    client, rec = make_bng(lambda r: reply(200, {"items": [ORDER], "next_cursor": None}))
    assert client.find_sales_orders("5")[0].order_no == "SO-104000"
    assert rec.requests[0].url.params["external_order_id"] == "5"
    client2, rec2 = make_bng(lambda r: reply(200, {"items": [], "next_cursor": None}))
    assert client2.find_customers(external_id="4", email="a@b.c") == []
    assert dict(rec2.requests[0].url.params) == {"external_id": "4", "email": "a@b.c", "limit": "2"}


# -- test_connection ------------------------------------------------------------------------------------------------
def test_connection_ok(make_bng):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/health"):
            assert "authorization" not in request.headers
            return reply(200, {"status": "ok", "version": "1.4.2", "company": "ACME"})
        return reply(200, {"items": []})
    client, _ = make_bng(handler)
    check = client.test_connection()
    assert check.ok and "1.4.2" in check.message


@pytest.mark.parametrize("health,locations,problem", [
    (reply(404, {"error": {"code": "not_found", "message": "no route"}}), None, "wrong_url"),
    (reply(200, "<html>router login</html>"), None, "wrong_url"),
    (reply(200, {"status": "ok", "version": "1.4"}), reply(401, {"error": {"code": "unauthorized",
                                                                          "message": "bad key"}}), "auth"),
    (reply(200, {"status": "ok", "version": "1.4"}), reply(403, {"error": {"code": "forbidden",
                                                                          "message": "no right"}}), "forbidden"),
])
def test_connection_problems(make_bng, health, locations, problem):
    def handler(request: httpx.Request) -> httpx.Response:
        return health if request.url.path.endswith("/health") else locations
    client, _ = make_bng(handler)
    check = client.test_connection()
    assert not check.ok and check.problem == problem


def test_connection_tls_failure(make_bng):
    import ssl

    def handler(request: httpx.Request) -> httpx.Response:
        error = httpx.ConnectError("handshake")
        error.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
        raise error
    client, _ = make_bng(handler)
    check = client.test_connection()
    assert check.problem == "tls" and "certificate" in check.message
