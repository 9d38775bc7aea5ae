"""The two ways a stock write races a checkout, made to happen on purpose.

The store's API writes absolute quantities and a checkout takes stock with a read-modify-write,
so a write can (a) land between a checkout's read and its write and be overwritten by it, or
(b) overwrite the stock a checkout took just after the agent read the product. Here the orders
flow is not running, so the racing order is never booked in BNG: no later BNG movement would
heal the figure — the stock flow itself must notice and check again.
"""

from __future__ import annotations

from agent.flows.stock import SKU_JOB
from tests.conftest import wait_until
from tests.flows.test_stock import stock_gaps

SKU = "AP_MBP_13"


def checks_done(runtime, sku: str) -> int:
    return runtime.store.scalar("SELECT count(*) FROM job WHERE kind = ? AND state = 'succeeded' AND dedupe_key LIKE ?",
                                (SKU_JOB, f"sku:{sku}@%")) or 0


def test_a_write_during_a_checkout_is_not_lost(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop, bng = sandbox.nop.state, sandbox.bng.state
    assert runtime.sync("inventory", timeout=60)["ok"]
    product_id = nop.product_by_sku(SKU).id
    bng.post_purchase(SKU, "MAIN", 10)                      # the agent is about to write +10
    runs: list[int] = []

    def meanwhile(racing_product: int, read: int) -> None:
        """The checkout has read the stock and not written it yet: the agent checks now."""
        if racing_product != product_id or runs:
            return
        before = checks_done(runtime, SKU)
        runs.append(runtime.trigger("inventory", "manual"))
        wait_until(lambda: checks_done(runtime, SKU) > before, 20, message="the agent's check of the SKU")

    nop.stock_race_hook = meanwhile
    try:
        sandbox.nop.shoppers.place_order(lines=[(SKU, 2)], anomalies=[], customer_id=4)
    finally:
        nop.stock_race_hook = None
    assert runs and runtime.wait_run(runs[0], 60)
    assert stock_gaps(sandbox) == {}
    assert nop.product_by_sku(SKU).stock_quantity == 9 + 22 + 10 - 2


def test_a_checkout_right_before_the_write_is_not_overwritten(sandbox, make_runtime, monkeypatch):
    runtime = make_runtime(sandbox)
    nop, bng = sandbox.nop.state, sandbox.bng.state
    assert runtime.sync("inventory", timeout=60)["ok"]
    product_id = nop.product_by_sku(SKU).id
    bng.post_purchase(SKU, "MAIN", 10)
    real_update = runtime.nop.update_product
    placed: list[int] = []

    def a_shopper_buys_then_the_write(product, **fields):
        """The agent has read the product again and is about to write: a checkout gets in first."""
        if getattr(product, "id", product) == product_id and "stock_quantity" in fields and not placed:
            placed.append(sandbox.nop.shoppers.place_order(lines=[(SKU, 3)], anomalies=[], customer_id=4)["id"])
        return real_update(product, **fields)

    monkeypatch.setattr(runtime.nop, "update_product", a_shopper_buys_then_the_write)
    assert runtime.sync("inventory", timeout=60)["ok"]
    assert placed
    assert stock_gaps(sandbox) == {}
    assert nop.product_by_sku(SKU).stock_quantity == 9 + 22 + 10 - 3
