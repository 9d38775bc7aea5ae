"""The local store: pragmas, forward migrations from an older schema, concurrent access."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from agent.store import StoreError, migrations, open_store
from agent.store.db import Store


def test_pragmas(tmp_path):
    store = open_store(tmp_path)
    assert store.scalar("PRAGMA journal_mode") == "wal"
    assert store.scalar("PRAGMA synchronous") == 2  # FULL
    assert store.scalar("PRAGMA foreign_keys") == 1
    assert store.schema_version() == migrations.LATEST


def test_migrates_forward_from_an_older_schema_keeping_data(tmp_path):
    old = Store(tmp_path / "bngsync.sqlite3")
    old.db.connect()
    assert old.migrate(target=1) == [1]
    now = time.time()
    with old.write():
        old.execute("INSERT INTO job (kind, dedupe_key, payload, state, due_at, created_at, updated_at) "
                    "VALUES ('order.create', 'nop-order:1', '{}', 'pending', ?, ?, ?)", (now, now, now))
    old.close()
    store = open_store(tmp_path)
    assert store.schema_version() == migrations.LATEST
    assert store.scalar("SELECT dedupe_key FROM job") == "nop-order:1"
    assert store.scalar("SELECT count(*) FROM alert") == 0
    assert store.migrate() == []  # idempotent


def test_newer_database_is_refused(tmp_path):
    store = open_store(tmp_path)
    with store.write():
        store.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", (migrations.LATEST + 5,))
    store.close()
    with pytest.raises(StoreError, match="newer bngsync"):
        open_store(tmp_path)


def test_unusable_data_dir_gives_a_reason(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="data dir"):
        open_store(blocker / "sub")


def test_threads_write_concurrently_without_losing_rows(tmp_path):
    store = open_store(tmp_path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                with store.write():
                    store.execute("INSERT INTO cursor (name, value, updated_at) VALUES (?, ?, ?)",
                                  (f"w{n}-{i}", str(i), time.time()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.scalar("SELECT count(*) FROM cursor") == 300


READER = """
import sys, time
from pathlib import Path
from agent.store import open_store
store = open_store(Path(sys.argv[1]))
seen = 0
deadline = time.monotonic() + 30
while seen < 200 and time.monotonic() < deadline:
    seen = store.scalar("SELECT count(*) FROM cursor")
print(seen)
"""


def test_second_process_reads_while_agent_writes(tmp_path):
    store = open_store(tmp_path)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    for i in range(200):
        with store.write():
            store.execute("INSERT INTO cursor (name, value, updated_at) VALUES (?, ?, ?)", (f"c{i}", "1", 0))
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert int(out.strip()) == 200
