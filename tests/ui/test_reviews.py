"""Customers to review: the errors window's second tab, over a real service and the sandbox.

A real customers sync makes the reviews (BNG already has the people the store registered, entered
by the shop's staff); a person links, creates or ignores them, and sees the result in the row."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from agent import config as config_mod
from agent.sandbox.cli import sandbox_config
from agent.service import Service
from tests.flows.test_customers import BRENDA, JAMES, VICTORIA
from ui.bridge import Bridge
from ui.state import headline, overall_state
from ui.windows.errors import ErrorsWindow
from ui.windows.reviews import matches_text, result_of


@pytest.fixture
def reviewing(sandbox, paths, present_flows, monkeypatch):
    """A service over the sandbox after a customers sync that held three likely duplicates."""
    if "customers" not in present_flows:
        pytest.skip("the customers flow is not in this checkout yet")
    config_mod.save(sandbox_config(sandbox, retry_base_seconds=0.05, retry_max_seconds=0.5), paths.config_file)
    monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", sandbox.credentials.nop_password)
    monkeypatch.setenv("BNGSYNC_BNG_API_KEY", sandbox.credentials.bng_api_key)
    bng = sandbox.bng.state
    numbers = {"7": bng.create_customer(BRENDA)["customer_no"], "8": bng.create_customer(VICTORIA)["customer_no"],
               "6": bng.create_customer(JAMES)["customer_no"]}
    service = Service.open(paths, console=False)
    assert service.sync("customers", timeout=60)["ok"]
    service.numbers = numbers
    yield service
    service.close()


@pytest.fixture
def window(qtbot, reviewing):
    bridge = Bridge(reviewing, poll_ms=60_000)
    w = ErrorsWindow(bridge)
    w.reviews.poll_timer.setInterval(50)
    qtbot.addWidget(w)
    bridge.refresh()
    qtbot.waitUntil(lambda: bridge.last_status is not None, timeout=5000)
    w.show()
    qtbot.waitUntil(lambda: w.reviews.model.rowCount() == 3, timeout=5000)
    yield w
    bridge.close()
    bridge.runner.wait_idle(10)


def review_of(service, customer_id):
    return next(r for r in service.reviews() if r["customer_id"] == customer_id)


def test_the_status_counts_reviews_as_work_for_a_person(reviewing):
    status = reviewing.status()
    assert status["open_reviews"] == 3 and status["open_errors"] == 0
    assert overall_state(status) == "attention"
    assert headline(status)[1] == "3 possible duplicate customers wait for your decision in Errors."


def test_the_tab_shows_the_store_customer_the_bng_match_and_why(window, reviewing):
    assert window.pages.currentWidget() is window.reviews, "nothing else waits: it opens on the reviews"
    assert window.pages.tabText(1) == "Customers to review (3)"
    panel = window.reviews
    brenda = review_of(reviewing, "7")
    panel.select(brenda["id"])
    assert panel.detail_title.text() == "Store customer Brenda Lindgren"
    assert "brenda_lindgren@nopCommerce.com" in panel.detail_customer.text()
    assert "1249 Tongass Avenue" in panel.detail_customer.text()
    number = reviewing.numbers["7"]
    assert matches_text(panel.current) == f"{number} Brenda Lindgren"
    assert list(panel.link_buttons) == [number] and panel.link_buttons[number].text() == f"Link to {number}"
    evidence = panel.evidence_labels[number].text().splitlines()
    assert evidence[0] == "•  Names 100% alike (Brenda Lindgren)" and evidence[1].startswith("•  Addresses")


def test_link_create_and_ignore_answer_in_place(window, reviewing, sandbox, qtbot, monkeypatch):
    reviewing.start(schedules=False, webhooks=False)
    panel, bng = window.reviews, sandbox.bng.state
    brenda, victoria, james = (review_of(reviewing, n)["id"] for n in ("7", "8", "6"))
    number = reviewing.numbers["7"]

    panel.select(brenda)
    panel.link_buttons[number].click()
    qtbot.waitUntil(lambda: panel.row_for(brenda).get("short") == f"Linked to {number} ✓", timeout=30_000)
    assert bng.customer(number)["external_id"] == "7"
    assert panel.detail_result.text() == f"Your decision: Linked to {number} ✓"
    assert not panel.create_button.isEnabled() and not panel.link_buttons[number].isEnabled(), "decided once"

    panel.select(victoria)
    panel.create_button.click()
    qtbot.waitUntil(lambda: panel.row_for(victoria).get("short") == "Created in BNG ✓", timeout=30_000)
    assert len(bng.customers_for("8")) == 1

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.select(james)
    panel.ignore_button.click()
    qtbot.waitUntil(lambda: panel.row_for(james).get("short") == "Ignored", timeout=5000)
    assert bng.customers_for("6") == []
    assert panel.model.rowCount() == 3, "the results stay on screen"
    qtbot.waitUntil(lambda: window.pages.tabText(1) == "Customers to review", timeout=5000)
    assert panel.count_label.text() == "Nothing left to review"
    window.bridge.refresh()
    qtbot.waitUntil(lambda: window.bridge.last_status["open_reviews"] == 0, timeout=5000)
    assert panel.changed_label.isHidden(), "its own decisions are no news to the list"
    status = reviewing.status()
    assert status["open_reviews"] == 0
    assert not [a for a in status["alerts"] if a["incident"] == "review:customers"], "the alert closed"
    panel.reload()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0, timeout=5000)
    assert panel.detail_customer.text() == "No customer waits for a decision."


def test_a_decision_that_cannot_be_made_says_so(window, reviewing, qtbot):
    panel = window.reviews
    james = review_of(reviewing, "6")["id"]
    with Service.open(reviewing.paths, console=False) as elsewhere:     # the command line, meanwhile
        elsewhere.decide_review(james, "ignore")
    panel.select(james)
    panel.create_button.click()
    qtbot.waitUntil(lambda: panel.row_for(james).get("short") == "Not done", timeout=5000)
    assert panel.row_for(james)["result"] == f"Not done: review {james} is not open"
    assert panel.detail_result.text() == f"Your decision: Not done: review {james} is not open"


def test_results_in_words():
    assert result_of("link", "C1", {"state": "running"}) == ("Linking to C1…", "Linking to C1…", "busy")
    assert result_of("create", None, {"state": "quarantined", "reason": "no address"})[1] == \
        "Failed: no address (see Records that failed)"
    assert result_of("ignore", None, None)[0] == "Ignored"
