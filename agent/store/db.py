"""Opening the SQLite store safely for many threads and a second process.

Every connection gets the same pragmas: WAL (readers never block the writer, so the CLI can read
while the agent writes), `synchronous=FULL` (a commit acknowledged to BNG or to a webhook sender
survives power loss), foreign keys on, and a busy timeout so concurrent writers queue up instead of
failing. Writes go through `Store.write()`, a `BEGIN IMMEDIATE` transaction: the write lock is
taken up front, so two writers never deadlock upgrading read locks.

The threads of one process also queue for writing on a lock of their own before BEGIN: SQLite's
busy handler polls with sleeps of up to 100 ms, so workers contending for the write lock would
otherwise sit idle long after it was released (a quarter of a drain's time went there). Another
process still waits through `busy_timeout`, as before.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase

from agent.store import migrations

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30_000,
}
# How long a thread queues for this process's write lock before it goes ahead anyway and lets
# SQLite's busy timeout decide (a writer stuck that long is a bug, not a reason to hang).
WRITE_LOCK_WAIT = 30.0


class StoreError(Exception):
    """The data dir or database cannot be used; the message says why in plain words."""


class Store:
    """The agent's database: a peewee database plus the few helpers everything shares."""

    def __init__(self, path: Path):
        self.path = path
        self.db = SqliteDatabase(str(path), pragmas=PRAGMAS, timeout=30, check_same_thread=False)
        self._migrate_lock = threading.Lock()
        self._write_lock = threading.RLock()    # re-entrant: a nested write is a savepoint

    # -- transactions --------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[SqliteDatabase]:
        """A write transaction that takes the write lock at BEGIN (BEGIN IMMEDIATE)."""
        queued = self._write_lock.acquire(timeout=WRITE_LOCK_WAIT)
        try:
            with self.db.atomic("IMMEDIATE"):
                yield self.db
        finally:
            if queued:
                self._write_lock.release()

    def execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        return self.db.execute_sql(sql, params)

    def query(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        cur = self.db.execute_sql(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.db.execute_sql(sql, params).fetchone()
        return row[0] if row else None

    # -- schema --------------------------------------------------------------------------------
    def schema_version(self) -> int:
        self.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL)")
        return self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply pending migrations up to `target` (default: latest); return the versions applied."""
        target = migrations.LATEST if target is None else target
        applied: list[int] = []
        with self._migrate_lock:
            current = self.schema_version()
            if current > migrations.LATEST:
                raise StoreError(f"the database {self.path} was written by a newer bngsync "
                                 f"(schema {current}, this version knows {migrations.LATEST}); "
                                 "install the newer version again")
            for version in range(current + 1, target + 1):
                with self.write():
                    # Another process may have migrated while we waited for the lock.
                    if self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") >= version:
                        continue
                    for statement in migrations.MIGRATIONS[version - 1]:
                        self.execute(statement)
                    self.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                                 (version, time.time()))
                applied.append(version)
        return applied

    def integrity_check(self) -> str:
        return self.scalar("PRAGMA integrity_check")

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()


def open_store(data_dir: Path, migrate: bool = True) -> Store:
    """Open (creating if needed) the store in `data_dir`; raise StoreError with a reason."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data dir {data_dir}: {exc.strerror or exc}") from None
    if not data_dir.is_dir():
        raise StoreError(f"the data dir {data_dir} is not a folder")
    path = data_dir / "bngsync.sqlite3"
    store = Store(path)
    try:
        store.db.connect(reuse_if_open=True)
        if migrate:
            store.migrate()
    except StoreError:
        store.close()
        raise
    except (sqlite3.Error, OSError) as exc:
        store.close()
        reason = str(exc)
        if "unable to open" in reason or "readonly" in reason or "not a database" in reason:
            raise StoreError(f"cannot use the database {path}: {reason} "
                             "(check the folder's permissions, or choose another with --data-dir)") from None
        raise StoreError(f"cannot use the database {path}: {reason}") from None
    return store
