"""Which nopCommerce record is which BNG record, and how a create is made to happen exactly once.

The cross-reference (`xref`) maps (entity, nopCommerce id) to a BNG key for orders, customers,
products/SKUs and shipments, and is read both ways. BNG does not deduplicate creates, and a
create whose reply was lost (timeout, reset, crash between the call and our commit) may or may
not have happened. So every create follows one pattern, `create_once`:

1. the xref says done → use that key ("existing");
2. an *intent* is recorded from an earlier attempt whose outcome is unknown → look the record up
   in BNG by its external reference first, and adopt it when found ("adopted");
3. otherwise record the intent durably (committed before the call), create, record the key
   ("created").

An intent never blocks: if the lookup finds nothing, the earlier attempt did not create
anything, and creating again is safe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.engine.errors import JobError
from agent.engine.history import dump, in_transaction
from agent.store import Store

ENTITIES = ("order", "customer", "product", "sku", "shipment")

_COLUMNS = "entity, nop_id, bng_key, state, data, created_at, updated_at"


@dataclass(frozen=True)
class XRefRecord:
    entity: str
    nop_id: str
    bng_key: str | None
    state: str              # intent or done
    data: Any
    created_at: float
    updated_at: float

    @property
    def done(self) -> bool:
        return self.state == "done" and bool(self.bng_key)

    @classmethod
    def from_row(cls, row: tuple) -> XRefRecord:
        return cls(row[0], row[1], row[2], row[3], json.loads(row[4]) if row[4] else None, row[5], row[6])


class XRefConflict(JobError):
    """The record is already linked to a different BNG record: a person has to decide."""

    def __init__(self, message: str):
        super().__init__(message, error_class="conflict", retryable=False)


class XRef:
    """The cross-reference table of one store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def get(self, entity: str, nop_id: str | int) -> XRefRecord | None:
        row = self.store.execute(f"SELECT {_COLUMNS} FROM xref WHERE entity = ? AND nop_id = ?",
                                 (entity, str(nop_id))).fetchone()
        return XRefRecord.from_row(row) if row else None

    def bng_key(self, entity: str, nop_id: str | int) -> str | None:
        """The BNG key of a completed link, else None."""
        record = self.get(entity, nop_id)
        return record.bng_key if record and record.done else None

    def by_bng(self, entity: str, bng_key: str) -> XRefRecord | None:
        """The nopCommerce side of a BNG record (the most recently linked, if several)."""
        row = self.store.execute(f"SELECT {_COLUMNS} FROM xref WHERE entity = ? AND bng_key = ? AND state = 'done' "
                                 "ORDER BY updated_at DESC LIMIT 1", (entity, bng_key)).fetchone()
        return XRefRecord.from_row(row) if row else None

    def record_intent(self, entity: str, nop_id: str | int, data: Any = None) -> XRefRecord:
        """Durably note that a create is about to be sent (committed before the call is made).

        A completed link is never downgraded; the returned record tells which one is there.
        """
        now = self.clock()
        with in_transaction(self.store):
            row = self.store.execute(
                "INSERT INTO xref (entity, nop_id, bng_key, state, data, created_at, updated_at) "
                "VALUES (?1, ?2, NULL, 'intent', ?3, ?4, ?4) ON CONFLICT(entity, nop_id) DO UPDATE SET "
                f"data = COALESCE(excluded.data, data), updated_at = ?4 WHERE state = 'intent' RETURNING {_COLUMNS}",
                (entity, str(nop_id), dump(data), now)).fetchone()
            # No row back: the link is done already and stays as it is.
            return XRefRecord.from_row(row) if row else self.get(entity, nop_id)  # type: ignore[return-value]

    def complete(self, entity: str, nop_id: str | int, bng_key: str, data: Any = None) -> XRefRecord:
        """Record the key a create (or an adopted lookup) produced."""
        return self._set(entity, nop_id, bng_key, data, replace=False)

    def link(self, entity: str, nop_id: str | int, bng_key: str, data: Any = None,
             replace: bool = False) -> XRefRecord:
        """Link records that already exist on both sides (matched by SKU, e-mail, external ref).

        Linking to a different BNG key than the one recorded raises `XRefConflict` unless `replace`.
        """
        return self._set(entity, nop_id, bng_key, data, replace)

    def _set(self, entity: str, nop_id: str | int, bng_key: str, data: Any, replace: bool) -> XRefRecord:
        if not bng_key:
            raise ValueError("a BNG key is required")
        now = self.clock()
        with in_transaction(self.store):
            # One statement: the update is skipped (no row back) when the record is linked to another key.
            row = self.store.execute(
                "INSERT INTO xref (entity, nop_id, bng_key, state, data, created_at, updated_at) "
                "VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?5) ON CONFLICT(entity, nop_id) DO UPDATE SET "
                "bng_key = ?3, state = 'done', data = COALESCE(?4, data), updated_at = ?5 "
                "WHERE ?6 OR state != 'done' OR COALESCE(bng_key, '') = '' OR bng_key = ?3 "
                f"RETURNING {_COLUMNS}", (entity, str(nop_id), bng_key, dump(data), now, replace)).fetchone()
            if row is None:
                current = self.get(entity, nop_id)
                raise XRefConflict(f"{entity} {nop_id} is already linked to BNG {current and current.bng_key}, "
                                   f"not {bng_key}; check both records and link them by hand")
            return XRefRecord.from_row(row)

    def forget(self, entity: str, nop_id: str | int) -> bool:
        """Drop a link (e.g. the BNG record was deleted and must be created again)."""
        with in_transaction(self.store):
            return self.store.execute("DELETE FROM xref WHERE entity = ? AND nop_id = ?",
                                      (entity, str(nop_id))).rowcount > 0

    def intents(self, entity: str | None = None, older_than: float | None = None) -> list[XRefRecord]:
        """Creates whose outcome is still unknown (for the status page and reconciliation)."""
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM xref WHERE state = 'intent' AND (?1 IS NULL OR entity = ?1) "
            "AND (?2 IS NULL OR updated_at < ?2) ORDER BY updated_at", (entity, older_than)).fetchall()
        return [XRefRecord.from_row(r) for r in rows]


def create_once(xref: XRef, entity: str, nop_id: str | int, lookup: Callable[[], str | None],
                create: Callable[[], str], data: Any = None, lookup_first: bool = False) -> tuple[str, str]:
    """Create the BNG record for (entity, nop_id) at most once; returns (bng key, outcome).

    Outcome is "existing", "adopted" or "created" (see the module doc). `lookup()` finds the BNG
    record by the external reference the create sets (None when absent); `create()` makes it and
    returns its key. With `lookup_first`, a lookup happens even without an intent (for records that
    may have been created outside the agent). Must not run inside a transaction: the intent has to
    be committed before `create()` is called, and no lock may be held during a network call.
    """
    if xref.store.db.in_transaction():
        raise RuntimeError("create_once must not run inside a transaction: the intent must be "
                           "committed before the create call")
    record = xref.get(entity, nop_id)
    if record is not None and record.done:
        return record.bng_key, "existing"  # type: ignore[return-value]
    if record is not None or lookup_first:
        found = lookup()
        if found:
            xref.complete(entity, nop_id, found, data)
            return found, "adopted"
    if record is None:
        xref.record_intent(entity, nop_id, data)
    key = create()
    if not key:
        raise JobError(f"creating {entity} {nop_id} in BNG returned no key", "internal", retryable=True)
    xref.complete(entity, nop_id, key, data)
    return key, "created"
