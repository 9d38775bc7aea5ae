"""Keyset paging: a million history rows open with one page, and scrolling loads the next."""

from __future__ import annotations

import json
import time

from PySide6.QtWidgets import QTableView

from ui.bridge import TaskRunner
from ui.models import Column, KeysetModel

COLUMNS = [Column("id", "Id"), Column("name", "Name")]


def numbers(total: int):
    """A fetch over ids total..1, newest first, that records every call."""
    calls = []

    def fetch(before, limit):
        calls.append((before, limit))
        top = total if before is None else before - 1
        return [{"id": i, "name": f"row {i}"} for i in range(top, max(top - limit, 0), -1)]

    return fetch, calls


def test_pages_by_the_last_id_until_the_end(qtbot):
    fetch, calls = numbers(450)
    model = KeysetModel(COLUMNS, fetch, page_size=200)
    model.reload()
    assert model.rowCount() == 200 and calls == [(None, 200)]
    assert model.canFetchMore()
    model.fetchMore()
    model.fetchMore()
    assert calls[1:] == [(251, 200), (51, 200)]
    assert model.rowCount() == 450 and model.exhausted and not model.canFetchMore()
    assert model.data(model.index(449, 1)) == "row 1"


def test_a_late_page_of_an_old_query_is_dropped(qtbot):
    runner = TaskRunner()
    slow_calls = []

    def slow(before, limit):
        slow_calls.append(before)
        time.sleep(0.3)
        return [{"id": 1, "name": "old"}]

    model = KeysetModel(COLUMNS, slow, runner=runner, page_size=10)
    model.reload()
    model.set_fetch(lambda before, limit: [{"id": 2, "name": "new"}])
    qtbot.waitUntil(lambda: runner.busy == 0, timeout=5000)
    assert [r["name"] for r in model.rows] == ["new"]


def insert_runs(service, count: int) -> None:
    """A million runs in one transaction with executemany (seconds, not minutes)."""
    counts = json.dumps({"created": 1})
    start = time.time() - count
    rows = ((("orders", "inventory", "shipments")[i % 3], "schedule", start + i, start + i + 0.5,
             "failed" if i % 97 == 0 else "ok", counts, None) for i in range(count))
    with service.store.write():
        service.store.db.cursor().executemany(
            "INSERT INTO run (flow, trigger, started_at, ended_at, outcome, counts, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows)


def test_a_million_runs_open_with_one_page(qtbot, service):
    from ui.windows.history import HistoryWindow

    insert_runs(service, 1_000_000)
    assert service.store.scalar("SELECT count(*) FROM run") == 1_000_000

    class Immediate:
        """The bridge's interface, running calls at once so the test measures the query, not a thread hop."""

        def __init__(self, service):
            from ui.bridge import ImmediateRunner

            self.service, self.runner = service, ImmediateRunner()

    calls = []
    real = service.runs_page
    service.runs_page = lambda **kw: calls.append(kw) or real(**kw)
    started = time.perf_counter()
    window = HistoryWindow(Immediate(service))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    opened = time.perf_counter() - started
    assert window.runs.rowCount() == window.runs.page_size == 200
    assert len(calls) == 1 and window.runs.pages_fetched == 1   # one page, not a million rows
    assert window.runs.rows[0]["id"] == 1_000_000
    assert opened < 1.0, f"opening took {opened:.2f}s"

    # scrolling to the end of the page loads exactly one more page, by keyset (fast at any depth)
    view: QTableView = window.runs_view
    view.scrollToBottom()
    qtbot.waitUntil(lambda: window.runs.pages_fetched == 2, timeout=2000)
    assert calls[1]["before_id"] == 1_000_000 - 199 and window.runs.rowCount() == 400

    # a filter is one page again, from the top
    started = time.perf_counter()
    window.outcome.setCurrentIndex(window.outcome.findData("failed"))
    assert window.runs.pages_fetched == 1 and window.runs.rowCount() == 200
    assert all(r["outcome"] == "failed" for r in window.runs.rows)
    assert time.perf_counter() - started < 1.0

    # a flow reads along its index, newest first, in keyset pages too
    window.outcome.setCurrentIndex(0)
    started = time.perf_counter()
    window.flow.setCurrentIndex(window.flow.findData("inventory"))
    assert window.runs.rowCount() == 200 and all(r["flow"] == "inventory" for r in window.runs.rows)
    window.runs.fetchMore()
    ids = [r["id"] for r in window.runs.rows]
    assert len(ids) == 400 and ids == sorted(ids, reverse=True) and len(set(ids)) == 400
    assert time.perf_counter() - started < 1.0

