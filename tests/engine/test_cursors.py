"""Cursors move with the jobs they produced, or not at all."""

from __future__ import annotations

import pytest

from agent.engine.cursors import Cursors, commit_batch
from agent.engine.queue import JobSpec


class Crash(Exception):
    pass


def test_get_and_set_keep_the_type(store):
    cursors = Cursors(store)
    assert cursors.get("orders.since_id") is None
    assert cursors.get("orders.since_id", 0) == 0
    cursors.set("orders.since_id", 1234)
    cursors.set("stock.since", "2026-03-01T00:00:00Z")
    assert cursors.get("orders.since_id") == 1234
    assert cursors.all() == {"orders.since_id": 1234, "stock.since": "2026-03-01T00:00:00Z"}
    assert cursors.reset("stock.since") and cursors.get("stock.since") is None


def test_advance_must_share_the_jobs_transaction(store):
    with pytest.raises(RuntimeError, match="transaction"):
        Cursors(store).advance("orders.since_id", 5)


def test_commit_batch_moves_jobs_and_cursor_together(store, queue):
    cursors = Cursors(store, queue)
    results = cursors.commit_batch([JobSpec("order.create", f"nop-order:{i}", {"id": i}) for i in (1, 2)],
                                   "orders.since_id", 2)
    assert [r.outcome for r in results] == ["created", "created"]
    assert cursors.get("orders.since_id") == 2 and queue.depth() == 2
    commit_batch(queue, [("order.create", "nop-order:3", {"id": 3})], "orders.since_id", 3)
    assert cursors.get("orders.since_id") == 3 and queue.depth() == 3


def test_a_crash_between_enqueue_and_cursor_leaves_neither(store, queue):
    cursors = Cursors(store)
    cursors.set("orders.since_id", 10)
    with pytest.raises(Crash), store.write():
        queue.enqueue_many([("order.create", f"nop-order:{i}", {}) for i in range(11, 21)], in_tx=True)
        raise Crash("power cut before the cursor moved")
    assert queue.depth() == 0 and cursors.get("orders.since_id") == 10


def test_a_failing_cursor_write_takes_the_jobs_back(store, queue, monkeypatch):
    cursors = Cursors(store)
    cursors.set("orders.since_id", 10)

    def broken_advance(name, value):
        raise Crash("disk full while moving the cursor")

    monkeypatch.setattr(cursors, "advance", broken_advance)
    with pytest.raises(Crash):
        cursors.commit_batch([("order.create", "nop-order:11", {})], "orders.since_id", 11, queue=queue)
    assert queue.depth() == 0 and cursors.get("orders.since_id") == 10
    # The retry of the poll then produces the jobs and the cursor once.
    monkeypatch.undo()
    Cursors(store, queue).commit_batch([("order.create", "nop-order:11", {})], "orders.since_id", 11)
    assert queue.depth() == 1 and cursors.get("orders.since_id") == 11


def test_cursor_is_atomic_across_a_killed_process(store, tmp_path):
    """A process killed between enqueue and cursor update (os._exit inside the transaction)."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent("""
        import os, sys
        from pathlib import Path
        from agent.store import open_store
        from agent.engine.queue import JobQueue
        from agent.engine.cursors import Cursors
        store = open_store(Path(sys.argv[1]))
        queue, cursors = JobQueue(store), Cursors(store)
        with store.write():
            queue.enqueue_many([("order.create", f"nop-order:{i}", {}) for i in range(50)], in_tx=True)
            os._exit(9)            # killed before the cursor moves and before the commit
            cursors.advance("orders.since_id", 50)
    """)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], cwd=root, timeout=60)
    assert proc.returncode == 9
    assert store.scalar("SELECT COUNT(*) FROM job") == 0
    assert Cursors(store).get("orders.since_id") is None
    assert store.integrity_check() == "ok"
