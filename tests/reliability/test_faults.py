"""30 % of the calls to each system fail, with the sandbox's whole fault mix: 429s, 500/502/503,
connection resets, hangs (a reply that never comes) and dropped replies (the work is done, the
reply is lost — what makes naive retries create duplicates). Through all of it, every order must
reach BNG exactly once, what the BNG warehouse does must come back to the store, and the store's
stock must equal BNG's less the web orders BNG has not booked yet.
"""

from __future__ import annotations

import time

from agent import config as config_mod
from agent.runtime import Runtime
from agent.sandbox import Sandbox
from agent.sandbox.cli import sandbox_config
from agent.sandbox.faults import mix
from agent.store import open_store
from tests.flows.test_stock import stock_gaps

FAILING = 0.30
SHIPPING = {"ShippingNotRequired": 10, "NotYetShipped": 20, "PartiallyShipped": 25, "Shipped": 30, "Delivered": 40}


def settings_for(sandbox: Sandbox) -> config_mod.Settings:
    """Short timeouts (a hang costs one second), fast retries, many attempts, a breaker that does
    not open on a 30 % error rate (five failures in a row are rare, and it would only slow the run)."""
    settings = sandbox_config(sandbox, workers=8, retry_base_seconds=0.05, retry_max_seconds=0.5, max_attempts=40,
                              breaker_failures=8, breaker_cooldown_seconds=0.2, breaker_max_cooldown_seconds=1.0,
                              lease_seconds=30)
    data = settings.model_dump(mode="json", exclude_none=True)
    data["bng"].update(timeout_seconds=1, requests_per_second=2000, burst=2000)
    data["nopcommerce"].update(timeout_seconds=1, requests_per_second=2000)
    return config_mod.parse(data)


def sync(runtime: Runtime, flow: str, took: dict[str, float] | None = None) -> dict:
    started = time.monotonic()
    report = runtime.sync(flow, timeout=600)
    if took is not None:
        took[flow] = time.monotonic() - started
    errors = [(j.key, j.last_error) for j in runtime.queue.list_errors(limit=20)]
    assert report["ok"], (report, errors)
    return report["flows"][flow]


def test_thirty_percent_failing_calls_sync_everything_exactly_once(tmp_path, monkeypatch, scale, report):
    with Sandbox(seed=31, bng_rate=None, bad_data_rate=0.0, order_put_item_lookup_defect=False) as sandbox:
        monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", sandbox.credentials.nop_password)
        monkeypatch.setenv("BNGSYNC_BNG_API_KEY", sandbox.credentials.bng_api_key)
        store = open_store(tmp_path / "data")
        runtime = Runtime(settings_for(sandbox), store).start(schedules=False, webhooks=False)
        try:
            sync(runtime, "inventory")                 # the first alignment of the store's stock
            for server, route in ((sandbox.nop, "/api"), (sandbox.bng, "/api/v1")):
                server.faults.add(mix(FAILING, route=route, hang_seconds=1.5))
            before = {name: sandbox.nop.faults.counts[name] + sandbox.bng.faults.counts[name]
                      for name in sandbox.nop.faults.counts}
            took: dict[str, float] = {}
            placed = [o["id"] for o in sandbox.nop.shoppers.place_orders(scale.fault_orders)]
            orders = sync(runtime, "orders", took)

            bng, nop = sandbox.bng.state, sandbox.nop.state
            copies = {i: bng.count_orders(str(i)) for i in placed}
            assert all(n == 1 for n in copies.values()), {i: n for i, n in copies.items() if n != 1}
            for index, order_id in enumerate(placed):          # the warehouse ships three of four orders
                order_no = bng.orders_for(str(order_id))[0]["order_no"]
                if index % 4 != 3:
                    shipment = bng.ship_order(order_no, carrier="UPS", tracking_number=f"1Z{order_id:08d}")
                    if index % 2:
                        bng.deliver_shipment(shipment["shipment_no"])
            shipments = sync(runtime, "shipments", took)
            stock = sync(runtime, "inventory", took)
            assert runtime.pool.wait_idle(300, include_retries=True), "the agent did not settle its stock checks"

            back = 0
            for index, order_id in enumerate(placed):
                so = bng.orders_for(str(order_id))[0]
                in_store = sorted(nop.shipments_of(order_id), key=lambda s: s.id)
                shipping = nop.orders[order_id].fields["shipping_status_id"]
                if shipping == SHIPPING["ShippingNotRequired"]:       # downloads: no store shipment to make
                    assert not in_store, order_id
                    continue
                assert len(in_store) == len(so["shipments"]), (order_id, len(in_store), len(so["shipments"]))
                if index % 4 != 3:
                    assert in_store and in_store[0].tracking_number == f"1Z{order_id:08d}", order_id
                    expected = SHIPPING["Delivered"] if index % 2 else SHIPPING["Shipped"]
                    assert shipping == expected, (order_id, shipping, expected)
                    back += 1
            gaps = stock_gaps(sandbox)
            assert gaps == {}, f"store stock differs from BNG less web demand: {gaps}"
            assert bng.snapshot()["duplicate_external_order_ids"] == {}
            counts = {name: sandbox.nop.faults.counts[name] + sandbox.bng.faults.counts[name] - before[name]
                      for name in before}
            injected = {name: counts[name] for name in ("error", "reset", "hang", "drop_reply")}
            calls = sum(counts.values())
        finally:
            runtime.stop(timeout=20)
            store.close()
    assert injected["drop_reply"] and injected["hang"] and injected["reset"]
    report("calls to both systems / failed on purpose", f"{calls} / {sum(injected.values())} "
           f"({100 * sum(injected.values()) / calls:.0f} %)")
    report("injected: errors, resets, hangs, dropped replies",
           ", ".join(str(injected[k]) for k in ("error", "reset", "hang", "drop_reply")))
    report("orders in BNG exactly once", f"{sum(1 for n in copies.values() if n == 1)} of {len(placed)}")
    report("shipments back in the store (tracking, status)", back)
    report("order / shipment / stock jobs succeeded", f"{orders['succeeded']} / {shipments['succeeded']} / "
           f"{stock['succeeded']}")
    report("SKUs off the stock invariant", len(gaps))
    report("time to sync orders / shipments / stock", " / ".join(f"{took[f]:.0f} s" for f in
                                                                 ("orders", "shipments", "inventory")))
