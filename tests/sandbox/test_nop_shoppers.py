"""Simulated shoppers: orders placed through the store's checkout logic, with variety and labelled bad data."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from agent.sandbox import NOP_PASSWORD, NOP_USERNAME
from agent.sandbox.nop import NopServer
from agent.sandbox.nop.checkout import OrderActionError, PlaceOrderError
from agent.sandbox.nop.shoppers import BAD_DATA
from tests.conftest import wait_until

CREDENTIALS = {"username": NOP_USERNAME, "password": NOP_PASSWORD}
BNG_SKUS = {item["item_no"] for item in json.loads(
    (Path(__file__).resolve().parents[2] / "agent/sandbox/data/bng-sample-data.json").read_text())["items"]}
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


@pytest.fixture
def nop():
    with NopServer(seed=7) as server:
        yield server


def _d(value) -> Decimal:
    return Decimal(str(value))


def _stock(nop: NopServer, sku: str) -> int:
    return nop.state.product_by_sku(sku).stock_quantity


def test_stock_is_taken_per_line_for_products_that_manage_it(nop):
    order = nop.shoppers.place_order(lines=[("LV_511_JN", 2), ("PRIDE_PRJ", 1), ("VG_CR_025", 1)], anomalies=[])
    assert [i["quantity"] for i in order["order_items"]] == [2, 1, 1]
    assert _stock(nop, "LV_511_JN") == 9998 and _stock(nop, "PRIDE_PRJ") == 9999
    assert _stock(nop, "VG_CR_025") == 10000                       # DontManageStock
    history = [h for h in nop.state.stock_history if h.product_id == 32]
    assert history[-1].quantity_adjustment == -2 and f"order #{order['id']}" in history[-1].message
    with pytest.raises(PlaceOrderError, match="exceeds stock"):
        nop.shoppers.place_order(lines=[("RH_CHK_BL", 1)], anomalies=[])      # the belt is out of stock


def test_statuses_are_what_place_order_sets(nop):
    place = nop.shoppers.place_order
    paid = place(lines=[("LV_511_JN", 1)], payment_status="Paid", anomalies=[])
    assert (paid["order_status"], paid["payment_status"], paid["shipping_status"]) == \
        ("Processing", "Paid", "NotYetShipped")
    assert paid["paid_date_utc"] is not None
    pending = place(lines=[("LV_511_JN", 1)], payment_status="Pending", anomalies=[])
    assert (pending["order_status"], pending["payment_status"]) == ("Pending", "Pending")
    assert pending["paid_date_utc"] is None
    authorized = place(lines=[("LV_511_JN", 1)], payment_status="Authorized", anomalies=[])
    assert (authorized["order_status"], authorized["payment_status"]) == ("Processing", "Authorized")
    digital = place(lines=[("NIGHT_VSN", 1)], payment_status="Paid", anomalies=[])
    assert (digital["order_status"], digital["shipping_status"]) == ("Complete", "ShippingNotRequired")
    assert digital["shipping_address"] is None and digital["shipping_method"] is None
    assert digital["checkout_attribute_description"] is None


def test_addresses_are_copied_per_order(nop):
    first = nop.shoppers.place_order(customer_id=4, lines=[("LV_511_JN", 1)], anomalies=[])
    second = nop.shoppers.place_order(customer_id=4, lines=[("LV_511_JN", 1)], anomalies=[])
    home = nop.state.customers[4].billing_address_id
    ids = {first["billing_address"]["id"], first["shipping_address"]["id"], second["billing_address"]["id"],
           second["shipping_address"]["id"]}
    assert len(ids) == 4 and home not in ids
    assert first["billing_address"]["address1"] == "750 Bel Air Rd."


def test_totals_add_up_the_way_nopcommerce_computes_them(nop):
    orders = nop.shoppers.place_orders(150)
    for order in orders:
        lines = order["order_items"]
        for line in lines:
            assert _d(line["price_excl_tax"]) == _d(line["unit_price_excl_tax"]) * line["quantity"]
        wrap = Decimal(10) if "Gift wrapping: Yes" in (order["checkout_attribute_description"] or "") else 0
        assert _d(order["order_subtotal_excl_tax"]) == sum(_d(i["price_excl_tax"]) for i in lines) + wrap
        total = (_d(order["order_subtotal_excl_tax"]) - _d(order["order_sub_total_discount_excl_tax"])
                 + _d(order["order_shipping_excl_tax"]) + _d(order["payment_method_additional_fee_excl_tax"])
                 + _d(order["order_tax"]) - _d(order["order_discount"]))
        assert abs(total - _d(order["order_total"])) <= Decimal("0.005"), order["id"]
        assert _d(order["order_tax"]) == _d(order["order_subtotal_incl_tax"]) - _d(order["order_subtotal_excl_tax"])
        if _d(order["order_tax"]) > 0:
            assert re.fullmatch(r"\d+(\.\d+)?:\d+\.\d{2,4};   ", order["tax_rates"]), order["tax_rates"]


def test_orders_have_realistic_variety(nop):
    orders = nop.shoppers.place_orders(300)
    labels = Counter(label for values in nop.shoppers.labels.values() for label in values)
    assert {len(o["order_items"]) for o in orders} == {1, 2, 3, 4, 5, 6}
    assert any(i["quantity"] > 1 for o in orders for i in o["order_items"])
    by_currency = {o["customer_currency_code"]: _d(o["currency_rate"]) for o in orders}
    assert by_currency == {"USD": 1, "EUR": Decimal("0.86"), "GBP": Decimal("0.75"), "CAD": Decimal("1.32")}
    descriptions = {o["checkout_attribute_description"] for o in orders}
    assert "Gift wrapping: Yes [+$10.00]" in descriptions and "Gift wrapping: No" in descriptions
    assert {"Gift wrapping: Yes [+€8.60]", "Gift wrapping: Yes [+£7.50]"} & descriptions
    assert any(_d(o["order_discount"]) > 0 for o in orders)
    assert any(_d(i["discount_amount_excl_tax"]) > 0 for o in orders for i in o["order_items"])
    assert any(_d(o["order_shipping_excl_tax"]) > 0 for o in orders)
    assert any(i["product_attributes"] for o in orders for i in o["order_items"])
    statuses = Counter((o["order_status"], o["payment_status"]) for o in orders)
    assert statuses[("Processing", "Paid")] and statuses[("Pending", "Pending")]
    assert labels["guest"] and labels["new_customer"] and labels["messy_address"] and labels["pickup"]
    guest_id = next(o["customer_id"] for o in orders if "guest" in nop.shoppers.labels.get(o["id"], []))
    assert nop.state.customers[guest_id].email is None                       # guests keep no e-mail
    typed = [c.id for c in nop.state.customers.values() if c.custom_customer_attributes_xml]
    assert typed and nop.state.customer_attribute_values(typed[0])["Customer Type"] in (
        "Retail", "Wholesale", "Education")
    messy = [o["billing_address"] for o in orders if "messy_address" in nop.shoppers.labels.get(o["id"], [])]
    assert any(a["city"] != a["city"].strip().title() or "  " in (a["address1"] or "") for a in messy)


@pytest.mark.parametrize("anomaly", BAD_DATA)
def test_each_kind_of_bad_data_is_labelled(nop, anomaly):
    order = nop.shoppers.place_order(anomalies=[anomaly])
    assert anomaly in nop.shoppers.labels[order["id"]]
    lines = order["order_items"]
    if anomaly == "invalid_email":
        assert not EMAIL.match(order["billing_address"]["email"])
    elif anomaly == "unknown_sku":
        assert any(i["product"]["sku"] not in BNG_SKUS for i in lines)
    elif anomaly == "zero_price":
        assert any(_d(i["unit_price_excl_tax"]) == 0 for i in lines)
    else:
        assert max(i["quantity"] for i in lines) >= 500


def test_bad_data_rate_labels_every_order_that_carries_it():
    with NopServer(seed=11, bad_data_rate=1.0) as server:
        orders = server.shoppers.place_orders(40)
    for order in orders:
        found = set(server.shoppers.labels[order["id"]]) & set(BAD_DATA)
        assert found, order["id"]


def test_clean_orders_carry_no_bad_data():
    with NopServer(seed=5, bad_data_rate=0.0) as server:
        orders = server.shoppers.place_orders(120)
    for order in orders:
        assert EMAIL.match(order["billing_address"]["email"]), order["billing_address"]["email"]
        for item in order["order_items"]:
            assert item["product"]["sku"] in BNG_SKUS
            assert item["quantity"] < 500


def test_same_seed_same_orders():
    def run() -> list:
        with NopServer(seed=42) as server:
            orders = server.shoppers.place_orders(25)
        return [(o["customer_id"], o["order_total"], [(i["product_id"], i["quantity"]) for i in o["order_items"]])
                for o in orders]

    assert run() == run()


def test_lost_update_race_with_an_erp_stock_write_is_reproducible(nop):
    """The checkout reads stock, the ERP writes an absolute value, the checkout writes read − qty."""
    client = httpx.Client(base_url=nop.url, timeout=5)
    token = client.post("/token", json=CREDENTIALS).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    writes = []

    def erp_writes_between_read_and_write(product_id: int, read: int) -> None:
        if not writes:
            response = client.put(f"/api/products/{product_id}", json={"product": {"stock_quantity": 50,
                                                                                   "tags": []}})
            writes.append(response.status_code)

    nop.state.stock_race_hook = erp_writes_between_read_and_write
    nop.shoppers.place_order(lines=[("LV_511_JN", 3)], anomalies=[])
    assert writes == [200]
    assert _stock(nop, "LV_511_JN") == 10000 - 3          # the ERP's 50 was lost
    client.close()


def test_concurrent_checkouts_lose_a_decrement_when_interleaved(nop):
    barrier = threading.Barrier(2, timeout=5)
    nop.state.stock_race_hook = lambda product_id, read: barrier.wait()
    threads = [threading.Thread(target=nop.shoppers.place_order,
                                kwargs={"lines": [("PRIDE_PRJ", 2)], "anomalies": [], "customer_id": 4})
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    orders = [o for o in nop.state.orders.values() if o.id > 5]
    assert len(orders) == 2
    assert _stock(nop, "PRIDE_PRJ") == 10000 - 2           # two orders of 2, only one decrement kept


def test_admin_actions_go_through_order_processing(nop):
    order = nop.shoppers.place_order(lines=[("FIRST_PRP", 4)], payment_status="Pending", anomalies=[])
    assert _stock(nop, "FIRST_PRP") == 9996
    paid = nop.shoppers.mark_paid(order["id"])
    assert (paid["order_status"], paid["payment_status"]) == ("Processing", "Paid")
    with pytest.raises(OrderActionError):
        nop.shoppers.mark_paid(order["id"])
    shipped = nop.shoppers.ship_order(order["id"], "1Z1")
    assert shipped["shipping_status"] == "Shipped"
    delivered = nop.shoppers.deliver_order(order["id"])
    assert (delivered["order_status"], delivered["shipping_status"]) == ("Complete", "Delivered")
    cancelled = nop.shoppers.cancel_order(order["id"])                 # allowed even when Complete
    assert cancelled["order_status"] == "Cancelled" and _stock(nop, "FIRST_PRP") == 10000
    with pytest.raises(OrderActionError):
        nop.shoppers.cancel_order(order["id"])


def test_run_places_orders_in_the_background(nop):
    stop = threading.Event()
    thread = threading.Thread(target=nop.shoppers.run, args=(400.0, stop), daemon=True)
    thread.start()
    wait_until(lambda: len(nop.state.orders) >= 25, timeout=10, message="25 orders")
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and nop.shoppers.failures == 0
