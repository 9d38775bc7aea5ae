"""Measured: precision and recall of the default settings on labelled order streams.

"Flagged" is any flag (note, hold or quarantine); "labelled" is an injected anomaly. Both streams
start from a clean history, then about 5% of orders carry bad or suspicious data. The full
figure over more seeds and orders: `.venv/bin/python benchmarks/quality_precision.py`.
"""

from __future__ import annotations

import pytest

from agent.store import open_store
from tests.quality.simulator import EXPECTED, evaluate, evaluate_sandbox


def test_every_kind_of_anomaly_is_caught_and_legitimate_orders_pass(tmp_path):
    result = evaluate(open_store(tmp_path), seed=1, warmup=1500, count=2000)
    print("\n" + result.table())
    assert set(result.by_label) == set(EXPECTED)
    assert result.overall.precision >= 0.9, result.false_alarms
    assert result.overall.recall >= 0.9, result.misses
    for label, score in result.by_label.items():
        assert score.recall >= 0.8, (label, result.misses)


def test_the_sandbox_shoppers_bad_data_is_caught(tmp_path):
    pytest.importorskip("agent.sandbox.nop.shoppers")
    result = evaluate_sandbox(open_store(tmp_path), seed=7, warmup=1000, count=1000)
    print("\n" + result.table())
    assert result.labelled > 20
    assert result.overall.precision >= 0.9, result.false_alarms
    assert result.overall.recall >= 0.9, result.misses
