"""No secret on disk after a full demo run (`bngsync --log-level DEBUG demo --orders N --keep`).

The demo runs in this process, through the command line's own entry point, so the test can ask the
store double which bearer tokens it issued. Two things are added to it: every logger records at
DEBUG — the libraries too (httpx, httpcore), which the agent's log set-up keeps at WARNING — and
the webhook receiver runs, so the webhook secret is in use as well (the store double signs its
order and customer webhooks with it, the agent checks them).

Searched afterwards: every file the run left (config, the SQLite file, the logs) as raw bytes; the
data folder's files also as they were while the agent still had the database open (so the -wal and
-shm files are read before the last connection folds them in); every text and blob cell of every
table; and what the demo printed. A secret counts as found in UTF-8 or UTF-16; a token also by its
signature part alone (a token cut short in a log line would still show that).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent import demo as demo_mod
from agent import logs
from agent.cli import main
from agent.config import WebhookSettings
from agent.engine.webhooks import WebhookReceiver
from agent.flows import webhook_jobs
from agent.sandbox import Credentials

LIBRARIES = ("httpx", "httpcore")       # kept at WARNING by the agent; DEBUG here, to see what they would say


def needles(name: str, value: str) -> dict[bytes, str]:
    """The byte strings that would show `value` on disk, each naming the secret it belongs to."""
    forms = {value.encode("utf-8"): name, value.encode("utf-16-le"): f"{name} (UTF-16)"}
    if value.count(".") == 2 and value.startswith("eyJ"):          # a JWT: its signature alone gives it away
        forms[value.rsplit(".", 1)[1].encode("ascii")] = f"{name} (signature part)"
    return forms


@dataclass
class Search:
    """What was searched and what was found."""

    needles: dict[bytes, str]
    files: int = 0
    bytes_read: int = 0
    tables: int = 0
    rows: int = 0
    cells: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)     # (where, which secret)

    def blob(self, where: str, data: bytes) -> None:
        self.bytes_read += len(data)
        self.hits += [(where, name) for needle, name in self.needles.items() if needle in data]

    def files_of(self, files: dict[str, bytes], when: str) -> None:
        for name, data in files.items():
            self.files += 1
            self.blob(f"{name} ({when})", data)

    def database(self, path: Path) -> None:
        """Every text and blob cell of every table, through SQLite (read-only)."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            self.tables += len(tables)
            for table in tables:
                cursor = db.execute(f'SELECT * FROM "{table}"')
                columns = [c[0] for c in cursor.description]
                for row in cursor:
                    self.rows += 1
                    for column, value in zip(columns, row, strict=True):
                        if isinstance(value, str):
                            value = value.encode("utf-8", "surrogatepass")
                        if isinstance(value, bytes):
                            self.cells += 1
                            self.hits += [(f"table {table}.{column}", name)
                                          for needle, name in self.needles.items() if needle in value]
        finally:
            db.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def recording_demo(data_dir: Path, runs: list[demo_mod.Demo]) -> type[demo_mod.Demo]:
    """The product's Demo, in `data_dir`, with DEBUG everywhere and the webhook receiver running."""

    class RecordedDemo(demo_mod.Demo):
        open_files: dict[str, bytes]

        def __init__(self, **options: object) -> None:
            super().__init__(data_dir=data_dir, **options)  # type: ignore[arg-type]
            runs.append(self)

        def start(self) -> None:
            super().start()
            for name in LIBRARIES:
                logging.getLogger(name).setLevel(logging.DEBUG)
            runtime = self.service.runtime
            receiver = WebhookReceiver.from_settings(WebhookSettings(enabled=True), queue=runtime.queue,
                                                     mapping=webhook_jobs)       # the secret from the environment
            receiver.port = 0
            runtime.receiver = receiver.start()                                  # stopped with the agent
            self.sandbox.nop.webhooks.start(f"{receiver.url}/webhooks/nopcommerce")

        def stop(self) -> None:
            self.sandbox.nop.webhooks.flush(timeout=10)
            self.open_files = snapshot(data_dir)          # the database still open: -wal and -shm as they are
            super().stop()

    return RecordedDemo


