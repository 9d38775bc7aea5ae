"""The sync history window over a big history: how long until it shows what a person asked for.

A real store (the agent's SQLite database, all migrations applied) is filled in one transaction
with bulk SQL: `--jobs` recorded jobs (1,000,000 by default) spread over `--runs` runs of the five
flows in the last 60 days (150,000: about what 90 days of the default schedules produce), and
`--events-per-job` events per job with their subject tokens, as the engine writes them. Then, as
the app does, the service is opened afresh (a cold SQLite cache; the operating system's file cache
stays warm) and the real `HistoryWindow` is built on a real `Bridge`, whose thread pool runs the
queries, under offscreen Qt. Each figure is from the action to its rows being in the view and the
event loop having drawn them:

- open: constructing the window → its first page of runs shown (the target: < 1 s);
- steps: selecting the newest run → its steps shown;
- flow filter / outcome filter: choosing "Inventory" / "Failed" → their first page shown;
- record trail: searching an order number → everything about it shown;
- next page: scrolling to the bottom → the next page of runs appended;
- and, for the record, the status query the dashboard and the tray repeat every 3 s.

    .venv/bin/python -m benchmarks.bench_history [--jobs 1000000] [--runs 150000] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Result, Scratch, print_results, save_results, wait_for

COMMAND = ".venv/bin/python -m benchmarks.bench_history"
TARGET_SECONDS = 1.0
DAYS = 60
# flow → (job kind, subject prefix of its records)
FLOW_JOBS = (("orders", "order.create", "nop-order"), ("shipments", "shipment.push", "bng-shipment"),
             ("inventory", "inventory.sku", "sku"), ("products", "product.upsert", "bng-item"),
             ("customers", "customer.sync", "nop-customer"))


def _case(index: str, values: list[str]) -> str:
    """A SQL CASE picking `values[index % len(values)]`."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({index}) % {len(values)} {whens} END"


def fill(data_dir: Path, jobs: int, runs: int, events_per_job: int) -> dict[str, float]:
    """Write the history in one transaction; returns row counts and the seconds it took."""
    from agent.store import open_store

    store = open_store(data_dir)
    started = time.perf_counter()
    now = time.time()
    first = now - DAYS * 86400
    step = DAYS * 86400 / runs
    flows = [f for f, _, _ in FLOW_JOBS]
    kinds = [k for _, k, _ in FLOW_JOBS]
    prefixes = [p for _, _, p in FLOW_JOBS]
    counts = '{"enqueued": 7, "succeeded": 7, "failed": 0, "pending": 0, "discarded": 0}'
    run_of = f"((x - 1) * {runs} / {jobs} + 1)"           # jobs are spread evenly over the runs
    store.execute("PRAGMA cache_size = -262144")
    try:
        with store.write():
            store.execute(
                f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {runs}) "
                "INSERT INTO run (id, flow, trigger, started_at, ended_at, outcome, counts, message) "
                f"SELECT x, {_case('x', flows)}, CASE WHEN x % 50 = 0 THEN 'manual' ELSE 'schedule' END, "
                f"{first} + x * {step}, {first} + x * {step} + 1.5, "
                "CASE WHEN x % 97 = 0 THEN 'failed' WHEN x % 31 = 0 THEN 'partial' ELSE 'ok' END, "
                f"'{counts}', CASE WHEN x % 97 = 0 THEN 'BNG did not answer' END FROM n")
            store.execute(
                f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {jobs}) "
                "INSERT INTO job (id, kind, dedupe_key, payload, state, priority, attempts, due_at, run_id, "
                "created_at, updated_at, finished_at) "
                f"SELECT x, {_case(run_of, kinds)}, {_case(run_of, prefixes)} || ':' || x, "
                "'{\"id\": ' || x || ', \"total\": \"129.90\", \"currency\": \"USD\"}', "
                "CASE WHEN x % 1000 = 0 THEN 'dead' ELSE 'succeeded' END, 100, 1, "
                f"{first} + {run_of} * {step}, {run_of}, {first} + {run_of} * {step}, "
                f"{first} + {run_of} * {step} + 1, {first} + {run_of} * {step} + 1 FROM n")
            store.execute(
                f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {jobs * events_per_job}) "
                "INSERT INTO event (id, at, level, kind, flow, run_id, job_id, subject, message) "
                f"SELECT x, job.updated_at, CASE WHEN job.state = 'dead' AND x % {events_per_job} = 0 THEN 'error' "
                f"ELSE 'info' END, CASE WHEN x % {events_per_job} = 0 THEN 'job.succeeded' ELSE 'step' END, "
                "NULL, job.run_id, job.id, job.dedupe_key, "
                f"CASE WHEN x % {events_per_job} = 0 THEN job.kind || ' for ' || job.dedupe_key || ' succeeded' "
                "ELSE 'sent to BNG as ' || job.id END "
                f"FROM n JOIN job ON job.id = (x - 1) / {events_per_job} + 1")
            # the subject tokens, as History writes them: "nop-order:1234" and "1234"
            store.execute("INSERT INTO event_token (event_id, token) "
                          "SELECT id, subject FROM event UNION ALL "
                          "SELECT id, substr(subject, instr(subject, ':') + 1) FROM event ORDER BY 2")
    finally:
        store.execute("PRAGMA cache_size = -2000")
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
    return {"runs": runs, "jobs": jobs, "events": jobs * events_per_job, "seconds": time.perf_counter() - started}


# -- the window ------------------------------------------------------------------------------------

