"""Where each poll left off ("orders since id 1234", "stock changes since sequence 9876").

A cursor moves in the same transaction that commits the jobs it produced: a crash between the
two can neither skip records (cursor moved, jobs lost) nor read them twice into two jobs
(jobs committed, cursor not moved; and coalescing would absorb even that). Hence `advance`
refuses to run outside a transaction, and `commit_batch` does both in one step::

    with store.write():
        queue.enqueue_many(specs, in_tx=True)
        cursors.advance("orders.since_id", 1234)

Values are stored as JSON, so an int comes back as an int and a string as a string.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from agent.engine.history import load
from agent.engine.queue import EnqueueResult, JobQueue, JobSpec
from agent.store import Store

_UPSERT = ("INSERT INTO cursor (name, value, updated_at) VALUES (?1, ?2, ?3) "
           "ON CONFLICT(name) DO UPDATE SET value = ?2, updated_at = ?3")


class Cursors:
    """Named cursors in the store. Give `queue` to use `commit_batch` without passing it each time."""

    def __init__(self, store: Store, queue: JobQueue | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.queue = queue
        self.clock = clock

    def get(self, name: str, default: Any = None) -> Any:
        raw = self.store.scalar("SELECT value FROM cursor WHERE name = ?", (name,))
        return default if raw is None else load(raw)

    def advance(self, name: str, value: Any) -> None:
        """Move a cursor inside the caller's transaction (the one committing the produced jobs)."""
        if not self.store.db.in_transaction():
            raise RuntimeError("a cursor must advance inside the transaction that commits its jobs "
                               "(`with store.write(): ...`), or use commit_batch()")
        self.store.execute(_UPSERT, (name, json.dumps(value, default=str), self.clock()))

    def set(self, name: str, value: Any) -> None:
        """Set a cursor on its own, e.g. a person resetting where a flow starts from."""
        with self.store.write():
            self.store.execute(_UPSERT, (name, json.dumps(value, default=str), self.clock()))

    def reset(self, name: str) -> bool:
        with self.store.write():
            return self.store.execute("DELETE FROM cursor WHERE name = ?", (name,)).rowcount > 0

    def all(self) -> dict[str, Any]:
        return {row["name"]: load(row["value"]) for row in
                self.store.query("SELECT name, value FROM cursor ORDER BY name")}

    def commit_batch(self, jobs: Iterable[JobSpec | tuple | dict], cursor_name: str, cursor_value: Any, *,
                     run_id: int | None = None, queue: JobQueue | None = None) -> list[EnqueueResult]:
        """Enqueue a poll's jobs and move its cursor, all or nothing."""
        queue = queue or self.queue
        if queue is None:
            raise ValueError("commit_batch needs the queue: Cursors(store, queue) or queue=...")
        with self.store.write():
            results = queue.enqueue_many(jobs, run_id=run_id, in_tx=True)
            self.advance(cursor_name, cursor_value)
        return results


def commit_batch(queue: JobQueue, jobs: Iterable[JobSpec | tuple | dict], cursor_name: str, cursor_value: Any,
                 run_id: int | None = None) -> list[EnqueueResult]:
    """Shorthand for `Cursors(queue.store, queue).commit_batch(...)`."""
    return Cursors(queue.store, queue).commit_batch(jobs, cursor_name, cursor_value, run_id=run_id)
