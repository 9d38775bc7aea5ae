"""BNG down for ten minutes while web orders keep coming (time compressed: every timing of the
agent's defaults and the outage itself run `scale.compression` times faster).

What must happen: the BNG circuit breaker opens; while it is open at most one probe per cool-down
reaches BNG (counted on BNG's side); people get one alert, not one per order; once BNG is back the
breaker closes, a "reachable again" notice follows, and the backlog drains — every order in BNG
exactly once, none given up on.
"""

from __future__ import annotations

import itertools
import time

from agent import config as config_mod
from agent.config import AgentSettings
from agent.runtime import Runtime
from agent.sandbox import Sandbox
from agent.sandbox.cli import sandbox_config
from agent.store import open_store
from tests.conftest import wait_until

OUTAGE = 600.0          # seconds of real-world outage: ten minutes


def compressed_settings(sandbox: Sandbox, factor: float) -> config_mod.Settings:
    """The agent's default timings, `factor` times faster (the rate limits lifted: not the subject)."""
    defaults = AgentSettings()
    settings = sandbox_config(
        sandbox, retry_base_seconds=defaults.retry_base_seconds / factor,
        retry_max_seconds=defaults.retry_max_seconds / factor,
        breaker_cooldown_seconds=defaults.breaker_cooldown_seconds / factor,
        breaker_max_cooldown_seconds=defaults.breaker_max_cooldown_seconds / factor)
    data = settings.model_dump(mode="json", exclude_none=True)
    data["bng"].update(timeout_seconds=2, requests_per_second=1000, burst=1000)
    data["nopcommerce"].update(timeout_seconds=2, requests_per_second=1000)
    return config_mod.parse(data)


def test_bng_outage_opens_the_breaker_alerts_once_and_the_backlog_drains(tmp_path, monkeypatch, scale, report):
    down_for = OUTAGE / scale.compression
    with Sandbox(seed=41, bng_rate=None, bad_data_rate=0.0, order_put_item_lookup_defect=False) as sandbox:
        monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", sandbox.credentials.nop_password)
        monkeypatch.setenv("BNGSYNC_BNG_API_KEY", sandbox.credentials.bng_api_key)
        settings = compressed_settings(sandbox, scale.compression)
        store = open_store(tmp_path / "data")
        runtime = Runtime(settings, store).start(schedules=False, webhooks=False)
        transitions: list[tuple[float, str, str]] = []
        arrivals: list[tuple[float, str]] = []       # (when, the agent's breaker state at that moment)
        notices: list = []
        runtime.bng.breaker.add_listener(lambda system, old, new, snap: transitions.append(
            (time.monotonic(), old.value, new.value)))
        runtime.alerts.subscribe(notices.append)
        decide = sandbox.bng.faults.decide

        def counted(method: str, path: str):
            if path.startswith("/api/v1"):
                arrivals.append((time.monotonic(), runtime.bng.breaker.state.value))
            return decide(method, path)

        sandbox.bng.faults.decide = counted
        try:
            assert runtime.sync("orders", timeout=60)["ok"]                  # the sample orders, BNG up
            sandbox.bng.faults.down(down_for)
            went_down = time.monotonic()
            placed = [o["id"] for o in sandbox.nop.shoppers.place_orders(scale.outage_orders, anomalies=[])]
            runtime.trigger("orders")
            wait_until(lambda: any(new == "open" for _, _, new in transitions), timeout=down_for,
                       message="the breaker to open while BNG is down")
            bng = sandbox.bng.state
            wait_until(lambda: all(bng.count_orders(str(i)) for i in placed) or runtime.queue.counts().get("dead"),
                       timeout=down_for + settings.agent.breaker_max_cooldown_seconds * 2 + 60, interval=0.05,
                       message="the backlog to drain after BNG came back")
            drained = time.monotonic()
            wait_until(lambda: any(n.incident == "breaker:bng" and n.resolved for n in notices), timeout=10,
                       message="the 'BNG is reachable again' notice")
            dead = [(j.key, j.attempts, j.last_error) for j in runtime.queue.list_errors(limit=10)]
            alert_rows = store.query("SELECT count(*) AS n FROM alert WHERE incident = 'breaker:bng'")[0]["n"]
        finally:
            runtime.stop(timeout=20)
            store.close()

    assert not dead, f"orders given up on during the outage: {dead}"
    copies = {i: bng.count_orders(str(i)) for i in placed}
    assert all(n == 1 for n in copies.values()), {i: n for i, n in copies.items() if n != 1}

    opened = [t for t, old, new in transitions if old == "closed" and new == "open"]
    closed = [t for t, _, new in transitions if new == "closed"]
    probes = [t for t, _, new in transitions if new == "half_open"]
    assert len(opened) == 1 and closed and closed[-1] > opened[0], transitions
    # While the breaker was open, only probes reached BNG: at most one per cool-down. Calls already
    # on their way when it opened (one per worker at most) arrive within moments of the opening.
    grace = 0.05
    late = [t for t, state in arrivals if state == "open" and t > opened[0] + grace]
    during = [t for t, state in arrivals if state == "half_open"]
    assert not late, f"{len(late)} call(s) reached BNG while the breaker was open"
    assert len(during) <= len(probes), (len(during), len(probes))
    gaps = [b - a for a, b in itertools.pairwise(during)]
    cooldown = settings.agent.breaker_cooldown_seconds
    assert all(gap >= cooldown * 0.9 for gap in gaps), (gaps, cooldown)

    raised = [n for n in notices if n.incident == "breaker:bng" and not n.resolved]
    resolved = [n for n in notices if n.incident == "breaker:bng" and n.resolved]
    assert len(raised) == 1 and len(resolved) == 1 and alert_rows == 1, (raised, resolved, alert_rows)

    came_back = went_down + down_for
    report("outage (compressed)", f"{OUTAGE / 60:.0f} min as {down_for:.1f} s (×{scale.compression:g})")
    report("calls that reached BNG while the breaker was open / probes", f"{len(during)} / {len(probes)}")
    report("shortest gap between probes / cool-down", f"{min(gaps, default=0):.2f} s / {cooldown:.2f} s")
    report("alerts raised / 'reachable again' notices", f"{len(raised)} / {len(resolved)}")
    report("backlog drained after BNG came back (real-time equivalent)",
           f"{drained - came_back:.2f} s ({(drained - came_back) * scale.compression:.0f} s)")
    report("orders in BNG exactly once / given up on", f"{sum(1 for n in copies.values() if n == 1)} of "
           f"{len(placed)} / {len(dead)}")
