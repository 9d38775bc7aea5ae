"""The durable queue: coalescing, leases, retries, quarantine, the errors page's actions."""

from __future__ import annotations

import time

import peewee
import pytest

from agent.engine.errors import JobError, Quarantine, Retry, classify
from agent.engine.history import History
from agent.engine.queue import JobQueue, JobSpec, merge


def events(store, kind=None, job_id=None):
    return store.query("SELECT * FROM event WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR job_id = ?2) "
                       "ORDER BY id", (kind, job_id))


# -- enqueue and coalescing ------------------------------------------------------------------------
def test_enqueue_creates_a_pending_job(queue):
    result = queue.enqueue("order.create", "nop-order:1234", {"id": 1234, "total": "10.00"})
    assert result.outcome == "created"
    job = queue.get(result.job_id)
    assert (job.kind, job.key, job.state, job.attempts) == ("order.create", "nop-order:1234", "pending", 0)
    assert job.payload == {"id": 1234, "total": "10.00"}
    assert job.due_at == queue.clock()


def test_same_key_while_pending_coalesces_to_the_newest_payload(queue, store):
    first = queue.enqueue("order.create", "nop-order:1", {"v": 1})
    second = queue.enqueue("order.create", "nop-order:1", {"v": 2})
    assert second.outcome == "coalesced" and second.job_id == first.job_id
    assert store.scalar("SELECT COUNT(*) FROM job") == 1
    assert queue.get(first.job_id).payload == {"v": 2}


def test_same_key_of_another_kind_is_separate_work(queue):
    a = queue.enqueue("order.create", "nop-order:1", {})
    b = queue.enqueue("shipment.push", "nop-order:1", {})
    assert b.outcome == "created" and a.job_id != b.job_id


def test_coalescing_while_running_runs_again_with_the_new_data(queue):
    queue.enqueue("order.create", "nop-order:1", {"v": 1})
    [job] = queue.claim("w1")
    assert queue.enqueue("order.create", "nop-order:1", {"v": 2}).outcome == "coalesced"
    # The worker finishes with the data it had; the newer data must not be lost.
    assert queue.complete(job, {"ok": True}) == "pending"
    [again] = queue.claim("w1")
    assert again.id == job.id and again.payload == {"v": 2} and again.attempts == 1
    assert queue.complete(again) == "succeeded"


def test_coalescing_the_same_data_while_running_does_not_rerun(queue):
    queue.enqueue("order.create", "nop-order:1", {"v": 1})
    [job] = queue.claim("w1")
    queue.enqueue("order.create", "nop-order:1", {"v": 1})
    assert queue.complete(job) == "succeeded"


def test_after_success_the_same_key_is_a_duplicate_with_a_warning(queue, store, clock):
    queue.enqueue("order.create", "nop-order:7", {})
    [job] = queue.claim("w")
    queue.complete(job, {"bng": "SO-1"})
    dup = queue.enqueue("order.create", "nop-order:7", {"again": True})
    assert dup.outcome == "duplicate" and dup.job_id == job.id
    assert store.scalar("SELECT COUNT(*) FROM job") == 1
    [warning] = events(store, "job.duplicate")
    assert warning["level"] == "warning" and "nop-order:7" in warning["message"]
    # Re-reading the same order on every poll does not flood the history.
    queue.enqueue("order.create", "nop-order:7", {})
    assert len(events(store, "job.duplicate")) == 1
    clock.advance(3601)
    queue.enqueue("order.create", "nop-order:7", {})
    assert len(events(store, "job.duplicate")) == 2


def test_after_quarantine_the_same_key_updates_the_visible_record(queue, store):
    queue.enqueue("order.create", "nop-order:9", {"sku": "OLD"})
    [job] = queue.claim("w")
    assert queue.fail(job, Quarantine("unknown SKU OLD")) == "quarantined"
    result = queue.enqueue("order.create", "nop-order:9", {"sku": "NEW"})
    assert (result.outcome, result.job_id, result.state) == ("coalesced", job.id, "quarantined")
    job = queue.get(job.id)
    assert job.state == "quarantined" and job.payload == {"sku": "NEW"}
    assert [j.id for j in queue.list_errors()] == [job.id]
    assert store.scalar("SELECT COUNT(*) FROM job") == 1


