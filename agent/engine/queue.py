"""The durable work queue: every change to sync is a job in SQLite until it has succeeded.

A job is one unit of work of a `kind` (``order.create``, ``shipment.push``...) on one record,
named by its dedupe key (``nop-order:1234``). States::

    pending ──claim──▶ running ──complete──▶ succeeded
       ▲                 │  └──fail (retryable)──▶ retry_wait ──due──▶ pending
       │                 ├──fail (data problem)──▶ quarantined ┐
       │                 └──fail (attempts used up)──▶ dead     ├──retry──▶ pending
       └────────── lease expired (worker died) ◀────────────────┘  discard──▶ discarded

Why it behaves as it does:

* **One job per record and kind.** Enqueuing a key that is already pending, running or waiting
  to retry *coalesces*: the payload becomes the newest, no second job appears. So a webhook and a
  poll that see the same order produce one execution. If the job is running when newer data
  arrives, it runs once more with that data after it finishes (the payload it ran with is
  compared on completion), so an update is never lost.
* **After success, the same key is a duplicate**: no second job, a warning in the history (at most
  one an hour per job, so re-reading open orders cannot flood it). A flow that pushes repeated
  changes of one record (stock levels) puts a version into the key.
* **After dead or quarantined, the same key coalesces into that record**: it stays in the error
  list, where a person sees it, and its payload becomes the newest, so Retry uses the current
  data. Re-arming it automatically would make every poll retry a record that is known to fail.
* **A later success of the same record auto-resolves its earlier errors**: older dead or
  quarantined jobs with the same dedupe key (of any kind, e.g. a reconciliation that created
  the order) are discarded as resolved, with a note.
* **Claiming is one `UPDATE ... RETURNING` inside `BEGIN IMMEDIATE`**, so two workers or two
  processes can never take the same job. A claim carries a lease; a job whose worker died is
  reclaimed once the lease expires, with the attempt counted (a job that keeps killing its
  worker ends up dead instead of looping). Workers renew leases while a job runs.
* **Hot paths are fixed SQL strings** run through `execute_sql`: building queries costs more than
  SQLite itself at thousands of jobs per second.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import peewee

from agent.engine.errors import JobError, classify
from agent.engine.history import dump, in_transaction, subject_of, write_event
from agent.store import Store

log = logging.getLogger(__name__)

STATES = ("pending", "running", "succeeded", "retry_wait", "dead", "quarantined", "discarded")
ACTIVE_STATES = ("pending", "running", "retry_wait")
ERROR_STATES = ("dead", "quarantined")

_COLUMNS = ("id, kind, dedupe_key, payload, override, state, priority, attempts, due_at, lease_until, "
            "lease_owner, last_error, error_class, result, run_id, created_at, updated_at, finished_at")

# -- fixed SQL of the hot paths ------------------------------------------------------------------
_LATEST = "SELECT id, state, payload FROM job WHERE dedupe_key = ? AND kind = ? ORDER BY id DESC LIMIT 1"
_INSERT = ("INSERT INTO job (kind, dedupe_key, payload, state, priority, attempts, due_at, run_id, "
           "created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?)")
_COALESCE_ACTIVE = ("UPDATE job SET payload = ?1, priority = MIN(priority, ?2), run_id = COALESCE(?3, run_id), "
                    "due_at = CASE WHEN state = 'pending' THEN MIN(due_at, ?4) ELSE due_at END, updated_at = ?5 "
                    "WHERE id = ?6")
_COALESCE_ERROR = "UPDATE job SET payload = ?, updated_at = ? WHERE id = ?"
_RECENT_DUPLICATE = "SELECT 1 FROM event WHERE job_id = ? AND kind = 'job.duplicate' AND at > ? LIMIT 1"
_PROMOTE = "UPDATE job SET state = 'pending', updated_at = ?1 WHERE state = 'retry_wait' AND due_at <= ?1"
_EXPIRE = ("UPDATE job SET state = CASE WHEN attempts >= ?1 THEN 'dead' ELSE 'pending' END, "
           "lease_owner = NULL, lease_until = NULL, error_class = 'internal', "
           "last_error = 'the worker running it stopped before finishing (its lease expired)', "
           "finished_at = CASE WHEN attempts >= ?1 THEN ?2 ELSE NULL END, due_at = ?2, updated_at = ?2 "
           "WHERE state = 'running' AND lease_until < ?2 RETURNING id, kind, dedupe_key, state, attempts")
_CLAIM = ("UPDATE job SET state = 'running', lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, "
          "updated_at = ?3 WHERE id IN (SELECT id FROM job WHERE state = 'pending' AND +due_at <= ?3 "
          "AND (?4 IS NULL OR kind IN (SELECT value FROM json_each(?4))) ORDER BY priority, due_at, id LIMIT ?5) "
          f"RETURNING {_COLUMNS}")
_COMPLETE = ("UPDATE job SET state = CASE WHEN payload = ?1 THEN 'succeeded' ELSE 'pending' END, "
             "attempts = CASE WHEN payload = ?1 THEN attempts ELSE 0 END, "
             "due_at = CASE WHEN payload = ?1 THEN due_at ELSE ?3 END, "
             "finished_at = CASE WHEN payload = ?1 THEN ?3 ELSE NULL END, "
             "result = ?2, last_error = NULL, error_class = NULL, lease_owner = NULL, lease_until = NULL, "
             "updated_at = ?3 WHERE id = ?4 AND state = 'running' AND lease_owner = ?5 RETURNING state")
_RESOLVE = ("UPDATE job SET state = 'discarded', finished_at = ?1, updated_at = ?1, "
            "last_error = 'resolved: a later sync of the same record succeeded (job ' || ?2 || ')' "
            "|| COALESCE('; was: ' || last_error, '') "
            "WHERE dedupe_key = ?3 AND id < ?2 AND state IN ('dead', 'quarantined') RETURNING id, kind")
# A data problem found while newer data was waiting goes back to pending: the new data may fix it.
_FAIL = ("UPDATE job SET state = CASE WHEN payload = ?1 OR ?2 != 'quarantined' THEN ?2 ELSE 'pending' END, "
         "due_at = CASE WHEN payload = ?1 OR ?2 != 'quarantined' THEN ?3 ELSE ?4 END, "
         "finished_at = CASE WHEN ?2 IN ('dead', 'quarantined') AND (payload = ?1 OR ?2 = 'dead') THEN ?4 END, "
         "last_error = ?5, error_class = ?6, lease_owner = NULL, lease_until = NULL, updated_at = ?4, "
         "attempts = MAX(attempts - ?9, 0) WHERE id = ?7 AND state = 'running' AND lease_owner = ?8 RETURNING state")
_RELEASE = ("UPDATE job SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_owner = NULL, "
            "lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?")
_RENEW = ("UPDATE job SET lease_until = ?1 WHERE state = 'running' "
          "AND (lease_owner = ?2 OR substr(lease_owner, 1, length(?2) + 1) = ?2 || '/')")
_NEXT_DUE = ("SELECT MIN(m) FROM (SELECT MIN(due_at) AS m FROM job WHERE state = 'pending' "
             "UNION ALL SELECT MIN(due_at) FROM job WHERE state = 'retry_wait')")


def canonical(payload: Any) -> str:
    """The payload as stored: canonical JSON, so equal data compares equal in SQL."""
    return json.dumps(payload if payload is not None else {}, sort_keys=True, separators=(",", ":"),
                      default=str, ensure_ascii=False)


def merge(base: Any, override: Any) -> Any:
    """Override values win; nested objects merge, so {"customer": {"email": x}} fixes one field."""
    if override is None:
        return base
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge(merged.get(key), value) if isinstance(value, dict) else value
    return merged


@dataclass
class Job:
    id: int
    kind: str
    key: str
    payload: Any
    override: dict[str, Any] | None
    state: str
    priority: int
    attempts: int
    due_at: float
    lease_until: float | None
    lease_owner: str | None
    last_error: str | None
    error_class: str | None
    result: Any
    run_id: int | None
    created_at: float
    updated_at: float
    finished_at: float | None
    raw_payload: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: tuple) -> Job:
        return cls(id=row[0], kind=row[1], key=row[2], payload=json.loads(row[3] or "{}"),
                   override=json.loads(row[4]) if row[4] else None, state=row[5], priority=row[6],
                   attempts=row[7], due_at=row[8], lease_until=row[9], lease_owner=row[10], last_error=row[11],
                   error_class=row[12], result=json.loads(row[13]) if row[13] else None, run_id=row[14],
                   created_at=row[15], updated_at=row[16], finished_at=row[17], raw_payload=row[3] or "{}")

    @property
    def effective_payload(self) -> Any:
        """What the handler works with: the payload with a person's corrections merged over it."""
        return merge(self.payload, self.override)


