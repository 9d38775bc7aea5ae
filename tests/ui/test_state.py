"""Reading the status: one tray state for many facts, and a tooltip that fits."""

from __future__ import annotations

import time

import pytest

from ui.state import headline, overall_state, tooltip


def status(**changes):
    now = time.time()
    base = {"running": True, "paused": False, "queue": {"pending": 0, "running": 0, "retry_wait": 0},
            "breakers": [{"system": "bng", "state": "closed"}, {"system": "nopcommerce", "state": "closed"}],
            "flows": [{"flow": f, "state": "ok", "last_success_at": now - 60, "runs_today": {"ok": 3}}
                      for f in ("orders", "shipments", "inventory", "products", "customers")],
            "open_errors": 0, "orders_synced_today": 12, "alerts": []}
    base.update(changes)
    return base


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, "ok"),
    ({"queue": {"pending": 2, "running": 1}}, "syncing"),
    ({"open_errors": 3}, "attention"),
    ({"open_errors": 3, "queue": {"pending": 2, "running": 1}}, "attention"),   # work to do beats busy
    ({"breakers": [{"system": "bng", "state": "open"}], "open_errors": 3}, "error"),  # nothing flows: first
    ({"flows": [{"flow": "orders", "state": "failing"}]}, "error"),
    ({"paused": True, "breakers": [{"system": "bng", "state": "open"}]}, "paused"),  # a person chose it
])
def test_one_state_wins(changes, expected):
    assert overall_state(status(**changes)) == expected


def test_a_problem_starting_the_agent_is_an_error():
    assert overall_state(None, "no password") == "error"
    assert headline(None, "no password") == ("The agent is not running", "no password")


def test_headlines_say_what_to_do():
    title, sentence = headline(status(breakers=[{"system": "bng", "state": "open"}]))
    assert title == "Connection problem" and "BNG cannot be reached" in sentence
    title, sentence = headline(status(open_errors=1))
    assert title == "Needs attention" and "1 record could not be synced and waits" in sentence


def test_tooltip_names_each_flow_and_today_and_fits_windows():
    text = tooltip(status(open_errors=2, flows=[
        {"flow": "orders", "state": "failing", "last_success_at": None},
        {"flow": "shipments", "state": "ok", "last_success_at": time.time() - 3600 * 24 * 3},
        {"flow": "inventory", "state": "ok", "last_success_at": time.time()},
        {"flow": "products", "state": "never run", "last_success_at": None},
        {"flow": "customers", "state": "ok", "last_success_at": time.time()}]))
    lines = text.splitlines()
    assert lines[0] == "bngsync: a sync is failing"
    assert "Orders failing" in lines[1] and "Products —" in lines[2] and "Stock" in lines[2]
    assert lines[-1] == "Today: 12 orders, 2 to fix"
    assert len(text) <= 127  # Windows cuts tray tooltips at 127 characters
