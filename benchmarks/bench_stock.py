"""Stock reconciliation of 10,000 SKUs: how long until every store StockQuantity matches BNG.

Both doubles are grown to 10,000 more stock-managed SKUs (`op_grow_catalog`), with 20 ms added to
every call of both, BNG's default limit (10 requests/s, burst 20) enforced by the BNG double and the
agent at its default settings (`--setting` changes one, to see what limits a pass). Two passes are
timed, from the trigger to the moment the store double reports no SKU whose StockQuantity differs
from BNG's available figure (counted in the sandbox process, not taken from the agent's word):

1. first alignment — a fresh agent's first inventory run over a catalog where every
   `--drift-every`-th store figure disagrees;
2. nightly reconciliation — after that, the same share of store figures is changed behind the
   agent's back (an import, a person) and the full pass (`full=True`, what the nightly schedule
   runs) is triggered.

The baseline is the naive script: page through the store's products, then per SKU one GET of its
BNG stock and one PUT of the store product, one request at a time (a 429 is waited out). At BNG's
10 requests/s that is at least 1,000 s for 10,000 SKUs, so it runs over the first
`--baseline-skus` SKUs and its time is scaled to the whole catalog (said so in the table).

    .venv/bin/python -m benchmarks.bench_stock [--skus 10000] [--drift-every 100] [--baseline-skus 300] \\
        [--setting nopcommerce.requests_per_second=50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.baseline import Baseline
from benchmarks.common import (
    BNG_DEFAULT_BURST,
    BNG_DEFAULT_RATE,
    RemoteSandbox,
    Result,
    Scratch,
    agent_settings,
    print_results,
    quiet_environment,
    save_results,
    start_runtime,
    stop_runtime,
    wait_for,
)

COMMAND = ".venv/bin/python -m benchmarks.bench_stock"
SEED = 17
TARGET_SECONDS = 60.0
LATENCY_MS = 20.0


@dataclass
class Pass:
    """One timed pass: seconds until the store matched, what it had to fix, the calls it took."""

    seconds: float
    fixed: int
    bng_calls: int
    nop_calls: int
    settled_seconds: float = 0.0


def _sandbox(skus: int, drift_every: int) -> tuple[RemoteSandbox, int]:
    box = RemoteSandbox(seed=SEED, bng_rate=BNG_DEFAULT_RATE, bng_burst=BNG_DEFAULT_BURST, bad_data_rate=0.0).start()
    grown = box.call("grow_catalog", skus, drift_every=drift_every)
    box.call("faults", latency_ms=LATENCY_MS)
    return box, grown["drifted"]


def _until_matched(box: RemoteSandbox, started: float, timeout: float) -> float:
    wait_for(lambda: box.call("stock_mismatches") == 0, timeout, interval=0.25, what="every SKU to match BNG")
    return time.perf_counter() - started


# -- the agent -------------------------------------------------------------------------------------

def agent_passes(skus: int, drift_every: int, timeout: float,
                 settings: dict[str, dict[str, Any]] | None = None) -> tuple[Pass, Pass]:
    box, drifted = _sandbox(skus, drift_every)
    try:
        with Scratch("stock") as folder:
            quiet_environment(folder)
            runtime = start_runtime(agent_settings(box.urls, sections=settings), folder / "data", box.urls)
            try:
                first = _agent_pass(box, runtime, drifted, full=False, timeout=timeout)
                drifted = box.call("drift_stock", drift_every)
                nightly = _agent_pass(box, runtime, drifted, full=True, timeout=timeout)
            finally:
                stop_runtime(runtime)
    finally:
        box.stop()
    return first, nightly


def _agent_pass(box: RemoteSandbox, runtime: Any, drifted: int, *, full: bool, timeout: float) -> Pass:
    if box.call("stock_mismatches") != drifted:
        raise AssertionError(f"expected {drifted} drifted SKUs before the pass")
    box.call("reset_counts")
    started = time.perf_counter()
    run_id = runtime.trigger("inventory", "manual", full=full)
    seconds = _until_matched(box, started, timeout)
    if not runtime.wait_run(run_id, timeout):
        raise AssertionError("the inventory run did not settle")
    settled = time.perf_counter() - started
    stats = box.call("stats")
    counts = runtime.run_counts(run_id)
    if counts["failed"]:
        raise AssertionError(f"{counts['failed']} SKU check(s) failed: {counts}")
    return Pass(seconds, drifted, stats["bng_requests"], stats["nop_requests"], settled)


# -- the baseline ----------------------------------------------------------------------------------

def baseline_pass(skus: int, drift_every: int, sample: int) -> tuple[float, int, int]:
    """(seconds for `sample` SKUs, SKUs done, store SKUs in all) of the naive per-SKU GET+PUT script."""
    box, _ = _sandbox(skus, drift_every)
    script = Baseline(box.urls)
    try:
        script.login()
        started = time.perf_counter()
        products: list[dict[str, Any]] = []
        since_id = 0
        while True:
            page = script._call("nop", "GET", "/api/products", params={
                "since_id": since_id, "limit": 250, "fields": "id,sku,manage_inventory_method_id"})["products"]
            products += [p for p in page if p.get("sku") and p.get("manage_inventory_method_id") == 1]
            if len(page) < 250:
                break
            since_id = page[-1]["id"]
        bulk = [p for p in products if p["sku"].startswith("BULK-")]
        done = 0
        for product in bulk[:sample]:
            levels = script._call("bng", "GET", "/inventory", params={"item_no": product["sku"]})["items"]
            available = sum(float(level["available"]) for level in levels)
            script._call("nop", "PUT", f"/api/products/{product['id']}",
                         json={"product": {"stock_quantity": int(available)}})
            done += 1
        seconds = time.perf_counter() - started
    finally:
        script.close()
        box.stop()
    return seconds, done, len(bulk)


# -- the measurement -------------------------------------------------------------------------------

def parse_settings(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` pairs (values as JSON when they parse, else text) → agent settings sections."""
    sections: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        section, _, key = name.strip().partition(".")
        if not key or not text:
            raise ValueError(f"expected section.key=value, not {pair!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        sections.setdefault(section, {})[key] = value
    return sections


def run(skus: int = 10_000, drift_every: int = 100, baseline_skus: int = 300, timeout: float = 900,
        settings: list[str] | None = None) -> list[Result]:
    command = f"{COMMAND} --skus {skus} --drift-every {drift_every} --baseline-skus {baseline_skus}"
    command += "".join(f" --setting {pair}" for pair in settings or [])
    first, nightly = agent_passes(skus, drift_every, timeout, parse_settings(settings or []))
    for name, p in (("first alignment", first), ("nightly reconciliation", nightly)):
        print(f"  {name}: {p.fixed} drifted SKUs matched in {p.seconds:.1f} s (run settled at "
              f"{p.settled_seconds:.1f} s); BNG calls {p.bng_calls}, store calls {p.nop_calls}")
    scaled = None
    base_note = "no baseline run (--baseline-skus 0)"
    if baseline_skus > 0:
        seconds, done, total = baseline_pass(skus, drift_every, baseline_skus)
        scaled = seconds * total / done
        base_note = (f"baseline: naive GET BNG stock + PUT store product per SKU, {done} SKUs in {seconds:.1f} s, "
                     f"scaled to {total:,}")
        print(f"  baseline: {done} SKUs in {seconds:.1f} s → {scaled:,.0f} s for {total:,} SKUs")
    agent = f"agent settings {', '.join(settings)}" if settings else "the agent at its default settings"
    conditions = (f"{skus:,} SKUs, every {drift_every}th drifted; {LATENCY_MS:g} ms per call on both doubles, "
                  f"BNG limit 10/s burst 20, {agent}")
    return [
        Result(f"stock first alignment, {skus:,} SKUs", first.seconds, "s", "< 60 s", first.seconds < TARGET_SECONDS,
               scaled, command=command, note=f"{conditions}; {first.bng_calls} BNG and {first.nop_calls} store "
                                             f"calls; {base_note}"),
        Result(f"stock nightly reconciliation, {skus:,} SKUs", nightly.seconds, "s", "< 60 s",
               nightly.seconds < TARGET_SECONDS, scaled, command=command,
               note=f"{nightly.fixed} SKUs changed in the store behind the agent's back; {nightly.bng_calls} BNG and "
                    f"{nightly.nop_calls} store calls"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=10_000, help="stock-managed SKUs added to both doubles")
    parser.add_argument("--drift-every", type=int, default=100, help="every n-th store figure disagrees")
    parser.add_argument("--baseline-skus", type=int, default=300, help="SKUs the naive script runs over (0: none)")
    parser.add_argument("--timeout", type=float, default=900, help="give up on a pass after this many seconds")
    parser.add_argument("--setting", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="change one agent setting, e.g. nopcommerce.requests_per_second=50 (repeatable)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run(args.skus, args.drift_every, args.baseline_skus, args.timeout, args.setting)
    print_results("stock", results)
    save_results(args.json, results)


if __name__ == "__main__":
    main()
