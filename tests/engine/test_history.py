"""Runs, events, trails, flow health and retention."""

from __future__ import annotations

import time

import pytest

from agent.engine.history import History, subject_of, tokens_of, trail_terms


def test_a_run_is_recorded_from_start_to_outcome(history, clock):
    run_id = history.start_run("orders", "schedule")
    run = history.run(run_id)
    assert (run.flow, run.trigger, run.outcome, run.ended_at) == ("orders", "schedule", "running", None)
    clock.advance(12)
    history.finish_run(run_id, "partial", {"created": 8, "quarantined": 2}, "8 of 10 orders synced")
    run = history.run(run_id)
    assert run.outcome == "partial" and run.counts == {"created": 8, "quarantined": 2}
    assert run.ended_at - run.started_at == 12 and run.message == "8 of 10 orders synced"
    [event] = history.events(run_id=run_id)
    assert event.level == "warning" and event.data == {"created": 8, "quarantined": 2}
    with pytest.raises(ValueError):
        history.finish_run(run_id, "fine")
    with pytest.raises(KeyError):
        history.finish_run(999, "ok")


def test_flow_state_tracks_failing_periods(history, clock):
    history.mark_flow("orders", ok=True)
    started = clock()
    clock.advance(60)
    history.mark_flow("orders", ok=False, error="BNG is unreachable")
    clock.advance(60)
    history.mark_flow("orders", ok=False, error="BNG is still unreachable")
    state = history.flow_states()["orders"]
    assert state["failing_since"] == started + 60 and state["last_error"] == "BNG is still unreachable"
    assert state["last_success_at"] == started and state["last_run_at"] == clock()
    clock.advance(60)
    run_id = history.start_run("orders", "manual")
    history.finish_run(run_id, "ok")
    state = history.flow_states()["orders"]
    assert state["failing_since"] is None and state["last_success_at"] == clock() and state["last_error"] is None
    failed = history.start_run("inventory", "schedule")
    history.finish_run(failed, "failed", message="the web store did not answer")
    assert history.flow_states()["inventory"]["failing_since"] == clock()
    history.set_next_run("orders", clock() + 120)
    assert history.flow_states()["orders"]["next_run_at"] == clock() + 120


def test_runs_filter_and_page(history, clock):
    for i in range(30):
        run_id = history.start_run("orders" if i % 2 else "inventory", "schedule")
        history.finish_run(run_id, "failed" if i % 5 == 0 else "ok")
        clock.advance(60)
    page1 = history.runs(flow="orders", limit=5)
    page2 = history.runs(flow="orders", limit=5, before_id=page1[-1].id)
    assert len(page1) == 5 and all(r.flow == "orders" for r in page1 + page2)
    assert [r.id for r in page1 + page2] == sorted((r.id for r in page1 + page2), reverse=True)
    assert history.runs(flow="orders", limit=5, offset=5) == page2
    assert {r.outcome for r in history.runs(outcome="failed")} == {"failed"}
    assert len(history.runs(since=clock() - 600)) == 10


def test_subjects_and_search_terms():
    assert subject_of("nop-order:1", None, "sku:A nop-order:1", "") == "nop-order:1 sku:A"
    assert tokens_of("nop-order:1234 SKU:AP_MBP_13") == {"nop-order:1234", "1234", "sku:ap_mbp_13", "ap_mbp_13"}
    assert trail_terms("SKU AP_MBP_13") == (["sku:AP_MBP_13"], ["AP_MBP_13"])
    assert trail_terms("ann@example.com") == (["email:ann@example.com"], ["ann@example.com"])
    assert trail_terms("nop-order:1234") == (["nop-order:1234"], [])
    assert trail_terms("1234") == ([], ["1234"])


