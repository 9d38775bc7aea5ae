"""The bridge: service calls off the UI thread, results and events back on it, a loop that never waits."""

from __future__ import annotations

import itertools
import threading
import time

from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QLabel

from ui.bridge import Bridge, TaskRunner


def test_results_and_failures_come_back_on_the_ui_thread(qtbot):
    runner = TaskRunner()
    ui_thread = QThread.currentThread()
    seen = {}

    def work(x):
        seen["worker"] = threading.current_thread().name
        return x * 2

    runner.run(work, 21, done=lambda r: seen.update(result=r, on_ui=QThread.currentThread() is ui_thread))
    runner.run(lambda: 1 / 0, failed=lambda exc: seen.update(error=type(exc).__name__))
    qtbot.waitUntil(lambda: runner.busy == 0, timeout=3000)
    assert seen["result"] == 42 and seen["on_ui"] and seen["worker"] != threading.main_thread().name
    assert seen["error"] == "ZeroDivisionError"


def test_a_result_for_a_closed_window_is_dropped(qtbot):
    runner = TaskRunner()
    label = QLabel()
    called = []
    runner.run(lambda: time.sleep(0.2), done=lambda _: called.append(label.text()), context=label)
    label.deleteLater()
    qtbot.waitUntil(lambda: runner.busy == 0, timeout=3000)
    assert called == []


def test_an_unhandled_failure_is_reported_in_words(qtbot):
    runner = TaskRunner()
    with qtbot.waitSignal(runner.failed, timeout=3000) as blocker:
        runner.run(lambda: (_ for _ in ()).throw(ValueError("the store did not answer")))
    assert blocker.args == ["the store did not answer"]


def test_service_events_from_worker_threads_arrive_as_signals(qtbot, service):
    bridge = Bridge(service, poll_ms=60_000)
    with qtbot.waitSignal(bridge.errors_changed, timeout=3000):
        threading.Thread(target=service._emit, args=({"type": "errors"},)).start()
    with qtbot.waitSignal(bridge.alert, timeout=3000) as blocker:
        threading.Thread(target=service._emit, args=({"type": "alert", "notification": "n"},)).start()
    assert blocker.args == ["n"]
    with qtbot.waitSignal(bridge.status, timeout=3000) as blocker:
        bridge.refresh()
    assert blocker.args[0]["queue"]["pending"] == 0
    bridge.close()
    bridge.runner.wait_idle()


def test_the_event_loop_keeps_ticking_while_a_long_service_call_runs(qtbot, service):
    """The UI never blocks: a 1.5 s service call through the bridge while a 20 ms timer ticks."""
    bridge = Bridge(service, poll_ms=60_000)

    def slow_status():
        time.sleep(1.5)
        return service.status()

    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    done = []
    started = time.monotonic()
    bridge.call(slow_status, done=done.append)
    assert time.monotonic() - started < 0.1          # the call returned at once
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 40 and max(gaps) < 0.25, f"{len(ticks)} ticks, longest gap {max(gaps):.3f}s"
    bridge.close()
    bridge.runner.wait_idle()