def test_after_discard_the_same_key_is_new_work(queue):
    first = queue.enqueue("order.create", "nop-order:3", {})
    assert queue.discard(first.job_id)
    second = queue.enqueue("order.create", "nop-order:3", {})
    assert second.outcome == "created" and second.job_id != first.job_id


def test_enqueue_many_is_one_all_or_nothing_batch(queue, store):
    results = queue.enqueue_many([JobSpec("stock.push", f"sku:{i}", {"qty": i}) for i in range(500)]
                                 + [("stock.push", "sku:1", {"qty": 99})])
    assert [r.outcome for r in results].count("created") == 500
    assert results[-1].outcome == "coalesced"
    assert store.scalar("SELECT COUNT(*) FROM job") == 500
    with pytest.raises(TypeError):
        queue.enqueue_many([("stock.push", "sku:new", {}), ("bad",)])
    assert store.scalar("SELECT COUNT(*) FROM job WHERE dedupe_key = 'sku:new'") == 0


def test_enqueue_in_tx_requires_a_transaction(queue, store):
    with pytest.raises(RuntimeError):
        queue.enqueue("x", "k", {}, in_tx=True)
    with store.write():
        queue.enqueue("x", "k", {}, in_tx=True)
    assert queue.depth() == 1


# -- claiming and leases ---------------------------------------------------------------------------
def test_claim_takes_due_jobs_by_priority_then_age(queue, clock):
    queue.enqueue("a", "late", {}, due_at=clock() + 100)
    queue.enqueue("a", "normal", {})
    queue.enqueue("a", "urgent", {}, priority=10)
    jobs = queue.claim("w", limit=5)
    assert [j.key for j in jobs] == ["urgent", "normal"]
    assert all(j.state == "running" and j.lease_owner == "w" and j.attempts == 1 for j in jobs)
    assert queue.claim("w", limit=5) == []
    for job in jobs:
        queue.complete(job)
    clock.advance(100)
    assert [j.key for j in queue.claim("w")] == ["late"]


def test_claim_filters_by_kind(queue):
    queue.enqueue("order.create", "o", {})
    queue.enqueue("stock.push", "s", {})
    assert [j.kind for j in queue.claim("w", 5, kinds=["stock.push"])] == ["stock.push"]


def test_expired_lease_is_reclaimed_with_the_attempt_counted(queue, clock, store):
    queue.enqueue("order.create", "nop-order:1", {})
    [job] = queue.claim("dead-worker")
    clock.advance(59)
    assert queue.claim("w2") == []          # still leased
    clock.advance(2)
    [again] = queue.claim("w2")
    assert again.id == job.id and again.attempts == 2 and again.lease_owner == "w2"
    assert events(store, "job.reclaimed")
    # The first worker wakes up late: its result must not overwrite the new owner's work.
    assert queue.complete(job, {"late": True}) is None
    assert queue.get(job.id).state == "running"
    assert queue.complete(again) == "succeeded"


def test_a_job_that_keeps_killing_its_worker_ends_dead(queue, clock):
    failures = []
    queue.add_error_listener(failures.append)
    queue.enqueue("order.create", "nop-order:1", {})
    for _ in range(3):
        assert queue.claim("w")
        clock.advance(61)
    queue.sweep()
    job = queue.get(1)
    assert job.state == "dead" and "lease expired" in job.last_error
    assert [f.state for f in failures] == ["dead"]


def test_renew_keeps_a_slow_job(queue, clock):
    queue.enqueue("report", "r", {})
    [job] = queue.claim("w")
    for _ in range(5):
        clock.advance(40)
        assert queue.renew("w") == 1
        assert queue.claim("other") == []
    assert queue.complete(job) == "succeeded"


