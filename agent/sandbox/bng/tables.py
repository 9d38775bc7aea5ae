"""In-memory tables of the BNG double: rows with stable keys, the change feed, the stock journal.

Every list BNG serves pages by a key that only grows (rows are appended, never reordered or
removed), so a cursor that names the last key handed out returns every record exactly once even
while new ones arrive. Records are published as *immutable* dicts: an update replaces a row's
`doc` with a new dict instead of changing it in place, so a reply can be serialized outside the
state's lock without tearing.

None of these classes lock: `BngState` holds the one lock around every call.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Doc = dict[str, Any]


@dataclass(slots=True, eq=False)
class Row:
    key: int
    doc: Doc


def _after(rows: list[Any], key: int) -> int:
    return bisect.bisect_right(rows, key, key=lambda r: r.key)


def page(rows: list[Any], after_key: int, limit: int,
         keep: Callable[[Any], bool] | None = None) -> tuple[list[Doc], int | None]:
    """Up to `limit` docs of rows with key > `after_key` that `keep` accepts, and the key to
    continue after (None when no further row matches). `rows` must be sorted by key."""
    out: list[Doc] = []
    last = None
    for row in _iter_from(rows, after_key):
        if keep is not None and not keep(row):
            continue
        if len(out) == limit:
            return out, last
        out.append(row.doc)
        last = row.key
    return out, None


def _iter_from(rows: list[Any], after_key: int) -> Iterator[Any]:
    for i in range(_after(rows, after_key), len(rows)):
        yield rows[i]


class Table:
    """Rows in key order plus a lookup by business key (item_no, customer_no, order_no...)."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.by_no: dict[str, Any] = {}
        self._next_key = 1

    def add(self, no: str, row_factory: Callable[[int], Any]) -> Any:
        row = row_factory(self._next_key)
        self._next_key += 1
        self.rows.append(row)
        self.by_no[no] = row
        return row

    def get(self, no: str) -> Any:
        return self.by_no.get(no)

    def __len__(self) -> int:
        return len(self.rows)


class MultiIndex:
    """Non-unique index value -> rows in key order (external ids, e-mails, locations)."""

    def __init__(self) -> None:
        self._rows: dict[str, list[Any]] = {}

    def add(self, value: str | None, row: Any) -> None:
        if value is None:
            return
        rows = self._rows.setdefault(value, [])
        if rows and rows[-1].key > row.key:   # re-indexed after an update: keep key order
            bisect.insort(rows, row, key=lambda r: r.key)
        else:
            rows.append(row)

    def remove(self, value: str | None, row: Any) -> None:
        rows = self._rows.get(value) if value is not None else None
        for i, candidate in enumerate(rows or []):
            if candidate is row:
                del rows[i]
                break
        if value is not None and rows == []:
            del self._rows[value]

    def get(self, value: str) -> list[Any]:
        return self._rows.get(value, [])

    def counts(self) -> dict[str, int]:
        return {value: len(rows) for value, rows in self._rows.items()}


@dataclass(slots=True, eq=False)
class Entry:
    """A change-feed entry or a journal transaction: `key` is its seq / transaction id."""

    key: int
    doc: Doc


class Feed:
    """An append-only sequence numbered from `first`, readable `after=` a number, with optional
    sub-feeds by a partition (entity, location) for filtered reads without a scan."""

    def __init__(self, first: int, partition: str):
        self.entries: list[Entry] = []
        self._parts: dict[str, list[Entry]] = {}
        self._partition = partition
        self.next = first
        self.pruned_through = first - 1   # every number up to this one is gone (or never was)

    def append(self, make: Callable[[int], Doc]) -> Doc:
        number = self.next
        self.next += 1
        entry = Entry(number, make(number))
        self.entries.append(entry)
        self._parts.setdefault(entry.doc[self._partition], []).append(entry)
        return entry.doc

    @property
    def last(self) -> int:
        return self.next - 1

    def read(self, after: int, limit: int, part: str | None = None) -> tuple[list[Doc], int]:
        """Up to `limit` docs numbered above `after`; the number of the last one, or `after`."""
        entries = self.entries if part is None else self._parts.get(part, [])
        start = _after(entries, after)
        chosen = entries[start:start + limit]
        return [e.doc for e in chosen], (chosen[-1].key if chosen else after)

    def prune(self, keep: Callable[[Entry], bool]) -> int:
        """Drop the oldest entries while `keep` says no; returns how many went."""
        cut = 0
        while cut < len(self.entries) and not keep(self.entries[cut]):
            cut += 1
        if cut:
            self.pruned_through = self.entries[cut - 1].key
            del self.entries[:cut]
            for name, entries in list(self._parts.items()):
                rest = entries[_after(entries, self.pruned_through):]
                if rest:
                    self._parts[name] = rest
                else:
                    del self._parts[name]
        return cut

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Doc]:
        return (e.doc for e in self.entries)


@dataclass(slots=True, eq=False)
class StockRow:
    """One item at one location; `on_hand` = opening balance + the journal's transactions."""

    key: int
    item_no: str
    location: str
    opening: Decimal
    on_hand: Decimal
    allocated: Decimal
    doc: Doc


@dataclass(slots=True)
class OrderLine:
    line_no: int
    item_no: str
    quantity: Decimal
    stocked: bool                  # service items carry no stock: no sale transaction
    shipped: Decimal = Decimal(0)


@dataclass(slots=True, eq=False)
class OrderRow:
    key: int
    doc: Doc
    lines: list[OrderLine]
    location: str
