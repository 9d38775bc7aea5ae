"""nopCommerce's enums with their numeric ids (reference §1), and the name <-> id mapping.

The community API plugin speaks in names ("Processing") and silently ignores ids in filters;
the official Web API and the database speak in ids (20). Models carry both, so flows and
mapping tables can use whichever they have.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

E = TypeVar("E", bound=IntEnum)


class OrderStatus(IntEnum):
    Pending = 10
    Processing = 20
    Complete = 30
    Cancelled = 40


class PaymentStatus(IntEnum):
    Pending = 10
    Authorized = 20
    Paid = 30
    PartiallyRefunded = 35
    Refunded = 40
    Voided = 50


class ShippingStatus(IntEnum):
    ShippingNotRequired = 10
    NotYetShipped = 20
    PartiallyShipped = 25
    Shipped = 30
    Delivered = 40


class ManageInventoryMethod(IntEnum):
    DontManageStock = 0
    ManageStock = 1
    ManageStockByAttributes = 2


class LowStockActivity(IntEnum):
    Nothing = 0
    DisableBuyButton = 1
    Unpublish = 2


class BackorderMode(IntEnum):
    NoBackorders = 0
    AllowQtyBelow0 = 1
    AllowQtyBelow0AndNotifyCustomer = 2


class ProductType(IntEnum):
    SimpleProduct = 5
    GroupedProduct = 10


class SpecificationAttributeType(IntEnum):
    Option = 0
    CustomText = 10
    CustomHtmlText = 20
    Hyperlink = 30


class TaxDisplayType(IntEnum):
    IncludingTax = 0
    ExcludingTax = 10


class RoundingType(IntEnum):
    Rounding001 = 0
    Rounding005Up = 10
    Rounding005Down = 20
    Rounding01Up = 30
    Rounding01Down = 40
    Rounding05 = 50
    Rounding1 = 60
    Rounding1Up = 70


def to_member(enum: type[E], value: object) -> E | None:
    """A member from a name (any case), an id, a numeric string or a member; None when unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, enum):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return enum(value)
        except ValueError:
            return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return to_member(enum, int(text))
    lowered = text.lower().replace("_", "").replace(" ", "")
    for member in enum:
        if member.name.lower() == lowered:
            return member
    return None


def enum_id(enum: type[IntEnum], value: object) -> int | None:
    member = to_member(enum, value)
    return int(member) if member is not None else None


def enum_name(enum: type[IntEnum], value: object) -> str | None:
    member = to_member(enum, value)
    return member.name if member is not None else None


def require_name(enum: type[IntEnum], value: object) -> str:
    """The canonical name for a write; a clear ValueError for a value the store would silently ignore."""
    name = enum_name(enum, value)
    if name is None:
        known = ", ".join(m.name for m in enum)
        raise ValueError(f"{value!r} is not a nopCommerce {enum.__name__} (known: {known})")
    return name
