"""`bngsync sync orders` and `bngsync sync shipments` as a person runs them: a separate process, the
config and data dir on the command line, secrets from the environment, a sandbox in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent import config as config_mod
from agent.sandbox.cli import sandbox_config
from tests.flows.conftest import missing_flows


def run_cli(config: Path, data_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", "--config", str(config), "--data-dir", str(data_dir),
                           *args], capture_output=True, text=True, env=env, timeout=120)


def counts_of(output: str, flow: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.split()[:1] == [flow])
    return line.split()[1:]


def only_present_flows(tmp_path: Path, env: dict[str, str]) -> None:
    """While a flow module is still being written (flows are developed side by side), the agent
    process loads the flows that exist; once all exist this changes nothing."""
    if not missing_flows():
        return
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import importlib.util\nimport agent.flows as f\n"
        "f.MODULES = tuple(m for m in f.MODULES if importlib.util.find_spec(f'agent.flows.{m}'))\n")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH", "")) if p)


def test_sync_orders_then_shipments_from_the_command_line(make_sandbox, tmp_path):
    sandbox = make_sandbox(order_put_item_lookup_defect=False)
    settings = sandbox_config(sandbox, retry_base_seconds=0.05, retry_max_seconds=0.5)
    config = tmp_path / "bngsync.toml"
    config_mod.save(settings, config)
    env = {**os.environ, "BNGSYNC_NOP_PASSWORD": sandbox.credentials.nop_password,
           "BNGSYNC_BNG_API_KEY": sandbox.credentials.bng_api_key,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}     # a headless machine: no keyring
    only_present_flows(tmp_path, env)
    data_dir = tmp_path / "agent-data"

    result = run_cli(config, data_dir, "sync", "orders", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts_of(result.stdout, "orders") == ["5", "5", "0", "0"]      # enqueued, succeeded, failed, pending
    assert sandbox.bng.state.snapshot()["sales_orders"] == 5

    order_no = sandbox.bng.state.orders_for("2")[0]["order_no"]
    sandbox.bng.state.ship_order(order_no, carrier="UPS", tracking_number="1ZCLI")
    result = run_cli(config, data_dir, "sync", "shipments", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts_of(result.stdout, "shipments") == ["1", "1", "0", "0"]
    assert [s.tracking_number for s in sandbox.nop.state.shipments_of(2)] == ["1ZCLI"]
    assert sandbox.nop.state.orders[2].fields["shipping_status_id"] == 30

    again = run_cli(config, data_dir, "sync", "orders", env=env)
    assert again.returncode == 0 and counts_of(again.stdout, "orders") == ["0", "0", "0", "0"]
    history = run_cli(config, data_dir, "history", "nop-order:2", env=env)
    assert order_no in history.stdout
