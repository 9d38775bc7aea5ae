"""`bngsync sync products|inventory|customers` as a merchant runs them: a separate process, the
config file, secrets from the environment, one data dir kept between the runs."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

from agent import config as config_mod
from tests.flows.test_stock import stock_gaps


def bngsync(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_sync_commands_in_a_separate_process(sandbox, make_settings, isolated_paths):
    settings = make_settings(sandbox)                       # also puts the secrets in the environment
    config_mod.save(settings, isolated_paths / "config.toml")
    assert os.environ["BNGSYNC_NOP_PASSWORD"] and os.environ["BNGSYNC_BNG_API_KEY"]
    nop, bng = sandbox.nop.state, sandbox.bng.state

    products = bngsync("sync", "products")
    assert products.returncode == 0, products.stdout + products.stderr
    assert "products" in products.stdout
    assert nop.product_by_sku("DL_XPS_13") is not None
    assert nop.product_by_sku("LE_IC_600").fields["price"] == Decimal("525")

    bng.post_purchase("AP_MBP_13", "WEST", "4")
    inventory = bngsync("sync", "inventory")
    assert inventory.returncode == 0, inventory.stdout + inventory.stderr
    assert stock_gaps(sandbox) == {}
    assert nop.product_by_sku("AP_MBP_13").stock_quantity == 9 + 22 + 4

    customers = bngsync("sync", "customers")
    assert customers.returncode == 0, customers.stdout + customers.stderr
    assert len(bng.customers_for("4")) == 1

    puts = nop.counters["product_puts"]
    again = bngsync("sync", "inventory")                    # a second process continues where it stopped
    assert again.returncode == 0, again.stdout + again.stderr
    assert nop.counters["product_puts"] == puts, "nothing moved since: nothing written"
    assert stock_gaps(sandbox) == {}

    drifted = nop.product_by_sku("AP_MBP_13")                # someone typed a figure in the store's admin
    drifted.fields["stock_quantity"] = 3
    nop.product_changed(drifted.id)
    full = bngsync("sync", "inventory", "--full")           # the nightly reconciliation, now
    assert full.returncode == 0, full.stdout + full.stderr
    assert stock_gaps(sandbox) == {}, full.stdout + full.stderr
    assert "inventory: reconciliation: 1 of " in full.stdout and "AP_MBP_13 -32" in full.stdout, full.stdout
    assert nop.product_by_sku("AP_MBP_13").stock_quantity == 9 + 22 + 4
    print(products.stdout, inventory.stdout, customers.stdout, again.stdout, full.stdout, sep="\n")
