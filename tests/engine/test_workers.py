"""Worker pools on real threads (and a second process): each job runs once, leases hold, stop is clean."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent.engine import workers as workers_module
from agent.engine.errors import Quarantine
from agent.engine.queue import JobQueue
from agent.engine.workers import JobContext, WorkerPool
from tests.engine.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_queue(store) -> JobQueue:
    """A queue on the real clock, for pools with real threads."""
    return JobQueue(store, max_attempts=3, retry_base=0.01, retry_max=0.05, lease_seconds=30)


def test_a_pool_runs_jobs_and_records_their_steps(live_queue, store):
    seen: list[tuple] = []
    lock = threading.Lock()

    def create_order(ctx: JobContext) -> dict:
        ctx.step("sending the order to BNG", subject="sku:AP_MBP_13", data={"lines": 1})
        ctx.add_subject(f"bng-order:SO-{ctx.payload['id']}")
        with lock:
            seen.append((ctx.id, ctx.kind, ctx.key, ctx.payload, ctx.attempts, ctx.run_id))
        return {"bng_order": f"SO-{ctx.payload['id']}"}

    pool = WorkerPool(live_queue, {"order.create": create_order}, workers=3, poll_interval=0.05).start()
    try:
        for i in range(20):
            live_queue.enqueue("order.create", f"nop-order:{i}", {"id": i}, run_id=7)
        assert pool.wait_idle(10)
    finally:
        assert pool.stop(5)
    assert sorted(s[2] for s in seen) == sorted(f"nop-order:{i}" for i in range(20))
    assert all(s[4] == 1 and s[5] == 7 for s in seen)
    assert live_queue.counts()["succeeded"] == 20
    job = live_queue.find(key="nop-order:3")[0]
    assert job.result == {"bng_order": "SO-3"}
    rows = store.query("SELECT kind, subject, run_id FROM event WHERE job_id = ? ORDER BY id", (job.id,))
    assert [r["kind"] for r in rows] == ["job.step", "job.succeeded"]
    assert rows[0]["subject"] == "nop-order:3 bng-order:SO-3 sku:AP_MBP_13"
    assert rows[1]["run_id"] == 7


def test_unknown_kind_is_quarantined_with_a_plain_reason(live_queue):
    live_queue.enqueue("gift_card.issue", "card:1", {})
    pool = WorkerPool(live_queue, {})
    assert pool.process_once() == 1
    job = live_queue.get(1)
    assert job.state == "quarantined" and "no handler for 'gift_card.issue'" in job.last_error


def test_handler_failures_are_classified(live_queue):
    failures = []
    live_queue.add_error_listener(failures.append)

    def bad_email(ctx):
        raise Quarantine(f"the e-mail address {ctx.payload['email']!r} is not valid")

    def flaky(ctx):
        raise ConnectionError("BNG refused the connection")

    pool = WorkerPool(live_queue, {"customer.create": bad_email, "stock.push": flaky}, workers=2,
                      poll_interval=0.02).start()
    try:
        live_queue.enqueue("customer.create", "nop-customer:1", {"email": "x@"})
        live_queue.enqueue("stock.push", "sku:A", {})
        wait_until(lambda: live_queue.counts()["dead"] == 1 and live_queue.counts()["quarantined"] == 1,
                   message="one quarantined and one dead job")
    finally:
        pool.stop(5)
    assert live_queue.find(key="sku:A")[0].attempts == 3
    assert sorted(f.state for f in failures) == ["dead", "quarantined"]


def test_override_reaches_the_handler(live_queue):
    got = []

    def create_customer(ctx):
        got.append(ctx.payload)
        if "@example.com" not in ctx.payload["email"]:
            raise Quarantine("bad e-mail")

    live_queue.enqueue("customer.create", "nop-customer:1", {"email": "x@", "name": "Ann"})
    pool = WorkerPool(live_queue, {"customer.create": create_customer})
    pool.process_once()
    assert live_queue.get(1).state == "quarantined"
    live_queue.retry(1, override={"email": "ann@example.com"})
    pool.process_once()
    assert got == [{"email": "x@", "name": "Ann"}, {"email": "ann@example.com", "name": "Ann"}]
    assert live_queue.get(1).state == "succeeded"


def test_heartbeat_keeps_a_slow_job_from_being_taken_over(store):
    queue = JobQueue(store, lease_seconds=0.5)
    release = threading.Event()
    started = threading.Event()
    runs = []

    def slow(ctx):
        runs.append(ctx.job.lease_owner)
        started.set()
        release.wait(10)

    slow_pool = WorkerPool(queue, {"report": slow}, workers=1, owner="slow", poll_interval=0.02).start()
    thief = WorkerPool(queue, {"report": slow}, workers=2, owner="thief", poll_interval=0.02)
    try:
        queue.enqueue("report", "full-reconciliation", {})
        assert started.wait(5)
        thief.start()
        # Several lease lengths pass while the thief keeps trying to claim.
        assert not thief.wait_idle(1.6, kinds=["report"])
        release.set()
        assert thief.wait_idle(5)
    finally:
        release.set()
        slow_pool.stop(5)
        thief.stop(5)
    assert len(runs) == 1 and runs[0].startswith("slow/")
    assert queue.get(1).state == "succeeded"


def test_a_dead_pools_job_is_taken_over_after_its_lease(store):
    queue = JobQueue(store, lease_seconds=0.2)
    queue.enqueue("order.create", "nop-order:1", {})
    [job] = queue.claim("crashed-process")          # claimed, then the process died
    done = []
    pool = WorkerPool(queue, {"order.create": lambda ctx: done.append(ctx.attempts)}, poll_interval=0.02).start()
    try:
        assert pool.wait_idle(5)
    finally:
        pool.stop(5)
    assert done == [2] and queue.get(job.id).state == "succeeded"


def test_two_pools_never_run_the_same_job(store):
    queue = JobQueue(store)
    ran: list[int] = []
    lock = threading.Lock()

    def handler(ctx):
        with lock:
            ran.append(ctx.id)

    queue.enqueue_many([("stock.push", f"sku:{i}", {}) for i in range(400)])
    pools = [WorkerPool(queue, {"stock.push": handler}, workers=4, batch=3, poll_interval=0.02, owner=f"p{n}")
             for n in range(2)]
    for pool in pools:
        pool.start()
    try:
        assert pools[0].wait_idle(20)
    finally:
        for pool in pools:
            pool.stop(5)
    assert len(ran) == 400 and len(set(ran)) == 400


WORKER_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from agent.store import open_store
    from agent.engine.queue import JobQueue
    from agent.engine.workers import WorkerPool

    store = open_store(Path(sys.argv[1]))
    total = int(sys.argv[2])
    queue = JobQueue(store)
    pause = threading.Event()

    def handler(ctx):
        with ctx.store.write():
            ctx.store.execute("INSERT INTO ran (job_id, owner) VALUES (?, ?)", (ctx.id, sys.argv[3]))
        pause.wait(0.003)   # a little work, so both processes take part

    pool = WorkerPool(queue, {"stock.push": handler}, workers=2, poll_interval=0.02, owner=sys.argv[3]).start()
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while store.scalar("SELECT COUNT(*) FROM job WHERE state = 'succeeded'") < total:
        if time.monotonic() > deadline:
            sys.exit(3)
        queue.wait_for_change(0.05)
    pool.stop(10)
""")