def test_trail_finds_a_record_by_token_key_email_or_message(history, queue, clock):
    history.event("order.read", "order 1234 read from the store", subject="nop-order:1234 email:ann@example.com")
    history.event("order.read", "order 12345 read from the store", subject="nop-order:12345")
    queue.enqueue("order.create", "nop-order:1234", {})
    [job] = queue.claim("w")
    queue.complete(job, subject="bng-order:SO-104001 sku:AP_MBP_13")
    history.event("note", "unknown SKU AP_MBP_99 on a line")
    history.event("stock.push", "stock of AP_MBP_13 set to 4", subject="sku:AP_MBP_13")

    def kinds(query):
        return [e.kind for e in history.trail(query)]

    assert kinds("nop-order:1234") == ["job.succeeded", "order.read"]        # not 12345
    assert kinds("SKU AP_MBP_13") == ["stock.push", "job.succeeded"]
    assert kinds("ap_mbp_13") == ["stock.push", "job.succeeded"]
    assert kinds("ann@example.com") == ["order.read"]
    assert kinds("SO-104001") == ["job.succeeded"]
    assert kinds("AP_MBP_99") == ["note"]                                    # found in the message
    assert kinds("") == [] and kinds("nothing-here") == []
    newest = history.trail("nop-order:1234", limit=1)
    assert [e.kind for e in history.trail("nop-order:1234", before_id=newest[0].id)] == ["order.read"]


def test_events_filter_by_level_flow_job(history):
    history.event("a", "one", level="debug", flow="orders")
    history.event("b", "two", level="warning", flow="orders", job_id=5)
    history.event("c", "three", level="error", flow="inventory")
    history.event("d", "four", level="loud")                           # unknown level → info
    assert [e.kind for e in history.events(min_level="warning")] == ["c", "b"]
    assert [e.kind for e in history.events(flow="orders")] == ["b", "a"]
    assert [e.kind for e in history.events(job_id=5)] == ["b"]
    assert history.events(level="info")[0].kind == "d"


def test_prune_keeps_open_work_and_recent_history(history, queue, clock, store):
    history.event("old", "old event", subject="nop-order:1")
    old_run = history.start_run("orders", "schedule")
    history.finish_run(old_run, "ok")
    queue.enqueue("order.create", "nop-order:1", {})
    queue.enqueue("order.create", "nop-order:2", {})
    jobs = queue.claim("w", 2)
    queue.complete(jobs[0])
    queue.fail(jobs[1], ConnectionError("down"))
    store.execute("UPDATE job SET state = 'dead' WHERE id = ?", (jobs[1].id,))
    clock.advance(91 * 86400)
    history.event("new", "recent event", subject="nop-order:1")
    deleted = history.prune(90, batch=2)
    assert deleted["events"] >= 3 and deleted["runs"] == 1 and deleted["jobs"] == 1 and deleted["tokens"] >= 2
    assert [e.kind for e in history.events()] == ["new"]
    assert [e.kind for e in history.trail("nop-order:1")] == ["new"]
    assert [j.state for j in queue.find()] == ["dead"]                  # errors stay until resolved


@pytest.fixture
def million_events(store):
    """1,000,000 events (and their subject tokens) written in bulk."""
    store.execute("PRAGMA cache_size = -262144")
    with store.write():
        store.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) "
            "INSERT INTO event (at, level, kind, flow, run_id, job_id, subject, message) "
            "SELECT 1.7e9 + x, CASE WHEN x % 100 = 0 THEN 'error' ELSE 'info' END, 'job.succeeded', 'orders', "
            "x / 50, x, 'nop-order:' || x, 'done' FROM n")
        store.execute("INSERT INTO event_token (event_id, token) SELECT id, subject FROM event ORDER BY subject")
    store.execute("PRAGMA cache_size = -2000")
    return store


def test_paging_and_trails_stay_fast_over_a_million_events(million_events):
    history = History(million_events)

    def timed(fn):
        started = time.perf_counter()
        result = fn()
        return result, time.perf_counter() - started

    first, t_first = timed(lambda: history.events(limit=100))
    deep, t_deep = timed(lambda: history.events(before_id=1_234, limit=100))
    errors, t_errors = timed(lambda: history.events(level="error", before_id=500_000, limit=100))
    trail, t_trail = timed(lambda: history.trail("nop-order:4321"))
    missing, t_missing = timed(lambda: history.trail("nop-order:0"))
    assert [e.id for e in first][:2] == [1_000_000, 999_999] and deep[0].id == 1_233 and len(deep) == 100
    assert all(e.level == "error" for e in errors) and len(errors) == 100
    assert [e.job_id for e in trail] == [4321] and missing == []
    for name, seconds in [("first page", t_first), ("deep page", t_deep), ("error page", t_errors),
                          ("trail", t_trail), ("trail without hits", t_missing)]:
        assert seconds < 0.25, f"{name} took {seconds * 1000:.0f} ms"
