"""Every benchmark, one after the other, and one table of all their figures at the end.

Each benchmark runs in its own process (as it would alone: its own sandbox, its own Qt, nothing
left over from the one before) and hands its figures back through its `--json` file; its own
table is printed as it goes. `--quick` uses small sizes (a few minutes in all, for a smoke test
that the benchmarks still run; the figures are not the ones to quote), the default the full ones
the README quotes. A benchmark that crashes is listed as such and the others still run.

    .venv/bin/python -m benchmarks.run_all [--quick] [--only stock,history] [--json all.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.common import ROOT, Result, table


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    quick: tuple[str, ...] = ()
    full: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("orders", "benchmarks.bench_orders", ("--orders", "200", "--limited-orders", "30", "--per-kind", "30")),
    Benchmark("webhooks", "benchmarks.bench_webhooks", ("--orders", "30", "--poll-seconds", "10")),
    Benchmark("stock", "benchmarks.bench_stock", ("--skus", "2000", "--drift-every", "50", "--baseline-skus", "40")),
    Benchmark("footprint", "benchmarks.bench_footprint", ("--idle", "10", "--starts", "2")),
    Benchmark("history", "benchmarks.bench_history", ("--jobs", "100000", "--runs", "15000")),
    Benchmark("quality", "benchmarks.quality_precision", ("--seeds", "1", "--orders", "1000", "--warmup", "1000")),
)


def run_one(benchmark: Benchmark, quick: bool, folder: Path) -> tuple[list[Result], str]:
    """Run one benchmark; (its figures, a problem or "")."""
    out = folder / f"{benchmark.name}.json"
    command = [sys.executable, "-m", benchmark.module, *(benchmark.quick if quick else benchmark.full),
               "--json", str(out)]
    print(f"\n##### {benchmark.name}: {' '.join(command[1:-2])}", flush=True)
    started = time.perf_counter()
    code = subprocess.call(command, cwd=ROOT)
    took = time.perf_counter() - started
    print(f"##### {benchmark.name}: exit code {code} after {took:.0f} s", flush=True)
    if not out.exists():
        return [], f"crashed (exit code {code}) after {took:.0f} s"
    results = [Result(**row) for row in json.loads(out.read_text(encoding="utf-8"))]
    return results, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not figures to quote")
    parser.add_argument("--only", help="comma-separated names: " + ", ".join(b.name for b in BENCHMARKS))
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    chosen = list(BENCHMARKS)
    if args.only:
        names = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = names - {b.name for b in BENCHMARKS}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = [b for b in BENCHMARKS if b.name in names]

    rows: list[list[str]] = []
    everything: list[dict[str, object]] = []
    problems = []
    with tempfile.TemporaryDirectory(prefix="bngsync-bench-all-") as folder:
        for benchmark in chosen:
            results, problem = run_one(benchmark, args.quick, Path(folder))
            if problem:
                problems.append(benchmark.name)
                rows.append([benchmark.name, problem, "", "", "", ""])
            for result in results:
                rows.append([benchmark.name, *result.as_row()])
                everything.append({"benchmark": benchmark.name, **asdict(result)})

    print(f"\n== all benchmarks{' (quick sizes: not the figures to quote)' if args.quick else ''} ==")
    print(table(rows, ["benchmark", "figure", "target", "bngsync", "baseline", ""]))
    misses = [f"{r[0]}: {r[1]}" for r in rows if r[-1] == "MISS"]
    if misses:
        print("\nmissed targets:\n  " + "\n  ".join(misses))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2), encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
