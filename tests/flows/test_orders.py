"""Order-to-cash, store → BNG: the sample orders, the error cases, duplicates, cancellations.

Everything runs against the sandbox over loopback with the real Runtime and a real SQLite store.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from agent.engine.queue import JobSpec
from agent.flows import orders as orders_flow
from agent.flows.orders import pending_demand, webhook_jobs
from agent.sandbox.faults import FaultRule
from tests.conftest import wait_until


def bng_orders(sandbox, order_id: int) -> list[dict[str, Any]]:
    return sandbox.bng.state.orders_for(str(order_id))


def only_bng_order(sandbox, order_id: int) -> dict[str, Any]:
    found = bng_orders(sandbox, order_id)
    assert len(found) == 1, f"web order {order_id} is in BNG {len(found)} times"
    return found[0]


def job_for(runtime, order_id: int, kind: str = "order.create"):
    jobs = runtime.queue.find(kind=kind, key=orders_flow.order_key(order_id) if kind == "order.create"
                              else orders_flow.cancel_key(order_id))
    assert jobs, f"no {kind} job for order {order_id}"
    return jobs[0]


def test_the_five_sample_orders_reach_bng_once_with_exact_totals_and_clean_addresses(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    report = runtime.sync("orders", timeout=60)
    assert report["ok"], report
    assert report["flows"]["orders"]["succeeded"] == 5
    nop = sandbox.nop.state
    for order_id in range(1, 6):
        so = only_bng_order(sandbox, order_id)
        assert Decimal(so["total"]) == nop.orders[order_id].fields["order_total"]
        assert so["external_order_number"] == str(order_id)
        assert so["custom_fields"]["ORDER_SOURCE"] == "Web"
        assert so["custom_fields"]["WEB_ORDER_NUMBER"] == str(order_id)
        assert so["dimensions"]["CHANNEL"] == "ONLINE"
    steve = only_bng_order(sandbox, 1)
    assert steve["ship_to"]["region"] == "CA" and steve["ship_to"]["line1"] == "750 BEL AIR RD"
    assert steve["dimensions"] == {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE", "DEPARTMENT": "ELEC"}
    assert [line["item_no"] for line in steve["lines"]] == ["APPLE_CAM", "LT_MIR_DC", "VG_CR_025"]
    victoria = only_bng_order(sandbox, 5)
    assert (victoria["ship_to"]["country"], victoria["ship_to"]["region"], victoria["ship_to"]["postal_code"]) == \
        ("CA", "SK", "S7K 1J9")
    assert victoria["status"] == "Open"            # Complete in the store: BNG takes new orders as Open at most
    james = only_bng_order(sandbox, 3)             # downloads only: no shipping address, ships to billing
    assert james["ship_to"] == james["bill_to"]

    # Arthur Holmes was already a BNG customer (entered by phone): matched by e-mail, linked, not duplicated.
    arthur = only_bng_order(sandbox, 2)
    assert arthur["customer_no"] == "C000001"
    assert sandbox.bng.state.customer("C000001")["external_id"] == "5"
    assert sandbox.bng.state.snapshot()["customers"] == 6  # 2 in the sample company + 4 new shoppers
    assert runtime.xref.bng_key("customer", 5) == "C000001"

    # the trail of an order names its BNG order, e-mail and SKUs
    trail = runtime.history.trail("nop-order:1")
    assert any(f"bng-order:{steve['order_no']}" in (e.subject or "") and "sku:APPLE_CAM" in (e.subject or "")
               and "email:steve_gates@nopCommerce.com" in (e.subject or "") for e in trail)
    assert any(steve["order_no"] in e.message for e in runtime.history.trail("1"))

    again = runtime.sync("orders", timeout=30)
    assert again["flows"]["orders"]["enqueued"] == 0
    assert sandbox.bng.state.snapshot()["sales_orders"] == 5


def test_a_repeat_customer_costs_one_bng_call(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    assert runtime.sync("orders", timeout=60)["ok"]        # Steve (customer 4) and his items are known now
    for quantity in range(1, 21):
        sandbox.nop.shoppers.place_order(customer_id=4, lines=[("APPLE_CAM", quantity), ("LT_MIR_DC", 1)],
                                         anomalies=[])
    before = runtime.bng.http.stats.get("requests", 0)
    report = runtime.sync("orders", timeout=60)
    assert report["flows"]["orders"]["succeeded"] == 20
    calls = runtime.bng.http.stats.get("requests", 0) - before
    assert calls / 20 <= 1.1, calls                          # the POST; customer and items from memory
    assert {only_bng_order(sandbox, i)["customer_no"] for i in range(6, 26)} == {only_bng_order(sandbox, 1)[
        "customer_no"]}


def test_a_full_run_finds_orders_a_moved_cursor_skipped(sandbox, make_runtime):
    from agent.engine.cursors import Cursors

    runtime = make_runtime(sandbox)
    sandbox.nop.shoppers.place_orders(4, customer_id=4, anomalies=[])     # orders 6..9
    Cursors(runtime.store).set(orders_flow.CURSOR, 8)                      # someone moved the cursor too far
    assert runtime.sync("orders", timeout=60)["flows"]["orders"]["succeeded"] == 1
    assert not bng_orders(sandbox, 6)
    report = runtime.sync("orders", timeout=60, full=True)
    assert report["flows"]["orders"]["succeeded"] == 8                     # 1..8, and 9 was there already
    for order_id in range(1, 10):
        only_bng_order(sandbox, order_id)
    assert runtime.sync("orders", timeout=60, full=True)["flows"]["orders"]["enqueued"] == 0


def test_webhook_and_poll_and_a_duplicate_webhook_make_one_bng_order(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    order = sandbox.nop.shoppers.place_order(customer_id=6, anomalies=[])
    item = json.loads(json.dumps(order, default=str))
    item["order_total"] = float(order["order_total"])    # webhook bodies come through plain json: floats
    specs = webhook_jobs("orders/create", item)
    assert specs and specs[0].key == orders_flow.order_key(order["id"])
    runtime.queue.enqueue_many(specs)                     # the webhook, before the poll saw the order
    assert runtime.sync("orders", timeout=60)["ok"]
    runtime.queue.enqueue_many(webhook_jobs("orders/create", item))     # the sender repeats itself
    only_bng_order(sandbox, order["id"])
    duplicates = [e for e in runtime.history.trail(orders_flow.order_key(order["id"])) if e.kind == "job.duplicate"]
    assert duplicates and duplicates[0].level == "warning"
    assert webhook_jobs("orders/update", {**item, "order_status": "Processing"}) is None
    assert webhook_jobs("customers/create", {"id": 3}) is None


def test_unknown_sku_is_quarantined_then_retried_once_the_item_exists(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    order = sandbox.nop.shoppers.place_order(customer_id=7, anomalies=["unknown_sku"])
    sku = next(i["product"]["sku"] for i in order["order_items"] if i["product"]["sku"] not in
               {it["item_no"] for it in sandbox.bng.state.list_items(limit=500)[0]})
    report = runtime.sync("orders", timeout=60)
    assert not report["ok"]
    job = job_for(runtime, order["id"])
    assert job.state == "quarantined"
    assert f"SKU {sku} is not an item in BNG" in job.last_error
    assert not bng_orders(sandbox, order["id"])
    wait_until(lambda: any(a["incident"] == "quarantine:order.create" for a in runtime.alerts.open_alerts()),
               message="an alert about the quarantined order")
    assert pending_demand(runtime.store)[sku] >= 1      # the stock flow still counts it as demand

    sandbox.bng.state.add_item({"item_no": sku, "description": "Web-only item", "unit_price": "12.50"},
                               stock={"MAIN": 100})
    assert runtime.queue.retry(job.id)
    assert runtime.pool.wait_idle(30)
    assert runtime.queue.get(job.id).state == "succeeded"
    assert sku in [line["item_no"] for line in only_bng_order(sandbox, order["id"])["lines"]]
    assert sku not in pending_demand(runtime.store)


def test_unknown_sku_retried_with_a_substitution(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    order = sandbox.nop.shoppers.place_order(customer_id=7, anomalies=["unknown_sku"])
    sku = order["order_items"][-1]["product"]["sku"]
    runtime.sync("orders", timeout=60)
    job = job_for(runtime, order["id"])
    assert job.state == "quarantined"
    assert runtime.queue.retry(job.id, {"sku_substitutions": {sku: "PG_CR_050"}})
    assert runtime.pool.wait_idle(30)
    assert runtime.queue.get(job.id).state == "succeeded"
    so = only_bng_order(sandbox, order["id"])
    assert [line["item_no"] for line in so["lines"]][-1] == "PG_CR_050"
    assert any(f"{sku} sent to BNG as PG_CR_050" in e.message for e in runtime.history.trail(str(order["id"])))


def test_invalid_email_is_quarantined_with_the_reason(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    order = sandbox.nop.shoppers.place_order(guest=True, anomalies=["invalid_email"])
    runtime.sync("orders", timeout=60)
    job = job_for(runtime, order["id"])
    assert job.state == "quarantined"
    assert "e-mail address" in job.last_error and "is not valid" in job.last_error
    assert not bng_orders(sandbox, order["id"])


def test_bng_validation_failure_is_quarantined_with_its_details(sandbox, make_runtime):
    runtime = make_runtime(sandbox, mapping={"locations": {"order_location": "MOON"}})
    runtime.sync("orders", timeout=60)
    job = job_for(runtime, 1)
    assert job.state == "quarantined"
    assert job.error_class == "validation"
    assert "location: unknown location" in job.last_error
    assert sandbox.bng.state.snapshot()["sales_orders"] == 0


def test_unmapped_status_is_quarantined_with_the_reason(sandbox, make_runtime):
    runtime = make_runtime(sandbox, mapping={"status": {"order_to_bng": {"Processing": "Open", "Complete": "Closed"}}})
    runtime.sync("orders", timeout=60)
    job = job_for(runtime, 2)
    assert job.state == "quarantined"
    assert "Order status 'Pending' has no BNG status in the status table" in job.last_error
    only_bng_order(sandbox, 1)


def test_rate_limit_is_waited_out_without_an_error(make_sandbox, make_runtime):
    sandbox = make_sandbox(bng_rate=100, bng_burst=8)
    runtime = make_runtime(sandbox)
    # the client keeps under BNG's advertised limit by itself; these answers say "too many" regardless
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", error_rate=1.0, statuses=[429],
                                     retry_after=1, remaining=3))
    sandbox.nop.shoppers.place_orders(10, anomalies=[])
    report = runtime.sync("orders", timeout=120)
    assert report["ok"], report
    assert report["flows"]["orders"]["succeeded"] == 15
    assert runtime.bng.http.stats.get("status_429", 0) > 0       # BNG did say "slow down"
    assert runtime.queue.list_errors() == []
    assert not runtime.alerts.open_alerts()
    assert sandbox.bng.state.snapshot()["duplicate_external_order_ids"] == {}


def test_network_trouble_is_retried_until_it_works(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", reset_rate=1.0, remaining=6))
    report = runtime.sync("orders", timeout=60)
    assert report["ok"], report
    retried = [e for e in runtime.history.events(limit=500) if e.kind == "job.retry"]
    assert retried and all(e.level == "warning" for e in retried)
    for order_id in range(1, 6):
        only_bng_order(sandbox, order_id)


def test_network_trouble_until_attempts_run_out_is_dead_and_visible(sandbox, make_runtime):
    runtime = make_runtime(sandbox, agent={"max_attempts": 3})
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", reset_rate=1.0))
    report = runtime.sync("orders", timeout=60)
    assert not report["ok"]
    dead = runtime.queue.list_errors(state="dead")
    assert len(dead) == 5 and all(j.error_class == "connection" for j in dead)
    assert "BNG" in dead[0].last_error
    assert sandbox.bng.state.snapshot()["sales_orders"] == 0       # resets happen before the request is read
    sandbox.bng.faults.clear()
    assert runtime.queue.retry_all() == 5
    assert runtime.pool.wait_idle(30)
    for order_id in range(1, 6):
        only_bng_order(sandbox, order_id)


def test_a_lost_reply_never_creates_a_second_bng_order(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", drop_reply_rate=1.0, remaining=5))
    report = runtime.sync("orders", timeout=60)
    assert report["ok"], report
    for order_id in range(1, 6):
        only_bng_order(sandbox, order_id)
    adopted = [j for j in runtime.queue.find(kind="order.create") if (j.result or {}).get("outcome") == "adopted"]
    assert len(adopted) == 5


def test_store_cancellation_cancels_the_bng_order_or_flags_a_shipped_one(make_sandbox, make_runtime):
    sandbox = make_sandbox(order_put_item_lookup_defect=False)
    runtime = make_runtime(sandbox)
    placed = [sandbox.nop.shoppers.place_order(customer_id=4, payment_status="Pending", anomalies=[])
              for _ in range(3)]
    assert runtime.sync("orders", timeout=60)["ok"]
    open_one, shipped_one, early_one = (o["id"] for o in placed)
    sandbox.bng.state.ship_order(only_bng_order(sandbox, shipped_one)["order_no"])
    for order_id in (open_one, shipped_one):
        sandbox.nop.shoppers.cancel_order(order_id)
    report = runtime.sync("orders", timeout=60)
    assert report["flows"]["orders"]["enqueued"] == 2
    assert only_bng_order(sandbox, open_one)["status"] == "Cancelled"
    flagged = job_for(runtime, shipped_one, "order.cancel")
    assert flagged.state == "quarantined"
    assert "already Shipped" in flagged.last_error and "did not cancel it" in flagged.last_error
    assert only_bng_order(sandbox, shipped_one)["status"] == "Shipped"
    wait_until(lambda: any(a["incident"] == "quarantine:order.cancel" for a in runtime.alerts.open_alerts()),
               message="an alert about the cancellation that needs a person")

    # the next poll finds the same cancellations again and does nothing twice
    again = runtime.sync("orders", timeout=60)
    assert again["flows"]["orders"]["enqueued"] == 0

    # a webhook for a cancellation takes the same way
    sandbox.nop.shoppers.cancel_order(early_one)
    specs = webhook_jobs("orders/update", {"id": early_one, "order_status": "Cancelled"})
    assert specs == [JobSpec("order.cancel", orders_flow.cancel_key(early_one), {"id": early_one}, priority=50)]
    runtime.queue.enqueue_many(specs)
    assert runtime.pool.wait_idle(30)
    assert only_bng_order(sandbox, early_one)["status"] == "Cancelled"


def test_an_order_cancelled_before_it_reached_bng_is_not_sent(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    assert runtime.sync("orders", timeout=60)["ok"]
    order = sandbox.nop.shoppers.place_order(customer_id=4, payment_status="Pending", anomalies=[])
    sandbox.nop.shoppers.cancel_order(order["id"])
    assert runtime.sync("orders", timeout=60)["ok"]
    assert not bng_orders(sandbox, order["id"])
    assert job_for(runtime, order["id"]).result["outcome"] == "cancelled in the store"


def test_a_held_order_cancelled_in_the_store_leaves_the_error_list(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    order = sandbox.nop.shoppers.place_order(customer_id=7, payment_status="Pending", anomalies=["unknown_sku"])
    runtime.sync("orders", timeout=60)
    assert job_for(runtime, order["id"]).state == "quarantined"
    sandbox.nop.shoppers.cancel_order(order["id"])
    runtime.sync("orders", timeout=60)
    assert job_for(runtime, order["id"], "order.cancel").result["outcome"] == "transfer discarded"
    assert job_for(runtime, order["id"]).state == "discarded"
    assert runtime.queue.list_errors() == []
    assert not bng_orders(sandbox, order["id"])


def test_guests_are_one_bng_customer_per_email(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    first = sandbox.nop.shoppers.place_order(guest=True, email="Pat.Guest@example.com", anomalies=[])
    second = sandbox.nop.shoppers.place_order(guest=True, email="pat.guest@EXAMPLE.com", anomalies=[])
    arthur = sandbox.nop.shoppers.place_order(guest=True, email="arthur_holmes@nopcommerce.com", anomalies=[])
    assert runtime.sync("orders", timeout=60)["ok"]
    a, b = only_bng_order(sandbox, first["id"]), only_bng_order(sandbox, second["id"])
    assert a["customer_no"] == b["customer_no"]
    assert sandbox.bng.state.customer(a["customer_no"])["external_id"] == "guest:pat.guest@example.com"
    assert only_bng_order(sandbox, arthur["id"])["customer_no"] == "C000001"   # booked to the known person


def test_many_simulated_orders_with_faults_reach_bng_exactly_once(make_sandbox, make_runtime):
    check_many_orders(make_sandbox, make_runtime, n=150)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_thousand_simulated_orders_with_faults_reach_bng_exactly_once(make_sandbox, make_runtime):
    check_many_orders(make_sandbox, make_runtime, n=1000)


def check_many_orders(make_sandbox, make_runtime, n: int) -> None:
    from agent.sandbox.faults import mix

    sandbox = make_sandbox(seed=11, bad_data_rate=0.05, order_put_item_lookup_defect=False)
    sandbox.nop.shoppers.place_orders(n)
    runtime = make_runtime(sandbox, agent={"max_attempts": 25, "workers": 8}, nopcommerce={"timeout_seconds": 1},
                           bng={"timeout_seconds": 1})
    sandbox.bng.faults.add(mix(0.2, hang_seconds=1.5))
    sandbox.bng.faults.add(FaultRule(route="/api/v1/sales-orders", method="POST", drop_reply_rate=0.1))
    sandbox.nop.faults.add(mix(0.1, route="/api/orders", hang_seconds=1.5))
    report = runtime.sync("orders", timeout=300)
    assert report["flows"]["orders"]["pending"] == 0, report

    labels = sandbox.nop.shoppers.labels
    errors = {int(j.key.split(":")[1]): j for j in runtime.queue.list_errors(limit=10_000)}
    assert all(j.state == "quarantined" for j in errors.values()), [j.last_error for j in errors.values()]
    for order_id in range(1, n + 6):
        copies = len(bng_orders(sandbox, order_id))
        bad = set(labels.get(order_id, [])) & {"invalid_email", "unknown_sku"}
        if bad:
            assert copies == 0 and order_id in errors, (order_id, bad)
            reason = errors[order_id].last_error
            assert ("is not an item in BNG" in reason) if "unknown_sku" in bad else ("e-mail" in reason), reason
        else:
            assert copies == 1, (order_id, copies, errors.get(order_id) and errors[order_id].last_error)
            so = bng_orders(sandbox, order_id)[0]
            store_total = Decimal(sandbox.nop.state.orders[order_id].fields["order_total"])
            rate = Decimal(so.get("exchange_rate") or 1)
            assert Decimal(so["total"]) == (store_total * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert sandbox.bng.state.snapshot()["duplicate_external_order_ids"] == {}
    assert sandbox.bng.faults.counts["drop_reply"] > 0
