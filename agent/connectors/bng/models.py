"""Typed views of BNG's API objects (openapi.yaml `components/schemas`).

Money and quantities travel as decimal strings ("1299.5000"); here they are Decimals, and they
go back out as strings with at most 4 decimals (`BngDecimal` in JSON mode; the client does the
same for plain dict payloads). Timestamps are aware UTC datetimes. Unknown keys are kept, so a
newer BNG version adding fields breaks nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from agent.connectors.http import decimal_text


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wire_decimal(value: Decimal) -> str:
    return decimal_text(value, 4)


BngDecimal = Annotated[Decimal, PlainSerializer(_wire_decimal, return_type=str, when_used="json")]
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]

OrderStatus = Literal["New", "Open", "Released", "PartiallyShipped", "Shipped", "Invoiced", "Closed", "Cancelled",
                      "OnHold"]
PaymentStatus = Literal["Unpaid", "Authorized", "Paid", "PartiallyRefunded", "Refunded", "Voided"]
ORDER_STATUSES: tuple[str, ...] = OrderStatus.__args__  # type: ignore[attr-defined]
PAYMENT_STATUSES: tuple[str, ...] = PaymentStatus.__args__  # type: ignore[attr-defined]


class BngModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Address(BngModel):
    name: str | None = None
    company: str | None = None
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None           # ISO 3166-2 subdivision without the country prefix ("NY")
    postal_code: str
    country: str                        # ISO 3166-1 alpha-2
    phone: str | None = None


class Health(BngModel):
    status: str
    version: str
    company: str | None = None


class Item(BngModel):
    item_no: str
    description: str
    long_description: str | None = None
    unit_price: BngDecimal
    currency: str
    uom: str
    weight: BngDecimal | None = None
    gtin: str | None = None
    category: str | None = None
    active: bool
    item_type: Literal["inventory", "service"] | str
    department: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    modified_at: UtcDateTime

    @property
    def carries_stock(self) -> bool:
        return self.item_type != "service"


class StockLevel(BngModel):
    item_no: str
    location: str
    on_hand: BngDecimal
    allocated: BngDecimal
    available: BngDecimal
    modified_at: UtcDateTime


class SourceDocument(BngModel):
    type: str | None = None
    number: str | None = None
    external_order_id: str | None = None


class InventoryTransaction(BngModel):
    transaction_id: int
    item_no: str
    location: str
    type: str                           # sale, return, purchase, adjustment, transfer_in, transfer_out
    quantity: BngDecimal                # signed change of on_hand
    source_document: SourceDocument | None = None
    posted_at: UtcDateTime


class CustomerCreate(BngModel):
    name: str
    email: str
    bill_to: Address
    phone: str | None = None
    external_id: str | None = None
    customer_type: str | None = None
    currency: str | None = None
    tax_exempt: bool | None = None
    ship_to: list[Address] | None = None
    custom_fields: dict[str, Any] | None = None


class Customer(BngModel):
    customer_no: str
    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    customer_type: str | None = None
    currency: str | None = None
    tax_exempt: bool = False
    bill_to: Address | None = None
    ship_to: list[Address] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDateTime | None = None
    modified_at: UtcDateTime | None = None
    row_version: str | None = None


class SalesOrderLine(BngModel):
    line_no: int | None = None          # assigned by BNG
    item_no: str
    description: str | None = None
    quantity: BngDecimal
    unit_price: BngDecimal
    discount_amount: BngDecimal | None = None
    tax_amount: BngDecimal | None = None
    line_total: BngDecimal


class ShipmentLine(BngModel):
    line_no: int
    quantity: BngDecimal


class Shipment(BngModel):
    shipment_no: str
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: UtcDateTime
    delivered_at: UtcDateTime | None = None
    lines: list[ShipmentLine] = Field(default_factory=list)


class SalesOrderCreate(BngModel):
    customer_no: str
    order_date: UtcDateTime
    currency: str
    bill_to: Address
    ship_to: Address
    lines: list[SalesOrderLine]
    total: BngDecimal
    external_order_id: str | None = None
    external_order_number: str | None = None
    exchange_rate: BngDecimal | None = None
    status: OrderStatus | None = None
    payment_status: PaymentStatus | None = None
    payment_method: str | None = None
    shipping_method: str | None = None
    location: str | None = None
    shipping_amount: BngDecimal | None = None
    discount_amount: BngDecimal | None = None
    tax_amount: BngDecimal | None = None
    custom_fields: dict[str, Any] | None = None
    dimensions: dict[str, str] | None = None
    comment: str | None = None


class SalesOrder(BngModel):
    order_no: str
    customer_no: str
    order_date: UtcDateTime
    currency: str
    status: str
    payment_status: str
    bill_to: Address | None = None
    ship_to: Address | None = None
    lines: list[SalesOrderLine] = Field(default_factory=list)
    total: BngDecimal
    external_order_id: str | None = None
    external_order_number: str | None = None
    exchange_rate: BngDecimal | None = None
    payment_method: str | None = None
    shipping_method: str | None = None
    location: str | None = None
    shipping_amount: BngDecimal | None = None
    discount_amount: BngDecimal | None = None
    tax_amount: BngDecimal | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    dimensions: dict[str, str] = Field(default_factory=dict)
    comment: str | None = None
    shipments: list[Shipment] = Field(default_factory=list)
    created_at: UtcDateTime | None = None
    modified_at: UtcDateTime | None = None
    row_version: str | None = None


class Change(BngModel):
    seq: int
    entity: str                         # customer, item, sales_order, stock
    key: str                            # customer_no, item_no, order_no, or item_no@location
    change: str                         # created, updated, deleted
    fields: list[str] = Field(default_factory=list)
    at: UtcDateTime


class CustomFieldDefinition(BngModel):
    entity: str
    name: str
    label: str
    type: str                           # text, number, date, bool, choice
    choices: list[str] | None = None
    max_length: int | None = None
    required: bool = False


class DimensionValue(BngModel):
    code: str
    label: str


class DimensionDefinition(BngModel):
    code: str
    label: str
    required_on_sales_orders: bool = False
    values: list[DimensionValue] = Field(default_factory=list)


class Location(BngModel):
    code: str
    name: str
