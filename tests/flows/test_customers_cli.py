"""`bngsync customers reviews` and `bngsync customers decide` as a person runs them: a separate
process, the config file and data dir of the agent, reviews made by a real sync against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from agent import config as config_mod
from tests.flows.test_customers import BRENDA, JAMES, VICTORIA


def bngsync(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_a_person_reviews_and_decides_from_the_command_line(sandbox, make_settings, isolated_paths):
    config_mod.save(make_settings(sandbox), isolated_paths / "config.toml")
    bng = sandbox.bng.state
    brenda = bng.create_customer(BRENDA)["customer_no"]      # the shop's staff entered them on the phone
    bng.create_customer(VICTORIA)
    bng.create_customer(JAMES)
    assert bngsync("customers", "reviews").stdout.strip() == "no customers to review"
    synced = bngsync("sync", "customers")
    assert synced.returncode == 0, synced.stdout + synced.stderr

    listed = bngsync("customers", "reviews")
    assert listed.returncode == 0, listed.stderr
    assert "store customer 7: Brenda Lindgren <brenda_lindgren@nopCommerce.com>" in listed.stdout
    assert f"may be BNG customer {brenda}: Brenda Lindgren" in listed.stdout
    assert "- Names 100% alike (Brenda Lindgren)" in listed.stdout
    rows = {r["customer_id"]: r for r in json.loads(bngsync("customers", "reviews", "--json").stdout)}
    assert set(rows) == {"6", "7", "8"}
    assert rows["7"]["candidates"][0]["customer_no"] == brenda
    status = json.loads(bngsync("status", "--json").stdout)
    assert status["open_reviews"] == 3
    assert [a for a in status["alerts"] if a["incident"] == "review:customers"]

    linked = bngsync("customers", "decide", str(rows["7"]["id"]), "link", "--wait", "60")
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert f"the agent links it to BNG customer {brenda}" in linked.stdout and "result: succeeded" in linked.stdout
    assert bng.customer(brenda)["external_id"] == "7" and bng.customers_for("7") == [bng.customer(brenda)]

    created = bngsync("customers", "decide", str(rows["8"]["id"]), "create", "--wait", "60")
    assert created.returncode == 0, created.stdout + created.stderr
    assert len(bng.customers_for("8")) == 1

    wrong = bngsync("customers", "decide", str(rows["6"]["id"]), "ignore", "--customer-no", brenda)
    assert wrong.returncode == 2 and wrong.stderr.strip() == "bngsync: --customer-no goes with link only"
    ignored = bngsync("customers", "decide", str(rows["6"]["id"]), "ignore")
    assert ignored.returncode == 0, ignored.stderr
    assert "ignored until it changes" in ignored.stdout and bng.customers_for("6") == []

    again = bngsync("customers", "decide", str(rows["6"]["id"]), "create")
    assert again.returncode == 2 and again.stderr.strip() == f"bngsync: review {rows['6']['id']} is not open"
    assert bngsync("customers", "reviews").stdout.strip() == "no customers to review"
    decided = bngsync("customers", "reviews", "--all").stdout
    assert f"decided: link {brenda}" in decided and "decided: ignore" in decided
    status = json.loads(bngsync("status", "--json").stdout)
    assert status["open_reviews"] == 0
    assert not [a for a in status["alerts"] if a["incident"] == "review:customers"], "the alert closed"
