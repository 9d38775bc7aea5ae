"""Order, payment and shipping statuses between the web store and BNG.

nopCommerce stores its statuses as numbers (OrderStatus 10/20/30/40 …) and the API shows them as
names, while the merchant edits the tables in names; every function here therefore accepts both
and always answers with the canonical name. The tables themselves (`StatusMapping`) belong to the
merchant, so a status missing from them is a `MappingError` that tells where to add it, never a
crash or a silent default.

The way back (BNG → store) is not a table but a rule: BNG's order status and its shipments decide
the store's shipping status, and then the store's own automatic rules (CheckOrderStatus) decide
the order status. They have to be applied here because the store's API writes statuses directly,
without running those rules itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.config import StatusMapping
from agent.mapping.errors import MappingError

NOP_ORDER_STATUS: dict[str, int] = {"Pending": 10, "Processing": 20, "Complete": 30, "Cancelled": 40}
NOP_PAYMENT_STATUS: dict[str, int] = {"Pending": 10, "Authorized": 20, "Paid": 30, "PartiallyRefunded": 35,
                                      "Refunded": 40, "Voided": 50}
NOP_SHIPPING_STATUS: dict[str, int] = {"ShippingNotRequired": 10, "NotYetShipped": 20, "PartiallyShipped": 25,
                                       "Shipped": 30, "Delivered": 40}

BNG_ORDER_STATUS: tuple[str, ...] = ("New", "Open", "Released", "PartiallyShipped", "Shipped", "Invoiced",
                                     "Closed", "Cancelled", "OnHold")
BNG_PAYMENT_STATUS: tuple[str, ...] = ("Unpaid", "Authorized", "Paid", "PartiallyRefunded", "Refunded", "Voided")

# Shipping only moves forward; a late or repeated BNG event must never take a parcel back.
_SHIPPING_PROGRESS = {"NotYetShipped": 0, "PartiallyShipped": 1, "Shipped": 2, "Delivered": 3}


def _canonical(value: Any, enum: Mapping[str, int], what: str) -> str:
    """The enum name for a name (any case) or a numeric id (int or digit string)."""
    if isinstance(value, bool) or value is None:
        raise MappingError(f"{what} is missing")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        for name, code in enum.items():
            if code == number:
                return name
        raise MappingError(f"{what} {number} is not a status the web store knows "
                           f"(known: {_list_enum(enum)})")
    text = str(value).strip()
    for name in enum:
        if name.casefold() == text.casefold():
            return name
    raise MappingError(f"{what} '{text}' is not a status the web store knows (known: {_list_enum(enum)})")


def _list_enum(enum: Mapping[str, int]) -> str:
    return ", ".join(f"{name} ({code})" for name, code in enum.items())


def nop_order_status(value: Any) -> str:
    """Canonical nopCommerce order status name for a name or id ("processing", 20 → "Processing")."""
    return _canonical(value, NOP_ORDER_STATUS, "Order status")


def nop_payment_status(value: Any) -> str:
    """Canonical nopCommerce payment status name for a name or id."""
    return _canonical(value, NOP_PAYMENT_STATUS, "Payment status")


def nop_shipping_status(value: Any) -> str:
    """Canonical nopCommerce shipping status name for a name or id."""
    return _canonical(value, NOP_SHIPPING_STATUS, "Shipping status")


def _bng(value: Any, allowed: Sequence[str], what: str) -> str:
    text = "" if value is None else str(value).strip()
    for name in allowed:
        if name.casefold() == text.casefold():
            return name
    raise MappingError(f"'{text}' is not a BNG {what}; BNG knows {', '.join(allowed)}")


def bng_order_status(value: Any) -> str:
    """Canonical BNG order status (validated against the contract's enum)."""
    return _bng(value, BNG_ORDER_STATUS, "order status")


def bng_payment_status(value: Any) -> str:
    """Canonical BNG payment status (validated against the contract's enum)."""
    return _bng(value, BNG_PAYMENT_STATUS, "payment status")


def _lookup_nop_key(table: Mapping[str, str], name: str, enum: Mapping[str, int]) -> str | None:
    """The table's value for a nop status; keys may be names in any case or numeric ids."""
    for key, target in table.items():
        key_text = str(key).strip()
        if key_text.casefold() == name.casefold() or (key_text.isdigit() and int(key_text) == enum[name]):
            return target
    return None


def order_status_to_bng(value: Any, mapping: StatusMapping) -> str:
    """The BNG order status for a store order status, from the merchant's table."""
    name = nop_order_status(value)
    target = _lookup_nop_key(mapping.order_to_bng, name, NOP_ORDER_STATUS)
    if target is None:
        raise MappingError(f"Order status '{name}' has no BNG status in the status table; "
                           "add it under Mappings → Status")
    try:
        return bng_order_status(target)
    except MappingError:
        raise MappingError(f"The status table sends order status '{name}' to '{target}', which is not a BNG "
                           f"order status; BNG knows {', '.join(BNG_ORDER_STATUS)} "
                           "(fix it under Mappings → Status)") from None


def payment_status_to_bng(value: Any, mapping: StatusMapping) -> str:
    """The BNG payment status for a store payment status, from the merchant's table."""
    name = nop_payment_status(value)
    target = _lookup_nop_key(mapping.payment_to_bng, name, NOP_PAYMENT_STATUS)
    if target is None:
        raise MappingError(f"Payment status '{name}' has no BNG payment status in the status table; "
                           "add it under Mappings → Status")
    try:
        return bng_payment_status(target)
    except MappingError:
        raise MappingError(f"The status table sends payment status '{name}' to '{target}', which is not a BNG "
                           f"payment status; BNG knows {', '.join(BNG_PAYMENT_STATUS)} "
                           "(fix it under Mappings → Status)") from None


def payment_status_to_nop(bng_value: Any, mapping: StatusMapping) -> str:
    """The store payment status name for a BNG payment status, from the merchant's table."""
    name = bng_payment_status(bng_value)
    target = next((t for k, t in mapping.payment_to_nop.items() if str(k).strip().casefold() == name.casefold()),
                  None)
    if target is None:
        raise MappingError(f"BNG payment status '{name}' has no web store payment status in the status table; "
                           "add it under Mappings → Status")
    try:
        return nop_payment_status(target)
    except MappingError:
        raise MappingError(f"The status table sends BNG payment status '{name}' to '{target}', which is not a "
                           f"web store payment status; the store knows {_list_enum(NOP_PAYMENT_STATUS)} "
                           "(fix it under Mappings → Status)") from None


# -- BNG → store ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NopOrderState:
    """The store order's statuses as they are now (names or ids; normalized on use)."""

    order_status: Any
    payment_status: Any
    shipping_status: Any


@dataclass
class StatusUpdate:
    """What to write to the store order; None means "leave as it is". `reasons` go to the history."""

    order_status: str | None = None
    shipping_status: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.order_status is not None or self.shipping_status is not None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{what} must not be a float")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MappingError(f"BNG sent {what} '{value}', which is not a number") from None


def shipment_progress(bng_order: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(anything shipped, every line fully shipped, every shipment delivered) from BNG's shipments."""
    shipments = bng_order.get("shipments") or []
    ordered: dict[int, Decimal] = {}
    for line in bng_order.get("lines") or []:
        if line.get("line_no") is not None:
            ordered[int(line["line_no"])] = ordered.get(int(line["line_no"]), Decimal(0)) + _decimal(
                line.get("quantity", 0), "a line quantity")
    shipped: dict[int, Decimal] = {}
    for shipment in shipments:
        for line in shipment.get("lines") or []:
            no = int(line["line_no"])
            shipped[no] = shipped.get(no, Decimal(0)) + _decimal(line.get("quantity", 0), "a shipped quantity")
    any_shipped = any(q > 0 for q in shipped.values())
    all_lines = bool(ordered) and all(shipped.get(no, Decimal(0)) >= qty for no, qty in ordered.items())
    all_delivered = bool(shipments) and all(s.get("delivered_at") for s in shipments)
    return any_shipped, all_lines, all_delivered


def shipping_update_from_bng(bng_order: Mapping[str, Any], current: NopOrderState | None = None, *,
                             mapping: StatusMapping | None = None,
                             complete_order_when_delivered: bool = True) -> StatusUpdate:
    """The store statuses that follow from a BNG sales order (its status, payment and shipments).

    Shipping: BNG PartiallyShipped → PartiallyShipped; Shipped, Invoiced, Closed or every line
    shipped → Shipped; every shipment delivered (and every line shipped) → Delivered. It only moves
    forward, and an order that needs no shipping keeps ShippingNotRequired.
    Order: BNG Cancelled → Cancelled. Otherwise the store's own rules (CheckOrderStatus): Pending →
    Processing once paid/authorized or shipped; → Complete once Paid and shipped, or delivered when
    `complete_order_when_delivered` (the store's default); and BNG Invoiced/Closed with Paid →
    Complete. Cancelled and Complete orders are never moved by these rules.

    "Paid" means the store order is Paid, or BNG's payment status translates (through the table's
    BNG → store direction) to Paid — unless the store has already refunded or voided it.
    Without `current` the result is the target state, unfiltered.
    """
    status = bng_order_status(bng_order.get("status"))
    number = bng_order.get("order_no") or "the BNG order"
    reasons: list[str] = []
    cur_order = nop_order_status(current.order_status) if current else None
    cur_ship = nop_shipping_status(current.shipping_status) if current else None
    cur_pay = nop_payment_status(current.payment_status) if current else None

    bng_pay = None
    if bng_order.get("payment_status"):
        try:
            bng_pay = payment_status_to_nop(bng_order["payment_status"], mapping or StatusMapping())
        except MappingError:
            bng_pay = None  # a gap in the payment table must not hold up shipping news; the store's own counts
    if cur_pay in ("PartiallyRefunded", "Refunded", "Voided"):
        bng_pay = None  # money went back in the store; BNG's older word does not undo that
    paid = "Paid" in (cur_pay, bng_pay)
    authorized = "Authorized" in (cur_pay, bng_pay)

    if status == "Cancelled":
        update = StatusUpdate(reasons=reasons)
        if cur_order != "Cancelled":
            update.order_status = "Cancelled"
            reasons.append(f"{number} is Cancelled in BNG → order Cancelled")
        return update

    # shipping status from BNG's status and shipments
    any_shipped, all_lines, all_delivered = shipment_progress(bng_order)
    target_ship: str | None = None
    if all_delivered and (all_lines or status in ("Shipped", "Invoiced", "Closed")):
        target_ship = "Delivered"
        why = "every shipment is delivered"
    elif status in ("Shipped", "Invoiced", "Closed") or all_lines:
        target_ship = "Shipped"
        why = f"it is {status}" if status in ("Shipped", "Invoiced", "Closed") else "every line is shipped"
    elif status == "PartiallyShipped" or any_shipped:
        target_ship = "PartiallyShipped"
        why = "part of it is shipped"

    new_ship = cur_ship
    update = StatusUpdate(reasons=reasons)
    if target_ship and cur_ship != "ShippingNotRequired" and (
            cur_ship is None or _SHIPPING_PROGRESS[target_ship] > _SHIPPING_PROGRESS[cur_ship]):
        update.shipping_status = new_ship = target_ship
        reasons.append(f"{number}: {why} in BNG → shipping status {target_ship}")

    # the store's own automatic order-status rules
    if cur_order in ("Cancelled", "Complete"):
        return update
    shipped = new_ship in ("PartiallyShipped", "Shipped", "Delivered")
    if new_ship == "ShippingNotRequired":
        fulfilled = True
    elif complete_order_when_delivered:
        fulfilled = new_ship == "Delivered"
    else:
        fulfilled = new_ship in ("Shipped", "Delivered")
    target_order = cur_order or "Pending"
    if target_order == "Pending" and (paid or authorized or shipped):
        target_order = "Processing"
    if paid and (fulfilled or status in ("Invoiced", "Closed")):
        target_order = "Complete"  # BNG invoiced/closed a paid order: the back office is done with it
    if target_order != cur_order and (cur_order is not None or target_order != "Pending"):
        update.order_status = target_order
        reasons.append(f"{number}: {'paid' if paid else 'not paid yet'}, shipping {new_ship or 'unknown'} "
                       f"→ order {target_order} (the web store's own order-status rules)")
    return update
