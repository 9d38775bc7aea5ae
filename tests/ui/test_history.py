"""Sync history: runs with filters, a run's steps, and a record's trail by order number, SKU or e-mail."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QDate

from ui.windows.history import HistoryWindow


@pytest.fixture
def window(qtbot, seeded, bridge):
    w = HistoryWindow(bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.runs.rowCount() > 0, timeout=5000)
    return w


def test_runs_newest_first_with_outcomes_in_words(window):
    first = window.runs.rows[0]
    assert first["flow"] == "orders" and first["outcome"] == "partial"
    assert window.runs.data(window.runs.index(0, 3)) == "Partly failed"
    assert window.runs.data(window.runs.index(0, 5)) == "3 quarantined, 1 dead"
    assert window.runs.rowCount() == 7 * 6 + 7 + 1


def test_filters_by_flow_outcome_and_dates(window, qtbot):
    window.flow.setCurrentIndex(window.flow.findData("inventory"))
    qtbot.waitUntil(lambda: window.runs.rowCount() == 7, timeout=3000)
    window.flow.setCurrentIndex(0)
    window.outcome.setCurrentIndex(window.outcome.findData("partial"))
    qtbot.waitUntil(lambda: window.runs.rowCount() == 1, timeout=3000)
    window.outcome.setCurrentIndex(0)
    today = QDate.currentDate()
    window.date_from.setDate(today.addDays(-2))
    window.date_to.setDate(today.addDays(-1))
    window.dated.setChecked(True)
    qtbot.waitUntil(lambda: window.runs.rowCount() == 14, timeout=3000)  # two days of 6 orders + 1 stock run
    assert {r["started"][:10] for r in window.runs.rows} == {today.addDays(-2).toString("yyyy-MM-dd"),
                                                              today.addDays(-1).toString("yyyy-MM-dd")}


def test_a_selected_run_shows_its_steps(window, qtbot):
    window.runs_view.selectRow(0)
    qtbot.waitUntil(lambda: window.steps.rowCount() == 5, timeout=3000)
    assert window.steps_title.text().startswith("Steps of the orders run")
    records = {window.steps.data(window.steps.index(r, 2)) for r in range(5)}
    assert {"Order 1102", "Order 1109"} <= records


@pytest.mark.parametrize(("query", "expected"), [
    ("1102", "nop-order:1102"),                     # an order number
    ("SKU AP_MBP_15", "sku:AP_MBP_15"),             # a SKU, the way people type it
    ("jane.doe@example", "email:jane.doe@example"),  # an e-mail
])
def test_search_finds_a_records_trail(window, qtbot, query, expected):
    window.search.setText(query)
    window.find()
    qtbot.waitUntil(lambda: window.steps.rowCount() > 0, timeout=3000)
    assert window.steps_title.text() == f"Everything about “{query}”"
    assert all(expected in (r["subject"] or "") for r in window.steps.rows)


def test_a_search_without_hits_says_what_to_try(window, qtbot):
    window.search.setText("999999")
    window.find()
    qtbot.waitUntil(lambda: window.steps_hint.isVisible(), timeout=3000)
    assert "Nothing recorded about “999999”" in window.steps_hint.text()
    window.search.clear()   # back to the selected run's steps
    assert window.steps_title.text() in ("Steps",) or window.steps_title.text().startswith("Steps of")


def test_an_order_number_finds_that_order_and_not_its_lookalikes(window, qtbot, seeded):
    queue = seeded.queue
    for number in (10011, 21001):                       # "1001" inside other order numbers
        queue.enqueue("order.create", f"nop-order:{number}", {"id": number})
        [job] = queue.claim("test")
        queue.complete(job, {"order_no": f"SO-{number}"}, subject=f"bng-order:SO-{number}")
    window.search.setText("1001")
    window.find()
    qtbot.waitUntil(lambda: window.steps.rowCount() > 0, timeout=3000)
    subjects = [r["subject"].split() for r in window.steps.rows]
    assert subjects and all("nop-order:1001" in tokens for tokens in subjects)
