"""Orders to BNG: throughput, rate-limit use and API calls per order, agent vs the naive baseline.

Three measurements, each on a fresh sandbox (in its own process) and repeated for the baseline on
an identical one (same seed, so the same shoppers place the same orders):

1. Agent overhead — zero added latency and no rate limit on either double, the agent's own limits
   lifted: how fast the agent drains a backlog of web orders, and the CPU time of the agent's
   process per order. A warm-up batch is drained first so metadata and item caches are filled,
   as they are in a running agent.
2. Rate-limited — 20 ms added to every call of both doubles and BNG's default limit (10 requests/s,
   burst 20) enforced by the BNG double; the agent at its default settings. Orders/s, the share
   of BNG's limit used (accepted BNG requests ÷ (10/s × drain time + burst 20)) and the 429s.
3. API calls per order — for orders of a repeat customer (already known to BNG) and of brand-new
   registered customers, counted on the doubles' side.

    .venv/bin/python -m benchmarks.bench_orders [--orders 1000] [--limited-orders 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks.baseline import Baseline
from benchmarks.common import (
    BNG_DEFAULT_BURST,
    BNG_DEFAULT_RATE,
    RemoteSandbox,
    Result,
    Scratch,
    Throughput,
    agent_settings,
    cpu_seconds,
    print_results,
    quiet_environment,
    save_results,
    start_runtime,
    stop_runtime,
)

COMMAND = ".venv/bin/python -m benchmarks.bench_orders"
UNLIMITED = {"nop_rate": 1_000_000.0, "bng_rate": 1_000_000.0, "bng_burst": 1_000_000}
WARM_UP = 50
SEED = 11


def _sandbox(limited: bool) -> RemoteSandbox:
    return RemoteSandbox(seed=SEED, bng_rate=BNG_DEFAULT_RATE if limited else None, bng_burst=BNG_DEFAULT_BURST,
                         bad_data_rate=0.0, order_put_item_lookup_defect=False).start()


def _check_exactly_once(box: RemoteSandbox, ids: list[int]) -> None:
    copies = box.call("order_copies", ids)
    wrong = {i: n for i, n in copies.items() if n != 1}
    if wrong:
        raise AssertionError(f"{len(wrong)} order(s) are not in BNG exactly once: {dict(list(wrong.items())[:5])}")


Placer = Callable[[RemoteSandbox], list[int]]


def backlog(count: int, **overrides: Any) -> Placer:
    """Orders from the shoppers' usual mix (new, returning and guest customers), or as overridden."""
    return lambda box: box.call("place_orders", count, **overrides) if count else []


# -- the agent -------------------------------------------------------------------------------------

def agent_drain(box: RemoteSandbox, place: Placer, *, limited: bool, warm: Placer | None = None) -> Throughput:
    """Drain what `warm` places (caches fill, customers get known), then time the drain of `place`."""
    with Scratch("orders") as folder:
        quiet_environment(folder)
        settings = agent_settings(box.urls, **({} if limited else UNLIMITED))
        runtime = start_runtime(settings, folder / "data", box.urls)
        try:
            if warm is not None:
                warm(box)
                _sync(runtime)
            ids = place(box)
            box.call("reset_counts")
            cpu, started = cpu_seconds(), time.perf_counter()
            _sync(runtime)
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            stats = box.call("stats")
            _check_exactly_once(box, ids)
        finally:
            stop_runtime(runtime)
    return _throughput(ids, seconds, cpu, stats)


def _throughput(ids: list[int], seconds: float, cpu: float, stats: dict[str, Any]) -> Throughput:
    return Throughput(len(ids), seconds, cpu, stats["bng_requests"], stats["nop_requests"],
                      {int(k): v for k, v in stats["bng_status"].items()})


def _sync(runtime: Any) -> None:
    report = runtime.sync("orders", timeout=1800)
    counts = report["flows"]["orders"]
    if counts["failed"] or counts["pending"]:
        raise AssertionError(f"the agent did not sync every order: {report}")


# -- the baseline ----------------------------------------------------------------------------------

def baseline_drain(box: RemoteSandbox, place: Placer, *, warm: Placer | None = None) -> Throughput:
    baseline = Baseline(box.urls)
    try:
        baseline.prepare()
        if warm is not None:
            warm(box)
        last = _baseline_sync(baseline, 0)
        ids = place(box)
        box.call("reset_counts")
        cpu, started = cpu_seconds(), time.perf_counter()
        _baseline_sync(baseline, last)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        stats = box.call("stats")
        _check_exactly_once(box, ids)
    finally:
        baseline.close()
    return _throughput(ids, seconds, cpu, stats)


def _baseline_sync(baseline: Baseline, since_id: int) -> int:
    """One pass from `since_id`; returns the highest order id the store has now."""
    baseline.sync(since_id)
    return int(baseline._call("nop", "GET", "/api/orders/count")["count"])   # ids run 1, 2, 3, ... here


# -- the measurements ------------------------------------------------------------------------------