def test_release_gives_the_job_back_without_counting(queue):
    queue.enqueue("a", "k", {})
    [job] = queue.claim("w")
    assert queue.release(job)
    job = queue.get(job.id)
    assert job.state == "pending" and job.attempts == 0


# -- failures ----------------------------------------------------------------------------------
def test_retryable_failure_waits_with_backoff_then_dies_after_max_attempts(queue, clock, store):
    failures = []
    queue.add_error_listener(failures.append)
    queue.enqueue("order.create", "nop-order:5", {"id": 5})
    for attempt in (1, 2):
        [job] = queue.claim("w")
        assert job.attempts == attempt
        assert queue.fail(job, ConnectionError("connection refused")) == "retry_wait"
        job = queue.get(job.id)
        assert job.state == "retry_wait" and job.error_class == "connection"
        assert clock() < job.due_at <= clock() + 10 * 2 ** (attempt - 1)
        assert queue.claim("w") == []          # not before its time
        clock.now = job.due_at
    [job] = queue.claim("w")
    assert queue.fail(job, ConnectionError("connection refused")) == "dead"
    job = queue.get(job.id)
    assert job.state == "dead" and job.payload == {"id": 5} and "connection refused" in job.last_error
    assert [f.state for f in failures] == ["dead"]
    assert [e["level"] for e in events(store) if e["kind"].startswith("job.")] == ["warning", "warning", "error"]


def test_a_call_held_back_by_an_open_breaker_waits_for_the_probe_without_using_an_attempt(queue, clock, store):
    """An outage of any length gives up on nothing: only calls that were sent count as attempts."""
    from datetime import UTC, datetime, timedelta

    from agent.connectors.errors import CircuitOpen

    queue.enqueue("order.create", "nop-order:6", {"id": 6})
    for _ in range(queue.max_attempts + 3):
        [job] = queue.claim("w")
        probe_at = datetime.now(UTC) + timedelta(seconds=120)
        assert queue.fail(job, CircuitOpen(system="bng", next_probe_at=probe_at)) == "retry_wait"
        job = queue.get(job.id)
        assert job.attempts == 0 and job.error_class == "connection"
        assert clock() + 119 <= job.due_at <= clock() + 120 + queue.retry_base + 1
        clock.now = job.due_at
    assert "held back, not counted" in events(store, "job.retry")[-1]["message"]


def test_retry_after_hint_wins_over_backoff(queue, clock):
    queue.enqueue("stock.push", "sku:A", {})
    [job] = queue.claim("w")
    queue.fail(job, Retry("BNG asked to slow down", retry_after=42, error_class="rate_limit"))
    job = queue.get(job.id)
    assert job.due_at == clock() + 42 and job.error_class == "rate_limit"


