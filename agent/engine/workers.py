"""Worker threads that run queued jobs through the flows' handlers.

Each worker claims a job (with a lease), calls the handler registered for its kind with a
`JobContext`, and records the outcome. A heartbeat thread renews the leases of every job the pool
is running, so a slow job (a full reconciliation) is not taken over by another worker, while the
jobs of a pool that died are reclaimed once their lease runs out.

Idle workers wait on the queue's change signal (an enqueue in this process wakes them at once)
with a short timeout, so work enqueued by another process (`bngsync sync ...` next to the tray
agent) is picked up within the poll interval.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from agent.engine.errors import Quarantine
from agent.engine.history import subject_of
from agent.engine.queue import Job, JobQueue, Step
from agent.store import Store

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], "dict[str, Any] | None"]

STEP_FLUSH_SECONDS = 2.0


def default_owner() -> str:
    """A lease owner name that tells a person which machine and process holds a job."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobContext:
    """What a handler gets: the job, its effective payload, the store, and a way to record steps.

    Steps are written together with the job's outcome (one commit for a fast job, and the trail
    never shows a step without its outcome); a long job's steps are written every few seconds so
    its progress is visible while it runs.
    """

    def __init__(self, job: Job, queue: JobQueue, pool: WorkerPool | None = None):
        self.job = job
        self.queue = queue
        self.store: Store = queue.store
        self._pool = pool
        self._steps: list[Step] = []
        self._subject: str | None = None
        self._last_flush = time.monotonic()

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def kind(self) -> str:
        return self.job.kind

    @property
    def key(self) -> str:
        return self.job.key

    @property
    def payload(self) -> Any:
        """The payload with a person's corrections (the retry override) merged over it."""
        return self.job.effective_payload

    @property
    def attempts(self) -> int:
        """This attempt's number (1 on the first run)."""
        return self.job.attempts

    @property
    def run_id(self) -> int | None:
        return self.job.run_id

    @property
    def subject(self) -> str | None:
        return self._subject

    def add_subject(self, *tokens: str) -> None:
        """Tag this job's events with more tokens (e.g. `bng-order:SO-104001` once it is known)."""
        self._subject = subject_of(self._subject, *tokens)

    def step(self, message: str, level: str = "info", subject: str | None = None, data: Any = None) -> None:
        """Record a step of this job in the history."""
        self._steps.append(Step(self.queue.clock(), level, message, subject, data))
        if time.monotonic() - self._last_flush > STEP_FLUSH_SECONDS:
            self.flush_steps()

    def flush_steps(self) -> None:
        steps, self._steps = self._steps, []
        self._last_flush = time.monotonic()
        if steps:
            with self.store.write():
                self.queue._write_steps(self.job, steps, self._subject)

    def take_steps(self) -> list[Step]:
        steps, self._steps = self._steps, []
        return steps

    def heartbeat(self) -> None:
        """Renew this job's lease now (the pool does it on its own; call it in very long loops)."""
        lease = self._pool.lease_seconds if self._pool else None
        self.queue.renew(self.job.lease_owner or "", lease)

    @property
    def stopping(self) -> bool:
        """True when the agent is shutting down: a long handler should stop at a safe point."""
        return bool(self._pool and self._pool.stopping)