def both(place: Placer, *, limited: bool, warm: Placer | None = None,
         latency_ms: float = 0.0) -> tuple[Throughput, Throughput]:
    """The agent, then the baseline, each on a fresh sandbox whose shoppers place the same orders."""
    results = []
    for who in ("agent", "baseline"):
        with _sandbox(limited) as box:
            if latency_ms:
                box.call("faults", latency_ms=latency_ms)
            if who == "agent":
                results.append(agent_drain(box, place, limited=limited, warm=warm))
            else:
                results.append(baseline_drain(box, place, warm=warm))
    return results[0], results[1]


def overhead(orders: int) -> tuple[Throughput, Throughput]:
    return both(backlog(orders), limited=False, warm=backlog(WARM_UP))


def rate_limited(orders: int) -> tuple[Throughput, Throughput]:
    return both(backlog(orders), limited=True, latency_ms=20)


def share_of_limit(t: Throughput) -> float:
    accepted = sum(n for status, n in t.status.items() if status != 429)
    return 100.0 * accepted / (BNG_DEFAULT_RATE * t.seconds + BNG_DEFAULT_BURST)


def calls_per_order(orders: int) -> dict[str, tuple[Throughput, Throughput]]:
    """Calls per order for returning customers (each bought once before, so BNG knows them) and for
    brand-new registered customers; both after a warm-up that filled the agent's caches."""
    known: dict[int, list[int]] = {}

    def first_orders(box: RemoteSandbox) -> list[int]:
        ids = box.call("place_orders", WARM_UP)
        ids += box.call("place_orders", orders, new_customer=True, guest=False, anomalies=[])
        known[id(box)] = box.call("customers_of", ids[WARM_UP:])
        return ids

    def returning(box: RemoteSandbox) -> list[int]:
        return box.call("place_each", [{"customer_id": c, "anomalies": []} for c in known[id(box)]])

    kinds = {"returning customer": (first_orders, returning),
             "new customer": (backlog(WARM_UP), backlog(orders, new_customer=True, guest=False, anomalies=[]))}
    return {label: both(place, limited=False, warm=warm) for label, (warm, place) in kinds.items()}


def run(orders: int = 1000, limited_orders: int = 100, per_kind: int = 100) -> list[Result]:
    results: list[Result] = []
    agent, base = overhead(orders)
    results += [
        Result("orders/s, zero latency (agent overhead)", agent.per_second, "orders/s", "≥ 500",
               agent.per_second >= 500, base.per_second, command=f"{COMMAND} --orders {orders}",
               note=f"{orders} orders after a warm-up of {WARM_UP}; BNG calls {agent.bng_calls}, store calls "
                    f"{agent.nop_calls}; baseline BNG calls {base.bng_calls}"),
        Result("CPU per order, agent process", agent.cpu_ms_per_order, "ms", "", None, base.cpu_ms_per_order,
               command=f"{COMMAND} --orders {orders}"),
    ]
    agent, base = rate_limited(limited_orders)
    for who, t in (("agent", agent), ("baseline", base)):
        print(f"  rate-limited {who}: {t.orders} orders in {t.seconds:.1f}s, BNG replies {t.status}")
    rejected = 100.0 * agent.rejected / max(1, sum(agent.status.values()))
    base_rejected = 100.0 * base.rejected / max(1, sum(base.status.values()))
    results += [
        Result("orders/s, 20 ms latency + BNG limit", agent.per_second, "orders/s", "", None, base.per_second,
               command=f"{COMMAND} --limited-orders {limited_orders}",
               note=f"{agent.bng_calls / agent.orders:.2f} BNG calls per order (new and repeat customers mixed)"),
        Result("share of BNG's rate limit used", share_of_limit(agent), "%", "≥ 90 %", share_of_limit(agent) >= 90,
               share_of_limit(base), command=f"{COMMAND} --limited-orders {limited_orders}",
               note="accepted BNG requests ÷ (10/s × drain time + burst 20)"),
        Result("429 replies from BNG", rejected, "%", "< 1 %", rejected < 1, base_rejected,
               command=f"{COMMAND} --limited-orders {limited_orders}",
               note=f"agent {agent.rejected} of {sum(agent.status.values())} BNG requests; baseline "
                    f"{base.rejected} of {sum(base.status.values())}"),
    ]
    for label, (agent, base) in calls_per_order(per_kind).items():
        target = "≤ 1.1" if label == "returning customer" else ""
        value = agent.bng_calls / agent.orders
        results.append(Result(f"BNG calls per order, {label}", value, "calls", target,
                              (value <= 1.1) if target else None, base.bng_calls / base.orders,
                              command=f"{COMMAND} --per-kind {per_kind}",
                              note=f"store calls per order: agent {agent.nop_calls / agent.orders:.2f}, "
                                   f"baseline {base.nop_calls / base.orders:.2f}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000, help="backlog for the zero-latency run")
    parser.add_argument("--limited-orders", type=int, default=100, help="backlog for the rate-limited run")
    parser.add_argument("--per-kind", type=int, default=100, help="orders per customer kind for calls per order")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run(args.orders, args.limited_orders, args.per_kind)
    print_results("orders", results)
    save_results(args.json, results)


if __name__ == "__main__":
    main()
