"""The reliability suite's scale and its results table.

By default the suite runs a fast subset (CI: well under three minutes on two cores). The full run
uses the numbers the product promises against — 1,000 orders and 50 kill -9s, a ten-minute outage
compressed in time, 10,000 fuzzed webhooks — and is switched on with either

    .venv/bin/pytest tests/reliability --full          (the flag works when this folder is the path)
    BNGSYNC_FULL=1 .venv/bin/pytest tests/reliability   (works from anywhere, e.g. the whole suite)

Every test adds its figures to one table printed at the end of the run, so the outcome reads as
numbers, not only as dots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Scale:
    name: str
    crash_orders: int           # orders the crashing agent has to get into BNG
    crash_kills: int            # kill -9s at random moments
    crash_seconds: float        # the orders are placed over about this long, while the kills happen
    fault_orders: int           # orders through 30 % failing calls, there and back
    compression: float          # the outage test's time runs this many times faster than a clock's
    outage_orders: int          # backlog that piles up during the outage
    fuzz_examples: int          # webhook requests hypothesis makes up
    demo_orders: int            # orders of the demo whose files are searched for secrets


FAST = Scale("fast", crash_orders=150, crash_kills=4, crash_seconds=8.0, fault_orders=40, compression=60,
             outage_orders=40, fuzz_examples=300, demo_orders=10)
# The outage is ten minutes of BNG being down with the agent's default timings (breaker cool-down
# 30 s doubling to 5 min, retries from 5 s doubling to an hour), all compressed alike: 60 times in
# the fast run (10 s down), 20 times in the full run (30 s down).
FULL = Scale("full", crash_orders=1000, crash_kills=50, crash_seconds=100.0, fault_orders=1000,
             compression=20, outage_orders=200,
             fuzz_examples=10_000, demo_orders=25)

_RESULTS: list[tuple[str, str, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", default=False,
                     help="run the reliability suite at full scale (or set BNGSYNC_FULL=1)")


def full_run(config: pytest.Config) -> bool:
    try:
        flag = bool(config.getoption("--full"))
    except ValueError:          # the option is unknown when this conftest was not loaded at start
        flag = False
    return flag or os.environ.get("BNGSYNC_FULL") == "1"


# The suite-wide limit (5 minutes a test) fits the fast run; at full scale a test moves a thousand
# orders through faults and hangs, which takes longer on two cores.
FULL_TIMEOUT_SECONDS = 1800


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if full_run(config):
        here = Path(__file__).parent
        for item in items:
            if here in item.path.parents:        # the hook sees the whole session's items
                item.add_marker(pytest.mark.timeout(FULL_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def scale(pytestconfig: pytest.Config) -> Scale:
    return FULL if full_run(pytestconfig) else FAST


@pytest.fixture
def report(request: pytest.FixtureRequest, scale: Scale):
    """`report(figure, value)`: one row of the results table for this test."""
    test = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")

    def add(figure: str, value: object) -> None:
        _RESULTS.append((f"{test} [{scale.name}]", figure, str(value)))
    return add


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _RESULTS:
        return
    widths = [max(len(row[i]) for row in [("test", "figure", "value"), *_RESULTS]) for i in range(3)]
    terminalreporter.section("reliability results")
    for row in [("test", "figure", "value"), tuple("-" * w for w in widths), *_RESULTS]:
        terminalreporter.write_line("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