class Stopwatch:
    """Times one action in the window: from calling it to `shown()` being true with the loop idle."""

    def __init__(self, app: Any, timeout: float = 60.0):
        self.app = app
        self.timeout = timeout

    def __call__(self, action: Callable[[], Any], shown: Callable[[], bool], what: str) -> float:
        started = time.perf_counter()
        action()

        def done() -> bool:
            self.app.processEvents()
            return shown()

        wait_for(done, self.timeout, interval=0.001, what=what)
        self.app.processEvents()            # draw what arrived
        return time.perf_counter() - started


def measure(data_dir: Path, config: Path, order_number: int) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")     # the offscreen platform's own notices
    from PySide6.QtWidgets import QApplication

    from agent import paths as paths_mod
    from agent.service import Service
    from ui.app import application
    from ui.bridge import Bridge
    from ui.windows.history import HistoryWindow

    app: QApplication = application()
    started = time.perf_counter()
    service = Service.open(paths_mod.resolve(data_dir=data_dir, config=config), console=False)
    opened_service = time.perf_counter() - started
    bridge = Bridge(service)
    timer = Stopwatch(app)
    times: dict[str, Any] = {"service": opened_service}
    holder: dict[str, Any] = {}
    try:
        def build() -> None:
            holder["window"] = HistoryWindow(bridge)
            holder["window"].show()

        times["open"] = timer(build, lambda: "window" in holder and holder["window"].runs.rowCount() > 0,
                              "the first page of runs")
        window = holder["window"]
        times["steps"] = timer(lambda: window.runs_view.selectRow(0), lambda: window.steps.rowCount() > 0,
                               "the steps of the newest run")
        pages = window.runs.pages_fetched
        times["next_page"] = timer(window.runs_view.scrollToBottom, lambda: window.runs.pages_fetched > pages
                                   and not window.runs.loading, "the next page of runs")

        def filtered(combo: Any, value: str) -> float:
            generation = window.runs._generation
            return timer(lambda: combo.setCurrentIndex(combo.findData(value)),
                         lambda: window.runs._generation > generation and not window.runs.loading
                         and window.runs.rowCount() > 0, f"runs filtered by {value}")

        times["flow"] = filtered(window.flow, "inventory")
        times["outcome"] = filtered(window.outcome, "failed")
        query = f"nop-order:{order_number}"

        def search() -> None:
            window.search.setText(query)
            window.find()

        times["trail"] = timer(search, lambda: window.steps.rowCount() > 0 and not window.steps.loading,
                               f"the trail of {query}")
        times["trail_rows"] = window.steps.rowCount()
        window.close()
        refreshes = []
        for _ in range(3):
            started = time.perf_counter()
            service.status()
            refreshes.append(time.perf_counter() - started)
        times["status"] = sorted(refreshes)[1]
    finally:
        bridge.close()
        bridge.runner.wait_idle(30)
        service.close()
    return times


def _config(folder: Path) -> Path:
    from agent import config as config_mod

    path = folder / "bngsync.toml"
    config_mod.save(config_mod.parse({"nopcommerce": {"url": "http://127.0.0.1:9", "username": "api@example.com"},
                                      "bng": {"url": "http://127.0.0.1:9/api/v1"}}), path)
    return path


def run(jobs: int = 1_000_000, runs: int = 150_000, events_per_job: int = 2) -> list[Result]:
    command = f"{COMMAND} --jobs {jobs} --runs {runs} --events-per-job {events_per_job}"
    with Scratch("history") as folder:
        data_dir = folder / "data"
        filled = fill(data_dir, jobs, runs, events_per_job)
        size = sum(f.stat().st_size for f in data_dir.glob("bngsync.sqlite3*")) / 1e6
        print(f"  filled {filled['runs']:,} runs, {filled['jobs']:,} jobs, {filled['events']:,} events in "
              f"{filled['seconds']:.1f} s ({size:,.0f} MB)")
        times = measure(data_dir, _config(folder), _order_job(jobs, runs))
    print(f"  service opened in {times['service']:.2f} s; the trail shows {times['trail_rows']} events")
    history = f"{jobs:,} jobs, {runs:,} runs, {filled['events']:,} events ({size:,.0f} MB)"

    def figure(name: str, key: str, note: str = "") -> Result:
        return Result(name, times[key], "s", "< 1 s", times[key] < TARGET_SECONDS, command=command, note=note)

    return [
        figure("history window: open to first page", "open", f"{history}; offscreen Qt, the app's thread pool"),
        figure("history: steps of the newest run", "steps"),
        figure("history: next page of runs", "next_page"),
        figure("history: filter one flow", "flow"),
        figure("history: filter failed runs", "outcome"),
        figure("history: trail of one order", "trail"),
        Result("status refresh over the same history", times["status"], "s", command=command,
               note="Service.status(): the dashboard and the tray re-read it every 3 s (median of 3)"),
    ]


def _order_job(jobs: int, runs: int) -> int:
    """An order job about a third of the way back in the history (its run's flow is "orders")."""
    x = max(1, jobs * 2 // 3)
    while x > 1 and ((x - 1) * runs // jobs + 1) % len(FLOW_JOBS) != 0:
        x -= 1
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="recorded jobs")
    parser.add_argument("--runs", type=int, default=150_000, help="runs the jobs are spread over")
    parser.add_argument("--events-per-job", type=int, default=2, help="history events per job")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run(args.jobs, args.runs, args.events_per_job)
    print_results("history", results)
    save_results(args.json, results)


if __name__ == "__main__":
    main()
