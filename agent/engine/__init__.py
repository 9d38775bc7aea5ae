"""The sync engine: durable queue, workers, history, alerts, webhooks, schedules (no Qt here).

The core (queue, workers, errors, xref, cursors, history) is imported eagerly; the parts that pull
in SMTP/HTTP clients, an HTTP server or APScheduler load on first use.
"""

from __future__ import annotations

from typing import Any

from agent.engine.cursors import Cursors, commit_batch
from agent.engine.errors import JobError, Quarantine, Retry, classify
from agent.engine.history import History
from agent.engine.queue import EnqueueResult, Job, JobFailure, JobQueue, JobSpec
from agent.engine.workers import JobContext, WorkerPool
from agent.engine.xref import XRef, XRefConflict, create_once

_LAZY = {
    "Alerts": "agent.engine.alerts",
    "Notification": "agent.engine.alerts",
    "WebhookReceiver": "agent.engine.webhooks",
    "Scheduler": "agent.engine.schedules",
    "next_fire_times": "agent.engine.schedules",
}

__all__ = ["Alerts", "Cursors", "EnqueueResult", "History", "Job", "JobContext", "JobError", "JobFailure",
           "JobQueue", "JobSpec", "Notification", "Quarantine", "Retry", "Scheduler", "WebhookReceiver",
           "WorkerPool", "XRef", "XRefConflict", "classify", "commit_batch", "create_once", "next_fire_times"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agent.engine' has no attribute {name!r}")
