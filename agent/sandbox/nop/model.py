"""The store's records, shaped after nopCommerce 4.90's entities (reference §2).

Products and orders keep their scalar columns in `fields`, a dict keyed by the API plugin's JSON
names: the plugin's PUT merges exactly the keys a client sent into the entity, and keeping the
columns under those names makes that merge a checked dict update (see `schema.py`). Everything
the DTOs show but the merge never touches (addresses, lines, tags, attributes) is typed below.
Money is Decimal with four places; dates are naive UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

ORDER_STATUS = {"Pending": 10, "Processing": 20, "Complete": 30, "Cancelled": 40}
PAYMENT_STATUS = {"Pending": 10, "Authorized": 20, "Paid": 30, "PartiallyRefunded": 35, "Refunded": 40,
                  "Voided": 50}
SHIPPING_STATUS = {"ShippingNotRequired": 10, "NotYetShipped": 20, "PartiallyShipped": 25, "Shipped": 30,
                   "Delivered": 40}
TAX_DISPLAY_TYPE = {"IncludingTax": 0, "ExcludingTax": 10}
PRODUCT_TYPE = {"SimpleProduct": 5, "GroupedProduct": 10}
ATTRIBUTE_CONTROL_TYPE = {"DropdownList": 1, "RadioList": 2, "Checkboxes": 3, "TextBox": 4, "MultilineTextbox": 10,
                          "Datepicker": 20, "FileUpload": 30, "ColorSquares": 40, "ImageSquares": 45,
                          "ReadonlyCheckboxes": 50}
ATTRIBUTE_VALUE_TYPE = {"Simple": 0, "AssociatedToProduct": 10}
SPECIFICATION_ATTRIBUTE_TYPE = {"Option": 0, "CustomText": 10, "CustomHtmlText": 20, "Hyperlink": 30}
MANAGE_STOCK = 1
DONT_MANAGE_STOCK = 0


def enum_name(table: dict[str, int], value: int) -> str:
    """The name of an enum value, or the number as text when undefined (as .NET's ToString does)."""
    for name, number in table.items():
        if number == value:
            return name
    return str(value)


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class Address:
    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    country_id: int | None = None
    state_province_id: int | None = None
    county: str | None = None
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_postal_code: str | None = None
    phone_number: str | None = None
    fax_number: str | None = None
    custom_attributes: str | None = None
    created_on_utc: datetime | None = None

    def clone(self, new_id: int, created: datetime) -> Address:
        """A copy under a new id: checkout copies addresses, it never shares them."""
        copy = Address(**{name: getattr(self, name) for name in self.__slots__})
        copy.id = new_id
        copy.created_on_utc = created
        return copy


@dataclass(slots=True)
class Customer:
    id: int
    customer_guid: str
    email: str | None
    username: str | None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    role_ids: list[int] = field(default_factory=list)
    password: str | None = None
    active: bool = True
    deleted: bool = False
    is_system_account: bool = False
    system_name: str | None = None
    admin_comment: str | None = None
    is_tax_exempt: bool = False
    language_id: int | None = None
    currency_id: int | None = None
    vat_number: str | None = None
    last_ip_address: str | None = None
    registered_in_store_id: int = 1
    created_on_utc: datetime | None = None
    last_login_date_utc: datetime | None = None
    last_activity_date_utc: datetime | None = None
    address_ids: list[int] = field(default_factory=list)
    billing_address_id: int | None = None
    shipping_address_id: int | None = None
    custom_customer_attributes_xml: str | None = None


@dataclass(slots=True)
class AttributeValue:
    id: int
    name: str
    price_adjustment: Decimal
    is_pre_selected: bool
    display_order: int
    weight_adjustment: Decimal = Decimal("0.0000")
    cost: Decimal = Decimal("0.0000")
    color_squares_rgb: str | None = None


@dataclass(slots=True)
class AttributeMapping:
    """A ProductAttributeMapping: its id (not the attribute's) is what order-line XML refers to."""

    id: int
    product_attribute_id: int
    product_attribute_name: str
    attribute_control_type_id: int
    is_required: bool
    text_prompt: str | None
    display_order: int
    values: list[AttributeValue] = field(default_factory=list)


@dataclass(slots=True)
class Combination:
    id: int
    attributes_xml: str
    stock_quantity: int
    sku: str | None = None
    overridden_price: Decimal | None = None


@dataclass(slots=True)
class TierPrice:
    quantity: int
    price: Decimal


@dataclass(slots=True)
class Product:
    id: int
    fields: dict[str, Any]                          # ProductDto scalar keys (schema.PRODUCT_FIELDS)
    tags: list[str] = field(default_factory=list)
    attributes: list[AttributeMapping] = field(default_factory=list)
    combinations: list[Combination] = field(default_factory=list)
    tier_prices: list[TierPrice] = field(default_factory=list)
    manufacturer_mapping_ids: list[int] = field(default_factory=list)
    backorder_mode_id: int = 0
    gift_card_type_id: int = 0

    @property
    def sku(self) -> str | None:
        return self.fields["sku"]

    @property
    def stock_quantity(self) -> int:
        return self.fields["stock_quantity"]

    @property
    def manages_stock(self) -> bool:
        return self.fields["manage_inventory_method_id"] == MANAGE_STOCK

    @property
    def deleted(self) -> bool:
        return bool(self.fields["deleted"])


@dataclass(slots=True)
class OrderItem:
    id: int
    order_id: int
    product_id: int
    quantity: int
    unit_price_incl_tax: Decimal
    unit_price_excl_tax: Decimal
    price_incl_tax: Decimal
    price_excl_tax: Decimal
    discount_amount_incl_tax: Decimal
    discount_amount_excl_tax: Decimal
    original_product_cost: Decimal
    attribute_description: str | None = None
    attributes_xml: str | None = None
    download_count: int = 0
    is_download_activated: bool = False
    license_download_id: int | None = None
    item_weight: Decimal | None = None
    rental_start_date_utc: datetime | None = None
    rental_end_date_utc: datetime | None = None
    order_item_guid: str = field(default_factory=new_guid)


@dataclass(slots=True)
class Order:
    id: int
    fields: dict[str, Any]                          # OrderDto scalar keys (schema.ORDER_FIELDS)
    billing_address_id: int
    shipping_address_id: int | None
    items: list[OrderItem] = field(default_factory=list)
    order_guid: str = field(default_factory=new_guid)
    checkout_attributes_xml: str | None = None
    notes: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return bool(self.fields["deleted"])

    @property
    def customer_id(self) -> int:
        return self.fields["customer_id"]

    @property
    def created_on_utc(self) -> datetime:
        return self.fields["created_on_utc"]


@dataclass(slots=True)
class ShipmentItem:
    id: int
    order_item_id: int
    quantity: int
    warehouse_id: int = 0


@dataclass(slots=True)
class Shipment:
    id: int
    order_id: int
    tracking_number: str | None = None
    total_weight: Decimal | None = None
    shipped_date_utc: datetime | None = None
    delivery_date_utc: datetime | None = None
    ready_for_pickup_date_utc: datetime | None = None
    admin_comment: str | None = None
    created_on_utc: datetime | None = None
    items: list[ShipmentItem] = field(default_factory=list)


@dataclass(slots=True)
class Warehouse:
    id: int
    name: str
    address_id: int
    admin_comment: str | None = None


@dataclass(slots=True)
class WarehouseInventory:
    id: int
    product_id: int
    warehouse_id: int
    stock_quantity: int
    reserved_quantity: int = 0


@dataclass(slots=True)
class SpecificationOption:
    id: int
    specification_attribute_id: int
    name: str
    display_order: int
    color_squares_rgb: str | None = None


@dataclass(slots=True)
class SpecificationAttribute:
    id: int
    name: str
    display_order: int
    options: list[SpecificationOption] = field(default_factory=list)


@dataclass(slots=True)
class ProductSpecification:
    id: int
    product_id: int
    attribute_type_id: int
    specification_attribute_option_id: int
    custom_value: str | None = None
    allow_filtering: bool = False
    show_on_product_page: bool = True
    display_order: int = 0


@dataclass(slots=True)
class ChoiceValue:
    """A value of a checkout or custom customer attribute."""

    id: int
    name: str
    price_adjustment: Decimal = Decimal("0.0000")
    is_pre_selected: bool = False
    display_order: int = 0


@dataclass(slots=True)
class ChoiceAttribute:
    """A checkout attribute or a custom customer attribute (same shape, different XML element names)."""

    id: int
    name: str
    is_required: bool
    attribute_control_type_id: int
    values: list[ChoiceValue] = field(default_factory=list)
    shippable_product_required: bool = False

    def value(self, value_id: int) -> ChoiceValue | None:
        return next((v for v in self.values if v.id == value_id), None)

    def value_named(self, name: str) -> ChoiceValue:
        return next(v for v in self.values if v.name == name)


@dataclass(slots=True)
class StockHistoryEntry:
    product_id: int
    quantity_adjustment: int
    stock_quantity: int
    message: str
    created_on_utc: datetime
