"""Behaviour of the BNG double over real HTTP: the rules a schema cannot show.

No deduplication, validation with one detail per problem, cursor paging that survives inserts,
the rate limit, optimistic concurrency, status moves, stock journal and change feed semantics,
and the back office driven through the admin routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from agent.sandbox.bng import BngServer
from agent.sandbox.bng.samples import customer_body, order_body

KEY = "sandbox-bng-key"


@pytest.fixture
def server() -> Iterator[BngServer]:
    with BngServer(rate=None) as s:
        yield s


@pytest.fixture
def client(server: BngServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as c:
        yield c


@pytest.fixture
def admin(server: BngServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/_sandbox/bng", timeout=5) as c:
        yield c


def create_order(client: httpx.Client, **kwargs: Any) -> dict[str, Any]:
    reply = client.post("/sales-orders", json=order_body(**kwargs))
    assert reply.status_code == 201, reply.text
    return reply.json()


def stock(client: httpx.Client, item_no: str, location: str = "MAIN") -> dict[str, Any]:
    levels = client.get("/inventory", params={"item_no": item_no, "location": location}).json()["items"]
    assert len(levels) == 1
    return levels[0]


def read_all(client: httpx.Client, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        reply = client.get(path, params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})})
        assert reply.status_code == 200, reply.text
        items += reply.json()["items"]
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            return items


# -- writes ----------------------------------------------------------------------------------------
def test_a_repeated_post_creates_a_second_order(server: BngServer, client: httpx.Client) -> None:
    first = create_order(client, external_order_id="5001")
    second = create_order(client, external_order_id="5001")
    assert (first["order_no"], second["order_no"]) == ("SO-104000", "SO-104001")
    found = client.get("/sales-orders", params={"external_order_id": "5001"}).json()["items"]
    assert [o["order_no"] for o in found] == ["SO-104000", "SO-104001"]
    assert server.state.count_orders("5001") == 2
    assert server.state.snapshot()["duplicate_external_order_ids"] == {"5001": 2}


def test_a_repeated_customer_post_creates_a_second_customer(client: httpx.Client) -> None:
    first = client.post("/customers", json=customer_body())
    second = client.post("/customers", json=customer_body())
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.headers["Location"] == "/api/v1/customers/C000003"
    assert (first.json()["customer_no"], second.json()["customer_no"]) == ("C000003", "C000004")
    same = client.get("/customers", params={"email": "STEVE_GATES@nopcommerce.com"}).json()["items"]
    assert len(same) == 2


def test_order_creation_posts_one_sale_per_stocked_line(client: httpx.Client) -> None:
    before = Decimal(stock(client, "CF_BEAN_KG")["on_hand"])
    order = create_order(client, external_order_id="77", location="MAIN",
                         lines=[("CF_BEAN_KG", "2.25", "24.50"), ("AP_MBP_13", "1", "1800.00"),
                                ("VG_CR_025", "1", "25.00")])
    assert [line["line_no"] for line in order["lines"]] == [1, 2, 3]
    assert order["lines"][0]["description"] == client.get("/items/CF_BEAN_KG").json()["description"]
    journal = client.get("/inventory/transactions").json()
    sales = journal["items"]
    assert [(t["item_no"], t["type"], t["quantity"]) for t in sales] == [
        ("CF_BEAN_KG", "sale", "-2.25"), ("AP_MBP_13", "sale", "-1")]        # the service item has no stock
    assert sales[0]["source_document"] == {"type": "sales_order", "number": order["order_no"],
                                           "external_order_id": "77"}
    after = stock(client, "CF_BEAN_KG")
    assert Decimal(after["on_hand"]) == before - Decimal("2.25")
    assert Decimal(after["available"]) == Decimal(after["on_hand"]) - Decimal(after["allocated"])


def test_validation_reports_one_detail_per_problem(client: httpx.Client) -> None:
    body = order_body(lines=[("NO_SUCH", "1", "10.00"), ("AP_MBP_13", "1.5", "1800.00"),
                             ("CF_BEAN_KG", "2", "24.50"), ("AN_USB_HB", "1", "35.99")],
                      customer_no="C999999", custom_fields={"GIFT_WRAP": "yes", "CUSTOMER_TYPE": "Retail"},
                      dimensions={"COSTCENTER": "WEB-MARS", "REGION": "EU"}, total="1.00")
    body["lines"][2]["line_total"] = "50.00"            # 2 * 24.50 = 49.00
    body["lines"][3]["quantity"] = 1                    # a JSON number, not a decimal string
    body["lines"][3]["unit_price"] = "35.99999"         # five fraction digits
    reply = client.post("/sales-orders", json=body)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "validation_failed"
    assert sorted(d["field"] for d in error["details"]) == sorted([
        "customer_no", "lines[0].item_no", "lines[1].quantity", "lines[2].line_total", "lines[3].quantity",
        "lines[3].unit_price", "custom_fields.GIFT_WRAP", "custom_fields.CUSTOMER_TYPE",
        "custom_fields.ORDER_SOURCE", "dimensions.COSTCENTER", "dimensions.REGION", "dimensions.CHANNEL",
        "total"])
    assert client.get("/sales-orders").json()["items"] == []     # nothing was created


def test_required_fields_inactive_items_and_wrong_total(server: BngServer, client: httpx.Client) -> None:
    server.state.update_item("AN_USB_HB", active=False)
    body = order_body(lines=[("AN_USB_HB", "1", "35.99")], custom_fields={}, dimensions={"CHANNEL": "ONLINE"},
                      shipping_amount="5.00", tax_amount="3.00", discount_amount="1.00", total="42.98")
    del body["currency"]
    details = client.post("/sales-orders", json=body).json()["error"]["details"]
    assert {(d["field"], d["issue"]) for d in details} >= {("lines[0].item_no", "inactive item"),
                                                            ("currency", "required"),
                                                            ("custom_fields.ORDER_SOURCE", "required"),
                                                            ("dimensions.COSTCENTER", "required")}
    assert len(details) == 4      # 35.99 + 5 + 3 - 1 = 42.99: within 0.01, so the total is fine


def test_fractional_quantity_is_fine_for_kg_items(client: httpx.Client) -> None:
    order = create_order(client, lines=[("CF_BEAN_KG", "0.125", "24.50")])
    assert order["lines"][0]["quantity"] == "0.125"
    assert order["lines"][0]["line_total"] == "3.0625"


# -- reads and paging ------------------------------------------------------------------------------
def test_cursor_paging_returns_every_record_once_while_records_are_inserted(
        server: BngServer, client: httpx.Client) -> None:
    for n in range(12):
        create_order(client, external_order_id=f"P{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get("/sales-orders", params=params).json()
        seen += [o["order_no"] for o in page["items"]]
        create_order(client, external_order_id="inserted")     # new records arrive between pages
        server.state.add_item({"item_no": f"NEW_{len(seen)}", "description": "new", "unit_price": "1"})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {f"SO-{104000 + n}" for n in range(12)} <= set(seen)
    items = read_all(client, "/items", 7)
    assert len(items) == len({i["item_no"] for i in items}) == len(server.state.items)


def test_filters(server: BngServer, client: httpx.Client) -> None:
    kg = client.get("/items/CF_BEAN_KG").json()
    assert kg["uom"] == "KG" and stock(client, "CF_BEAN_KG")["on_hand"] == "37.5"
    since = kg["modified_at"]
    assert len(read_all(client, "/items", 500, modified_since=since)) == 50      # inclusive
    server.state.update_item("AN_USB_HB", active=False)
    changed = client.get("/items", params={"modified_since": server.state.item("AN_USB_HB")["modified_at"]})
    assert [i["item_no"] for i in changed.json()["items"]] == ["AN_USB_HB"]
    assert len(read_all(client, "/items", 500, active="false")) == 1
    assert {s["location"] for s in read_all(client, "/inventory", 10, location="WEST")} == {"WEST"}
    arthur = client.get("/customers", params={"email": "ARTHUR_holmes@NOPCOMMERCE.com"}).json()["items"]
    assert [c["customer_no"] for c in arthur] == ["C000001"]
    assert client.get("/customers", params={"external_id": "5"}).json()["items"] == []
    create_order(client, external_order_id="F1")
    assert len(client.get("/sales-orders", params={"status": "New"}).json()["items"]) == 1
    assert client.get("/sales-orders", params={"status": "Open"}).json()["items"] == []


@pytest.mark.parametrize("path, params, field", [
    ("/items", {"limit": "0"}, "limit"),
    ("/items", {"limit": "501"}, "limit"),
    ("/items", {"limit": "ten"}, "limit"),
    ("/items", {"active": "1"}, "active"),
    ("/items", {"modified_since": "2026-11-27"}, "modified_since"),
    ("/items", {"cursor": "garbage!"}, "cursor"),
    ("/changes", {"after": "-1"}, "after"),
    ("/changes", {"entity": "invoice"}, "entity"),
    ("/inventory/transactions", {"after": "1.5"}, "after"),
    ("/sales-orders", {"status": "Lost"}, "status"),
])
def test_bad_query_parameters_get_422(client: httpx.Client, path: str, params: dict[str, str], field: str) -> None:
    reply = client.get(path, params=params)
    assert reply.status_code == 422
    assert [d["field"] for d in reply.json()["error"]["details"]] == [field]


def test_auth_company_and_unknown_routes() -> None:
    with BngServer(rate=None, company="DEMO", api_key="k1") as server:
        url = server.api_url
        assert httpx.get(url + "/health").json() == {"status": "ok", "version": "1.4.2", "company": "DEMO"}
        assert httpx.get(url + "/items").status_code == 401
        wrong = httpx.get(url + "/items", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "unauthorized")
        assert httpx.get(url + "/items", headers={"Authorization": "Bearer k1"}).status_code == 403
        good = {"Authorization": "Bearer k1", "BNG-Company": "DEMO"}
        assert httpx.get(url + "/items", headers=good).status_code == 200
        missing = httpx.get(url + "/invoices", headers=good)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


# -- rate limit ------------------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after_and_headers_on_every_reply() -> None:
    with BngServer(rate=0.5, burst=3) as server, httpx.Client(
            base_url=server.api_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        replies = [client.get("/metadata/locations") for _ in range(4)]
        assert [r.status_code for r in replies] == [200, 200, 200, 429]
        assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["2", "1", "0", "0"]
        assert all(r.headers["X-RateLimit-Limit"] == "3" for r in replies)
        assert int(replies[-1].headers["Retry-After"]) == 2          # one token at 0.5/s
        assert int(replies[-1].headers["X-RateLimit-Reset"]) >= 1
        assert replies[-1].json()["error"]["code"] == "rate_limited"
        other_key = httpx.get(server.api_url + "/items", headers={"Authorization": "Bearer other"})
        assert other_key.status_code == 401 and "X-RateLimit-Limit" in other_key.headers
        httpx.post(server.url + "/_sandbox/bng/rate-limit", json={"rate": None})
        assert client.get("/metadata/locations").status_code == 200


# -- optimistic concurrency and status ---------------------------------------------------------------
def test_patch_needs_the_current_row_version(client: httpx.Client) -> None:
    customer = client.get("/customers/C000001").json()
    url = "/customers/C000001"
    missing = client.patch(url, json={"external_id": "5"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (412, "stale")
    done = client.patch(url, json={"external_id": "5"}, headers={"If-Match": f'"{customer["row_version"]}"'})
    assert done.status_code == 200 and done.json()["external_id"] == "5"
    assert done.json()["row_version"] != customer["row_version"]
    assert done.json()["modified_at"] >= customer["modified_at"]
    stale = client.patch(url, json={"external_id": "6"}, headers={"If-Match": customer["row_version"]})
    assert stale.status_code == 412
    assert [c["customer_no"] for c in client.get("/customers", params={"external_id": "5"}).json()["items"]] \
        == ["C000001"]
    bad = client.patch(url, json={"bill_to": {"line1": "x"}, "custom_fields": {"CUSTOMER_TYPE": "VIP"}},
                       headers={"If-Match": done.json()["row_version"]})
    assert sorted(d["field"] for d in bad.json()["error"]["details"]) == [
        "bill_to.city", "bill_to.country", "bill_to.postal_code", "custom_fields.CUSTOMER_TYPE"]


def test_status_moves_follow_the_contract(client: httpx.Client) -> None:
    order = create_order(client)
    url = f"/sales-orders/{order['order_no']}"

    def patch(version: str, **body: Any) -> httpx.Response:
        return client.patch(url, json=body, headers={"If-Match": version})

    jump = patch(order["row_version"], status="Shipped")
    assert (jump.status_code, jump.json()["error"]["code"]) == (409, "conflict")
    opened = patch(order["row_version"], status="Open").json()
    seq = client.get("/changes", params={"limit": 500}).json()["last_seq"]
    again = patch(opened["row_version"], status="Open")
    assert again.status_code == 200 and again.json()["row_version"] == opened["row_version"]
    assert client.get("/changes", params={"after": seq}).json() == {"items": [], "last_seq": seq}
    paid = patch(opened["row_version"], payment_status="Paid").json()
    refunded = patch(paid["row_version"], payment_status="Unpaid").json()
    assert refunded["payment_status"] == "Unpaid"
    held = patch(refunded["row_version"], status="OnHold").json()
    assert patch(held["row_version"], status="Released").status_code == 409
    reopened = patch(held["row_version"], status="Open").json()
    released = patch(reopened["row_version"], status="Released").json()
    assert released["status"] == "Released"


def test_cancelling_returns_the_stock(client: httpx.Client) -> None:
    before = stock(client, "CF_BEAN_KG", "WEST")["on_hand"] if client.get(
        "/inventory", params={"item_no": "CF_BEAN_KG", "location": "WEST"}).json()["items"] else "0"
    order = create_order(client, location="WEST", lines=[("CF_BEAN_KG", "3.5", "24.50"), ("AP_MBP_13", "2", "1800")])
    west_mbp = Decimal(stock(client, "AP_MBP_13", "WEST")["on_hand"])
    cancelled = client.patch(f"/sales-orders/{order['order_no']}", json={"status": "Cancelled"},
                             headers={"If-Match": order["row_version"]}).json()
    assert cancelled["status"] == "Cancelled"
    journal = client.get("/inventory/transactions", params={"location": "WEST"}).json()["items"]
    assert [(t["type"], t["quantity"]) for t in journal] == [
        ("sale", "-3.5"), ("sale", "-2"), ("return", "3.5"), ("return", "2")]
    assert all(t["source_document"]["number"] == order["order_no"] for t in journal)
    assert Decimal(stock(client, "CF_BEAN_KG", "WEST")["on_hand"]) == Decimal(before)
    assert Decimal(stock(client, "AP_MBP_13", "WEST")["on_hand"]) == west_mbp + 2
    reopen = client.patch(f"/sales-orders/{order['order_no']}", json={"status": "Open"},
                          headers={"If-Match": cancelled["row_version"]})
    assert reopen.status_code == 409


# -- journals ----------------------------------------------------------------------------------------
def test_inventory_transactions_after_semantics(server: BngServer, client: httpx.Client) -> None:
    empty = client.get("/inventory/transactions", params={"after": 4999}).json()
    assert empty == {"items": [], "last_transaction_id": 4999}
    for n in range(3):
        create_order(client, external_order_id=f"T{n}", lines=[("AP_MBP_13", "1", "1800.00")])
    first = client.get("/inventory/transactions", params={"after": 0, "limit": 2}).json()
    assert [t["transaction_id"] for t in first["items"]] == [5000, 5001]
    assert first["last_transaction_id"] == 5001
    rest = client.get("/inventory/transactions", params={"after": 5001}).json()
    assert [t["transaction_id"] for t in rest["items"]] == [5002]
    assert client.get("/inventory/transactions", params={"after": 5002}).json() == {
        "items": [], "last_transaction_id": 5002}
    assert client.get("/inventory/transactions", params={"location": "WEST"}).json() == {
        "items": [], "last_transaction_id": 0}


def test_change_feed_grows_strictly_and_expires_with_410(server: BngServer, client: httpx.Client,
                                                         admin: httpx.Client) -> None:
    order = create_order(client)
    customer = client.post("/customers", json=customer_body()).json()
    server.state.set_item_price("AP_MBP_13", "1799.00")
    feed = client.get("/changes").json()
    seqs = [e["seq"] for e in feed["items"]]
    assert seqs == sorted(set(seqs)) and seqs[0] == 1 and feed["last_seq"] == seqs[-1]
    assert [(e["entity"], e["key"], e["change"]) for e in feed["items"]] == [
        ("sales_order", order["order_no"], "created"), ("stock", "AP_MBP_13@MAIN", "updated"),
        ("customer", customer["customer_no"], "created"), ("item", "AP_MBP_13", "updated")]
    assert feed["items"][-1]["fields"] == ["unit_price"]
    items_only = client.get("/changes", params={"entity": "item"}).json()
    assert [e["key"] for e in items_only["items"]] == ["AP_MBP_13"]
    last = feed["last_seq"]
    assert client.get("/changes", params={"after": last}).json() == {"items": [], "last_seq": last}
    assert admin.post("/changes/expire", json={"through_seq": 2}).json()["dropped"] == 2
    gone = client.get("/changes", params={"after": 1})
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "gone")
    assert "after=2" in gone.json()["error"]["details"][0]["issue"]
    assert [e["seq"] for e in client.get("/changes", params={"after": 2}).json()["items"]] == [3, 4]


# -- back office through the admin routes ----------------------------------------------------------
def test_ship_and_deliver_through_admin_routes(client: httpx.Client, admin: httpx.Client) -> None:
    order = create_order(client, lines=[("AP_MBP_13", "3", "1800.00"), ("CF_BEAN_KG", "1.5", "24.50")])
    no = order["order_no"]
    seq = client.get("/changes").json()["last_seq"]
    partial = admin.post(f"/sales-orders/{no}/ship", json={
        "lines": [{"line_no": 1, "quantity": 2}], "carrier": "UPS", "tracking_number": "1Z999AA10123456784"})
    assert partial.status_code == 201, partial.text
    assert partial.json()["shipment_no"] == "SH-700001"
    assert client.get(f"/sales-orders/{no}").json()["status"] == "PartiallyShipped"
    too_much = admin.post(f"/sales-orders/{no}/ship", json={"lines": [{"line_no": 1, "quantity": 2}]})
    assert too_much.status_code == 422
    rest = admin.post(f"/sales-orders/{no}/ship", json={"carrier": "FedEx"}).json()
    assert rest["lines"] == [{"line_no": 1, "quantity": "1"}, {"line_no": 2, "quantity": "1.5"}]
    delivered = admin.post(f"/shipments/{rest['shipment_no']}/deliver").json()
    assert delivered["delivered_at"] is not None
    final = client.get(f"/sales-orders/{no}").json()
    assert final["status"] == "Shipped"
    assert [s["shipment_no"] for s in final["shipments"]] == ["SH-700001", "SH-700002"]
    assert final["shipments"][1]["delivered_at"] == delivered["delivered_at"]
    changes = client.get("/changes", params={"after": seq, "entity": "sales_order"}).json()["items"]
    assert [e["fields"] for e in changes] == [["status"], ["shipments", "status"], ["shipments", "status"],
                                              ["shipments"]]
    assert admin.post(f"/sales-orders/{no}/ship").status_code == 409
    paid = admin.post(f"/sales-orders/{no}/payment", json={"payment_status": "Paid"}).json()
    assert paid["payment_status"] == "Paid"
    assert admin.post(f"/sales-orders/{no}/status", json={"status": "Invoiced"}).json()["status"] == "Invoiced"
    assert admin.post("/sales-orders/SO-1/cancel").status_code == 404


def test_stock_operations_through_admin_routes(client: httpx.Client, admin: httpx.Client) -> None:
    start = Decimal(stock(client, "CF_BEAN_KG")["on_hand"])
    assert admin.post("/inventory/purchase", json={"item_no": "CF_BEAN_KG", "location": "MAIN",
                                                   "quantity": 12.5}).status_code == 201
    admin.post("/inventory/adjustment", json={"item_no": "CF_BEAN_KG", "location": "MAIN", "quantity": "-0.5"})
    moved = admin.post("/inventory/transfer", json={"item_no": "CF_BEAN_KG", "from_location": "MAIN",
                                                   "to_location": "WEST", "quantity": "2"}).json()["items"]
    assert [(t["type"], t["location"], t["quantity"]) for t in moved] == [
        ("transfer_out", "MAIN", "-2"), ("transfer_in", "WEST", "2")]
    reserved = admin.post("/inventory/reserve", json={"item_no": "CF_BEAN_KG", "location": "MAIN",
                                                     "quantity": "4"}).json()
    assert Decimal(reserved["on_hand"]) == start + Decimal("10")
    assert Decimal(reserved["available"]) == start + Decimal("6")
    types = [t["type"] for t in client.get("/inventory/transactions").json()["items"]]
    assert types == ["purchase", "adjustment", "transfer_out", "transfer_in"]
    added = admin.post("/items", json={"item_no": "TEA_KG", "description": "Green tea", "unit_price": "30",
                                       "uom": "KG", "attributes": {"Organic": True, "Grade": 1},
                                       "stock": {"MAIN": "12.75"}})
    assert added.status_code == 201
    assert stock(client, "TEA_KG")["available"] == "12.75"
    changed = admin.patch("/items/TEA_KG", json={"unit_price": "31.50"}).json()
    assert changed["unit_price"] == "31.5000"
    assert admin.post("/inventory/purchase", json={"item_no": "VG_CR_025", "location": "MAIN",
                                                   "quantity": 1}).status_code == 422
    snapshot = admin.get("/snapshot").json()
    assert snapshot["transactions"] == 4 and snapshot["items"] == 51
