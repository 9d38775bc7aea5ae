"""What happened, when, and to which record: runs, job steps and each flow's health.

Every run of a flow (its trigger, start, end, counts, outcome) is a row in `run`; every step a
job takes is a row in `event`. Events carry a `subject`: space-separated tokens such as
`nop-order:1234 bng-order:SO-104001 sku:AP_MBP_13 email:a@b.c`, so "show me everything about
order 1234" is a token match, with no parsing of free text. The tokens (and their values without
prefix, "1234") are indexed in `event_token`, so a trail is an index lookup at any history size:
write events through `History.event` or `write_event`, never with a bare INSERT, or they cannot be
found. Lists page by keyset on the id (`before_id`): the newest page of a million events is as
fast as the first page of ten.

`flow_state` keeps one row per flow (last run, last success, failing since, last error): the tray
and `bngsync status` read it to say at a glance whether a flow is healthy, and alerts use it to
notice a flow that has not succeeded for too long.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from agent.store import Store

LEVELS = ("debug", "info", "warning", "error")
OUTCOMES = ("ok", "partial", "failed")

INSERT_EVENT = ("INSERT INTO event (at, level, kind, flow, run_id, job_id, subject, message, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
# All of an event's tokens in one statement (a dozen per order event: one round through the driver
# each cost more than the insert itself).
_INSERT_TOKENS = "INSERT INTO event_token (event_id, token) SELECT ?, value FROM json_each(?)"

# Messages are searched by substring only among this many newest events (a scan); subjects and job
# keys are indexed and searched over the whole history.
MESSAGE_SEARCH_WINDOW = 50_000

_EVENT_COLUMNS = "id, at, level, kind, flow, run_id, job_id, subject, message, data"
_RUN_COLUMNS = "id, flow, trigger, started_at, ended_at, outcome, counts, message"

# Words people type before an identifier ("SKU AP_MBP_13", "order 1234") → the subject prefix.
_PREFIXES = {
    "sku": "sku", "item": "sku", "product": "nop-product", "order": "nop-order", "nop-order": "nop-order",
    "bng-order": "bng-order", "customer": "nop-customer", "email": "email", "e-mail": "email",
    "shipment": "nop-shipment",
}


def in_transaction(store: Store) -> AbstractContextManager[Any]:
    """A write transaction, unless the caller already holds one (then its commit covers us)."""
    return nullcontext() if store.db.in_transaction() else store.write()


def subject_of(*parts: str | None) -> str | None:
    """Join subject tokens, dropping empties and repeats (order kept)."""
    seen: list[str] = []
    for part in parts:
        for token in (part or "").split():
            if token not in seen:
                seen.append(token)
    return " ".join(seen) or None


def dump(data: Any) -> str | None:
    return None if data is None else json.dumps(data, default=str, separators=(",", ":"))


def load(text: str | None) -> Any:
    """Stored JSON back to data; text that is not JSON (written by hand) comes back as it is."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def tokens_of(subject: str | None) -> set[str]:
    """Index entries of a subject: each token, and the value after its prefix, lower-cased
    ("nop-order:1234" → "nop-order:1234" and "1234"), so both forms find it."""
    found: set[str] = set()
    for token in (subject or "").lower().split()[:24]:
        token = token[:200]
        found.add(token)
        _, sep, value = token.partition(":")
        if sep and value:
            found.add(value)
    return found


def write_event(execute: Callable[..., Any], at: float, level: str, kind: str, flow: str | None,
                run_id: int | None, job_id: int | None, subject: str | None, message: str,
                data: str | None) -> int:
    """Insert an event and its subject tokens (inside the caller's transaction, if any)."""
    event_id = execute(INSERT_EVENT, (at, level, kind, flow, run_id, job_id, subject, message, data)).lastrowid
    tokens = tokens_of(subject)
    if tokens:
        execute(_INSERT_TOKENS, (event_id, json.dumps(sorted(tokens), ensure_ascii=False)))
    return event_id


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    level: str
    kind: str
    flow: str | None
    run_id: int | None
    job_id: int | None
    subject: str | None
    message: str
    data: Any

    @classmethod
    def from_row(cls, row: tuple) -> Event:
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], load(row[9]))


@dataclass(frozen=True)
class Run:
    id: int
    flow: str
    trigger: str
    started_at: float
    ended_at: float | None
    outcome: str            # running, ok, partial, failed
    counts: dict[str, int]
    message: str | None

    @classmethod
    def from_row(cls, row: tuple) -> Run:
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], load(row[6]) or {}, row[7])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def trail_terms(query: str) -> tuple[list[str], list[str]]:
    """Turn what a person typed into (exact subject tokens, bare values).

    "nop-order:1234" is an exact token; "SKU AP_MBP_13" becomes `sku:AP_MBP_13`; an e-mail
    address becomes `email:...`; a bare value ("AP_MBP_13", "1234") matches any token ending in
    `:value`, whatever its prefix.
    """
    query = query.strip()
    tokens: list[str] = []
    values: list[str] = []
    words = query.split()
    if len(words) == 2 and words[0].lower().rstrip(":") in _PREFIXES:
        tokens.append(f"{_PREFIXES[words[0].lower().rstrip(':')]}:{words[1]}")
        values.append(words[1])
    elif len(words) == 1:
        word = words[0]
        if ":" in word:
            tokens.append(word)
        elif "@" in word:
            tokens.append(f"email:{word}")
            values.append(word)
        else:
            values.append(word)
    return tokens, values


