"""Between the service (threads, blocking calls) and Qt (one UI thread that must never wait).

Two rules keep the app responsive and safe:

* Every service call that can take time — a sync, a connection test, a retry and its wait, even a
  status query while another process holds the database — runs on a `TaskRunner` thread pool.
  Its result comes back as a queued signal, so callbacks run on the UI thread and may touch widgets.
* The service's events (alerts, state changes) arrive on worker threads. `Bridge` re-emits them
  as Qt signals; Qt queues them to the UI thread. No widget is ever touched from another thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class TaskRunner(QObject):
    """Runs blocking calls on a thread pool and delivers their results on the UI thread.

    `context` ties a call to a widget: if the widget is gone by the time the result arrives (its
    window was closed), the callback is skipped instead of touching a deleted object.
    """

    _finished = Signal(int, object, object)
    failed = Signal(str)  # a call without its own error handler failed: the message for a person

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Done | None, Failed | None, QObject | None]] = {}
        self._lock = threading.Lock()
        self._finished.connect(self._deliver)

    def run(self, fn: Callable[..., Any], *args: Any, done: Done | None = None, failed: Failed | None = None,
            context: QObject | None = None, **kwargs: Any) -> int:
        """Call `fn(*args, **kwargs)` on a pool thread; returns an id for the call."""
        call_id = next(self._ids)
        with self._lock:
            self._pending[call_id] = (done, failed, context)
        self.pool.start(lambda: self._execute(call_id, fn, args, kwargs))
        return call_id

    def _execute(self, call_id: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            result, error = fn(*args, **kwargs), None
        except BaseException as exc:  # delivered to the caller, who decides what a person sees
            result, error = None, exc
            log.debug("background call %s failed:\n%s", getattr(fn, "__name__", fn),
                      "".join(traceback.format_exception(exc)))
        try:
            self._finished.emit(call_id, result, error)
        except RuntimeError:
            pass  # the runner was deleted while this ran (the app is closing): nobody waits for the result

    def _deliver(self, call_id: int, result: Any, error: BaseException | None) -> None:
        with self._lock:
            done, failed, context = self._pending.pop(call_id, (None, None, None))
        if context is not None and not shiboken6.isValid(context):
            return
        if error is None:
            if done is not None:
                done(result)
        elif failed is not None:
            failed(error)
        else:
            log.warning("a background task failed: %s", error)
            self.failed.emit(describe(error))

    @property
    def busy(self) -> int:
        """Calls started whose result has not been delivered yet."""
        with self._lock:
            return len(self._pending)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every call finished (shutdown and tests only: it processes events while waiting)."""
        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                return False
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return True


class ImmediateRunner:
    """Runs calls at once on the calling thread: for models and tests that need no pool."""

    def run(self, fn: Callable[..., Any], *args: Any, done: Done | None = None, failed: Failed | None = None,
            context: QObject | None = None, **kwargs: Any) -> int:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if failed is None:
                raise
            failed(exc)
        else:
            if done is not None:
                done(result)
        return 0


def describe(error: BaseException) -> str:
    """A sentence for a person: the agent's own errors already are one; others get their type."""
    text = str(error).strip()
    if type(error).__module__.startswith("agent") or isinstance(error, OSError | ValueError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Bridge(QObject):
    """The service as Qt sees it: signals for its events, a runner for its calls, a status feed.

    `status` is re-read on a timer (the CLI or the agent's own threads change the store behind the
    app's back) and right after any event that changes it, never more than once at a time.
    """

    alert = Signal(object)           # an alerts Notification: tray balloon, banner
    state_changed = Signal(dict)     # {"running": bool} or {"paused": bool}
    sync_finished = Signal(str, dict)
    errors_changed = Signal()
    reviews_changed = Signal()       # a person decided about a possible duplicate customer
    settings_changed = Signal()
    status = Signal(dict)            # the latest Service.status()
    problem = Signal(str)            # something the app tried in the background failed
    _event = Signal(object)

    def __init__(self, service: Any, runner: TaskRunner | None = None, parent: QObject | None = None,
                 poll_ms: int = 3000):
        super().__init__(parent)
        self.service = service
        self.runner = runner or TaskRunner(self)
        self.runner.failed.connect(self.problem)
        self.last_status: dict[str, Any] | None = None
        self._refreshing = False
        self._again = False
        self._event.connect(self._dispatch)
        self._unsubscribe = service.subscribe(self._event.emit)  # called from any thread
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def close(self) -> None:
        self.timer.stop()
        self._unsubscribe()

    # -- calls ---------------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, done: Done | None = None, failed: Failed | None = None,
             context: QObject | None = None, **kwargs: Any) -> int:
        """Run a (service) call off the UI thread; `done`/`failed` run on the UI thread."""
        return self.runner.run(fn, *args, done=done, failed=failed, context=context, **kwargs)

    def refresh(self) -> None:
        """Re-read the status in the background (coalesced: one query at a time, one queued after it)."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        self.runner.run(self.service.status, done=self._got_status, failed=self._status_failed)

    def _got_status(self, status: dict[str, Any]) -> None:
        self._refreshing = False
        self.last_status = status
        self.status.emit(status)
        if self._again:
            self._again = False
            self.refresh()

    def _status_failed(self, error: BaseException) -> None:
        self._refreshing = False
        log.warning("could not read the agent's status: %s", error)

    # -- service events ------------------------------------------------------------------------
    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "alert":
            self.alert.emit(event.get("notification"))
        elif kind == "state":
            self.state_changed.emit({k: v for k, v in event.items() if k != "type"})
        elif kind == "sync":
            self.sync_finished.emit(str(event.get("flow", "")), dict(event.get("result") or {}))
        elif kind == "errors":
            self.errors_changed.emit()
        elif kind == "reviews":
            self.reviews_changed.emit()
        elif kind == "settings":
            self.settings_changed.emit()
        self.refresh()
