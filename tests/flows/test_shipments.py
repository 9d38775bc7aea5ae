"""Order-to-cash, BNG → store: shipments with tracking, shipping/order/payment statuses, cancellations.

The BNG back office (the sandbox's `state`) ships, delivers, cancels and marks paid; the agent's
shipments flow carries it to the nopCommerce double, whose state is then checked directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.engine.cursors import Cursors
from agent.flows import shipments as shipments_flow
from agent.sandbox.faults import FaultRule, mix

ORDER = {"Pending": 10, "Processing": 20, "Complete": 30, "Cancelled": 40}
PAYMENT = {"Pending": 10, "Authorized": 20, "Paid": 30}
SHIPPING = {"ShippingNotRequired": 10, "NotYetShipped": 20, "PartiallyShipped": 25, "Shipped": 30, "Delivered": 40}


def bng_order(sandbox, order_id: int) -> dict[str, Any]:
    found = sandbox.bng.state.orders_for(str(order_id))
    assert len(found) == 1, f"web order {order_id} is in BNG {len(found)} times"
    return found[0]


def store_statuses(sandbox, order_id: int) -> tuple[int, int, int]:
    f = sandbox.nop.state.orders[order_id].fields
    return f["order_status_id"], f["payment_status_id"], f["shipping_status_id"]


def store_shipments(sandbox, order_id: int) -> list[Any]:
    return sorted(sandbox.nop.state.shipments_of(order_id), key=lambda s: s.id)


@pytest.fixture
def synced(make_sandbox, make_runtime):
    """A sandbox whose sample orders (and three more of Steve's) are in BNG, and the runtime."""
    sandbox = make_sandbox(order_put_item_lookup_defect=False)
    sandbox.nop.shoppers.place_order(customer_id=4, lines=[("APPLE_CAM", 2), ("LT_MIR_DC", 1)],
                                     payment_status="Pending", anomalies=[])
    runtime = make_runtime(sandbox)
    assert runtime.sync("orders", timeout=60)["ok"]
    return sandbox, runtime


def test_shipments_tracking_and_statuses_come_back(synced):
    sandbox, runtime = synced
    bng = sandbox.bng.state
    six = bng_order(sandbox, 6)["order_no"]                 # APPLE_CAM x2, LT_MIR_DC x1; Pending/Pending
    method = sandbox.nop.state.orders[6].fields["shipping_method"]
    first = bng.ship_order(six, [(1, 1)], carrier="UPS", tracking_number="1Z0001")
    report = runtime.sync("shipments", timeout=60)
    assert report["ok"], report
    (shipment,) = store_shipments(sandbox, 6)
    assert shipment.tracking_number == "1Z0001"
    assert "BNG shipment " + first["shipment_no"] in shipment.admin_comment
    apple_item = next(i for i in sandbox.nop.state.orders[6].items if sandbox.nop.state.products[i.product_id].sku
                      == "APPLE_CAM")
    assert [(i.order_item_id, i.quantity) for i in shipment.items] == [(apple_item.id, 1)]
    assert store_statuses(sandbox, 6) == (ORDER["Processing"], PAYMENT["Pending"], SHIPPING["PartiallyShipped"])

    second = bng.ship_order(six, carrier="UPS", tracking_number="1Z0002")
    bng.deliver_shipment(first["shipment_no"])
    bng.deliver_shipment(second["shipment_no"])
    assert runtime.sync("shipments", timeout=60)["ok"]
    assert [s.tracking_number for s in store_shipments(sandbox, 6)] == ["1Z0001", "1Z0002"]
    assert sum(i.quantity for s in store_shipments(sandbox, 6) for i in s.items) == 3
    assert store_statuses(sandbox, 6) == (ORDER["Processing"], PAYMENT["Pending"], SHIPPING["Delivered"])

    bng.mark_paid(six)                                      # accounting: paid and delivered → Complete
    assert runtime.sync("shipments", timeout=60)["ok"]
    assert store_statuses(sandbox, 6) == (ORDER["Complete"], PAYMENT["Paid"], SHIPPING["Delivered"])
    assert sandbox.nop.state.orders[6].fields["shipping_method"] == method     # the updates kept it

    bng.cancel_order(bng_order(sandbox, 2)["order_no"])    # Arthur's pending order, cancelled in BNG
    assert runtime.sync("shipments", timeout=60)["ok"]
    assert store_statuses(sandbox, 2)[0] == ORDER["Cancelled"]

    # nothing happens twice: the feed has moved on, and a replayed change finds nothing to do
    assert runtime.sync("shipments", timeout=60)["flows"]["shipments"]["enqueued"] == 0
    runtime.queue.enqueue(shipments_flow.PROGRESS, shipments_flow.progress_key(six, "replay"), {"order_no": six})
    assert runtime.pool.wait_idle(30)
    assert len(store_shipments(sandbox, 6)) == 2
    trail = runtime.history.trail(f"bng-order:{six}")
    assert any("1Z0002" in e.message and "nop-order:6" in (e.subject or "") for e in trail)


def test_a_lost_reply_from_the_store_creates_the_shipment_once(synced):
    sandbox, runtime = synced
    no = bng_order(sandbox, 1)["order_no"]
    sandbox.bng.state.ship_order(no, tracking_number="TRACK-1")
    sandbox.nop.faults.add(FaultRule(route="/api/orders/1/shipments", method="POST", drop_reply_rate=1.0,
                                     remaining=1))
    report = runtime.sync("shipments", timeout=60)
    assert report["ok"], report
    assert [s.tracking_number for s in store_shipments(sandbox, 1)] == ["TRACK-1"]
    assert store_statuses(sandbox, 1)[2] == SHIPPING["Shipped"]
    assert any("already in the store" in e.message for e in runtime.history.trail("bng-order:" + no))


def test_a_feed_too_old_for_bng_reads_every_open_order_again(synced):
    sandbox, runtime = synced
    bng = sandbox.bng.state
    assert runtime.sync("shipments", timeout=60)["ok"]
    bng.ship_order(bng_order(sandbox, 2)["order_no"], tracking_number="AFTER-GAP")
    bng.mark_paid(bng_order(sandbox, 6)["order_no"])
    bng.expire_changes()                                    # the agent was off for longer than BNG keeps changes
    bng.ship_order(bng_order(sandbox, 1)["order_no"], tracking_number="NEWEST")
    report = runtime.sync("shipments", timeout=60)
    assert report["ok"], report
    assert [s.tracking_number for s in store_shipments(sandbox, 2)] == ["AFTER-GAP"]
    assert store_statuses(sandbox, 6)[1] == PAYMENT["Paid"]
    assert [s.tracking_number for s in store_shipments(sandbox, 1)] == ["NEWEST"]
    assert Cursors(runtime.store).get(shipments_flow.CURSOR) == bng.snapshot()["last_seq"]
    assert any("no longer reaches back" in e.message for e in runtime.history.events(limit=200))


def test_the_store_plugins_update_defect_is_reported_plainly_and_stays_retryable(make_sandbox, make_runtime):
    sandbox = make_sandbox()                                # the plugin's order-item-id lookup defect is on
    sandbox.nop.shoppers.place_orders(15, customer_id=4, anomalies=[])   # order item ids pass the product ids
    runtime = make_runtime(sandbox, agent={"max_attempts": 2})
    assert runtime.sync("orders", timeout=60)["ok"]
    no = bng_order(sandbox, 20)["order_no"]
    sandbox.bng.state.ship_order(no, tracking_number="DEFECT-1")
    runtime.sync("shipments", timeout=60)
    (job,) = [j for j in runtime.queue.find(kind=shipments_flow.PROGRESS) if no in j.key]
    assert job.state == "dead" and job.attempts == 2
    assert "known plugin defect" in job.last_error
    assert [s.tracking_number for s in store_shipments(sandbox, 20)] == ["DEFECT-1"]   # created once, kept
    sandbox.nop.state.order_put_item_lookup_defect = False    # e.g. the plugin got patched
    assert runtime.queue.retry(job.id)
    assert runtime.pool.wait_idle(30)
    assert runtime.queue.get(job.id).state == "succeeded"
    assert store_statuses(sandbox, 20)[2] == SHIPPING["Shipped"]
    assert len(store_shipments(sandbox, 20)) == 1


def test_many_orders_round_trip_with_faults(make_sandbox, make_runtime):
    round_trip(make_sandbox, make_runtime, n=100)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_thousand_orders_round_trip_with_faults(make_sandbox, make_runtime):
    round_trip(make_sandbox, make_runtime, n=1000)


def round_trip(make_sandbox, make_runtime, n: int) -> None:
    """n simulated orders to BNG and back under faults on both sides: each reaches BNG once, and
    what the back office does to it shows in the store."""
    sandbox = make_sandbox(seed=23, bad_data_rate=0.0, order_put_item_lookup_defect=False)
    placed = [o["id"] for o in sandbox.nop.shoppers.place_orders(n)]
    runtime = make_runtime(sandbox, agent={"max_attempts": 30, "workers": 8}, nopcommerce={"timeout_seconds": 1},
                           bng={"timeout_seconds": 1})
    sandbox.bng.faults.add(mix(0.2, hang_seconds=1.5))
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", drop_reply_rate=0.1))
    sandbox.nop.faults.add(mix(0.1, route="/api/orders", hang_seconds=1.5))
    report = runtime.sync("orders", timeout=300)
    assert report["ok"], (report, [j.last_error for j in runtime.queue.list_errors()])

    bng, nop = sandbox.bng.state, sandbox.nop.state
    expected: dict[int, str] = {}
    for index, order_id in enumerate(placed):
        no = bng_order(sandbox, order_id)["order_no"]
        downloads_only = nop.orders[order_id].fields["shipping_status_id"] == SHIPPING["ShippingNotRequired"]
        action = "paid" if downloads_only and index % 4 in (0, 1) else ("delivered", "partial", "paid", "cancelled")[
            index % 4]
        if action == "delivered":
            shipment = bng.ship_order(no, carrier="UPS", tracking_number=f"1Z{order_id:06d}")
            bng.deliver_shipment(shipment["shipment_no"])
        elif action == "partial":
            line = bng.order(no)["lines"][0]
            bng.ship_order(no, [(line["line_no"], 1)], tracking_number=f"PART{order_id}")
        elif action == "paid":
            bng.mark_paid(no)
        else:
            bng.cancel_order(no)
        expected[order_id] = action
    report = runtime.sync("shipments", timeout=300)
    assert report["ok"], (report, [j.last_error for j in runtime.queue.list_errors()])

    for order_id, action in expected.items():
        order_status, payment, shipping = store_statuses(sandbox, order_id)
        shipments = store_shipments(sandbox, order_id)
        so = bng_order(sandbox, order_id)
        assert len(shipments) == len(so["shipments"]), (order_id, action)
        if action == "delivered":
            assert shipping == SHIPPING["Delivered"], order_id
            assert shipments[0].tracking_number == f"1Z{order_id:06d}"
            assert order_status == (ORDER["Complete"] if payment == PAYMENT["Paid"] else ORDER["Processing"])
        elif action == "partial":
            fully = so["status"] == "Shipped"
            assert shipping == SHIPPING["Shipped" if fully else "PartiallyShipped"], order_id
            assert sum(i.quantity for i in shipments[0].items) == 1
        elif action == "paid":
            assert payment == PAYMENT["Paid"] and order_status in (ORDER["Processing"], ORDER["Complete"]), order_id
        else:
            assert order_status == ORDER["Cancelled"], order_id
    assert bng.snapshot()["duplicate_external_order_ids"] == {}
