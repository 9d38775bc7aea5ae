"""End to end: the app against the sandbox with the real runtime, while the UI stays responsive."""

from __future__ import annotations

import itertools
import os
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from agent import config as config_mod
from agent.sandbox.cli import apply_faults, sandbox_config
from agent.service import Service
from ui.controller import AppController


@pytest.fixture
def live(qtbot, sandbox, paths, present_flows, monkeypatch):
    """The sandbox with added latency, a service configured for it, and the app controller."""
    if "orders" not in present_flows:
        pytest.skip("the orders flow is not in this checkout yet")
    settings = sandbox_config(sandbox, workers=4, retry_base_seconds=0.05, retry_max_seconds=0.5,
                              breaker_failures=50)
    schedules = settings.schedules.model_copy(update={f"{f}_minutes": 0 for f in
                                                      ("orders", "shipments", "inventory", "products", "customers")})
    settings = settings.model_copy(update={"schedules": schedules})
    config_mod.save(settings, paths.config_file)
    monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", sandbox.credentials.nop_password)
    monkeypatch.setenv("BNGSYNC_BNG_API_KEY", sandbox.credentials.bng_api_key)
    apply_faults(sandbox, latency_ms=60)           # every API call waits: a slow store and a slow BNG
    service = Service.open(paths, console=False)
    quits = []
    monkeypatch.setattr(QApplication, "quit", lambda *a: quits.append(True))
    controller = AppController(service, tray=True, start_agent=True)
    qtbot.waitUntil(lambda: service.running, timeout=20_000)
    yield controller
    controller.quit()
    qtbot.waitUntil(lambda: bool(quits), timeout=60_000)
    for window in controller.windows.values():
        window.close()
    service.close()


def test_sync_now_from_the_tray_while_the_ui_keeps_ticking(qtbot, live, sandbox):
    placed = [sandbox.nop.shoppers.place_order()["id"] for _ in range(4)]
    dashboard = live.show("dashboard")
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    started = time.monotonic()
    live.handle("sync:orders")                      # the tray menu's Sync now › Orders
    qtbot.waitUntil(lambda: all(sandbox.bng.state.count_orders(str(o)) for o in placed), timeout=120_000)
    took = time.monotonic() - started
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # the sync took seconds of slow network calls; the event loop never stopped for long
    assert took > 0.5 and max(gaps) < 0.3, f"sync {took:.1f}s, {len(ticks)} ticks, longest gap {max(gaps):.3f}s"
    live.bridge.refresh()
    qtbot.waitUntil(lambda: (live.bridge.last_status or {}).get("orders_synced_today", 0) >= len(placed),
                    timeout=30_000)
    qtbot.waitUntil(lambda: "orders synced today" in dashboard.subtitle.text()
                    and not dashboard.subtitle.text().startswith("Syncing"), timeout=10_000)
    history = live.show("history")
    qtbot.waitUntil(lambda: any(r["flow"] == "orders" for r in history.runs.rows), timeout=10_000)
    history.search.setText(str(placed[0]))
    history.find()
    qtbot.waitUntil(lambda: history.steps.rowCount() > 0, timeout=10_000)
    assert any("succeeded" in r["message"] for r in history.steps.rows)
    assert os.environ.get("QT_QPA_PLATFORM") == "offscreen" or live.tray is not None


def test_a_record_that_fails_shows_in_errors_and_a_retry_answers_in_place(qtbot, live, sandbox, monkeypatch):
    bad = sandbox.nop.shoppers.place_order(anomalies=["invalid_email"], guest=True)["id"]
    live.handle("sync:orders")
    qtbot.waitUntil(lambda: (live.bridge.last_status or {}).get("open_errors", 0) >= 1
                    or bool(live.bridge.refresh()), timeout=60_000)
    errors = live.show("errors")
    qtbot.waitUntil(lambda: any(str(bad) in r["key"] for r in errors.model.rows), timeout=10_000)
    row = next(r for r in errors.model.rows if str(bad) in r["key"])
    errors.select(row["id"])
    assert errors.detail_reason.text() and errors.detail_title.text().startswith(f"Order {bad}")
    errors.retry_button.click()                    # nothing was fixed: it fails again, and says so in the row
    qtbot.waitUntil(lambda: errors.row_for(row["id"]).get("tone") == "bad", timeout=60_000)
    assert errors.row_for(row["id"])["result"].startswith("Failed again")
