"""kill -9 at random moments: the headless agent (`bngsync run`, a separate process) is killed
again and again while shoppers place orders, and started again each time, as a crash or a power
cut would. Once it runs undisturbed, BNG must hold every web order exactly once, none may be
missing, and the SQLite file must pass `PRAGMA integrity_check`.

The moments are random but repeatable (a seeded RNG chooses the delays); waiting for the outcome
is by condition with a deadline.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent import config as config_mod
from agent.sandbox import Sandbox
from agent.sandbox.cli import sandbox_config
from tests.conftest import wait_until

SEED = 20


def agent_command(config: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "agent.cli", "--config", str(config), "--data-dir", str(data_dir),
            "--log-level", "WARNING", "run"]


def agent_env(sandbox: Sandbox) -> dict[str, str]:
    return {**os.environ, "BNGSYNC_NOP_PASSWORD": sandbox.credentials.nop_password,
            "BNGSYNC_BNG_API_KEY": sandbox.credentials.bng_api_key,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}    # a server without a keyring


def write_config(sandbox: Sandbox, path: Path) -> None:
    """Orders polled every 0.6 s; the other flows off (this test is about orders); fast retries."""
    settings = sandbox_config(sandbox, workers=4, retry_base_seconds=0.1, retry_max_seconds=1.0, max_attempts=50,
                              lease_seconds=5, breaker_cooldown_seconds=0.5, breaker_max_cooldown_seconds=2.0)
    data = settings.model_dump(mode="json", exclude_none=True)
    data["schedules"].update(orders_minutes=0.01, shipments_minutes=0, inventory_minutes=0, products_minutes=0,
                             customers_minutes=0)
    data["bng"].update(timeout_seconds=5, requests_per_second=1000, burst=1000)
    data["nopcommerce"].update(timeout_seconds=5, requests_per_second=1000)
    config_mod.save(config_mod.parse(data), path)


def last_run_finished(data_dir: Path) -> float:
    """When the agent's newest run finished (0 when none has), read from its SQLite file."""
    try:
        with sqlite3.connect(data_dir / "bngsync.sqlite3", timeout=5) as db:
            return db.execute("SELECT coalesce(max(ended_at), 0) FROM run").fetchone()[0]
    except sqlite3.Error:
        return 0.0


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path, scale, report):
    rng = random.Random(SEED)
    config, data_dir, log = tmp_path / "bngsync.toml", tmp_path / "agent", tmp_path / "agent-output.log"
    with Sandbox(seed=SEED, bng_rate=None, bad_data_rate=0.0, order_put_item_lookup_defect=False) as sandbox:
        write_config(sandbox, config)
        placed: list[int] = []
        shoppers_done = threading.Event()

        def shop() -> None:
            """Shoppers keep buying while the agent is killed and restarted."""
            pause = scale.crash_seconds / scale.crash_orders
            try:
                for _ in range(scale.crash_orders):
                    placed.append(sandbox.nop.shoppers.place_order(anomalies=[])["id"])
                    shoppers_done.wait(pause)
            finally:
                shoppers_done.set()

        shopper = threading.Thread(target=shop, name="shoppers", daemon=True)
        shopper.start()
        started = time.monotonic()
        kills = 0
        with log.open("ab") as output:
            mean_delay = scale.crash_seconds / scale.crash_kills
            for _ in range(scale.crash_kills):
                agent = subprocess.Popen(agent_command(config, data_dir), env=agent_env(sandbox), stdout=output,
                                         stderr=subprocess.STDOUT)
                time.sleep(rng.uniform(0.2, 2 * mean_delay))       # a random moment (seeded), not a wait
                agent.send_signal(signal.SIGKILL)
                agent.wait(timeout=30)
                kills += 1
            shopper.join(timeout=scale.crash_seconds * 3 + 60)
            assert not shopper.is_alive(), "the shoppers did not finish"

            restarted = time.time()
            agent = subprocess.Popen(agent_command(config, data_dir), env=agent_env(sandbox), stdout=output,
                                     stderr=subprocess.STDOUT)
            try:
                bng = sandbox.bng.state
                wait_until(lambda: all(bng.count_orders(str(i)) for i in placed), timeout=120 + scale.crash_orders / 5,
                           interval=0.2, message=f"all {len(placed)} orders in BNG (agent output: {log})")
                # the last kill may have come after the last create: the agent must be up (a run of its own
                # finished) before it is asked to stop, or the signal would only test Python's start-up
                wait_until(lambda: last_run_finished(data_dir) > restarted, timeout=60, interval=0.2,
                           message=f"a finished run of the restarted agent (agent output: {log})")
                drained = time.monotonic() - started
            finally:
                agent.send_signal(signal.SIGTERM)
                code = agent.wait(timeout=60)
        assert code == 0, f"the agent did not shut down cleanly after the run (exit {code}); see {log}"

        copies = {i: sandbox.bng.state.count_orders(str(i)) for i in placed}
        duplicates = {i: n for i, n in copies.items() if n > 1}
        lost = [i for i, n in copies.items() if n == 0]
        assert len(placed) == scale.crash_orders
        assert not duplicates, f"orders in BNG more than once: {duplicates}"
        assert not lost, f"orders missing in BNG: {lost}"
        assert sandbox.bng.state.snapshot()["duplicate_external_order_ids"] == {}

    with sqlite3.connect(data_dir / "bngsync.sqlite3") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        stuck = db.execute("SELECT count(*) FROM job WHERE kind = 'order.create' AND state != 'succeeded'"
                           ).fetchone()[0]
        intents = db.execute("SELECT count(*) FROM xref WHERE state = 'intent'").fetchone()[0]
        taken_over = db.execute("SELECT count(*) FROM job WHERE attempts > 1").fetchone()[0]
    assert integrity == "ok"
    assert stuck == 0, f"{stuck} order job(s) did not succeed"
    report("orders placed while the agent was killed", len(placed))
    report("kill -9s (random moments, seed 20)", kills)
    report("orders in BNG exactly once / duplicates / lost", f"{len(placed) - len(lost) - len(duplicates)} / "
           f"{len(duplicates)} / {len(lost)}")
    report("PRAGMA integrity_check", integrity)
    report("jobs a restarted agent took over (attempts > 1)", taken_over)
    report("creates still in doubt at the end", intents)
    report("first order placed → all in BNG", f"{drained:.0f} s")
