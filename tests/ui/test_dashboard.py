"""Dashboard: flows, queue, connections and the 30-day chart, from a real store."""

from __future__ import annotations

import time

from PySide6.QtGui import QColor

from agent import config as config_mod
from ui.windows.dashboard import DashboardWindow, nice_ceiling


def open_dashboard(qtbot, bridge) -> DashboardWindow:
    window = DashboardWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.status is not None, timeout=5000)
    return window


def test_shows_each_flow_the_queue_and_the_chart(qtbot, seeded, bridge):
    window = open_dashboard(qtbot, bridge)
    assert window.title.text() == "Needs attention"
    assert "4 records could not be synced" in window.subtitle.text()
    assert window.queue_labels["errors"].text() == "4" and window.errors_button.text() == "Open errors (4)"
    orders = window.cards["orders"]
    assert orders.pill.text() == "Working" and orders.values["last_success"].text() != "never"
    assert window.cards["customers"].pill.text() == "Not run yet"
    assert window.connection_labels["bng"].text() == "Not checked yet"
    qtbot.waitUntil(lambda: len(window.chart.days) == 30, timeout=5000)
    assert sum(d["synced"] for d in window.chart.days) == 42 and window.chart.days[-1]["failed"] == 4
    image = window.chart.grab().toImage()
    green = sum(1 for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
                if image.pixelColor(x, y) == QColor("#2e7d32"))
    assert green > 50   # the bars are drawn


def test_an_empty_store_explains_the_empty_chart(qtbot, service, bridge):
    window = open_dashboard(qtbot, bridge)
    assert window.title.text() == "Up to date"
    qtbot.waitUntil(lambda: len(window.chart.days) == 30, timeout=5000)
    assert "Nothing synced in the last 30 days" in window.chart.toolTip() or not any(
        d["synced"] for d in window.chart.days)


def test_an_open_breaker_is_a_connection_problem(qtbot, service, bridge):
    with service.store.write():
        service.store.execute("INSERT INTO breaker (system, state, failures, next_probe_at, updated_at) "
                              "VALUES ('bng', 'open', 5, ?, ?)", (time.time() + 60, time.time()))
    window = open_dashboard(qtbot, bridge)
    assert window.title.text() == "Connection problem"
    assert window.connection_labels["bng"].text().startswith("Unreachable — next try at")
    assert window.connection_labels["nopcommerce"].text() == "Not checked yet"


def test_sync_now_per_flow_and_for_all(qtbot, service, bridge, monkeypatch):
    calls = []
    monkeypatch.setattr(service, "sync_later", calls.append)
    window = open_dashboard(qtbot, bridge)
    window.cards["shipments"].button.click()
    window.sync_button.click()
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=3000)
    assert sorted(calls) == ["all", "shipments"]


def test_pause_and_resume_write_the_setting(qtbot, service, bridge, paths):
    window = open_dashboard(qtbot, bridge)
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.pause_button.text() == "Resume", timeout=3000)
    assert config_mod.load(paths.config_file).agent.paused
    assert window.title.text() == "Paused" and not window.cards["orders"].button.isEnabled()
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.pause_button.text() == "Pause", timeout=3000)
    assert not config_mod.load(paths.config_file).agent.paused


def test_a_problem_and_no_tray_are_said_plainly(qtbot, service, bridge):
    window = open_dashboard(qtbot, bridge)
    window.set_no_tray(True)
    assert "no system tray" in window.note.label.text()
    window.set_problem("The agent could not start: the BNG API key is not set.")
    assert window.title.text() == "The agent is not running"
    assert window.banner.isVisible() and "API key" in window.banner.label.text()
    with qtbot.waitSignal(window.navigate) as blocker:
        window.banner.button.click()
    assert blocker.args == ["settings"]


def test_axis_bounds_are_round():
    assert [nice_ceiling(v) for v in (1, 3, 7, 23, 140, 999)] == [2, 4, 8, 30, 200, 1000]
