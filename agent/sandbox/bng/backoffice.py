"""What people do in BNG's own screens, as a Python API for tests and the sandbox.

Warehouse staff ship and deliver, accounting marks orders paid, purchasing receives goods, a
stock count posts adjustments, product managers change prices and attributes or add items. Each
operation leaves the traces the real ERP leaves — change-feed entries, inventory transactions,
new row versions — because those traces are what the agent reads. `BngState` mixes this class
in; every method takes the state's lock and raises `BngError` (404 not_found, 409 conflict,
422 validation_failed) like the API would.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from agent.sandbox.bng.errors import BngError, conflict, detail, invalid
from agent.sandbox.bng.tables import Doc, Row
from agent.sandbox.bng.validation import ORDER_STATUSES, PAYMENT_STATUSES
from agent.sandbox.bng.values import money, normalize_timestamp, quantity, timestamp

if TYPE_CHECKING:
    from agent.sandbox.bng.state import BngState

ITEM_FIELDS = ("description", "long_description", "unit_price", "currency", "uom", "weight", "gtin",
               "category", "active", "item_type", "department", "attributes")
Quantity = Decimal | int | str


def _decimal(value: Quantity, field: str, *, positive: bool = False, signed: bool = False) -> Decimal:
    """A back-office quantity or amount; floats are refused (BNG never deals in them)."""
    try:
        if isinstance(value, float | bool):
            raise InvalidOperation
        number = Decimal(value) if isinstance(value, Decimal | int) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid([detail(field, "must be a decimal (string, int or Decimal)")]) from None
    if not number.is_finite() or (positive and number <= 0) or (not signed and number < 0):
        raise invalid([detail(field, "must be greater than zero" if positive else "out of range")])
    if number.as_tuple().exponent < -4:  # type: ignore[operator]
        raise invalid([detail(field, "at most 4 fraction digits")])
    return number


def _item_values(values: dict[str, Any]) -> dict[str, Any]:
    """Item properties as items carry them: unit_price as money, weight as a decimal string,
    attribute numbers as plain JSON numbers (attributes are descriptive, not amounts)."""
    out = dict(values)
    if "unit_price" in out:
        out["unit_price"] = money(_decimal(out["unit_price"], "unit_price"))
    if isinstance(out.get("weight"), Decimal | int) and not isinstance(out.get("weight"), bool):
        out["weight"] = str(out["weight"])
    if "active" in out and not isinstance(out["active"], bool):
        raise invalid([detail("active", "must be true or false")])
    if "attributes" in out:
        if not isinstance(out["attributes"], dict):
            raise invalid([detail("attributes", "must be an object")])
        out["attributes"] = {name: (int(v) if v == v.to_integral_value() else float(v))
                             if isinstance(v, Decimal) else v for name, v in out["attributes"].items()}
    return out


class BackOffice:
    """Back-office operations of `BngState` (see the module docstring)."""

    # -- orders --------------------------------------------------------------------------------
    def release_order(self: BngState, order_no: str) -> Doc:
        """Release an order to the warehouse (New and Open go through Open to Released)."""
        with self.lock:
            row = self._order_row(order_no)
            status = row.doc["status"]
            if status == "Released":
                return row.doc
            if status not in ("New", "Open"):
                raise conflict(f"sales order {order_no} is {status}; only New or Open orders can be released")
            self._replace_order(row, {"status": "Released"}, self._now())
            return row.doc

    def ship_order(self: BngState, order_no: str, lines: Iterable[tuple[int, Quantity]] | None = None,
                   carrier: str | None = None, tracking_number: str | None = None) -> Doc:
        """Post a shipment: all that is left (`lines=None`) or [(line_no, quantity), ...].

        A New or Open order is released first, as the warehouse would; the order becomes
        Shipped when every line is shipped in full, else PartiallyShipped. Stock already left
        on_hand with the order's `sale` transactions, so shipping posts none. Returns the
        shipment (SH-700001…)."""
        with self.lock:
            row = self._order_row(order_no)
            status = row.doc["status"]
            if status not in ("New", "Open", "Released", "PartiallyShipped"):
                raise conflict(f"sales order {order_no} is {status}; it cannot be shipped")
            by_no = {line.line_no: line for line in row.lines}
            wanted: dict[int, Decimal] = {}
            if lines is None:
                wanted = {n: line.quantity - line.shipped for n, line in by_no.items()
                          if line.quantity > line.shipped}
            else:
                problems = []
                for i, (line_no, qty) in enumerate(lines):
                    amount = _decimal(qty, f"lines[{i}].quantity", positive=True)
                    line = by_no.get(line_no)
                    if line is None:
                        problems.append(detail(f"lines[{i}].line_no", f"order {order_no} has no line {line_no}"))
                    elif amount != amount.to_integral_value() and self.items.by_no[line.item_no].doc["uom"] == "EA":
                        problems.append(detail(f"lines[{i}].quantity", "fractional quantity for an item sold in EA"))
                    elif line.shipped + wanted.get(line_no, Decimal(0)) + amount > line.quantity:
                        problems.append(detail(f"lines[{i}].quantity",
                                               f"more than the {quantity(line.quantity - line.shipped)}"
                                               " left to ship"))
                    else:
                        wanted[line_no] = wanted.get(line_no, Decimal(0)) + amount
                if problems:
                    raise invalid(problems)
            if not wanted:
                raise conflict(f"sales order {order_no} has nothing left to ship")
            if status in ("New", "Open"):
                self.release_order(order_no)
            for line_no, amount in wanted.items():
                by_no[line_no].shipped += amount
            at = self._now()
            shipment = {"shipment_no": f"SH-{self._next_shipment}", "carrier": carrier,
                        "tracking_number": tracking_number, "shipped_at": at, "delivered_at": None,
                        "lines": [{"line_no": n, "quantity": quantity(q)} for n, q in sorted(wanted.items())]}
            self._next_shipment += 1
            done = all(line.shipped >= line.quantity for line in row.lines)
            changed: dict[str, Any] = {"shipments": [*row.doc["shipments"], shipment]}
            new_status = "Shipped" if done else "PartiallyShipped"
            if new_status != row.doc["status"]:
                changed["status"] = new_status
            self._replace_order(row, changed, at)
            self._shipments[shipment["shipment_no"]] = row
            return shipment

    def deliver_shipment(self: BngState, shipment_no: str, delivered_at: datetime | None = None) -> Doc:
        """The carrier reports delivery: sets the shipment's delivered_at (once)."""
        with self.lock:
            row = self._shipments.get(shipment_no)
            if row is None:
                raise BngError("not_found", f"shipment {shipment_no} not found")
            shipments = list(row.doc["shipments"])
            index = next(i for i, s in enumerate(shipments) if s["shipment_no"] == shipment_no)
            if shipments[index]["delivered_at"] is not None:
                return shipments[index]
            at = self._now()
            shipments[index] = {**shipments[index],
                                "delivered_at": timestamp(delivered_at) if delivered_at else at}
            self._replace_order(row, {"shipments": shipments}, at)
            return shipments[index]

    def cancel_order(self: BngState, order_no: str) -> Doc:
        """Cancel in the back office (same moves and `return` transactions as PATCH)."""
        return self.set_order_status(order_no, "Cancelled")

    def set_order_status(self: BngState, order_no: str, status: str) -> Doc:
        """Move an order along the contract's status table (e.g. Shipped -> Invoiced -> Closed)."""
        if status not in ORDER_STATUSES:
            raise invalid([detail("status", f"must be one of {', '.join(ORDER_STATUSES)}")])
        with self.lock:
            return self._change_order(self._order_row(order_no), {"status": status})

    def set_payment_status(self: BngState, order_no: str, payment_status: str = "Paid") -> Doc:
        """Accounting records a payment state; any move is allowed."""
        if payment_status not in PAYMENT_STATUSES:
            raise invalid([detail("payment_status", f"must be one of {', '.join(PAYMENT_STATUSES)}")])
        with self.lock:
            return self._change_order(self._order_row(order_no), {"payment_status": payment_status})

    def mark_paid(self: BngState, order_no: str) -> Doc:
        return self.set_payment_status(order_no, "Paid")

    # -- stock ---------------------------------------------------------------------------------
    def _stock_target(self: BngState, item_no: str, location: str) -> None:
        problems = []
        row = self.items.get(item_no)
        if row is None:
            problems.append(detail("item_no", "unknown item"))
        elif row.doc["item_type"] != "inventory":
            problems.append(detail("item_no", "a service item carries no stock"))
        if location not in self.location_codes:
            problems.append(detail("location", "unknown location"))
        if problems:
            raise invalid(problems)

    def _document_no(self: BngState, prefix: str, number: str | None) -> str:
        if number:
            return number
        self._next_document += 1
        return f"{prefix}-{self._next_document - 1:06d}"

    def post_purchase(self: BngState, item_no: str, location: str, qty: Quantity,
                      number: str | None = None) -> Doc:
        """Goods received on a purchase order: a `purchase` transaction (+qty)."""
        amount = _decimal(qty, "quantity", positive=True)
        with self.lock:
            self._stock_target(item_no, location)
            source = {"type": "purchase_order", "number": self._document_no("PO", number),
                      "external_order_id": None}
            return self._post_and_publish([(item_no, location, "purchase", amount)], source)[0]

    def post_adjustment(self: BngState, item_no: str, location: str, qty: Quantity,
                        number: str | None = None) -> Doc:
        """A stock count's correction: an `adjustment` of signed `qty`."""
        amount = _decimal(qty, "quantity", signed=True)
        if amount == 0:
            raise invalid([detail("quantity", "must not be zero")])
        with self.lock:
            self._stock_target(item_no, location)
            source = {"type": "count", "number": self._document_no("CNT", number), "external_order_id": None}
            return self._post_and_publish([(item_no, location, "adjustment", amount)], source)[0]

    def post_transfer(self: BngState, item_no: str, from_location: str, to_location: str, qty: Quantity,
                      number: str | None = None) -> tuple[Doc, Doc]:
        """Move stock between warehouses: `transfer_out` (-qty) and `transfer_in` (+qty)."""
        amount = _decimal(qty, "quantity", positive=True)
        with self.lock:
            self._stock_target(item_no, from_location)
            self._stock_target(item_no, to_location)
            if from_location == to_location:
                raise invalid([detail("to_location", "must differ from from_location")])
            source = {"type": "transfer", "number": self._document_no("TR", number), "external_order_id": None}
            out, into = self._post_and_publish([(item_no, from_location, "transfer_out", -amount),
                                                (item_no, to_location, "transfer_in", amount)], source)
            return out, into

    def _post_and_publish(self: BngState, moves: list[tuple[str, str, str, Decimal]],
                          source: Doc) -> list[Doc]:
        at = self._now()
        touched: dict[str, bool] = {}
        posted = [self._post(item_no, location, kind, amount, source, at, touched)
                  for item_no, location, kind, amount in moves]
        self._publish_stock(touched, at)
        return posted

    def reserve_stock(self: BngState, item_no: str, location: str, qty: Quantity) -> Doc:
        """Reserve (positive) or un-reserve (negative) stock: changes `allocated`, so `available`."""
        amount = _decimal(qty, "quantity", signed=True)
        with self.lock:
            self._stock_target(item_no, location)
            touched: dict[str, bool] = {}
            row = self._stock_row(item_no, location, touched)
            if row.allocated + amount < 0:
                raise invalid([detail("quantity", f"only {quantity(row.allocated)} is allocated")])
            row.allocated += amount
            self._publish_stock(touched, self._now(), ["allocated", "available"])
            return row.doc

    # -- items ---------------------------------------------------------------------------------
    def update_item(self: BngState, item_no: str, **changes: Any) -> Doc:
        """Change item properties (unit_price, description, active, attributes, ...)."""
        unknown = [name for name in changes if name not in ITEM_FIELDS]
        if unknown:
            raise invalid([detail(name, "not a changeable item property") for name in unknown])
        changes = _item_values(changes)
        with self.lock:
            row = self._item_row(item_no)
            changed = {k: v for k, v in changes.items() if row.doc.get(k) != v}
            if not changed:
                return row.doc
            at = self._now()
            row.doc = {**row.doc, **changed, "modified_at": at}
            self._change("item", item_no, "updated", list(changed), at)
            return row.doc

    def set_item_price(self: BngState, item_no: str, unit_price: Quantity) -> Doc:
        return self.update_item(item_no, unit_price=unit_price)

    def set_item_attribute(self: BngState, item_no: str, name: str, value: str | float | bool | None) -> Doc:
        """Set one industry attribute (None removes it)."""
        with self.lock:
            attributes = dict(self._item_row(item_no).doc.get("attributes") or {})
            if value is None:
                attributes.pop(name, None)
            else:
                attributes[name] = value
            return self.update_item(item_no, attributes=attributes)

    def add_item(self: BngState, item: dict[str, Any], stock: dict[str, Quantity] | None = None) -> Doc:
        """A new item (item_no, description, unit_price at least), with opening stock per location."""
        problems = [detail(name, "required") for name in ("item_no", "description", "unit_price")
                    if not item.get(name)]
        if problems:
            raise invalid(problems)
        unknown = [name for name in item if name not in (*ITEM_FIELDS, "item_no", "modified_at")]
        if unknown:
            raise invalid([detail(name, "not an item property") for name in unknown])
        item = _item_values(item)
        openings = {loc: _decimal(qty, f"stock.{loc}") for loc, qty in (stock or {}).items()}
        with self.lock:
            if self.items.get(item["item_no"]) is not None:
                raise conflict(f"item {item['item_no']} exists")
            bad = [detail(f"stock.{loc}", "unknown location") for loc in openings if loc not in self.location_codes]
            if bad:
                raise invalid(bad)
            at = normalize_timestamp(item["modified_at"]) if item.get("modified_at") else self._now()
            doc: Doc = {"item_no": item["item_no"], "description": item["description"],
                        "long_description": None, "unit_price": item["unit_price"],
                        "currency": self.base_currency, "uom": "EA", "weight": None, "gtin": None,
                        "category": None, "active": True, "item_type": "inventory", "department": None,
                        "attributes": {}}
            doc.update({k: v for k, v in item.items() if k in ITEM_FIELDS})
            doc["modified_at"] = at
            self.items.add(doc["item_no"], lambda key: Row(key, doc))
            self._change("item", doc["item_no"], "created", list(doc), at)
            for location, opening in openings.items():
                row = self._new_stock_row(doc["item_no"], location, opening, Decimal(0))
                row.doc = self._stock_doc(row, at)
                self._change("stock", f"{doc['item_no']}@{location}", "created", list(row.doc), at)
            return doc
