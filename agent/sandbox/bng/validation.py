"""Request-body validation as BNG does it: every problem found, one `details` entry each.

The agent's error list shows these details to a person who fixes the data and retries, so the
double reports *all* problems of a request at once, each with a field path like
`lines[2].item_no`, instead of stopping at the first. Checks run against the company's metadata
(items, customers, custom-field and dimension definitions, locations) passed in by the state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.sandbox.bng.errors import detail, invalid
from agent.sandbox.bng.values import parse_date, parse_datetime, parse_decimal

ORDER_STATUSES = ("New", "Open", "Released", "PartiallyShipped", "Shipped", "Invoiced", "Closed",
                  "Cancelled", "OnHold")
CREATE_STATUSES = ("New", "Open", "OnHold", "Released")
PAYMENT_STATUSES = ("Unpaid", "Authorized", "Paid", "PartiallyRefunded", "Refunded", "Voided")
TOLERANCE = Decimal("0.01")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MISSING = object()

# Address properties: name -> (required, nullable, max_length)
_ADDRESS_FIELDS: dict[str, tuple[bool, bool, int]] = {
    "name": (False, False, 100),
    "company": (False, True, 100),
    "line1": (True, False, 100),
    "line2": (False, True, 100),
    "city": (True, False, 60),
    "region": (False, True, 10),
    "postal_code": (True, False, 20),
    "country": (True, False, 2),
    "phone": (False, True, 30),
}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Checker:
    """Collects details; each `take_*` reads one property and returns its value or None."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, path: str, issue: str) -> None:
        self.details.append(detail(path, issue))

    def raise_if_any(self) -> None:
        if self.details:
            raise invalid(self.details)

    def _get(self, obj: dict[str, Any], name: str, path: str, required: bool, nullable: bool) -> Any:
        value = obj.get(name, _MISSING)
        if value is _MISSING or (value is None and required):
            if required:
                self.add(path, "required")
            return _MISSING
        if value is None and not nullable:
            self.add(path, "must not be null")
            return _MISSING
        return value

    def take_string(self, obj: dict[str, Any], name: str, prefix: str = "", *, required: bool = False,
                    nullable: bool = False, max_length: int | None = None,
                    pattern: re.Pattern[str] | None = None, pattern_hint: str = "") -> Any:
        """The string, None for an explicit null, `_MISSING` when absent or invalid."""
        path = _join(prefix, name)
        value = self._get(obj, name, path, required, nullable)
        if value is _MISSING or value is None:
            return value
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return _MISSING
        if required and not value.strip():
            self.add(path, "required")
            return _MISSING
        if max_length is not None and len(value) > max_length:
            self.add(path, f"longer than {max_length} characters")
            return _MISSING
        if pattern is not None and not pattern.match(value):
            self.add(path, pattern_hint or f"does not match {pattern.pattern}")
            return _MISSING
        return value

    def take_decimal(self, obj: dict[str, Any], name: str, prefix: str = "", *, required: bool = False,
                     non_negative: bool = False, positive: bool = False) -> Decimal | None:
        path = _join(prefix, name)
        value = self._get(obj, name, path, required, nullable=False)
        if value is _MISSING:
            return None
        number = parse_decimal(value)
        if number is None:
            self.add(path, "must be a decimal string with up to 4 fraction digits, e.g. \"12.50\"")
            return None
        if positive and number <= 0:
            self.add(path, "must be greater than zero")
            return None
        if non_negative and number < 0:
            self.add(path, "must not be negative")
            return None
        return number

    def take_bool(self, obj: dict[str, Any], name: str, prefix: str = "") -> Any:
        path = _join(prefix, name)
        value = self._get(obj, name, path, required=False, nullable=False)
        if value is not _MISSING and not isinstance(value, bool):
            self.add(path, "must be true or false")
            return _MISSING
        return value

    def take_enum(self, obj: dict[str, Any], name: str, choices: tuple[str, ...], prefix: str = "") -> Any:
        path = _join(prefix, name)
        value = self._get(obj, name, path, required=False, nullable=False)
        if value is not _MISSING and value not in choices:
            self.add(path, f"must be one of {', '.join(choices)}")
            return _MISSING
        return value

    def take_email(self, obj: dict[str, Any], name: str, *, required: bool) -> Any:
        return self.take_string(obj, name, required=required, max_length=254, pattern=_EMAIL_RE,
                                pattern_hint="not an e-mail address")

    def take_address(self, obj: dict[str, Any], name: str, prefix: str = "", *,
                     required: bool = False) -> dict[str, Any] | None:
        path = _join(prefix, name)
        value = self._get(obj, name, path, required, nullable=False)
        if value is _MISSING:
            return None
        return self.address(value, path)

    def address(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        before = len(self.details)
        result: dict[str, Any] = {}
        for key, (required, nullable, max_length) in _ADDRESS_FIELDS.items():
            pattern = _COUNTRY_RE if key == "country" else None
            got = self.take_string(value, key, path, required=required, nullable=nullable,
                                   max_length=None if pattern else max_length, pattern=pattern,
                                   pattern_hint="must be an ISO 3166-1 alpha-2 code, e.g. \"US\"")
            if got is not _MISSING:
                result[key] = got
            elif nullable:
                result[key] = None
        return result if len(self.details) == before else None

    def take_addresses(self, obj: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
        value = self._get(obj, name, name, required=False, nullable=False)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.add(name, "must be an array")
            return None
        result = [self.address(entry, f"{name}[{i}]") for i, entry in enumerate(value)]
        return None if any(a is None for a in result) else [a for a in result if a is not None]

    def custom_fields(self, value: Any, definitions: dict[str, dict[str, Any]], entity: str,
                      current: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Check values against the entity's definitions; returns `current` merged with `value`
        (a null value clears a field) or None when something was wrong."""
        if value is _MISSING:
            value = {}
        if not isinstance(value, dict):
            self.add("custom_fields", "must be an object")
            return None
        before = len(self.details)
        merged = dict(current or {})
        for name, raw in value.items():
            path = f"custom_fields.{name}"
            definition = definitions.get(name)
            if definition is None:
                self.add(path, f"not defined for {entity}")
                continue
            if raw is None:
                merged.pop(name, None)
                continue
            problem = _custom_value_problem(definition, raw)
            if problem:
                self.add(path, problem)
            else:
                merged[name] = raw
        for name, definition in definitions.items():
            if definition.get("required") and merged.get(name) is None and value.get(name) is None:
                self.add(f"custom_fields.{name}", "required")
        return merged if len(self.details) == before else None

    def dimensions(self, value: Any, definitions: dict[str, dict[str, Any]]) -> dict[str, str] | None:
        if value is _MISSING:
            value = {}
        if not isinstance(value, dict):
            self.add("dimensions", "must be an object")
            return None
        before = len(self.details)
        for code, raw in value.items():
            path = f"dimensions.{code}"
            definition = definitions.get(code)
            if definition is None:
                self.add(path, "unknown dimension")
            elif not isinstance(raw, str):
                self.add(path, "must be a string (a dimension value code)")
            elif raw not in definition["_value_codes"]:
                self.add(path, f"unknown value {raw!r} of dimension {code}")
        for code, definition in definitions.items():
            if definition.get("required_on_sales_orders") and code not in value:
                self.add(f"dimensions.{code}", "required")
        return dict(value) if len(self.details) == before else None


def _custom_value_problem(definition: dict[str, Any], value: Any) -> str | None:
    kind = definition["type"]
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "number":
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or parse_decimal(value) is not None
        return None if ok else "must be a number"
    if not isinstance(value, str):
        return "must be a string"
    max_length = definition.get("max_length")
    if max_length is not None and len(value) > max_length:
        return f"longer than {max_length} characters"
    if kind == "date" and not parse_date(value) and parse_datetime(value) is None:
        return "must be a date (YYYY-MM-DD)"
    if kind == "choice" and value not in (definition.get("choices") or []):
        return f"must be one of {', '.join(definition.get('choices') or [])}"
    return None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid([detail("body", "must be a JSON object")])
    return body


# -- customers -----------------------------------------------------------------------------------
def customer_create(body: Any, custom_defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The validated, defaulted properties of a new customer (raises 422 otherwise)."""
    body = require_object(body)
    c = Checker()
    values = {
        "name": c.take_string(body, "name", required=True, max_length=100),
        "email": c.take_email(body, "email", required=True),
        "phone": c.take_string(body, "phone", nullable=True),
        "external_id": c.take_string(body, "external_id", nullable=True),
        "customer_type": c.take_string(body, "customer_type", nullable=True),
        "currency": c.take_string(body, "currency", pattern=_CURRENCY_RE,
                                  pattern_hint="must be an ISO 4217 code, e.g. \"USD\""),
        "tax_exempt": c.take_bool(body, "tax_exempt"),
        "bill_to": c.take_address(body, "bill_to", required=True),
        "ship_to": c.take_addresses(body, "ship_to"),
        "custom_fields": c.custom_fields(body.get("custom_fields", _MISSING), custom_defs, "customer"),
    }
    c.raise_if_any()
    defaults = {"phone": None, "external_id": None, "customer_type": None, "currency": "USD",
                "tax_exempt": False, "ship_to": []}
    return {k: (defaults[k] if v is _MISSING or (v is None and k == "ship_to") else v)
            for k, v in values.items()}


PATCHABLE_CUSTOMER = ("external_id", "name", "email", "phone", "customer_type", "bill_to", "ship_to",
                      "custom_fields")


def customer_patch(body: Any, custom_defs: dict[str, dict[str, Any]],
                   current: dict[str, Any]) -> dict[str, Any]:
    """The properties a PATCH sets (validated), to be compared with the current record."""
    body = require_object(body)
    if not body:
        raise invalid([detail("body", "at least one property is required")])
    c = Checker()
    out: dict[str, Any] = {}
    if "external_id" in body:
        out["external_id"] = c.take_string(body, "external_id", nullable=True)
    if "name" in body:
        out["name"] = c.take_string(body, "name", required=True, max_length=100)
    if "email" in body:
        out["email"] = c.take_email(body, "email", required=True)
    if "phone" in body:
        out["phone"] = c.take_string(body, "phone", nullable=True)
    if "customer_type" in body:
        out["customer_type"] = c.take_string(body, "customer_type", nullable=True)
    if "bill_to" in body:
        out["bill_to"] = c.take_address(body, "bill_to", required=True)
    if "ship_to" in body:
        out["ship_to"] = c.take_addresses(body, "ship_to")
    if "custom_fields" in body:
        out["custom_fields"] = c.custom_fields(body["custom_fields"], custom_defs, "customer",
                                               current.get("custom_fields"))
    c.raise_if_any()
    return out


# -- sales orders --------------------------------------------------------------------------------
@dataclass
class OrderLineDraft:
    item_no: str
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    line_total: Decimal


@dataclass
class OrderDraft:
    """A sales order that passed validation, before BNG numbers it."""

    values: dict[str, Any]
    lines: list[OrderLineDraft] = field(default_factory=list)
    shipping_amount: Decimal = Decimal(0)
    discount_amount: Decimal = Decimal(0)
    tax_amount: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    exchange_rate: Decimal | None = None


@dataclass
class OrderContext:
    """What order validation looks things up in (the state's own dicts, read under its lock)."""

    items: dict[str, Any]           # item_no -> row (row.doc is the item)
    customers: dict[str, Any]       # customer_no -> row
    locations: list[str]
    custom_defs: dict[str, dict[str, Any]]
    dimension_defs: dict[str, dict[str, Any]]


def order_create(body: Any, ctx: OrderContext) -> OrderDraft:
    body = require_object(body)
    c = Checker()
    customer_no = c.take_string(body, "customer_no", required=True)
    if isinstance(customer_no, str) and customer_no not in ctx.customers:
        c.add("customer_no", "unknown customer")
    order_date = body.get("order_date", _MISSING)
    if order_date is _MISSING or order_date is None:
        c.add("order_date", "required")
    elif parse_datetime(order_date) is None:
        c.add("order_date", "must be an RFC 3339 date-time, e.g. \"2026-11-27T09:30:00Z\"")
    values: dict[str, Any] = {
        "customer_no": customer_no,
        "external_order_id": c.take_string(body, "external_order_id", nullable=True),
        "external_order_number": c.take_string(body, "external_order_number", nullable=True),
        "order_date": order_date,
        "currency": c.take_string(body, "currency", required=True, pattern=_CURRENCY_RE,
                                  pattern_hint="must be an ISO 4217 code, e.g. \"USD\""),
        "status": c.take_enum(body, "status", ORDER_STATUSES),
        "payment_status": c.take_enum(body, "payment_status", PAYMENT_STATUSES),
        "payment_method": c.take_string(body, "payment_method", nullable=True),
        "shipping_method": c.take_string(body, "shipping_method", nullable=True),
        "location": c.take_string(body, "location", nullable=True),
        "bill_to": c.take_address(body, "bill_to", required=True),
        "ship_to": c.take_address(body, "ship_to", required=True),
        "comment": c.take_string(body, "comment", nullable=True),
    }
    if values["status"] is not _MISSING and values["status"] not in CREATE_STATUSES:
        c.add("status", f"a new order must be one of {', '.join(CREATE_STATUSES)}")
    if isinstance(values["location"], str) and values["location"] not in ctx.locations:
        c.add("location", "unknown location")
    draft = OrderDraft(values=values)
    draft.exchange_rate = c.take_decimal(body, "exchange_rate", positive=True)
    draft.shipping_amount = c.take_decimal(body, "shipping_amount", non_negative=True) or Decimal(0)
    draft.discount_amount = c.take_decimal(body, "discount_amount", non_negative=True) or Decimal(0)
    draft.tax_amount = c.take_decimal(body, "tax_amount", non_negative=True) or Decimal(0)
    total = c.take_decimal(body, "total", required=True)
    lines_ok = _order_lines(c, body, ctx, draft)
    values["custom_fields"] = c.custom_fields(body.get("custom_fields", _MISSING), ctx.custom_defs,
                                              "sales_order")
    values["dimensions"] = c.dimensions(body.get("dimensions", _MISSING), ctx.dimension_defs)
    if total is not None and lines_ok:
        expected = (sum((line.line_total for line in draft.lines), Decimal(0)) + draft.shipping_amount
                    + draft.tax_amount - draft.discount_amount)
        if abs(total - expected) > TOLERANCE:
            c.add("total", f"{total} differs from sum(line_total) + shipping_amount + tax_amount"
                           f" - discount_amount = {expected}")
    c.raise_if_any()
    draft.total = total if total is not None else Decimal(0)
    for key, value in values.items():
        if value is _MISSING:
            values[key] = None
    values["status"] = values["status"] or "New"
    values["payment_status"] = values["payment_status"] or "Unpaid"
    return draft


def _order_lines(c: Checker, body: dict[str, Any], ctx: OrderContext, draft: OrderDraft) -> bool:
    """Check the lines into `draft.lines`; True when every line_total could be read."""
    lines = body.get("lines", _MISSING)
    if lines is _MISSING or lines is None:
        c.add("lines", "required")
        return False
    if not isinstance(lines, list):
        c.add("lines", "must be an array")
        return False
    if not lines:
        c.add("lines", "at least one line is required")
        return False
    all_totals = True
    for i, line in enumerate(lines):
        prefix = f"lines[{i}]"
        if not isinstance(line, dict):
            c.add(prefix, "must be an object")
            all_totals = False
            continue
        item_no = c.take_string(line, "item_no", prefix, required=True)
        row = ctx.items.get(item_no) if isinstance(item_no, str) else None
        item = row.doc if row is not None else None
        if isinstance(item_no, str):
            if item is None:
                c.add(f"{prefix}.item_no", "unknown item")
            elif not item["active"]:
                c.add(f"{prefix}.item_no", "inactive item")
        description = c.take_string(line, "description", prefix, nullable=True)
        qty = c.take_decimal(line, "quantity", prefix, required=True, positive=True)
        if qty is not None and item is not None and item["uom"] == "EA" and qty != qty.to_integral_value():
            c.add(f"{prefix}.quantity", "fractional quantity for an item sold in EA")
        price = c.take_decimal(line, "unit_price", prefix, required=True, non_negative=True)
        discount = c.take_decimal(line, "discount_amount", prefix, non_negative=True)
        tax = c.take_decimal(line, "tax_amount", prefix, non_negative=True)
        line_total = c.take_decimal(line, "line_total", prefix, required=True)
        if line_total is None:
            all_totals = False
            continue
        if qty is not None and price is not None and ("discount_amount" not in line or discount is not None):
            expected = qty * price - (discount or Decimal(0))
            if abs(line_total - expected) > TOLERANCE:
                c.add(f"{prefix}.line_total",
                      f"{line_total} differs from quantity * unit_price - discount_amount = {expected}")
        draft.lines.append(OrderLineDraft(
            item_no=item_no if isinstance(item_no, str) else "",
            description=(description if description is not _MISSING else None)
            or (item["description"] if item else None),
            quantity=qty or Decimal(0), unit_price=price or Decimal(0),
            discount_amount=discount or Decimal(0), tax_amount=tax or Decimal(0),
            line_total=line_total))
    return all_totals


def order_patch(body: Any, custom_defs: dict[str, dict[str, Any]],
                current: dict[str, Any]) -> dict[str, Any]:
    """The properties a sales-order PATCH sets, validated."""
    body = require_object(body)
    if not body:
        raise invalid([detail("body", "at least one property is required")])
    c = Checker()
    out: dict[str, Any] = {}
    if "status" in body:
        out["status"] = c.take_enum(body, "status", ORDER_STATUSES)
    if "payment_status" in body:
        out["payment_status"] = c.take_enum(body, "payment_status", PAYMENT_STATUSES)
    if "custom_fields" in body:
        out["custom_fields"] = c.custom_fields(body["custom_fields"], custom_defs, "sales_order",
                                               current.get("custom_fields"))
    if "comment" in body:
        out["comment"] = c.take_string(body, "comment", nullable=True)
    c.raise_if_any()
    return out