@dataclass(frozen=True)
class EnqueueResult:
    job_id: int
    outcome: str        # created, coalesced, duplicate
    state: str          # the state of the job the work landed on


@dataclass(frozen=True)
class JobSpec:
    kind: str
    key: str
    payload: Any = None
    due_at: float | None = None
    priority: int = 100


@dataclass(frozen=True)
class Step:
    """A step of a running job, written together with the job's outcome."""

    at: float
    level: str
    message: str
    subject: str | None = None
    data: Any = None
    kind: str = "job.step"


@dataclass(frozen=True)
class JobFailure:
    """Told to error listeners (alerts) when a job becomes dead or quarantined."""

    job_id: int
    kind: str
    key: str
    state: str
    error_class: str
    message: str


ErrorListener = Callable[[JobFailure], None]


def _spec(item: JobSpec | tuple | dict) -> JobSpec:
    if isinstance(item, JobSpec):
        return item
    if isinstance(item, dict):
        return JobSpec(**item)
    return JobSpec(*item)


class JobQueue:
    """The queue over the `job` table of one store; safe to share between threads."""

    def __init__(self, store: Store, *, max_attempts: int = 8, retry_base: float = 5.0,
                 retry_max: float = 3600.0, lease_seconds: float = 120.0,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.store = store
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._rng = rng or random.Random()
        self._changed = threading.Condition()
        self._version = 0
        self._error_listeners: list[ErrorListener] = []

    @classmethod
    def from_settings(cls, store: Store, settings: Any, **kwargs: Any) -> JobQueue:
        """Build from `AgentSettings` (max_attempts, lease_seconds, retry_base/max_seconds)."""
        return cls(store, max_attempts=settings.max_attempts, retry_base=settings.retry_base_seconds,
                   retry_max=settings.retry_max_seconds, lease_seconds=settings.lease_seconds, **kwargs)

    # -- change notification (wakes idle workers and waiters in this process) -----------------
    def _signal(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    @property
    def version(self) -> int:
        """A counter of changes made through this queue object (read it before looking at the DB)."""
        return self._version

    def wait_for_change(self, timeout: float, since: int | None = None) -> bool:
        """Block until something in this process changed the queue, or `timeout` passed.

        Pass `since` (the `version` read before checking the database) so a change that happened
        between the check and this call is not missed.
        """
        with self._changed:
            version = self._version if since is None else since
            return self._changed.wait_for(lambda: self._version != version, timeout)

    def add_error_listener(self, listener: ErrorListener) -> None:
        """Call `listener` whenever a job becomes dead or quarantined (alerts subscribe here)."""
        self._error_listeners.append(listener)

    def _tell(self, failures: list[JobFailure]) -> None:
        for failure in failures:
            for listener in list(self._error_listeners):
                try:
                    listener(failure)
                except Exception:  # an alert channel must never break the queue
                    log.exception("error listener failed")

    def _event(self, kind: str, message: str, level: str, job_id: int | None, subject: str | None,
               data: Any = None, run_id: int | None = None, at: float | None = None) -> None:
        write_event(self.store.db.execute_sql, self.clock() if at is None else at, level, kind, None, run_id,
                    job_id, subject, message, dump(data))

    # -- enqueue -------------------------------------------------------------------------------
    def enqueue(self, kind: str, key: str, payload: Any = None, *, due_at: float | None = None,
                run_id: int | None = None, priority: int = 100, in_tx: bool = False) -> EnqueueResult:
        """Add work, or fold it into the job already there for this kind and key (see module doc)."""
        return self.enqueue_many([JobSpec(kind, key, payload, due_at, priority)], run_id=run_id, in_tx=in_tx)[0]

    def enqueue_many(self, items: Iterable[JobSpec | tuple | dict], *, run_id: int | None = None,
                     in_tx: bool = False) -> list[EnqueueResult]:
        """Enqueue a batch in one transaction (all or nothing).

        With `in_tx=True` the caller must already hold a transaction (`with store.write():`), so
        the jobs commit together with the caller's other writes, such as a cursor.
        """
        if in_tx and not self.store.db.in_transaction():
            raise RuntimeError("enqueue_many(in_tx=True) must be called inside `with store.write():`")
        specs = [_spec(item) for item in items]
        results: list[EnqueueResult] = []
        execute = self.store.db.execute_sql
        with in_transaction(self.store):
            now = self.clock()
            for spec in specs:
                payload = canonical(spec.payload)
                due = now if spec.due_at is None else spec.due_at
                row = execute(_LATEST, (spec.key, spec.kind)).fetchone()
                if row is None or row[1] == "discarded":
                    cur = execute(_INSERT, (spec.kind, spec.key, payload, spec.priority, due, run_id, now, now))
                    results.append(EnqueueResult(cur.lastrowid, "created", "pending"))
                    continue
                job_id, state, stored = row
                if state in ACTIVE_STATES:
                    execute(_COALESCE_ACTIVE, (payload, spec.priority, run_id, due, now, job_id))
                    results.append(EnqueueResult(job_id, "coalesced", state))
                elif state == "succeeded":
                    if execute(_RECENT_DUPLICATE, (job_id, now - 3600)).fetchone() is None:
                        self._event("job.duplicate", f"{spec.kind} for {spec.key} was requested again after it "
                                    f"had succeeded (job {job_id}); nothing was done twice", "warning",
                                    job_id, spec.key, run_id=run_id, at=now)
                    results.append(EnqueueResult(job_id, "duplicate", state))
                else:  # dead or quarantined: stays visible in the error list, with the newest data
                    if payload != stored:
                        execute(_COALESCE_ERROR, (payload, now, job_id))
                        self._event("job.updated", f"newer data arrived for {spec.key} while its {spec.kind} is "
                                    f"{state}; a retry will use it", "info", job_id, spec.key, run_id=run_id, at=now)
                    results.append(EnqueueResult(job_id, "coalesced", state))
        self._signal()
        return results

    # -- claiming ------------------------------------------------------------------------------
    def sweep(self) -> list[tuple[int, str]]:
        """Make due retries pending and take back jobs whose worker stopped renewing its lease.

        Returns (job id, new state) of reclaimed jobs. Runs inside every claim; callable alone.
        """
        with in_transaction(self.store):
            reclaimed, failures = self._sweep(self.clock())
        self._tell(failures)
        return reclaimed

    def _sweep(self, now: float) -> tuple[list[tuple[int, str]], list[JobFailure]]:
        execute = self.store.db.execute_sql
        execute(_PROMOTE, (now,))
        rows = execute(_EXPIRE, (self.max_attempts, now)).fetchall()
        failures = []
        for job_id, kind, key, state, attempts in rows:
            if state == "dead":
                message = (f"{kind} for {key} gave up after {attempts} attempts: the worker running it stopped "
                           "before finishing each time")
                failures.append(JobFailure(job_id, kind, key, "dead", "internal", message))
                self._event("job.dead", message, "error", job_id, key, at=now)
            else:
                self._event("job.reclaimed", f"{kind} for {key} was taken back: the worker running it stopped "
                            f"(attempt {attempts} counted)", "warning", job_id, key, at=now)
        return [(r[0], r[3]) for r in rows], failures

    def claim(self, owner: str, limit: int = 1, kinds: Iterable[str] | None = None,
              lease_seconds: float | None = None) -> list[Job]:
        """Take up to `limit` due jobs for `owner`, highest priority (lowest number) first."""
        kinds_json = json.dumps(sorted(kinds)) if kinds is not None else None
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        with self.store.write():
            now = self.clock()
            _, failures = self._sweep(now)
            rows = self.store.db.execute_sql(_CLAIM, (owner, now + lease, now, kinds_json, limit)).fetchall()
        self._tell(failures)
        jobs = [Job.from_row(r) for r in rows]
        jobs.sort(key=lambda j: (j.priority, j.due_at, j.id))
        return jobs

    def renew(self, owner: str, lease_seconds: float | None = None) -> int:
        """Extend the lease of every job `owner` (or `owner/<worker>`) is running: the heartbeat."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        with self.store.write():
            return self.store.db.execute_sql(_RENEW, (self.clock() + lease, owner)).rowcount

    def release(self, job: Job, steps: Iterable[Step] = ()) -> bool:
        """Give a claimed job back untouched (shutting down): pending again, attempt not counted."""
        with self.store.write():
            ok = self.store.db.execute_sql(_RELEASE, (self.clock(), job.id, job.lease_owner)).rowcount == 1
            self._write_steps(job, steps, None)
        self._signal()
        return ok

    # -- outcomes ------------------------------------------------------------------------------
    def _write_steps(self, job: Job, steps: Iterable[Step], subject: str | None) -> None:
        for step in steps:
            write_event(self.store.db.execute_sql, step.at, step.level, step.kind, None, job.run_id, job.id,
                        subject_of(job.key, subject, step.subject), step.message, dump(step.data))

    def complete(self, job: Job, result: Any = None, *, steps: Iterable[Step] = (),
                 subject: str | None = None) -> str | None:
        """Record success. Returns the new state: `succeeded`, or `pending` when newer data arrived
        while it ran (it runs again with that data), or None when the lease was lost meanwhile (another
        worker has the job; nothing is overwritten).
        """
        with self.store.write():
            now = self.clock()
            row = self.store.db.execute_sql(_COMPLETE, (job.raw_payload, dump(result), now, job.id,
                                                        job.lease_owner)).fetchone()
            self._write_steps(job, steps, subject)
            state = row[0] if row else None
            subject = subject_of(job.key, subject)
            if state == "succeeded":
                self._event("job.succeeded", f"{job.kind} for {job.key} succeeded"
                            + (f" (attempt {job.attempts})" if job.attempts > 1 else ""), "info", job.id,
                            subject, data=result, run_id=job.run_id, at=now)
                for other_id, other_kind in self.store.db.execute_sql(_RESOLVE, (now, job.id, job.key)).fetchall():
                    self._event("job.resolved", f"{other_kind} for {job.key} (job {other_id}) was resolved by a "
                                f"later success (job {job.id})", "info", other_id, subject, at=now)
            elif state == "pending":
                self._event("job.rerun", f"{job.kind} for {job.key} succeeded, and runs again with data that "
                            "arrived meanwhile", "info", job.id, subject, run_id=job.run_id, at=now)
            else:
                self._event("job.lease_lost", f"{job.kind} for {job.key} finished after its lease had expired; "
                            "another worker took it over", "warning", job.id, subject, run_id=job.run_id, at=now)
        self._signal()
        return state

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds until the next try: a server's Retry-After wins, else exponential with full jitter
        (random between 0 and base·2^(attempt-1), capped), so many failed jobs do not retry in lockstep.
        """
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_max)
        ceiling = min(self.retry_max, self.retry_base * (2 ** max(attempts - 1, 0)))
        return self._rng.uniform(0, ceiling)

    def fail(self, job: Job, error: BaseException, *, steps: Iterable[Step] = (),
             subject: str | None = None) -> str | None:
        """Record a failed attempt; returns the new state (retry_wait, dead, quarantined, pending),
        or None when the lease was lost meanwhile.
        """
        info = classify(error)
        attempts = max(job.attempts, 1)
        # Held back by an open circuit breaker, nothing was sent: the job waits for the breaker's
        # next probe without using up an attempt, so an outage of any length gives up on nothing.
        refund = 1 if info.retryable and info.held_back else 0
        if not info.retryable:
            state = "quarantined" if info.is_data_problem else "dead"
        elif attempts >= self.max_attempts and not refund:
            state = "dead"
        else:
            state = "retry_wait"
        failures: list[JobFailure] = []
        with self.store.write():
            now = self.clock()
            if refund:      # after the probe, spread out so the first calls do not arrive all at once
                delay = max(info.retry_after or 0.0, 0.0) + self._rng.uniform(0, self.retry_base)
            else:
                delay = self.backoff(attempts, info.retry_after) if state == "retry_wait" else 0.0
            row = self.store.db.execute_sql(_FAIL, (job.raw_payload, state, now + delay, now, info.message,
                                                    info.error_class, job.id, job.lease_owner, refund)).fetchone()
            self._write_steps(job, steps, subject)
            new_state = row[0] if row else None
            subject = subject_of(job.key, subject)
            data = {"error_class": info.error_class, "attempt": attempts}
            if new_state == "retry_wait":
                tried = "held back, not counted" if refund else f"attempt {attempts} of {self.max_attempts}"
                self._event("job.retry", f"{job.kind} for {job.key} failed ({tried}): {info.message}; "
                            f"next try in {delay:.0f} s", "warning",
                            job.id, subject, data=data, run_id=job.run_id, at=now)
            elif new_state == "dead":
                why = (f"gave up after {attempts} attempts" if info.retryable
                       else "cannot be retried automatically")
                self._event("job.dead", f"{job.kind} for {job.key} {why}: {info.message}", "error", job.id,
                            subject, data=data, run_id=job.run_id, at=now)
                failures.append(JobFailure(job.id, job.kind, job.key, "dead", info.error_class, info.message))
            elif new_state == "quarantined":
                self._event("job.quarantined", f"{job.kind} for {job.key} needs attention: {info.message}",
                            "error", job.id, subject, data=data, run_id=job.run_id, at=now)
                failures.append(JobFailure(job.id, job.kind, job.key, "quarantined", info.error_class,
                                           info.message))
            elif new_state == "pending":
                self._event("job.rerun", f"{job.kind} for {job.key} failed ({info.message}), and runs again "
                            "with data that arrived meanwhile", "warning", job.id, subject, run_id=job.run_id, at=now)
            else:
                self._event("job.lease_lost", f"{job.kind} for {job.key} failed after its lease had expired; "
                            "another worker took it over", "warning", job.id, subject, run_id=job.run_id, at=now)
        self._signal()
        self._tell(failures)
        return new_state

    # -- what people do on the errors page -----------------------------------------------------
    def retry(self, job_id: int, override: dict[str, Any] | None = None) -> bool:
        """Run a dead, quarantined or waiting job again now, with fresh attempts. An `override` (a
        corrected e-mail, a substitute SKU) is merged over earlier overrides and over the payload.
        """
        with self.store.write():
            row = self.store.db.execute_sql("SELECT override, kind, dedupe_key, state FROM job WHERE id = ?",
                                            (job_id,)).fetchone()
            if row is None or row[3] not in (*ERROR_STATES, "retry_wait"):
                return False
            current = json.loads(row[0]) if row[0] else None
            merged = merge(current, override) if override is not None else current
            now = self.clock()
            try:
                self.store.db.execute_sql(
                    "UPDATE job SET state = 'pending', attempts = 0, due_at = ?, override = ?, finished_at = NULL, "
                    "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
                    (now, dump(merged), now, job_id))
            except peewee.IntegrityError:
                # Another job for the same record is already queued: that one will do the work.
                self.store.db.execute_sql(
                    "UPDATE job SET state = 'discarded', finished_at = ?, updated_at = ?, last_error = "
                    "'superseded by newer work for the same record' WHERE id = ?", (now, now, job_id))
                return False
            what = " with corrected data" if override else ""
            self._event("job.retried", f"{row[1]} for {row[2]} will be retried{what}", "info", job_id, row[2],
                        data={"override": override} if override else None, at=now)
        self._signal()
        return True

    def retry_all(self, state: str | None = None, kind: str | None = None) -> int:
        """Retry every dead and quarantined job (or only one state / one kind); returns how many."""
        states = [state] if state else list(ERROR_STATES)
        if any(s not in ERROR_STATES for s in states):
            raise ValueError("only dead or quarantined jobs can be retried in bulk")
        with self.store.write():
            now = self.clock()
            rows = self.store.db.execute_sql(
                "UPDATE job SET state = 'pending', attempts = 0, due_at = ?1, finished_at = NULL, updated_at = ?1 "
                "WHERE state IN (SELECT value FROM json_each(?2)) AND (?3 IS NULL OR kind = ?3) RETURNING id",
                (now, json.dumps(states), kind)).fetchall()
            if rows:
                self._event("job.retried", f"{len(rows)} failed job{'s' if len(rows) != 1 else ''} will be retried"
                            + (f" ({kind})" if kind else ""), "info", None, None,
                            data={"job_ids": [r[0] for r in rows][:1000]}, at=now)
        self._signal()
        return len(rows)

    def discard(self, job_id: int, reason: str | None = None) -> bool:
        """Give up on a job that is not running (it stays in the history as discarded)."""
        with self.store.write():
            now = self.clock()
            row = self.store.db.execute_sql(
                "UPDATE job SET state = 'discarded', finished_at = ?1, updated_at = ?1, "
                "last_error = COALESCE(?2, last_error) WHERE id = ?3 "
                "AND state IN ('pending', 'retry_wait', 'dead', 'quarantined') RETURNING kind, dedupe_key",
                (now, reason, job_id)).fetchone()
            if row:
                self._event("job.discarded", f"{row[0]} for {row[1]} was discarded"
                            + (f": {reason}" if reason else ""), "info", job_id, row[1], at=now)
        self._signal()
        return row is not None

    # -- reading -------------------------------------------------------------------------------
    def get(self, job_id: int) -> Job | None:
        row = self.store.execute(f"SELECT {_COLUMNS} FROM job WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def find(self, kind: str | None = None, key: str | None = None, states: Iterable[str] | None = None,
             limit: int = 100) -> list[Job]:
        """Jobs by kind / key / state, newest first."""
        conditions, params = [], []
        if key is not None:
            conditions.append("dedupe_key = ?")
            params.append(key)
        if kind is not None:
            conditions.append("kind = ?")
            params.append(kind)
        if states is not None:
            conditions.append("state IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(states)))
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self.store.execute(f"SELECT {_COLUMNS} FROM job {where}ORDER BY id DESC LIMIT ?",
                                  (*params, limit)).fetchall()
        return [Job.from_row(r) for r in rows]

    def list_errors(self, kind: str | None = None, state: str | None = None, error_class: str | None = None,
                    limit: int = 100, before_id: int | None = None) -> list[Job]:
        """The errors page: dead and quarantined jobs, newest first, keyset-paged by `before_id`."""
        states = [state] if state else list(ERROR_STATES)
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM job WHERE state IN (SELECT value FROM json_each(?1)) "
            "AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR error_class = ?3) AND (?4 IS NULL OR id < ?4) "
            "ORDER BY id DESC LIMIT ?5", (json.dumps(states), kind, error_class, before_id, limit)).fetchall()
        return [Job.from_row(r) for r in rows]

    def open_counts(self) -> dict[str, int]:
        """Jobs waiting, running or needing a person, by state: an index range, fast over any history
        (what the tray and dashboard read every few seconds; finished states are left out)."""
        counts = dict.fromkeys(ACTIVE_STATES + ERROR_STATES, 0)
        marks = ", ".join("?" * len(counts))
        for state, n in self.store.execute(f"SELECT state, COUNT(*) FROM job WHERE state IN ({marks}) GROUP BY state",
                                           tuple(counts)).fetchall():
            counts[state] = n
        return counts

    def counts(self) -> dict[str, int]:
        """Every job by state, finished ones too (a scan: for reports, not for polling)."""
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.store.execute("SELECT state, COUNT(*) FROM job GROUP BY state").fetchall():
            counts[state] = n
        return counts

    def depth(self, kinds: Iterable[str] | None = None) -> int:
        """Jobs not finished yet: pending, running, or waiting to retry."""
        return self.active_count(kinds=kinds, states=ACTIVE_STATES)

    def active_count(self, kinds: Iterable[str] | None = None, keys: Iterable[str] | None = None,
                     states: Iterable[str] = ("pending", "running")) -> int:
        return self.store.scalar(
            "SELECT COUNT(*) FROM job WHERE state IN (SELECT value FROM json_each(?1)) "
            "AND (?2 IS NULL OR kind IN (SELECT value FROM json_each(?2))) "
            "AND (?3 IS NULL OR dedupe_key IN (SELECT value FROM json_each(?3)))",
            (json.dumps(list(states)), json.dumps(list(kinds)) if kinds is not None else None,
             json.dumps(list(keys)) if keys is not None else None)) or 0

    def next_due(self) -> float | None:
        """When the earliest pending or waiting job is due (None when there is none)."""
        return self.store.scalar(_NEXT_DUE)


__all__ = ["ACTIVE_STATES", "ERROR_STATES", "STATES", "EnqueueResult", "Job", "JobError", "JobFailure",
           "JobQueue", "JobSpec", "Step", "canonical", "merge"]