class History:
    """Runs, events and flow health in the store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    # -- runs ----------------------------------------------------------------------------------
    def start_run(self, flow: str, trigger: str, message: str | None = None) -> int:
        now = self.clock()
        with in_transaction(self.store):
            cur = self.store.execute(
                "INSERT INTO run (flow, trigger, started_at, outcome, counts, message) "
                "VALUES (?, ?, ?, 'running', '{}', ?)", (flow, trigger, now, message))
            run_id = cur.lastrowid
            self.store.execute(
                "INSERT INTO flow_state (flow, last_run_at, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(flow) DO UPDATE SET last_run_at = excluded.last_run_at, "
                "updated_at = excluded.updated_at", (flow, now, now))
        return run_id

    def finish_run(self, run_id: int, outcome: str, counts: dict[str, int] | None = None,
                   message: str | None = None) -> None:
        """Close a run. `ok` and `partial` count as the flow working (it ran and synced); the
        records that failed in a partial run raise their own alerts. `failed` marks the flow failing.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        now = self.clock()
        with in_transaction(self.store):
            row = self.store.execute(
                "UPDATE run SET ended_at = ?, outcome = ?, counts = ?, message = COALESCE(?, message) "
                "WHERE id = ? RETURNING flow", (now, outcome, dump(counts or {}), message, run_id)).fetchone()
            if row is None:
                raise KeyError(f"no run {run_id}")
            level = {"ok": "info", "partial": "warning", "failed": "error"}[outcome]
            summary = message or f"{row[0]} run {outcome}"
            self.event("run.finished", summary, level=level, flow=row[0], run_id=run_id, data=counts or None)
            self.mark_flow(row[0], outcome != "failed", None if outcome == "ok" else summary)

    def run(self, run_id: int) -> Run | None:
        row = self.store.execute(f"SELECT {_RUN_COLUMNS} FROM run WHERE id = ?", (run_id,)).fetchone()
        return Run.from_row(row) if row else None

    def runs(self, flow: str | None = None, outcome: str | None = None, since: float | None = None,
             limit: int = 50, offset: int = 0, before_id: int | None = None) -> list[Run]:
        """Newest first. Page with `before_id` (the last id of the previous page): fast at any depth;
        `offset` works too but costs more the deeper it goes.
        """
        conditions, params = [], []
        for column, op, value in (("flow", "=", flow), ("outcome", "=", outcome), ("started_at", ">=", since),
                                  ("id", "<", before_id)):
            if value is not None:
                conditions.append(f"{column} {op} ?")
                params.append(value)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        sql = f"SELECT {_RUN_COLUMNS} FROM run {where}ORDER BY id DESC LIMIT ? OFFSET ?"
        return [Run.from_row(r) for r in self.store.execute(sql, (*params, limit, offset)).fetchall()]

    # -- events --------------------------------------------------------------------------------
    def event(self, kind: str, message: str, level: str = "info", flow: str | None = None,
              run_id: int | None = None, job_id: int | None = None, subject: str | None = None,
              data: Any = None) -> int:
        """Record one event (outside the queue: a poll's progress, a manual action); returns its id."""
        if level not in LEVELS:
            level = "info"
        with in_transaction(self.store):
            return write_event(self.store.db.execute_sql, self.clock(), level, kind, flow, run_id, job_id,
                               subject, message, dump(data))

    def events(self, before_id: int | None = None, limit: int = 100, level: str | None = None,
               flow: str | None = None, run_id: int | None = None, job_id: int | None = None,
               min_level: str | None = None) -> list[Event]:
        """Newest first, keyset-paged by `before_id` (the last id of the previous page)."""
        conditions, params = [], []
        for column, value in (("run_id", run_id), ("job_id", job_id), ("level", level), ("flow", flow)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if min_level in LEVELS:
            levels = LEVELS[LEVELS.index(min_level):]
            conditions.append(f"level IN ({', '.join('?' * len(levels))})")
            params.extend(levels)
        if before_id is not None:
            conditions.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        sql = f"SELECT {_EVENT_COLUMNS} FROM event {where}ORDER BY id DESC LIMIT ?"
        return [Event.from_row(r) for r in self.store.execute(sql, (*params, limit)).fetchall()]

    def trail(self, query: str, limit: int = 200, before_id: int | None = None) -> list[Event]:
        """Everything recorded about one record, newest first: "nop-order:1234", "SKU AP_MBP_13",
        "a@b.c", or a bare "1234". Matches subject tokens and job keys through indexes over the
        whole history, and the text inside messages among the newest `MESSAGE_SEARCH_WINDOW` events.
        """
        query = query.strip()
        if not query:
            return []
        tokens, values = trail_terms(query)
        lookups = sorted({t.lower() for t in (*tokens, *values)})
        keys = sorted({*tokens, query})
        newest = self.store.scalar("SELECT MAX(id) FROM event") or 0
        sql = (f"SELECT {_EVENT_COLUMNS} FROM event WHERE id IN ("
               "SELECT event_id FROM event_token WHERE token IN (SELECT value FROM json_each(?1)) "
               "UNION SELECT id FROM event WHERE job_id IN "
               "(SELECT id FROM job WHERE dedupe_key IN (SELECT value FROM json_each(?2))) "
               "UNION SELECT id FROM event WHERE id > ?3 AND message LIKE ?4 ESCAPE '\\') "
               "AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6")
        params = (json.dumps(lookups), json.dumps(keys), newest - MESSAGE_SEARCH_WINDOW,
                  f"%{_escape_like(query)}%", before_id, limit)
        return [Event.from_row(r) for r in self.store.execute(sql, params).fetchall()]

    # -- flow health ---------------------------------------------------------------------------
    def mark_flow(self, flow: str, ok: bool, error: str | None = None) -> None:
        """Record that a flow ran; a failure starts (or continues) its failing period."""
        now = self.clock()
        if ok:
            sql = ("INSERT INTO flow_state (flow, last_run_at, last_success_at, failing_since, last_error, "
                   "updated_at) VALUES (?1, ?2, ?2, NULL, ?3, ?2) ON CONFLICT(flow) DO UPDATE SET "
                   "last_run_at = ?2, last_success_at = ?2, failing_since = NULL, last_error = ?3, updated_at = ?2")
        else:
            sql = ("INSERT INTO flow_state (flow, last_run_at, failing_since, last_error, updated_at) "
                   "VALUES (?1, ?2, ?2, ?3, ?2) ON CONFLICT(flow) DO UPDATE SET last_run_at = ?2, "
                   "failing_since = COALESCE(failing_since, ?2), last_error = ?3, updated_at = ?2")
        with in_transaction(self.store):
            self.store.execute(sql, (flow, now, error))

    def set_next_run(self, flow: str, at: float | None) -> None:
        now = self.clock()
        self.store.execute(
            "INSERT INTO flow_state (flow, next_run_at, updated_at) VALUES (?1, ?2, ?3) "
            "ON CONFLICT(flow) DO UPDATE SET next_run_at = ?2, updated_at = ?3", (flow, at, now))

    def flow_states(self) -> dict[str, dict[str, Any]]:
        rows = self.store.query("SELECT flow, last_run_at, last_success_at, failing_since, last_error, "
                                "next_run_at, updated_at FROM flow_state ORDER BY flow")
        return {r["flow"]: r for r in rows}

    # -- retention -----------------------------------------------------------------------------
    def prune(self, retention_days: int, batch: int = 5000) -> dict[str, int]:
        """Delete events, finished runs and finished (succeeded/discarded) jobs older than the
        retention. Work still open (pending, failing, dead, quarantined) is never pruned: errors stay
        until someone resolves them. Deletes go in batches so the workers are never blocked for long.
        """
        cutoff = self.clock() - retention_days * 86400
        deleted = {"events": 0, "tokens": 0, "runs": 0, "jobs": 0}
        oldest_kept = self.store.scalar("SELECT MIN(id) FROM event WHERE at >= ?", (cutoff,))
        if oldest_kept is None:
            oldest_kept = (self.store.scalar("SELECT MAX(id) FROM event") or 0) + 1
        statements = {
            "events": "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE at < ? ORDER BY id LIMIT ?)",
            "tokens": "DELETE FROM event_token WHERE rowid IN (SELECT rowid FROM event_token WHERE event_id < ? "
                      "ORDER BY rowid LIMIT ?)",
            "runs": "DELETE FROM run WHERE id IN (SELECT id FROM run WHERE started_at < ? "
                    "AND outcome != 'running' ORDER BY id LIMIT ?)",
            "jobs": "DELETE FROM job WHERE id IN (SELECT id FROM job WHERE state IN ('succeeded', 'discarded') "
                    "AND COALESCE(finished_at, updated_at) < ? ORDER BY id LIMIT ?)",
        }
        for name, sql in statements.items():
            bound = oldest_kept if name == "tokens" else cutoff
            while True:
                with self.store.write():
                    count = self.store.execute(sql, (bound, batch)).rowcount
                deleted[name] += count
                if count < batch:
                    break
        return deleted

