"""Precision and recall of the data-quality checks on their default settings.

Two labelled order streams, each checked order by order against a history that starts clean:
- the quality tests' shop simulator (tests/quality/simulator.py): every kind of anomaly the
  checks look for (huge quantities, prices far from BNG's list, total spikes, bursts, new
  shipping countries, invalid e-mails, unknown SKUs, incomplete addresses, bad currencies and
  quantities) among legitimate variety (sales, quantity prices, big buys, gifts abroad, offices
  sharing an IP, second orders minutes after the first);
- the sandbox store's shopper simulator (agent/sandbox/nop/shoppers.py), whose labelled bad data
  is invalid e-mails, unknown SKUs, zero-price lines and huge quantities.

"Flagged" is any flag (note, hold or quarantine); the goal is at least 0.9 for both precision and
recall. Run: .venv/bin/python benchmarks/quality_precision.py [--seeds 5] [--orders 3000] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.store import open_store
from benchmarks.common import Result, save_results
from tests.quality.simulator import Evaluation, evaluate, evaluate_sandbox

GOAL = 0.9


def run(name: str, measure, seeds: list[int], **kwargs) -> Evaluation:
    print(f"== {name} ==")
    pooled = Evaluation()
    for seed in seeds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(Path(folder))
            result = measure(store, seed=seed, **kwargs)
            store.close()
        o = result.overall
        print(f"  seed {seed}: {result.orders} orders, {result.labelled} labelled, precision {o.precision:.3f}, "
              f"recall {o.recall:.3f}  ({time.perf_counter() - started:.1f} s)")
        pooled.merge(result)
    print()
    print("  " + pooled.table().replace("\n", "\n  "))
    if pooled.false_alarms:
        print("\n  examples of legitimate orders that were flagged:")
        for reason in sorted(set(pooled.false_alarms))[:8]:
            print(f"    {reason}")
    if pooled.misses:
        print("\n  examples of anomalies missed by their own check:")
        for miss in sorted(set(pooled.misses))[:8]:
            print(f"    {miss}")
    print()
    return pooled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="runs per stream, seeds 1..N")
    parser.add_argument("--orders", type=int, default=3000, help="checked orders per run")
    parser.add_argument("--warmup", type=int, default=2000, help="clean orders of history before checking")
    parser.add_argument("--rate", type=float, default=0.05, help="share of orders with injected bad data")
    parser.add_argument("--json", help="also write the figures to this file (the benchmarks' result format)")
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    shop = run("shop simulator (tests/quality/simulator.py)", evaluate, seeds, warmup=args.warmup,
               count=args.orders, anomaly_rate=args.rate)
    try:
        import agent.sandbox.nop.shoppers  # noqa: F401
    except ImportError as exc:
        print(f"== sandbox shopper simulator: not available ({exc}) ==")
        results = [("shop simulator", shop)]
    else:
        sandbox = run("sandbox shopper simulator (agent/sandbox/nop/shoppers.py)", evaluate_sandbox, seeds,
                      warmup=args.warmup, count=args.orders, bad_data_rate=args.rate)
        results = [("shop simulator", shop), ("sandbox shoppers", sandbox)]
    print("== summary (goal: precision and recall >= 0.9) ==")
    ok = True
    figures: list[Result] = []
    command = (f".venv/bin/python benchmarks/quality_precision.py --seeds {args.seeds} --orders {args.orders} "
               f"--warmup {args.warmup} --rate {args.rate:g}")
    for name, result in results:
        o = result.overall
        met = o.precision >= GOAL and o.recall >= GOAL
        ok &= met
        print(f"  {name:18} precision {o.precision:.3f}  recall {o.recall:.3f}  "
              f"({result.orders} orders)  {'met' if met else 'NOT met'}")
        note = f"{result.orders} orders over {len(seeds)} seed(s), {result.labelled} labelled"
        figures += [Result(f"quality checks precision, {name}", o.precision, "", "≥ 0.90", o.precision >= GOAL,
                           note=note, command=command),
                    Result(f"quality checks recall, {name}", o.recall, "", "≥ 0.90", o.recall >= GOAL,
                           command=command)]
    save_results(args.json, figures)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
