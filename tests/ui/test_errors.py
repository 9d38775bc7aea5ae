"""Errors: the work list, plain-words reasons, Retry / Retry all / Edit & retry / Discard, results in place."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox

from tests.ui.seed import seed
from ui.windows import errors as errors_mod
from ui.windows.errors import EditDialog, ErrorsWindow, changes, result_of, set_path


@pytest.fixture
def ids(service):
    return seed(service)


@pytest.fixture
def window(qtbot, ids, bridge):
    w = ErrorsWindow(bridge)
    w.poll_timer.setInterval(100)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.model.rowCount() == 4, timeout=5000)
    return w


def row_of(window, job_id):
    return window.model.rows[window.model.find("id", job_id)]


def complete(service, state="succeeded", reason="fixed"):
    """Do what the agent's worker would: take the retried job and finish it."""
    [job] = service.queue.claim("test")
    if state == "succeeded":
        service.queue.complete(job, {"ok": True})
    else:
        from agent.engine.errors import Quarantine

        service.queue.fail(job, Quarantine(reason))
    return job.id


def test_lists_dead_and_quarantined_with_reasons_in_plain_words(window, ids):
    assert window.count_label.text() == "4 records" and window.retry_all_button.text() == "Retry all (4)"
    assert window.kind_filter.itemText(1) == "Order to BNG (4)"
    window.select(ids["quarantined"][0])
    assert window.detail_title.text() == "Order 1102 — Order to BNG"
    assert window.detail_state.text() == "Needs a fix"
    assert "does not exist in the other system" in window.detail_what.text()
    assert window.detail_reason.text() == "The item 'AP_MBP_15' does not exist in BNG"
    assert "SKU substitution" in window.detail_todo.text()
    assert json.loads(window.payload_view.toPlainText())["lines"][0]["sku"] == "AP_MBP_15"
    window.tabs.setCurrentWidget(window.trail_view)
    assert "needs attention" in _wait_text(window)


def _wait_text(window):
    from pytestqt.qtbot import QtBot

    QtBot(window).waitUntil(lambda: bool(window.trail_view.toPlainText()), timeout=3000)
    return window.trail_view.toPlainText()


def test_filter_by_state(window, qtbot):
    window.state_filter.setCurrentIndex(window.state_filter.findData("dead"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    assert window.model.rows[0]["state"] == "dead" and window.count_label.text() == "1 record"


def test_retry_shows_the_result_in_the_row(window, qtbot, service, ids):
    job_id = ids["quarantined"][0]
    window.select(job_id)
    window.retry_button.click()
    qtbot.waitUntil(lambda: row_of(window, job_id).get("result") == "Retrying…", timeout=3000)
    number = window.model.find("id", job_id)
    assert window.model.data(window.model.index(number, 0)) == "Retrying…"     # in the row itself
    qtbot.waitUntil(lambda: service.queue.get(job_id).state == "pending", timeout=3000)
    complete(service)
    qtbot.waitUntil(lambda: row_of(window, job_id).get("result") == "Synced ✓", timeout=5000)
    assert row_of(window, job_id)["state"] == "succeeded" and not window.following
    assert window.model.data(window.model.index(window.model.find("id", job_id), 0)) == "Synced ✓"
    assert window.detail_result.text() == "Your retry: Synced ✓"


def test_a_retry_that_fails_again_says_why(window, qtbot, service, ids):
    job_id = ids["quarantined"][1]
    window.select(job_id)
    window.retry_button.click()
    qtbot.waitUntil(lambda: service.queue.get(job_id).state == "pending", timeout=3000)
    complete(service, "quarantined", "The e-mail address is still not valid")
    qtbot.waitUntil(lambda: row_of(window, job_id).get("tone") == "bad", timeout=5000)
    assert row_of(window, job_id)["result"] == "Failed again: The e-mail address is still not valid"


def test_retry_all_retries_every_record_in_the_list(window, qtbot, service, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.retry_all_button.click()
    qtbot.waitUntil(lambda: service.queue.counts()["pending"] == 4, timeout=3000)
    assert all(r["result"] == "Retrying…" for r in window.model.rows)
    for _ in range(4):
        complete(service)
    qtbot.waitUntil(lambda: all(r.get("result") == "Synced ✓" for r in window.model.rows), timeout=5000)


def test_edit_and_retry_saves_only_the_change_as_an_override(window, qtbot, service, ids, monkeypatch):
    job_id = ids["quarantined"][1]
    window.select(job_id)

    def accept(dialog):
        dialog.path.setText("customer.email")
        dialog.value.setText("jane.doe@example.com")
        dialog.set_field()
        assert "customer.email" in dialog.message.text()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(EditDialog, "exec", accept)
    window.edit_button.click()
    qtbot.waitUntil(lambda: service.queue.get(job_id).state == "pending", timeout=3000)
    job = service.queue.get(job_id)
    assert job.override == {"customer": {"email": "jane.doe@example.com"}}
    assert job.effective_payload["customer"] == {"email": "jane.doe@example.com", "name": "Jane Doe"}
    assert row_of(window, job_id)["result"] == "Retrying…"


def test_the_edit_dialog_refuses_broken_json(qtbot, window, ids):
    dialog = EditDialog(row_of(window, ids["quarantined"][0]), window)
    qtbot.addWidget(dialog)
    dialog.editor.setPlainText('{"order_id": ')
    assert not dialog.retry_button.isEnabled() and "Not valid JSON" in dialog.message.text()
    dialog.editor.setPlainText("[1, 2]")
    assert not dialog.retry_button.isEnabled()
    dialog.editor.setPlainText(json.dumps(dialog.original))
    assert dialog.retry_button.isEnabled() and dialog.override() == {}


def test_discard_removes_it_from_the_work(window, qtbot, service, ids, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    job_id = ids["dead"][0]
    window.select(job_id)
    window.discard_button.click()
    qtbot.waitUntil(lambda: row_of(window, job_id).get("result") == "Discarded", timeout=3000)
    assert service.queue.get(job_id).state == "discarded"


def test_asked_twice_nothing_happens_without_a_yes(window, service, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    window.retry_all_button.click()
    window.discard_button.click()
    assert service.queue.counts()["pending"] == 0 and service.queue.counts()["discarded"] == 0


def test_the_list_reloads_when_errors_change_and_nothing_is_in_progress(window, qtbot, service):
    service.queue.enqueue("stock.push", "sku:AP_MBP_13:v1", {"sku": "AP_MBP_13"})
    from agent.engine.errors import Quarantine

    [job] = service.queue.claim("test")
    service.queue.fail(job, Quarantine("BNG has no item AP_MBP_13", "not_found"))
    window.bridge.refresh()
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=5000)
    assert window.model.rows[0]["kind"] == "stock.push"


def test_override_helpers():
    assert changes({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 5, "d": 3}, "e": 1}) == {"b": {"c": 5}, "e": 1}
    assert changes({"a": 1, "b": 2}, {"a": 1}) == {"b": None}
    assert set_path({"a": {"b": 1}}, "a.c.d", 2) == {"a": {"b": 1, "c": {"d": 2}}}
    assert errors_mod.parse_value("42") == 42 and errors_mod.parse_value("x@y") == "x@y"
    assert result_of({"state": "retry_wait", "reason": "timeout"}) == ("Will retry", "Failed again, will retry: "
                                                                       "timeout", "bad")
    assert result_of(None)[2] == "note"