def test_backoff_is_exponential_with_full_jitter_and_capped(queue):
    for attempt in range(1, 12):
        ceiling = min(600.0, 10.0 * 2 ** (attempt - 1))
        delays = [queue.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2   # spread over the whole range


def test_data_problems_are_quarantined_with_the_reason(queue, store):
    failures = []
    queue.add_error_listener(failures.append)
    queue.enqueue("order.create", "nop-order:8", {"email": "not-an-email"})
    [job] = queue.claim("w")
    assert queue.fail(job, Quarantine("the customer's e-mail address 'not-an-email' is not valid")) == "quarantined"
    job = queue.get(job.id)
    assert job.state == "quarantined" and job.error_class == "validation"
    assert job.last_error == "the customer's e-mail address 'not-an-email' is not valid"
    assert failures[0].state == "quarantined" and failures[0].key == "nop-order:8"
    [event] = events(store, "job.quarantined")
    assert "needs attention" in event["message"] and event["subject"] == "nop-order:8"


class ConnectorLikeError(Exception):
    """Shaped like the connectors' errors: classified by attributes only."""

    def __init__(self, message, error_class, retryable, retry_after=None):
        super().__init__(message)
        self.error_class, self.retryable, self.retry_after = error_class, retryable, retry_after


@pytest.mark.parametrize(("error", "state"), [
    (ConnectorLikeError("BNG has no such item", "not_found", False), "quarantined"),
    (ConnectorLikeError("BNG refused the change", "conflict", False), "quarantined"),
    (ConnectorLikeError("credentials refused", "auth", False), "dead"),
    (ConnectorLikeError("BNG is busy", "rate_limit", True, 5), "retry_wait"),
    (KeyError("total"), "retry_wait"),
    (JobError("odd", "internal", retryable=False), "dead"),
])
def test_errors_are_classified_by_their_attributes(queue, error, state):
    queue.enqueue("order.create", "k", {})
    [job] = queue.claim("w")
    assert queue.fail(job, error) == state


def test_classify_defaults():
    assert classify(ValueError("boom")).error_class == "internal"
    assert classify(ValueError("boom")).retryable
    assert classify(TimeoutError()).error_class == "connection"
    weird = ConnectorLikeError("x", "space_weather", False)
    assert classify(weird).error_class == "internal"


def test_a_data_problem_found_while_newer_data_waited_is_tried_again(queue):
    queue.enqueue("order.create", "nop-order:1", {"email": "bad"})
    [job] = queue.claim("w")
    queue.enqueue("order.create", "nop-order:1", {"email": "good@example.com"})
    assert queue.fail(job, Quarantine("invalid e-mail")) == "pending"
    [again] = queue.claim("w")
    assert again.payload == {"email": "good@example.com"}


# -- the errors page ---------------------------------------------------------------------------
def _quarantined(queue, key, kind="order.create", payload=None):
    queue.enqueue(kind, key, payload or {"customer": {"email": "bad", "name": "Ann"}, "sku": "X"})
    [job] = queue.claim("w", kinds=[kind])
    queue.fail(job, Quarantine("invalid e-mail"))
    return job.id


def test_retry_with_override_merges_the_correction_over_the_payload(queue, store):
    job_id = _quarantined(queue, "nop-order:1")
    assert queue.retry(job_id, override={"customer": {"email": "ann@example.com"}})
    [job] = queue.claim("w")
    assert job.effective_payload == {"customer": {"email": "ann@example.com", "name": "Ann"}, "sku": "X"}
    assert job.payload["customer"]["email"] == "bad"          # the original is kept for the record
    assert job.attempts == 1
    queue.fail(job, Quarantine("unknown SKU X"))
    assert queue.retry(job_id, override={"sku": "Y"})
    [job] = queue.claim("w")
    assert job.effective_payload["sku"] == "Y"
    assert job.effective_payload["customer"]["email"] == "ann@example.com"   # earlier override kept
    assert events(store, "job.retried")


def test_retry_only_applies_to_failed_jobs(queue):
    queue.enqueue("a", "k", {})
    assert not queue.retry(1)
    assert not queue.retry(999)


def test_retry_all_and_discard(queue):
    ids = [_quarantined(queue, f"nop-order:{i}") for i in range(5)]
    dead_id = _quarantined(queue, "sku:1", kind="stock.push")
    queue.store.execute("UPDATE job SET state = 'dead' WHERE id = ?", (dead_id,))
    assert queue.discard(ids[0], "test order, not needed")
    assert queue.get(ids[0]).state == "discarded"
    assert queue.retry_all(kind="stock.push") == 1
    assert queue.retry_all(state="quarantined") == 4
    assert queue.counts()["pending"] == 5
    assert queue.retry_all() == 0
    with pytest.raises(ValueError):
        queue.retry_all(state="succeeded")
    assert not queue.discard(ids[0])


def test_list_errors_pages_newest_first(queue):
    ids = [_quarantined(queue, f"nop-order:{i}") for i in range(7)]
    first = queue.list_errors(limit=3)
    assert [j.id for j in first] == ids[::-1][:3]
    second = queue.list_errors(limit=3, before_id=first[-1].id)
    assert [j.id for j in second] == ids[::-1][3:6]
    assert queue.list_errors(kind="nothing") == []


def test_a_later_success_of_the_same_record_resolves_earlier_errors(queue, store):
    queue.enqueue("order.create", "nop-order:42", {})
    [job] = queue.claim("w")
    queue.fail(job, ConnectionError("down"))
    queue.store.execute("UPDATE job SET state = 'dead' WHERE id = ?", (job.id,))
    # The nightly reconciliation creates the order under its own kind and succeeds.
    queue.enqueue("order.reconcile", "nop-order:42", {})
    [rec] = queue.claim("w", kinds=["order.reconcile"])
    assert queue.complete(rec, {"bng": "SO-1"}) == "succeeded"
    old = queue.get(job.id)
    assert old.state == "discarded" and old.last_error.startswith("resolved: a later sync")
    assert queue.list_errors() == []
    assert events(store, "job.resolved")


def test_the_active_key_is_unique_even_for_raw_inserts(queue, store):
    queue.enqueue("order.create", "nop-order:1", {})
    with pytest.raises(peewee.IntegrityError):
        store.execute("INSERT INTO job (kind, dedupe_key, payload, state, due_at, created_at, updated_at) "
                      "VALUES ('order.create', 'nop-order:1', '{}', 'pending', 0, 0, 0)")


def test_counts_and_depth(queue):
    for i in range(4):
        queue.enqueue("a", str(i), {})
    queue.claim("w", 1)
    counts = queue.counts()
    assert counts["pending"] == 3 and counts["running"] == 1 and counts["dead"] == 0
    assert queue.depth() == 4 and queue.depth(kinds=["b"]) == 0


def test_merge_is_deep_for_objects_only():
    assert merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}) == {"a": {"b": 3, "c": 2}, "l": [2]}
    assert merge({"a": 1}, None) == {"a": 1}


