"""The stock flow against the sandbox: BNG's figure less web demand, written only where it differs.

`stock_gaps` checks the invariant from the two systems' own records, independently of the agent:

    store stock == floor(sum of BNG available over the mapped locations) − units in store orders
                   (not cancelled) that have no BNG sales order
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from agent.flows.stock import feed_end
from agent.sandbox import Sandbox


def web_demand(sandbox: Sandbox) -> dict[int, int]:
    """Product id → units in store orders that are not cancelled and not in BNG (by external_order_id)."""
    booked = set(sandbox.bng.state.snapshot()["sales_orders_by_external_id"])
    nop = sandbox.nop.state
    demand: dict[int, int] = {}
    with nop.lock:
        for order in nop.orders.values():
            if order.deleted or order.fields["order_status_id"] == 40 or str(order.id) in booked:
                continue
            for item in order.items:
                demand[item.product_id] = demand.get(item.product_id, 0) + item.quantity
    return demand


def stock_gaps(sandbox: Sandbox, locations: Iterable[str] | None = None) -> dict[str, tuple[int, int]]:
    """SKU → (store stock, what it should be) for every managed product of a BNG inventory item that is off.

    Every product whose stock the store manages and that BNG stocks is checked; products BNG does
    not know (the store's web-only items, the grouped camera) keep the store's own figure.
    """
    bng, nop = sandbox.bng.state, sandbox.nop.state
    counted = set(locations) if locations else None
    demand = web_demand(sandbox)
    with bng.lock:
        stocked = {no for no, row in bng.items.by_no.items() if row.doc["item_type"] == "inventory"}
        available: dict[str, Decimal] = {}
        for row in bng.stock.rows:
            if counted is None or row.location in counted:
                available[row.item_no] = available.get(row.item_no, Decimal(0)) + row.on_hand - row.allocated
    gaps, checked = {}, 0
    with nop.lock:
        for product in nop.products.values():
            if product.deleted or not product.manages_stock or product.sku not in stocked:
                continue
            expected = math.floor(available.get(product.sku, Decimal(0))) - demand.get(product.id, 0)
            actual = product.stock_quantity
            if product.fields["use_multiple_warehouses"]:      # what the store sells: its warehouses' sum
                actual = sum(i.stock_quantity - i.reserved_quantity for i in nop.inventories.values()
                             if i.product_id == product.id)
            checked += 1
            if actual != expected:
                gaps[product.sku] = (actual, expected)
    assert checked, "no product to check: the check itself is broken"
    return gaps


def managed_skus(sandbox: Sandbox) -> list[str]:
    items = sandbox.bng.state.items.by_no
    stocked = {no for no, row in items.items() if row.doc["item_type"] == "inventory"}
    return sorted(p.sku for p in sandbox.nop.state.products.values() if p.manages_stock and p.sku in stocked)


def test_first_sync_sets_every_sku_to_bng_less_web_demand(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    assert sandbox.nop.state.product_by_sku("AP_MBP_13").stock_quantity == 10000
    report = runtime.sync("inventory", timeout=60)
    assert report["ok"], report
    assert stock_gaps(sandbox) == {}
    assert len(managed_skus(sandbox)) == 40
    # the store's sample orders are not in BNG yet: their units stay off the store's figure
    assert sandbox.nop.state.product_by_sku("APPLE_CAM").stock_quantity == 52 + 9 - 1


def test_only_changed_skus_are_written(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop, bng = sandbox.nop.state, sandbox.bng.state
    assert runtime.sync("inventory", timeout=60)["ok"]
    puts = nop.counters["product_puts"]
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert nop.counters["product_puts"] == puts, "nothing moved in BNG: nothing written"

    bng.post_purchase("AP_MBP_13", "WEST", "5")
    bng.post_adjustment("LV_511_JN", "MAIN", "-2")
    bng.post_transfer("HP_SPX_UB", "MAIN", "WEST", "3")       # moves stock, changes no total
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert stock_gaps(sandbox) == {}
    assert nop.counters["product_puts"] == puts + 2
    assert nop.product_by_sku("AP_MBP_13").stock_quantity == 9 + 22 + 5


def test_reservations_and_decimal_stock(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    bng = sandbox.bng.state
    assert runtime.sync("products", timeout=60)["ok"]          # creates CF_BEAN_KG (37.5 kg in BNG)
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert sandbox.nop.state.product_by_sku("CF_BEAN_KG").stock_quantity == 37
    bng.post_adjustment("CF_BEAN_KG", "MAIN", "0.6")           # 38.1 kg: still whole units only
    bng.reserve_stock("SM_900_PU", "MAIN", "4")                # a reservation: no transaction, less available
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert sandbox.nop.state.product_by_sku("CF_BEAN_KG").stock_quantity == 38
    assert sandbox.nop.state.product_by_sku("SM_900_PU").stock_quantity == 44 + 1 - 4
    assert stock_gaps(sandbox) == {}


def test_only_the_mapped_locations_count(sandbox, make_runtime):
    runtime = make_runtime(sandbox, mapping={"locations": {"stock_locations": ["MAIN"]}})
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert stock_gaps(sandbox, ["MAIN"]) == {}
    sandbox.bng.state.post_purchase("AP_MBP_13", "WEST", "5")  # not a store location
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert sandbox.nop.state.product_by_sku("AP_MBP_13").stock_quantity == 9


def test_bng_locations_fill_store_warehouses(sandbox, make_runtime):
    nop = sandbox.nop.state
    runtime = make_runtime(sandbox, mapping={"locations": {"warehouses": {"MAIN": 1, "WEST": 2}}})
    laptop = nop.product_by_sku("AP_MBP_13")
    with nop.lock:
        laptop.fields["use_multiple_warehouses"] = True
        nop.product_changed(laptop.id)
    assert runtime.sync("inventory", timeout=60)["ok"]
    stock = {inv.warehouse_id: inv.stock_quantity for inv in nop.inventories.values() if inv.product_id == laptop.id}
    assert stock == {1: 9, 2: 22}
    assert stock_gaps(sandbox) == {}, "the others still get the sum of both locations"


def test_reconciliation_reports_and_fixes_drift(sandbox, make_runtime):
    runtime = make_runtime(sandbox, alerts={"drift_threshold": 10})
    nop = sandbox.nop.state
    assert runtime.sync("inventory", timeout=60)["ok"]
    with nop.lock:                                             # someone edits stock in the store's admin
        for sku, change in (("AP_MBP_13", 7), ("NK_ZSJ_MM", -5), ("OB_HAT_PR", 3)):
            product = nop.product_by_sku(sku)
            product.fields["stock_quantity"] += change
            nop.product_changed(product.id)

    runtime.trigger("reconcile", "nightly")                    # what the scheduler does at reconcile_at
    assert runtime.pool.wait_idle(60, include_retries=True)
    runtime.finish_runs()
    assert stock_gaps(sandbox) == {}
    run = runtime.history.runs(flow="inventory", limit=1)[0]
    assert run.trigger == "nightly" and "3 of 40 SKU(s) had drifted by 15 unit(s)" in (run.message or "")
    alerts = [a for a in runtime.alerts.open_alerts() if a["incident"] == "anomaly:stock-drift"]
    assert len(alerts) == 1 and "15 unit(s)" in alerts[0]["message"]


def test_small_drift_is_fixed_without_an_alert(sandbox, make_runtime):
    runtime = make_runtime(sandbox, alerts={"drift_threshold": 10})
    nop = sandbox.nop.state
    assert runtime.sync("inventory", timeout=60)["ok"]
    with nop.lock:
        product = nop.product_by_sku("AP_MBP_13")
        product.fields["stock_quantity"] -= 2
        nop.product_changed(product.id)
    assert runtime.sync("inventory", timeout=60, full=True)["ok"]
    assert stock_gaps(sandbox) == {}
    assert not [a for a in runtime.alerts.open_alerts() if a["incident"] == "anomaly:stock-drift"]


def test_stock_owned_by_the_store_is_left_alone(sandbox, make_runtime):
    runtime = make_runtime(sandbox, mapping={"ownership": {"bng_owns": ["sku", "name", "price"]}})
    report = runtime.sync("inventory", timeout=60)
    assert report["ok"]
    assert sandbox.nop.state.product_by_sku("AP_MBP_13").stock_quantity == 10000


def test_the_first_run_finds_where_bngs_feeds_end_without_reading_them():
    asked: list[int] = []

    def has_newer(after: int) -> bool:
        asked.append(after)
        return after < 3_141_592

    assert feed_end(has_newer) == 3_141_592
    assert len(asked) < 50, "a few dozen probes, not the whole journal"
    assert feed_end(lambda after: False) == 0
    assert feed_end(lambda after: after < 1) == 1
