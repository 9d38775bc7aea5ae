"""One running agent: the clients, the queue and its workers, the triggers and the alerts.

Everything a trigger does is enqueue a *poll job* for a flow; the poll job reads what changed and
enqueues one job per record, in the same transaction that moves its cursor. A run (the history's
unit: "orders, triggered by the schedule at 10:02") is the poll job plus the jobs it produced; it
ends when all of them have settled, and its outcome is counted from their states, so a run that
synced 9 of 10 orders says "partial", never a false "ok".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from agent.config import Settings
from agent.engine import Alerts, History, JobQueue, WorkerPool, XRef
from agent.engine.queue import EnqueueResult
from agent.flows import Flow, FlowContext, load_flows, webhook_jobs
from agent.store import Store

log = logging.getLogger(__name__)

SYNC_ORDER = ("products", "inventory", "customers", "orders", "shipments")
SETTLED = ("succeeded", "dead", "quarantined", "discarded")
RECONCILE = "reconcile"     # what the scheduler names the nightly reconciliation (engine.schedules.RECONCILE)


class Runtime:
    """Wires the engine to the flows. `start()` runs it in background threads; `stop()` ends it."""

    def __init__(self, settings: Settings, store: Store, *, nop: Any = None, bng: Any = None,
                 clock: Callable[[], float] = time.time, owner: str | None = None, webhook_secret: str | None = None):
        from agent.connectors.bng import BngClient
        from agent.connectors.nopcommerce import NopCommerceClient

        self.settings = settings
        self.store = store
        self.clock = clock
        self.nop = nop or NopCommerceClient.from_settings(settings.nopcommerce, settings.agent)
        self.bng = bng or BngClient.from_settings(settings.bng, settings.agent)
        self.queue = JobQueue.from_settings(store, settings.agent, clock=clock)
        self.history = History(store, clock=clock)
        self.alerts = Alerts(store, settings.alerts, clock=clock)
        self.alerts.watch(self.queue)
        self.xref = XRef(store)
        for client in (self.nop, self.bng):
            breaker = getattr(client, "breaker", None)
            if breaker is not None and hasattr(breaker, "add_listener"):
                breaker.add_listener(self._breaker_changed)
        self.context = FlowContext(settings=settings, store=store, nop=self.nop, bng=self.bng, queue=self.queue,
                                   history=self.history, xref=self.xref, alerts=self.alerts, clock=clock)
        self.flows: dict[str, Flow] = {flow.name: flow for flow in load_flows()}
        handlers: dict[str, Callable] = {}
        for flow in self.flows.values():
            for kind, handler in flow.handlers.items():
                handlers[kind] = _bind(handler, self.context)
        self.pool = WorkerPool(self.queue, handlers, workers=settings.agent.workers,
                               lease_seconds=settings.agent.lease_seconds, owner=owner)
        self.scheduler = None
        self.receiver = None
        self._webhook_secret = webhook_secret
        self._housekeeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._trigger_lock = threading.Lock()
        if settings.agent.paused:
            self.pool.pause()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, schedules: bool = True, webhooks: bool = True) -> Runtime:
        self._stop.clear()
        self.alerts.start()
        self.pool.start()
        if schedules:
            from agent.engine.schedules import Scheduler

            self.scheduler = Scheduler(self.settings.schedules, self.trigger,
                                       on_next_run=lambda flow, at: self.history.set_next_run(
                                           flow, at.timestamp() if at else None))
            self.scheduler.start()
        if webhooks and self.settings.webhooks.enabled:
            from agent.engine.webhooks import WebhookReceiver

            self.receiver = WebhookReceiver.from_settings(self.settings.webhooks, secret=self._webhook_secret,
                                                          queue=self.queue, mapping=webhook_jobs)
            self.receiver.start()
        self._housekeeper = threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True)
        self._housekeeper.start()
        log.info("agent started: %d workers, flows %s", self.settings.agent.workers, ", ".join(self.flows))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        self.pool.stop(timeout)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
            self._housekeeper = None
        self.finish_runs()
        self.alerts.stop()
        for client in (self.nop, self.bng):
            close = getattr(client, "close", None)
            if close:
                close()
        log.info("agent stopped")

    def pause(self) -> None:
        self.pool.pause()
        if self.scheduler is not None:
            self.scheduler.pause()

    def resume(self) -> None:
        self.pool.resume()
        if self.scheduler is not None:
            self.scheduler.resume()

    @property
    def paused(self) -> bool:
        return self.pool.paused

    # -- triggers ------------------------------------------------------------------------------
    def trigger(self, flow: str, trigger: str = "schedule", full: bool = False) -> int:
        """Start a run of `flow`: enqueue its poll job. Returns the run id.

        A poll already waiting for the same flow absorbs the trigger (its run is returned), so a
        burst of triggers is one poll, not many.
        """
        if flow == RECONCILE and flow not in self.flows:
            # The scheduler's nightly reconciliation: every flow re-reads everything (full=True).
            run_ids = [self.trigger(name, trigger, full=True) for name in SYNC_ORDER if name in self.flows]
            return run_ids[0]
        if flow not in self.flows:
            raise ValueError(f"unknown flow {flow!r}; known: {', '.join(self.flows)}")
        spec = self.flows[flow]
        with self._trigger_lock:
            waiting = self.queue.find(kind=spec.poll_kind, states=("pending",))
            if waiting and waiting[0].run_id and not full:
                return waiting[0].run_id
            run_id = self.history.start_run(flow, trigger)
            result: EnqueueResult = self.queue.enqueue(
                spec.poll_kind, f"poll:{flow}:{run_id}", {"trigger": trigger, "full": full}, run_id=run_id,
                priority=10)
        log.debug("%s run %d triggered by %s (job %d)", flow, run_id, trigger, result.job_id)
        return run_id

    def sync(self, flows: str | Iterable[str], timeout: float = 600.0, trigger: str = "manual",
             full: bool = False) -> dict[str, Any]:
        """Run flows now, one after the other, and wait until each run's work has settled."""
        names = list(SYNC_ORDER) if flows == "all" else [flows] if isinstance(flows, str) else list(flows)
        deadline = time.monotonic() + timeout
        report: dict[str, Any] = {"ok": True, "flows": {}, "message": "", "notes": {}}
        for name in names:
            run_id = self.trigger(name, trigger, full=full)
            settled = self.wait_run(run_id, max(0.0, deadline - time.monotonic()))
            counts = self.run_counts(run_id)
            report["flows"][name] = counts
            note = self.poll_message(run_id)
            if note:
                report["notes"][name] = note
            if not settled:
                report["ok"] = False
                report["message"] = f"{name}: work still pending after {timeout:.0f}s (it goes on in the background)"
                break
            if counts["failed"]:
                report["ok"] = False
                report["message"] = (f"{counts['failed']} record(s) could not be synced: "
                                     "see `bngsync errors list`")
        self.finish_runs()
        return report

    def poll_message(self, run_id: int) -> str:
        """What the run's poll said in a sentence (e.g. the drift a reconciliation found), or ""."""
        row = self.store.query("SELECT result FROM job WHERE run_id = ? AND kind LIKE '%.poll' ORDER BY id DESC "
                               "LIMIT 1", (run_id,))
        try:
            result = json.loads(row[0]["result"]) if row and row[0]["result"] else {}
        except ValueError:
            return ""
        return str(result.get("message") or "") if isinstance(result, dict) else ""

    def wait_run(self, run_id: int, timeout: float) -> bool:
        """Wait until every job of the run is settled (retry_wait counts as not settled)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._active_in_run(run_id):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.queue.wait_for_change(min(remaining, 0.2))

    def _active_in_run(self, run_id: int) -> int:
        return self.store.scalar(
            "SELECT count(*) FROM job WHERE run_id = ? AND state IN ('pending', 'running', 'retry_wait')",
            (run_id,)) or 0

    def run_counts(self, run_id: int) -> dict[str, int]:
        rows = self.store.query("SELECT state, count(*) AS n FROM job WHERE run_id = ? AND kind NOT LIKE '%.poll' "
                                "GROUP BY state", (run_id,))
        by_state = {r["state"]: r["n"] for r in rows}
        return {"enqueued": sum(by_state.values()), "succeeded": by_state.get("succeeded", 0),
                "failed": by_state.get("dead", 0) + by_state.get("quarantined", 0),
                "pending": sum(by_state.get(s, 0) for s in ("pending", "running", "retry_wait")),
                "discarded": by_state.get("discarded", 0)}

    def finish_runs(self) -> int:
        """Close every open run whose jobs have all settled; returns how many were closed."""
        closed = 0
        # Under the trigger lock: a run is recorded a moment before its poll job is queued, and must
        # not be taken for a finished run with nothing to do in between.
        with self._trigger_lock:
            idle = [run for run in self.store.query("SELECT id, flow FROM run WHERE outcome = 'running'")
                    if not self._active_in_run(run["id"])]
        for run in idle:
            poll = self.store.query("SELECT state, last_error, result FROM job WHERE run_id = ? AND kind LIKE '%.poll'",
                                    (run["id"],))
            counts = self.run_counts(run["id"])
            poll_failed = bool(poll) and poll[0]["state"] != "succeeded"
            if poll_failed:
                outcome, message = "failed", poll[0]["last_error"] or "the poll did not finish"
            elif counts["failed"]:
                outcome = "partial" if counts["succeeded"] else "failed"
                message = f"{counts['failed']} of {counts['enqueued']} record(s) need attention"
            else:
                outcome, message = "ok", None
                result = json.loads(poll[0]["result"]) if poll and poll[0]["result"] else None
                if isinstance(result, dict) and result.get("message"):
                    message = result["message"]
            self.history.finish_run(run["id"], outcome, counts, message)  # also updates the flow's health
            closed += 1
        return closed

    # -- background housekeeping -------------------------------------------------------------
    def _housekeeping(self) -> None:
        last_prune = 0.0
        while not self._stop.wait(1.0):
            try:
                self.finish_runs()
                self.alerts.check_stale_flows()
                if time.monotonic() - last_prune > 3600:
                    self.history.prune(self.settings.history.retention_days)
                    last_prune = time.monotonic()
            except Exception:  # housekeeping must never take the agent down
                log.exception("housekeeping failed")

    def _breaker_changed(self, system: str, old: Any, new: Any, snapshot: Any = None) -> None:
        """Persist a breaker's state (so `bngsync status` in another process sees it) and alert."""
        def stamp(value: Any) -> float | None:
            return value.timestamp() if hasattr(value, "timestamp") else value

        with self.store.write():
            self.store.execute(
                "INSERT INTO breaker (system, state, failures, opened_at, next_probe_at, updated_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(system) DO UPDATE SET state = ?2, failures = ?3, "
                "opened_at = ?4, next_probe_at = ?5, updated_at = ?6",
                (system, str(getattr(new, "value", new)), int(getattr(snapshot, "failures", 0) or 0),
                 stamp(getattr(snapshot, "opened_at", None)), stamp(getattr(snapshot, "next_probe_at", None)),
                 time.time()))
        self.alerts.breaker_listener(system, old, new, snapshot)


def _bind(handler: Callable, context: FlowContext) -> Callable:
    def run(job_context: Any) -> Any:
        return handler(context, job_context)

    run.__name__ = getattr(handler, "__name__", "handler")
    return run

