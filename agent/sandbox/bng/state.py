"""The company data behind the BNG double, and every operation that changes it.

`BngState` is what BNG's database is to the real API: items, stock levels with their
transaction journal, customers, sales orders with shipments, the change feed, and the metadata
(custom fields, dimensions, locations). All reads and writes go through its methods under one
lock, so the HTTP server, the back-office API and tests see one consistent company.

Records handed out are read-only snapshots: the state never changes a published dict, it
replaces it. Copy one before changing it.

The back-office operations (ship, deliver, cancel, mark paid, purchases, adjustments, transfers,
price and attribute changes, new items, reservations, release) live in `BackOffice`, which this
class extends; they are what people do in the ERP's own screens, and they leave the same traces
(change-feed entries, inventory transactions) that the agent has to pick up.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.sandbox.bng import validation
from agent.sandbox.bng.backoffice import BackOffice
from agent.sandbox.bng.errors import BngError, conflict, not_found
from agent.sandbox.bng.tables import Doc, Feed, MultiIndex, OrderLine, OrderRow, Row, StockRow, Table, page
from agent.sandbox.bng.values import (
    money,
    normalize_timestamp,
    parse_datetime,
    quantity,
    timestamp,
    truncate_ms,
    utc_now,
)

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "bng-sample-data.json"
VERSION = "1.4.2"
#: allowed status moves of a sales order (PATCH and back office alike); others get 409
STATUS_MOVES: dict[str, tuple[str, ...]] = {
    "New": ("Open", "OnHold", "Cancelled"),
    "Open": ("Released", "OnHold", "Cancelled"),
    "OnHold": ("Open", "Cancelled"),
    "Released": ("PartiallyShipped", "Shipped", "Cancelled"),
    "PartiallyShipped": ("Shipped",),
    "Shipped": ("Invoiced",),
    "Invoiced": ("Closed",),
}


def load_sample_data() -> dict[str, Any]:
    """The demo company shipped with the package (a copy of shared/bng-api/sample-data.json)."""
    with DATA_FILE.open(encoding="utf-8") as f:
        return json.load(f)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """A sample-data record without its annotations (keys starting with "_")."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class BngState(BackOffice):
    """The BNG company: thread-safe, one lock, every mutation a method."""

    def __init__(self, data: dict[str, Any] | None = None, *, clock: Callable[[], datetime] = utc_now,
                 change_retention: timedelta | None = timedelta(days=30)):
        data = copy.deepcopy(data if data is not None else load_sample_data())
        self.lock = threading.RLock()
        self.clock = clock
        #: entries of /changes older than this are dropped (then `after` below them gets 410)
        self.change_retention = change_retention
        self.company: str = data.get("company", "DEMO")
        self.base_currency: str = data.get("base_currency", "USD")
        numbers = data.get("next_numbers", {})
        self._next_customer = int(numbers.get("customer", 1))
        self._next_order = int(numbers.get("sales_order", 104000))
        self._next_shipment = int(numbers.get("shipment", 700001))
        self._next_document = 1
        self._row_versions = 0
        self._last_moment = datetime.min.replace(tzinfo=UTC)
        self.changes = Feed(int(numbers.get("change_seq", 1)), partition="entity")
        self.journal = Feed(int(numbers.get("transaction", 1)), partition="location")
        self._seed_metadata(data)
        self.items = Table()
        self.stock = Table()
        self._stock_by_item = MultiIndex()
        self._stock_by_location = MultiIndex()
        self.customers = Table()
        self._customers_by_external = MultiIndex()
        self._customers_by_email = MultiIndex()
        self.orders = Table()
        self._orders_by_external = MultiIndex()
        self._shipments: dict[str, OrderRow] = {}
        self._seed_records(data)
        self._order_context = validation.OrderContext(
            items=self.items.by_no, customers=self.customers.by_no, locations=self.location_codes,
            custom_defs=self._custom_defs["sales_order"], dimension_defs=self._dimension_defs)

    # -- seeding -------------------------------------------------------------------------------
    def _seed_metadata(self, data: dict[str, Any]) -> None:
        self._locations: list[Doc] = [_clean(loc) for loc in data.get("locations", [])]
        self.location_codes = [loc["code"] for loc in self._locations]
        self._custom_field_list: list[Doc] = [_clean(d) for d in data.get("custom_fields", [])]
        self._custom_defs: dict[str, dict[str, Doc]] = {"customer": {}, "sales_order": {}}
        for definition in self._custom_field_list:
            self._custom_defs.setdefault(definition["entity"], {})[definition["name"]] = definition
        self._dimension_list: list[Doc] = [_clean(d) for d in data.get("dimensions", [])]
        self._dimension_defs = {d["code"]: {**d, "_value_codes": {v["code"] for v in d["values"]}}
                                for d in self._dimension_list}

    def _seed_records(self, data: dict[str, Any]) -> None:
        latest = []
        for raw in data.get("items", []):
            doc = _clean(raw)
            doc["modified_at"] = normalize_timestamp(doc["modified_at"])
            doc.setdefault("attributes", {})
            self.items.add(doc["item_no"], lambda key, doc=doc: Row(key, doc))
            latest.append(doc["modified_at"])
        for raw in data.get("stock", []):
            on_hand, allocated = Decimal(raw["on_hand"]), Decimal(raw.get("allocated", "0"))
            row = self._new_stock_row(raw["item_no"], raw["location"], on_hand, allocated)
            row.doc = self._stock_doc(row, normalize_timestamp(raw["modified_at"]))
            latest.append(row.doc["modified_at"])
        for raw in data.get("customers", []):
            doc = _clean(raw)
            for name in ("created_at", "modified_at"):
                doc[name] = normalize_timestamp(doc[name])
            doc.setdefault("custom_fields", {})
            doc.setdefault("ship_to", [])
            doc["row_version"] = self._row_version()
            row = self.customers.add(doc["customer_no"], lambda key, doc=doc: Row(key, doc))
            self._customers_by_external.add(doc.get("external_id"), row)
            self._customers_by_email.add(doc["email"].lower(), row)
            latest.append(doc["modified_at"])
        if latest:
            newest = parse_datetime(max(latest))
            assert newest is not None
            self._last_moment = newest

    # -- small helpers -------------------------------------------------------------------------
    def _now(self) -> str:
        """Now, as a canonical timestamp; never earlier than any timestamp already handed out."""
        moment = truncate_ms(self.clock())
        if moment < self._last_moment:
            moment = self._last_moment
        self._last_moment = moment
        return timestamp(moment)

    def _row_version(self) -> str:
        self._row_versions += 1
        return f"0x{self._row_versions:016X}"

    def _change(self, entity: str, key: str, change: str, fields: list[str], at: str) -> None:
        self.changes.append(lambda seq: {"seq": seq, "entity": entity, "key": key, "change": change,
                                         "fields": fields, "at": at})

    @staticmethod
    def _check_version(doc: Doc, if_match: str | None) -> None:
        """Optimistic concurrency: the caller must send the row_version it last read."""
        if not if_match or not if_match.strip():
            raise BngError("stale", "If-Match is required: send the row_version you last read")
        sent = if_match.strip()
        if sent.startswith("W/"):
            sent = sent[2:]
        sent = sent.strip('"')
        if sent != doc["row_version"]:
            raise BngError("stale", f"row_version {sent} is stale; the record is at {doc['row_version']}"
                                    " now: read it again")

    def _item_row(self, item_no: str) -> Row:
        row = self.items.get(item_no)
        if row is None:
            raise not_found("item", item_no)
        return row

    def _customer_row(self, customer_no: str) -> Row:
        row = self.customers.get(customer_no)
        if row is None:
            raise not_found("customer", customer_no)
        return row

    def _order_row(self, order_no: str) -> OrderRow:
        row = self.orders.get(order_no)
        if row is None:
            raise not_found("sales order", order_no)
        return row

    # -- stock and the journal -----------------------------------------------------------------
    def _new_stock_row(self, item_no: str, location: str, opening: Decimal, allocated: Decimal) -> StockRow:
        row = self.stock.add(f"{item_no}@{location}", lambda key: StockRow(
            key, item_no, location, opening, opening, allocated, {}))
        self._stock_by_item.add(item_no, row)
        self._stock_by_location.add(location, row)
        return row

    @staticmethod
    def _stock_doc(row: StockRow, at: str) -> Doc:
        return {"item_no": row.item_no, "location": row.location, "on_hand": quantity(row.on_hand),
                "allocated": quantity(row.allocated), "available": quantity(row.on_hand - row.allocated),
                "modified_at": at}

    def _stock_row(self, item_no: str, location: str, touched: dict[str, bool]) -> StockRow:
        """The stock level, created (at zero) on the first movement of an item at a location;
        `touched` remembers it for `_publish_stock`."""
        key = f"{item_no}@{location}"
        row = self.stock.get(key)
        if row is None:
            row = self._new_stock_row(item_no, location, Decimal(0), Decimal(0))
            touched.setdefault(key, True)
        else:
            touched.setdefault(key, False)
        return row

    def _post(self, item_no: str, location: str, kind: str, qty: Decimal, source: Doc | None, at: str,
              touched: dict[str, bool]) -> Doc:
        """Post one inventory transaction and move on_hand with it."""
        row = self._stock_row(item_no, location, touched)
        row.on_hand += qty
        return self.journal.append(lambda tid: {
            "transaction_id": tid, "item_no": item_no, "location": location, "type": kind,
            "quantity": quantity(qty), "source_document": source, "posted_at": at})

    def _publish_stock(self, touched: dict[str, bool], at: str, fields: list[str] | None = None) -> None:
        """New snapshots and one change-feed entry per stock level an operation moved."""
        for key, created in touched.items():
            row = self.stock.by_no[key]
            row.doc = self._stock_doc(row, at)
            self._change("stock", key, "created" if created else "updated",
                         list(row.doc) if created else (fields or ["on_hand", "available"]), at)

    # -- health and metadata -------------------------------------------------------------------
    def health(self, company: str | None = None) -> Doc:
        return {"status": "ok", "version": VERSION, "company": company or self.company}

    def custom_field_definitions(self, entity: str | None = None) -> list[Doc]:
        return [d for d in self._custom_field_list if entity is None or d["entity"] == entity]

    def dimension_definitions(self) -> list[Doc]:
        return list(self._dimension_list)

    def locations(self) -> list[Doc]:
        return list(self._locations)

    # -- items ---------------------------------------------------------------------------------
    def list_items(self, after_key: int = 0, limit: int = 100, modified_since: str | None = None,
                   active: bool | None = None) -> tuple[list[Doc], int | None]:
        def keep(row: Row) -> bool:
            return ((modified_since is None or row.doc["modified_at"] >= modified_since)
                    and (active is None or row.doc["active"] is active))
        with self.lock:
            return page(self.items.rows, after_key, limit,
                        keep if modified_since is not None or active is not None else None)

    def item(self, item_no: str) -> Doc:
        with self.lock:
            return self._item_row(item_no).doc

    # -- inventory -----------------------------------------------------------------------------
    def list_stock(self, after_key: int = 0, limit: int = 100, item_no: str | None = None,
                   location: str | None = None) -> tuple[list[Doc], int | None]:
        with self.lock:
            if item_no is not None:
                rows = self._stock_by_item.get(item_no)
                return page(rows, after_key, limit,
                            (lambda r: r.location == location) if location is not None else None)
            rows = self._stock_by_location.get(location) if location is not None else self.stock.rows
            return page(rows, after_key, limit)

    def stock_level(self, item_no: str, location: str) -> Doc:
        with self.lock:
            row = self.stock.get(f"{item_no}@{location}")
            if row is None:
                raise not_found("stock level", f"{item_no}@{location}")
            return row.doc

    def list_transactions(self, after: int = 0, limit: int = 100,
                          location: str | None = None) -> tuple[list[Doc], int]:
        with self.lock:
            return self.journal.read(after, limit, location)

    # -- customers -----------------------------------------------------------------------------
    def list_customers(self, after_key: int = 0, limit: int = 100, external_id: str | None = None,
                       email: str | None = None,
                       modified_since: str | None = None) -> tuple[list[Doc], int | None]:
        def keep(row: Row) -> bool:
            doc = row.doc
            return ((external_id is None or doc.get("external_id") == external_id)
                    and (email is None or doc["email"].lower() == email.lower())
                    and (modified_since is None or doc["modified_at"] >= modified_since))
        with self.lock:
            if email is not None:
                rows = self._customers_by_email.get(email.lower())
            elif external_id is not None:
                rows = self._customers_by_external.get(external_id)
            else:
                rows = self.customers.rows
            return page(rows, after_key, limit, keep)

    def customer(self, customer_no: str) -> Doc:
        with self.lock:
            return self._customer_row(customer_no).doc

    def create_customer(self, body: Any) -> Doc:
        """POST /customers: validate, number (C000003…), publish. No deduplication."""
        with self.lock:
            values = validation.customer_create(body, self._custom_defs["customer"])
            no = f"C{self._next_customer:06d}"
            self._next_customer += 1
            at = self._now()
            doc = {"customer_no": no, **values, "created_at": at, "modified_at": at,
                   "row_version": self._row_version()}
            row = self.customers.add(no, lambda key: Row(key, doc))
            self._customers_by_external.add(doc["external_id"], row)
            self._customers_by_email.add(doc["email"].lower(), row)
            self._change("customer", no, "created", list(doc), at)
            return doc

    def patch_customer(self, customer_no: str, body: Any, if_match: str | None) -> Doc:
        """PATCH /customers/{no}: If-Match checked first, then the body; no-op when nothing differs."""
        with self.lock:
            row = self._customer_row(customer_no)
            self._check_version(row.doc, if_match)
            wanted = validation.customer_patch(body, self._custom_defs["customer"], row.doc)
            changed = {k: v for k, v in wanted.items() if row.doc.get(k) != v}
            if not changed:
                return row.doc
            at = self._now()
            old = row.doc
            row.doc = {**old, **changed, "modified_at": at, "row_version": self._row_version()}
            if "external_id" in changed:
                self._customers_by_external.remove(old.get("external_id"), row)
                self._customers_by_external.add(changed["external_id"], row)
            if "email" in changed and changed["email"].lower() != old["email"].lower():
                self._customers_by_email.remove(old["email"].lower(), row)
                self._customers_by_email.add(changed["email"].lower(), row)
            self._change("customer", customer_no, "updated", list(changed), at)
            return row.doc

    # -- sales orders --------------------------------------------------------------------------
    def list_orders(self, after_key: int = 0, limit: int = 100, external_order_id: str | None = None,
                    modified_since: str | None = None,
                    status: str | None = None) -> tuple[list[Doc], int | None]:
        def keep(row: OrderRow) -> bool:
            return ((modified_since is None or row.doc["modified_at"] >= modified_since)
                    and (status is None or row.doc["status"] == status))
        with self.lock:
            rows = (self._orders_by_external.get(external_order_id) if external_order_id is not None
                    else self.orders.rows)
            return page(rows, after_key, limit,
                        keep if modified_since is not None or status is not None else None)

    def order(self, order_no: str) -> Doc:
        with self.lock:
            return self._order_row(order_no).doc

    def create_order(self, body: Any) -> Doc:
        """POST /sales-orders: validate everything, number (SO-104000…), post one `sale` per
        stocked line at the order's location. No deduplication."""
        with self.lock:
            draft = validation.order_create(body, self._order_context)
            no = f"SO-{self._next_order}"
            self._next_order += 1
            at = self._now()
            values = draft.values
            location = values["location"] or self.location_codes[0]
            lines: list[OrderLine] = []
            line_docs: list[Doc] = []
            for line_no, line in enumerate(draft.lines, start=1):
                item = self.items.by_no[line.item_no].doc
                lines.append(OrderLine(line_no, line.item_no, line.quantity, item["item_type"] == "inventory"))
                line_docs.append({
                    "line_no": line_no, "item_no": line.item_no, "description": line.description,
                    "quantity": quantity(line.quantity), "unit_price": money(line.unit_price),
                    "discount_amount": money(line.discount_amount), "tax_amount": money(line.tax_amount),
                    "line_total": money(line.line_total)})
            order_date = parse_datetime(values["order_date"])
            assert order_date is not None
            doc: Doc = {
                "order_no": no,
                "external_order_id": values["external_order_id"],
                "external_order_number": values["external_order_number"],
                "customer_no": values["customer_no"],
                "order_date": timestamp(order_date),
                "currency": values["currency"],
                **({"exchange_rate": money(draft.exchange_rate)} if draft.exchange_rate is not None else {}),
                "status": values["status"],
                "payment_status": values["payment_status"],
                "payment_method": values["payment_method"],
                "shipping_method": values["shipping_method"],
                "location": location,
                "bill_to": values["bill_to"],
                "ship_to": values["ship_to"],
                "lines": line_docs,
                "shipping_amount": money(draft.shipping_amount),
                "discount_amount": money(draft.discount_amount),
                "tax_amount": money(draft.tax_amount),
                "total": money(draft.total),
                "custom_fields": values["custom_fields"],
                "dimensions": values["dimensions"],
                "comment": values["comment"],
                "shipments": [],
                "created_at": at,
                "modified_at": at,
                "row_version": self._row_version(),
            }
            row = self.orders.add(no, lambda key: OrderRow(key, doc, lines, location))
            self._orders_by_external.add(values["external_order_id"], row)
            self._change("sales_order", no, "created", list(doc), at)
            source = {"type": "sales_order", "number": no, "external_order_id": values["external_order_id"]}
            touched: dict[str, bool] = {}
            for line in lines:
                if line.stocked:
                    self._post(line.item_no, location, "sale", -line.quantity, source, at, touched)
            self._publish_stock(touched, at)
            return doc

    def patch_order(self, order_no: str, body: Any, if_match: str | None) -> Doc:
        """PATCH /sales-orders/{no}: status (allowed moves only, 409 otherwise), payment status
        (free), custom fields, comment. The same status again is accepted and changes nothing."""
        with self.lock:
            row = self._order_row(order_no)
            self._check_version(row.doc, if_match)
            wanted = validation.order_patch(body, self._custom_defs["sales_order"], row.doc)
            return self._change_order(row, wanted)

    def _change_order(self, row: OrderRow, wanted: dict[str, Any]) -> Doc:
        """Apply validated changes to an order: status moves by the contract's table (409
        otherwise), only what differs is written, cancelling returns the order's stock."""
        current = row.doc["status"]
        status = wanted.get("status") or current
        if status != current and status not in STATUS_MOVES.get(current, ()):
            allowed = ", ".join(STATUS_MOVES.get(current, ())) or "none"
            raise conflict(f"sales order {row.doc['order_no']} cannot move from {current} to {status}"
                           f" (allowed from {current}: {allowed})")
        changed = {k: v for k, v in wanted.items() if row.doc.get(k) != v}
        if not changed:
            return row.doc
        at = self._now()
        self._replace_order(row, changed, at)
        if changed.get("status") == "Cancelled":
            self._return_sales(row, at)
        return row.doc

    def _replace_order(self, row: OrderRow, changed: dict[str, Any], at: str) -> None:
        row.doc = {**row.doc, **changed, "modified_at": at, "row_version": self._row_version()}
        self._change("sales_order", row.doc["order_no"], "updated", list(changed), at)

    def _return_sales(self, row: OrderRow, at: str) -> None:
        """Undo the order's `sale` transactions with `return` ones (on cancellation)."""
        source = {"type": "sales_order", "number": row.doc["order_no"],
                  "external_order_id": row.doc["external_order_id"]}
        touched: dict[str, bool] = {}
        for line in row.lines:
            if line.stocked:
                self._post(line.item_no, row.location, "return", line.quantity, source, at, touched)
        self._publish_stock(touched, at)

    # -- the change feed -----------------------------------------------------------------------
    def list_changes(self, after: int = 0, limit: int = 100,
                     entity: str | None = None) -> tuple[list[Doc], int]:
        with self.lock:
            self._prune_changes()
            if after < self.changes.pruned_through:
                through = self.changes.pruned_through
                raise BngError("gone", "the change feed no longer holds entries after this seq",
                               [{"field": "after", "issue": f"entries up to seq {through} are no longer kept;"
                                 f" re-read everything, then continue with after={through}"}])
            return self.changes.read(after, limit, entity)

    def _prune_changes(self) -> None:
        if self.change_retention is None or not len(self.changes):
            return
        cutoff = timestamp(max(truncate_ms(self.clock()), self._last_moment) - self.change_retention)
        self.changes.prune(lambda entry: entry.doc["at"] >= cutoff)

    def expire_changes(self, through_seq: int | None = None) -> int:
        """Drop change-feed entries up to `through_seq` (all when None), as the 30-day retention
        would; a reader whose `after` is below that then gets 410. Returns how many went."""
        with self.lock:
            through = self.changes.last if through_seq is None else through_seq
            dropped = self.changes.prune(lambda entry: entry.key > through)
            self.changes.pruned_through = max(self.changes.pruned_through, min(through, self.changes.last))
            return dropped

    # -- views for tests -----------------------------------------------------------------------
    def orders_for(self, external_order_id: str) -> list[Doc]:
        """Every sales order carrying this external_order_id (more than one means a duplicate)."""
        with self.lock:
            return [row.doc for row in self._orders_by_external.get(external_order_id)]

    def count_orders(self, external_order_id: str) -> int:
        with self.lock:
            return len(self._orders_by_external.get(external_order_id))

    def customers_for(self, external_id: str) -> list[Doc]:
        with self.lock:
            return [row.doc for row in self._customers_by_external.get(external_id)]

    def snapshot(self) -> Doc:
        """Counters for tests and the sandbox status screen."""
        with self.lock:
            by_external = self._orders_by_external.counts()
            return {
                "company": self.company,
                "items": len(self.items),
                "stock_levels": len(self.stock),
                "customers": len(self.customers),
                "sales_orders": len(self.orders),
                "shipments": len(self._shipments),
                "transactions": len(self.journal),
                "last_transaction_id": self.journal.last,
                "changes": len(self.changes),
                "last_seq": self.changes.last,
                "sales_orders_by_external_id": by_external,
                "duplicate_external_order_ids": {k: n for k, n in by_external.items() if n > 1},
                "customers_by_external_id": self._customers_by_external.counts(),
            }