def test_no_secret_reaches_the_config_the_database_or_the_logs(tmp_path, monkeypatch, capsys, scale, report):
    credentials = Credentials()
    # The demo puts the sandbox's credentials into os.environ itself; set here, they are undone after the test.
    monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", credentials.nop_password)
    monkeypatch.setenv("BNGSYNC_BNG_API_KEY", credentials.bng_api_key)
    monkeypatch.setenv("BNGSYNC_WEBHOOK_SECRET", credentials.webhook_secret)
    data_dir = tmp_path / "demo"
    runs: list[demo_mod.Demo] = []
    monkeypatch.setattr(demo_mod, "Demo", recording_demo(data_dir, runs))
    started = time.monotonic()
    try:
        code = main(["--log-level", "DEBUG", "demo", "--orders", str(scale.demo_orders), "--keep", "--timeout", "300"])
    finally:
        logs.setup(None, console=False)                   # detach the demo's log file from this process
    took = time.monotonic() - started
    printed = capsys.readouterr()
    [demo] = runs
    assert code == 0, printed.out[-2000:]

    state = demo.sandbox.nop.state
    tokens = sorted(state.issued_tokens)
    webhooks_accepted = sum(1 for r in demo.sandbox.nop.webhooks.records if r.status == 200)
    assert tokens and state.counters["tokens_issued"] == len(tokens)
    assert webhooks_accepted, "no webhook reached the agent: the webhook secret was not in use"
    secrets = {**needles("nopCommerce password", credentials.nop_password),
               **needles("BNG API key", credentials.bng_api_key),
               **needles("webhook secret", credentials.webhook_secret)}
    for number, token in enumerate(tokens, 1):
        secrets.update(needles(f"nopCommerce bearer token {number}", token))

    search = Search(secrets)
    assert "bngsync.sqlite3" in demo.open_files and "config.toml" in demo.open_files
    left = snapshot(tmp_path)
    search.files_of(demo.open_files, "while the database was open")
    search.files_of(left, "after the run")
    search.database(data_dir / "bngsync.sqlite3")
    search.blob("what the demo printed", (printed.out + printed.err).encode("utf-8"))
    log_text = "".join(p.read_text("utf-8") for p in sorted((data_dir / "logs").glob("bngsync.log*")))
    records = [line.split(maxsplit=4) for line in log_text.splitlines()]     # date, time, level, logger:, message
    debug_lines = sum(len(r) > 3 and r[2] == "DEBUG" for r in records)
    library_lines = sum(len(r) > 3 and r[3].rstrip(":").split(".")[0] in LIBRARIES for r in records)
    assert debug_lines and library_lines, "the log did not record at DEBUG"

    report("demo", f"{scale.demo_orders} orders, exit {code}, {took:.0f} s, "
           f"{webhooks_accepted} signed webhooks accepted")
    report("secrets looked for", f"{3 + len(tokens)}: nop password, BNG API key, webhook secret, "
           f"{len(tokens)} bearer token(s); {len(secrets)} byte patterns")
    report("files searched as raw bytes", f"{len(demo.open_files)} with the database open "
           f"({', '.join(demo.open_files)}), {len(left)} after the run")
    report("bytes searched", f"{search.bytes_read:,} in {search.files} files and the demo's output")
    report("database: tables / rows / text+blob cells", f"{search.tables} / {search.rows:,} / {search.cells:,}")
    report("log lines (DEBUG, from httpx/httpcore)", f"{len(log_text.splitlines()):,} ({debug_lines:,}, "
           f"{library_lines:,})")
    report("hits", len(search.hits))
    assert search.hits == [], sorted(set(search.hits))