def test_throughput_of_enqueue_claim_complete(store):
    """Thousands of jobs a second with fsync'd commits; batch enqueue much faster."""
    queue = JobQueue(store)
    n = 2000
    started = time.perf_counter()
    queue.enqueue_many([("stock.push", f"sku:{i}", {"qty": i}) for i in range(n)])
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    done = 0
    while jobs := queue.claim("w", 50):
        for job in jobs:
            queue.complete(job)
            done += 1
    cycle_seconds = time.perf_counter() - started
    assert done == n and queue.counts()["succeeded"] == n
    assert n / batch_seconds > 2000, f"batch enqueue {n / batch_seconds:.0f}/s"
    assert n / cycle_seconds > 300, f"claim+complete {n / cycle_seconds:.0f}/s"


def test_history_sees_job_events(queue, store, clock):
    queue.enqueue("order.create", "nop-order:1234", {})
    [job] = queue.claim("w")
    queue.complete(job, {"bng_order": "SO-104001"}, subject="bng-order:SO-104001")
    trail = History(store, clock).trail("nop-order:1234")
    assert [e.kind for e in trail] == ["job.succeeded"]
    assert History(store, clock).trail("SO-104001")[0].job_id == job.id


def test_queue_from_settings_and_the_engine_package(store):
    from agent import engine
    from agent.config import AgentSettings

    queue = JobQueue.from_settings(store, AgentSettings(max_attempts=5, lease_seconds=30, retry_base_seconds=2,
                                                        retry_max_seconds=60))
    assert (queue.max_attempts, queue.lease_seconds, queue.retry_base, queue.retry_max) == (5, 30, 2, 60)
    assert engine.JobQueue is JobQueue and engine.Alerts.__name__ == "Alerts"
    assert engine.next_fire_times.__name__ == "next_fire_times"
    with pytest.raises(AttributeError):
        engine.Nothing  # noqa: B018