class WorkerPool:
    """N worker threads over one queue. Handlers are keyed by job kind."""

    def __init__(self, queue: JobQueue, handlers: dict[str, Handler], workers: int = 4,
                 lease_seconds: float | None = None, owner: str | None = None,
                 kinds: Iterable[str] | None = None, batch: int = 1, poll_interval: float = 0.5,
                 name: str = "worker"):
        self.queue = queue
        self.handlers = dict(handlers)
        self.workers = workers
        self.lease_seconds = float(lease_seconds if lease_seconds is not None else queue.lease_seconds)
        self.owner = owner or default_owner()
        # Only these kinds are claimed (None: all; a job of a kind without handler is quarantined).
        self.kinds = sorted(kinds) if kinds is not None else None
        self.batch = max(1, batch)
        self.poll_interval = poll_interval
        self.name = name
        self._threads: list[threading.Thread] = []
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[int, JobContext] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def running_jobs(self) -> list[Job]:
        with self._lock:
            return [ctx.job for ctx in self._running.values()]

    def start(self) -> WorkerPool:
        if self.alive:
            return self
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, args=(f"{self.owner}/{i + 1}",),
                                          name=f"{self.name}-{i + 1}", daemon=True) for i in range(self.workers)]
        for thread in self._threads:
            thread.start()
        self._heartbeat = threading.Thread(target=self._beat, name=f"{self.name}-heartbeat", daemon=True)
        self._heartbeat.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming, let running jobs finish (up to `timeout`), give claimed-but-unstarted jobs
        back. Returns False if a job was still running at the timeout: it goes on (its lease renewed)
        until it ends; should the process exit first, the lease expires and the job is taken back.
        """
        self._stop.set()
        self.queue._signal()
        deadline = time.monotonic() + timeout
        for thread in [*self._threads, self._heartbeat]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        stopped = not self.alive
        if stopped:
            self._threads = []
            self._heartbeat = None
        return stopped

    def pause(self) -> None:
        """Stop taking new jobs (running ones finish). Enqueuing goes on."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self.queue._signal()

    # -- waiting -------------------------------------------------------------------------------
    def wait_idle(self, timeout: float, kinds: Iterable[str] | None = None, keys: Iterable[str] | None = None,
                  include_retries: bool = False) -> bool:
        """Wait until no matching job is pending or running; True if that happened in time.

        Jobs waiting to retry later count as settled unless `include_retries` (a CLI run reports
        them rather than waiting out a backoff of minutes). Waits on the queue's change signal; the
        short timeout covers changes made by another process.
        """
        kinds = list(kinds) if kinds is not None else None
        keys = list(keys) if keys is not None else None
        states = ("pending", "running", "retry_wait") if include_retries else ("pending", "running")
        deadline = time.monotonic() + timeout
        while True:
            version = self.queue.version
            if self.queue.active_count(kinds, keys, states) == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.queue.wait_for_change(min(remaining, 0.1), since=version)

    # -- running jobs --------------------------------------------------------------------------
    def process_once(self, limit: int = 1, kinds: Iterable[str] | None = None) -> int:
        """Claim up to `limit` due jobs and run them in the calling thread (tests, `--once`)."""
        chosen = list(kinds) if kinds is not None else self.kinds
        jobs = self.queue.claim(f"{self.owner}/0", limit, chosen, self.lease_seconds)
        for job in jobs:
            self._run(job)
        return len(jobs)

    def _work(self, owner: str) -> None:
        # Each thread claims under its own name, so a job one thread lost can never be completed
        # by it after another thread of the same pool took it over; the heartbeat renews them all.
        try:
            while True:
                version = self.queue.version      # before looking: no wake-up is lost in between
                if self._stop.is_set():
                    break
                if self._paused.is_set():
                    self.queue.wait_for_change(self.poll_interval, since=version)
                    continue
                try:
                    jobs = self.queue.claim(owner, self.batch, self.kinds, self.lease_seconds)
                except Exception:
                    log.exception("claiming jobs failed; trying again shortly")
                    self._stop.wait(self.poll_interval)
                    continue
                if not jobs:
                    self._idle_wait(version)
                    continue
                for index, job in enumerate(jobs):
                    if self._stop.is_set() or self._paused.is_set():
                        for rest in jobs[index:]:
                            self._release(rest)
                        break
                    self._run(job)
        finally:
            self._close_connection()

    def _idle_wait(self, version: int) -> None:
        timeout = self.poll_interval
        try:
            due = self.queue.next_due()
        except Exception:
            due = None
        if due is not None:
            timeout = min(timeout, max(0.005, due - self.queue.clock()))
        self.queue.wait_for_change(timeout, since=version)

    def _release(self, job: Job) -> None:
        try:
            self.queue.release(job)
        except Exception:
            log.exception("could not give job %s back; it is taken back when its lease expires", job.id)

    def _run(self, job: Job) -> str | None:
        ctx = JobContext(job, self.queue, self)
        with self._lock:
            self._running[job.id] = ctx
        try:
            handler = self.handlers.get(job.kind)
            try:
                if handler is None:
                    raise Quarantine(f"this agent has no handler for '{job.kind}' work (queued by another "
                                     "version of bngsync?); discard it, or retry it after updating")
                result = handler(ctx)
            except Exception as exc:
                if not isinstance(exc, Quarantine):
                    log.warning("%s for %s failed: %s", job.kind, job.key, exc, exc_info=log.isEnabledFor(10))
                return self.queue.fail(job, exc, steps=ctx.take_steps(), subject=ctx.subject)
            except BaseException:
                self._release(job)
                raise
            return self.queue.complete(job, result, steps=ctx.take_steps(), subject=ctx.subject)
        except Exception:
            log.exception("recording the outcome of job %s failed; it is retried when its lease expires", job.id)
            return None
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _beat(self) -> None:
        interval = max(0.05, self.lease_seconds / 3)
        try:
            while not self._stop.wait(interval):
                with self._lock:
                    busy = bool(self._running)
                if busy:
                    try:
                        self.queue.renew(self.owner, self.lease_seconds)
                    except Exception:
                        log.exception("renewing job leases failed")
            # Workers still finishing after stop keep their leases until they are done.
            while True:
                alive = [t for t in self._threads if t.is_alive()]
                if not alive:
                    break
                try:
                    self.queue.renew(self.owner, self.lease_seconds)
                except Exception:
                    log.exception("renewing job leases failed")
                alive[0].join(interval)
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        """Close this thread's SQLite connection (peewee keeps one per thread)."""
        try:
            self.queue.store.db.close()
        except Exception:
            pass