def test_two_processes_never_run_the_same_job(store, tmp_path):
    data_dir = tmp_path / "data"
    store.execute("CREATE TABLE ran (job_id INTEGER NOT NULL, owner TEXT NOT NULL)")
    total = 300
    procs = [subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(data_dir), str(total), f"proc{n}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(2)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        JobQueue(store).enqueue_many([("stock.push", f"sku:{i}", {}) for i in range(total)])
        for proc in procs:
            assert proc.wait(60) == 0, proc.stderr.read()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    rows = store.query("SELECT job_id, owner FROM ran")
    assert len(rows) == total and len({r["job_id"] for r in rows}) == total
    owners = {r["owner"] for r in rows}
    assert owners == {"proc0", "proc1"}, "both processes should have taken part"


def test_stop_finishes_the_running_job_and_gives_back_the_rest(live_queue):
    entered, proceed = threading.Event(), threading.Event()

    def handler(ctx):
        if ctx.key == "k0":
            entered.set()
            proceed.wait(10)

    live_queue.enqueue_many([("a", f"k{i}", {}) for i in range(5)])
    pool = WorkerPool(live_queue, {"a": handler}, workers=1, batch=5, poll_interval=0.02).start()
    assert entered.wait(5)
    assert pool.stop(timeout=0.05) is False          # k0 is still running
    proceed.set()
    wait_until(lambda: not pool.alive, message="the pool to stop")
    counts = live_queue.counts()
    assert counts["succeeded"] == 1 and counts["pending"] == 4 and counts["running"] == 0
    assert {j.attempts for j in live_queue.find(states=["pending"])} == {0}


def test_pause_and_resume(live_queue):
    done = []
    pool = WorkerPool(live_queue, {"a": lambda ctx: done.append(ctx.key)}, workers=2, poll_interval=0.02).start()
    try:
        pool.pause()
        live_queue.enqueue("a", "k1", {})
        assert not pool.wait_idle(0.3)               # paused: the job waits
        assert done == [] and pool.paused
        pool.resume()
        assert pool.wait_idle(5)
        assert done == ["k1"]
    finally:
        pool.stop(5)


def test_wait_idle_filters_by_kind_and_key(live_queue):
    pool = WorkerPool(live_queue, {"a": lambda ctx: None}, kinds=["a"])
    live_queue.enqueue("a", "k1", {})
    live_queue.enqueue("b", "k2", {})
    assert not pool.wait_idle(0.05, keys=["k1"])
    pool.process_once(limit=5)
    assert pool.wait_idle(0.05, keys=["k1"]) and pool.wait_idle(0.05, kinds=["a"])
    assert not pool.wait_idle(0.05)                   # "b" is nobody's work in this pool
    assert live_queue.get(2).state == "pending"


def test_waiting_wakes_on_the_change_not_the_poll_interval(live_queue):
    """Workers, wait_idle and stop react to signals, not to a 5-second poll."""
    pool = WorkerPool(live_queue, {"a": lambda ctx: None}, workers=3, poll_interval=5).start()
    try:
        for i in range(5):
            started = time.monotonic()
            live_queue.enqueue("a", f"k{i}", {})
            assert pool.wait_idle(10)
            assert time.monotonic() - started < 1
    finally:
        started = time.monotonic()
        assert pool.stop(5)
        assert time.monotonic() - started < 1


def test_a_long_jobs_steps_are_visible_while_it_runs(live_queue, store, monkeypatch):
    monkeypatch.setattr(workers_module, "STEP_FLUSH_SECONDS", 0.0)
    entered, proceed = threading.Event(), threading.Event()

    def handler(ctx):
        ctx.step("page 1 of 3 read")
        entered.set()
        proceed.wait(10)

    live_queue.enqueue("products.reconcile", "catalog", {})
    pool = WorkerPool(live_queue, {"products.reconcile": handler}, workers=1, poll_interval=0.02).start()
    try:
        assert entered.wait(5)
        assert store.scalar("SELECT message FROM event WHERE kind = 'job.step'") == "page 1 of 3 read"
        proceed.set()
        assert pool.wait_idle(5)
    finally:
        proceed.set()
        pool.stop(5)
