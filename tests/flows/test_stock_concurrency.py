"""The stock invariant under load: shoppers buying and cancelling in the store, staff receiving,
counting, moving, reserving stock and cancelling orders in BNG, all at once, while the agent syncs
orders and stock, and is restarted half-way. Once the agent has caught up, every SKU whose stock
the store manages must show BNG's figure less the web orders BNG has not booked (`stock_gaps`).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from decimal import Decimal

from agent.sandbox import Sandbox
from agent.sandbox.bng.errors import BngError
from tests.flows.test_stock import managed_skus, stock_gaps

ACTIVITY_SECONDS = 4.0
SHOPPER_RATE = 40.0             # orders per second
BACK_OFFICE_EVENTS = 150


class BackOffice:
    """BNG staff at work: purchases, stock counts, transfers, reservations, cancelled web orders."""

    def __init__(self, sandbox: Sandbox, seed: int = 11):
        self.state = sandbox.bng.state
        self.rng = random.Random(seed)
        self.done: Counter[str] = Counter()
        self.stocked = sorted(no for no, row in self.state.items.by_no.items() if row.doc["item_type"] == "inventory")

    def step(self) -> None:
        rng, state = self.rng, self.state
        item, location = rng.choice(self.stocked), rng.choice(("MAIN", "WEST"))
        roll = rng.random()
        try:
            if roll < 0.30:
                state.post_purchase(item, location, rng.randint(1, 20))
                self.done["purchase"] += 1
            elif roll < 0.50:
                on_hand = Decimal(self._level(item, location)["on_hand"]) if self._has(item, location) else 0
                change = rng.choice((-3, -2, -1, 1, 2, 4)) if on_hand > 5 else rng.randint(1, 4)
                state.post_adjustment(item, location, change)
                self.done["adjustment"] += 1
            elif roll < 0.60:
                state.post_adjustment("CF_BEAN_KG", "MAIN", rng.choice(("0.25", "0.5", "1.75")))
                self.done["adjustment by weight"] += 1
            elif roll < 0.72:
                other = "WEST" if location == "MAIN" else "MAIN"
                if self._has(item, location) and Decimal(self._level(item, location)["available"]) >= 3:
                    state.post_transfer(item, location, other, rng.randint(1, 3))
                    self.done["transfer"] += 1
            elif roll < 0.82:
                if self._has(item, location) and Decimal(self._level(item, location)["allocated"]) >= 1:
                    state.reserve_stock(item, location, -1)
                    self.done["reservation released"] += 1
                elif self._has(item, location) and Decimal(self._level(item, location)["available"]) >= 5:
                    state.reserve_stock(item, location, rng.randint(1, 3))
                    self.done["reservation"] += 1
            else:
                recent = state.orders.rows[-40:]
                open_orders = [row.doc["order_no"] for row in recent if row.doc["status"] in ("New", "Open")]
                if open_orders:
                    state.cancel_order(rng.choice(open_orders))
                    self.done["web order cancelled in BNG"] += 1
        except BngError:
            self.done["refused"] += 1

    def _has(self, item: str, location: str) -> bool:
        return self.state.stock.get(f"{item}@{location}") is not None

    def _level(self, item: str, location: str) -> dict:
        return self.state.stock_level(item, location)

    def run(self, stop: threading.Event, events: int, seconds: float) -> None:
        pause = seconds / events
        for _ in range(events):
            if stop.wait(pause):
                return
            self.step()


def queue_summary(runtime) -> str:
    rows = runtime.store.query("SELECT kind, state, count(*) AS n, max(last_error) AS error FROM job "
                               "GROUP BY kind, state ORDER BY kind, state")
    return "\n".join(f"{r['kind']} {r['state']}: {r['n']}" + (f" ({r['error']})" if r["error"] else "")
                     for r in rows)


def test_stock_invariant_holds_under_concurrent_activity_and_a_restart(make_sandbox, make_settings, make_runtime):
    sandbox = make_sandbox(seed=5, bad_data_rate=0.05)
    settings = make_settings(sandbox)
    agent = {"runtime": make_runtime(sandbox, settings=settings)}
    agent_lock = threading.Lock()
    assert agent["runtime"].sync("products", timeout=60)["ok"]
    assert agent["runtime"].sync("inventory", timeout=60)["ok"]
    assert stock_gaps(sandbox) == {}

    stop = threading.Event()
    back_office = BackOffice(sandbox)

    def keep_syncing() -> None:
        """The schedule, much faster than in real life: orders and stock polled all the time."""
        while not stop.wait(0.15):
            with agent_lock:
                runtime = agent["runtime"]
                if runtime is None:
                    continue
                runtime.trigger("orders", "schedule")
                runtime.trigger("inventory", "schedule")

    threads = [threading.Thread(target=keep_syncing, name="schedule"),
               threading.Thread(target=back_office.run, args=(stop, BACK_OFFICE_EVENTS, ACTIVITY_SECONDS),
                                name="back-office")]
    started = time.monotonic()
    sandbox.nop.shoppers.start(SHOPPER_RATE)
    for thread in threads:
        thread.start()
    # half-way, the agent is stopped and started again on the same store (a reboot, an update)
    stop.wait(ACTIVITY_SECONDS / 2)
    with agent_lock:
        old, agent["runtime"] = agent["runtime"], None
    old.stop(timeout=20)
    restarted = make_runtime(sandbox, settings=settings)
    with agent_lock:
        agent["runtime"] = restarted
    stop.wait(max(0.0, ACTIVITY_SECONDS - (time.monotonic() - started)))
    sandbox.nop.shoppers.stop()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    nop_orders = len(sandbox.nop.state.orders)
    events = nop_orders - 5 + sum(back_office.done.values())
    assert events >= 200, f"too little happened: {nop_orders} orders, {dict(back_office.done)}"
    assert back_office.done["web order cancelled in BNG"] and back_office.done["purchase"]

    # the agent catches up: its backlog is worked off, every order is passed on (or held with a
    # reason), then the stock is checked
    assert restarted.pool.wait_idle(120, include_retries=True), "the agent did not work off its backlog"
    restarted.sync("orders", timeout=120)
    stock_report = restarted.sync("inventory", timeout=120)
    assert stock_report["ok"], stock_report
    assert restarted.pool.wait_idle(60, include_retries=True)

    gaps = stock_gaps(sandbox)
    assert gaps == {}, f"store stock differs from BNG less web demand: {gaps}\n{queue_summary(restarted)}"
    assert len(managed_skus(sandbox)) >= 40
    snapshot = sandbox.bng.state.snapshot()
    assert snapshot["duplicate_external_order_ids"] == {}
    cancelled_in_store = sum(1 for o in sandbox.nop.state.orders.values() if o.fields["order_status_id"] == 40)
    checks = Counter(json.loads(r["result"])["action"] for r in restarted.store.query(
        "SELECT result FROM job WHERE kind = 'inventory.sku' AND state = 'succeeded'"))
    print(f"\nstock checks: {dict(checks)}")
    print(f"{nop_orders} store orders ({cancelled_in_store} cancelled in the store), "
          f"{snapshot['sales_orders']} BNG orders, back office: {dict(back_office.done)}")
