"""Webhook → BNG sales order latency: how long a shopper's order takes to exist in BNG.

The agent runs with its webhook receiver on, the store double's webhook sender pointed at it
(signed envelopes, as the community plugin sends them), and its schedules off, so every order
arrives by webhook alone (in production the 2-minute poll only catches what a webhook missed).
Shoppers place orders through the store's checkout at a steady rate; the latency of one order is
from the moment its checkout returned to the moment the BNG double created its sales order, both
stamped in the sandbox process (one clock), so nothing of the agent's own bookkeeping is trusted.

Conditions are a merchant's: 20 ms added to every call of both doubles, BNG's default limit
(10 requests/s, burst 20) enforced by the BNG double, the agent at its default settings. A short
warm-up fills the agent's caches first, as in a running agent.

The baseline is the naive script (`benchmarks.baseline`) run from cron: every `--poll-seconds` it
reads the store's new orders and posts them one by one. Its latency is dominated by the wait for
the next poll (half the interval on average), which is the point of webhooks.

    .venv/bin/python -m benchmarks.bench_webhooks [--orders 120] [--rate 1] [--poll-seconds 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from benchmarks.baseline import Baseline
from benchmarks.common import (
    BNG_DEFAULT_BURST,
    BNG_DEFAULT_RATE,
    RemoteSandbox,
    Result,
    Scratch,
    agent_settings,
    free_port,
    percentile,
    print_results,
    quiet_environment,
    save_results,
    start_runtime,
    stop_runtime,
    wait_for,
)

COMMAND = ".venv/bin/python -m benchmarks.bench_webhooks"
SEED = 13
WARM_UP = 5
TARGET_P95 = 1.0


def _sandbox(latency_ms: float) -> RemoteSandbox:
    box = RemoteSandbox(seed=SEED, bng_rate=BNG_DEFAULT_RATE, bng_burst=BNG_DEFAULT_BURST, bad_data_rate=0.0,
                        order_put_item_lookup_defect=False).start()
    if latency_ms:
        box.call("faults", latency_ms=latency_ms)
    return box


def _latencies(box: RemoteSandbox, ids: list[int], timeout: float) -> list[float]:
    """Seconds from placing to BNG per order of `ids`, once every one of them has reached BNG."""
    wanted = {str(i) for i in ids}

    def arrived() -> dict[str, float] | None:
        latencies = {k: v for k, v in box.call("latencies").items() if k in wanted}
        return latencies if len(latencies) == len(wanted) else None

    return list(wait_for(arrived, timeout, interval=0.25, what=f"{len(ids)} orders to reach BNG").values())


def _check_exactly_once(box: RemoteSandbox, ids: list[int]) -> None:
    wrong = {i: n for i, n in box.call("order_copies", ids).items() if n != 1}
    if wrong:
        raise AssertionError(f"{len(wrong)} order(s) are not in BNG exactly once: {dict(list(wrong.items())[:5])}")


def _timeout(orders: int, rate: float) -> float:
    return orders / rate + 120


# -- the agent -------------------------------------------------------------------------------------

def agent_latencies(orders: int, rate: float, latency_ms: float) -> tuple[list[float], dict[str, Any]]:
    with _sandbox(latency_ms) as box, Scratch("webhooks") as folder:
        quiet_environment(folder)
        port = free_port()
        settings = agent_settings(box.urls, sections={"webhooks": {"enabled": True, "port": port}})
        runtime = start_runtime(settings, folder / "data", box.urls, webhooks=True,
                                webhook_secret=box.urls["webhook_secret"])
        try:
            box.call("start_webhooks", f"http://127.0.0.1:{port}/")
            warm = box.call("place_orders", WARM_UP)
            _latencies(box, warm, _timeout(WARM_UP, 1.0))
            ids = box.call("place_orders", orders, rate=rate)
            latencies = _latencies(box, ids, _timeout(orders, rate))
            _check_exactly_once(box, warm + ids)
            stats = box.call("stats")
            receiver = dict(runtime.receiver.stats) if runtime.receiver is not None else {}
        finally:
            stop_runtime(runtime)
    return latencies, {"bng_status": stats["bng_status"], "receiver": receiver}


# -- the baseline ----------------------------------------------------------------------------------

class CronPoller:
    """The naive script run every `interval` seconds: each pass posts the orders newer than the last."""

    def __init__(self, urls: dict[str, str], interval: float):
        self.baseline = Baseline(urls)
        self.interval = interval
        self.since_id = 0
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cron-poller", daemon=True)

    def start(self) -> CronPoller:
        self.baseline.prepare()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.baseline.close()

    def _loop(self) -> None:
        while True:
            self.poll_once()
            if self._stop.wait(self.interval):
                return

    def poll_once(self) -> None:
        self.passes += 1
        while True:
            orders = self.baseline._call("nop", "GET", "/api/orders",
                                         params={"since_id": self.since_id, "limit": 250})["orders"]
            for order in orders:
                self.baseline.sync_order(order)
                self.since_id = max(self.since_id, int(order["id"]))
            if len(orders) < 250:
                return


def baseline_latencies(orders: int, rate: float, latency_ms: float, interval: float) -> tuple[list[float], int]:
    with _sandbox(latency_ms) as box:
        poller = CronPoller(box.urls, interval).start()
        try:
            ids = box.call("place_orders", orders, rate=rate)
            latencies = _latencies(box, ids, _timeout(orders, rate) + interval)
            _check_exactly_once(box, ids)
        finally:
            poller.stop()
    return latencies, poller.passes


# -- the measurement -------------------------------------------------------------------------------

def run(orders: int = 120, rate: float = 1.0, latency_ms: float = 20.0, poll_seconds: float = 30.0,
        baseline: bool = True) -> list[Result]:
    command = f"{COMMAND} --orders {orders} --rate {rate:g} --latency-ms {latency_ms:g} --poll-seconds {poll_seconds:g}"
    agent, info = agent_latencies(orders, rate, latency_ms)
    base: list[float] = []
    passes = 0
    if baseline:
        base, passes = baseline_latencies(orders, rate, latency_ms, poll_seconds)
    print(f"  agent: {len(agent)} orders by webhook, BNG replies {info['bng_status']}, receiver {info['receiver']}")
    if baseline:
        print(f"  baseline: {len(base)} orders in {passes} polls every {poll_seconds:g} s")
    conditions = (f"{orders} orders at {rate:g}/s after a warm-up of {WARM_UP}; {latency_ms:g} ms per call on both "
                  f"doubles, BNG limit 10/s burst 20")

    def figure(name: str, p: float | None, target: str = "", note: str = "") -> Result:
        value = max(agent) if p is None else percentile(agent, p)
        reference = (max(base) if p is None else percentile(base, p)) if base else None
        passed = value < TARGET_P95 if target else None
        return Result(name, value, "s", target, passed, reference, note=note, command=command)

    base_note = (f"baseline: the naive script polling every {poll_seconds:g} s" if baseline
                 else "no baseline run (--no-baseline)")
    return [
        figure("webhook → BNG order latency p50", 50, note=conditions),
        figure("webhook → BNG order latency p95", 95, "< 1 s", note=base_note),
        figure("webhook → BNG order latency max", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=120, help="orders placed while measuring")
    parser.add_argument("--rate", type=float, default=1.0, help="orders placed per second")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added latency per call on both doubles")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="the baseline's polling interval")
    parser.add_argument("--no-baseline", action="store_true", help="measure the agent only")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run(args.orders, args.rate, args.latency_ms, args.poll_seconds, baseline=not args.no_baseline)
    print_results("webhooks", results)
    save_results(args.json, results)


if __name__ == "__main__":
    main()
