"""Typed views of the community API plugin's DTOs (reference §3a), read leniently.

Every field is optional except `id`, because `fields=` trims replies and plugin versions differ;
unknown keys are kept (`extra="allow"`) so nothing the store sent is lost. Money is Decimal
(the JSON is parsed with `parse_float=Decimal`, so 43.5 and 43.5000 arrive exact); dates come
without an offset and mean UTC, so they are returned timezone-aware. Enum names are paired with
nopCommerce's numeric ids (`order_status` <-> `order_status_id`): whichever the reply carries,
both are filled.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from agent.connectors.nopcommerce.enums import (
    BackorderMode,
    LowStockActivity,
    ManageInventoryMethod,
    OrderStatus,
    PaymentStatus,
    ProductType,
    RoundingType,
    ShippingStatus,
    SpecificationAttributeType,
    TaxDisplayType,
    to_member,
)

_FRACTION = re.compile(r"(\.\d{6})\d+")


def _trim_fraction(value: Any) -> Any:
    """.NET writes up to 7 fractional digits; Python keeps 6."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        return _FRACTION.sub(r"\1", value, count=1)
    return value


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, BeforeValidator(_trim_fraction), AfterValidator(_as_utc)]


class NopModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    #: name field -> (id field, enum): both are filled from whichever the reply has
    _enum_pairs: ClassVar[dict[str, tuple[str, type[IntEnum]]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _pair_enums(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls._enum_pairs:
            return data
        data = dict(data)
        for name_field, (id_field, enum) in cls._enum_pairs.items():
            member = to_member(enum, data.get(name_field))
            if member is None:
                member = to_member(enum, data.get(id_field))
            if member is not None:
                data[name_field] = member.name
                data[id_field] = int(member)
        return data


class Address(NopModel):
    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    country_id: int | None = None
    country: str | None = None          # null from the real plugin: resolve country_id via countries()
    state_province_id: int | None = None
    province: str | None = None         # likewise: resolve via state_provinces()
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_postal_code: str | None = None
    phone_number: str | None = None
    fax_number: str | None = None
    customer_attributes: str | None = None
    created_on_utc: UtcDateTime | None = None


class ProductAttributeValueRef(NopModel):
    """One selected product attribute on an order line: the mapping id and the value id or text."""

    id: int
    value: str | None = None


class ProductAttributeCombination(NopModel):
    id: int
    product_id: int | None = None
    attributes_xml: str | None = None
    stock_quantity: int | None = None
    sku: str | None = None
    manufacturer_part_number: str | None = None
    gtin: str | None = None
    overridden_price: Decimal | None = None
    picture_id: int | None = None


class SpecificationAttributeOption(NopModel):
    id: int
    specification_attribute_id: int | None = None
    name: str | None = None
    color_squares_rgb: str | None = None
    display_order: int | None = None


class SpecificationAttribute(NopModel):
    id: int
    name: str | None = None
    display_order: int | None = None
    specification_attribute_options: list[SpecificationAttributeOption] = Field(default_factory=list)

    @property
    def options(self) -> list[SpecificationAttributeOption]:
        return self.specification_attribute_options


class ProductSpecificationAttribute(NopModel):
    _enum_pairs = {"attribute_type": ("attribute_type_id", SpecificationAttributeType)}

    id: int
    product_id: int | None = None
    attribute_type_id: int | None = None
    attribute_type: str | None = None
    specification_attribute_option_id: int | None = None
    custom_value: str | None = None
    allow_filtering: bool | None = None
    show_on_product_page: bool | None = None
    display_order: int | None = None
    specification_attribute_option: SpecificationAttributeOption | None = None


class Product(NopModel):
    _enum_pairs = {
        "manage_inventory_method": ("manage_inventory_method_id", ManageInventoryMethod),
        "low_stock_activity": ("low_stock_activity_id", LowStockActivity),
        "backorder_mode": ("backorder_mode_id", BackorderMode),
        "product_type": ("product_type_id", ProductType),
    }

    id: int
    name: str | None = None
    sku: str | None = None
    short_description: str | None = None
    full_description: str | None = None
    manufacturer_part_number: str | None = None
    gtin: str | None = None
    product_type: str | None = None
    product_type_id: int | None = None
    parent_grouped_product_id: int | None = None
    visible_individually: bool | None = None
    published: bool | None = None
    deleted: bool | None = None
    price: Decimal | None = None
    old_price: Decimal | None = None
    product_cost: Decimal | None = None
    customer_enters_price: bool | None = None
    weight: Decimal | None = None
    length: Decimal | None = None
    width: Decimal | None = None
    height: Decimal | None = None
    is_gift_card: bool | None = None
    is_download: bool | None = None
    is_ship_enabled: bool | None = None
    is_free_shipping: bool | None = None
    manage_inventory_method: str | None = None
    manage_inventory_method_id: int | None = None
    stock_quantity: int | None = None
    use_multiple_warehouses: bool | None = None
    min_stock_quantity: int | None = None
    low_stock_activity: str | None = None
    low_stock_activity_id: int | None = None
    backorder_mode: str | None = None
    backorder_mode_id: int | None = None
    notify_admin_for_quantity_below: int | None = None
    order_minimum_quantity: int | None = None
    order_maximum_quantity: int | None = None
    disable_buy_button: bool | None = None
    display_order: int | None = None
    created_on_utc: UtcDateTime | None = None
    updated_on_utc: UtcDateTime | None = None
    tags: list[str] | None = None       # None = not in the reply (trimmed), [] = no tags
    store_ids: list[int] | None = None
    role_ids: list[int] | None = None
    discount_ids: list[int] | None = None
    manufacturer_ids: list[int] | None = None
    category_ids: list[int] | None = None
    associated_product_ids: list[int] | None = None
    vendor_id: int | None = None
    se_name: str | None = None
    attributes: list[dict[str, Any]] | None = None
    product_attribute_combinations: list[ProductAttributeCombination] | None = None
    product_specification_attributes: list[ProductSpecificationAttribute] | None = None


class OrderItem(NopModel):
    id: int
    product_id: int | None = None
    quantity: int | None = None
    unit_price_incl_tax: Decimal | None = None
    unit_price_excl_tax: Decimal | None = None
    price_incl_tax: Decimal | None = None
    price_excl_tax: Decimal | None = None
    discount_amount_incl_tax: Decimal | None = None
    discount_amount_excl_tax: Decimal | None = None
    original_product_cost: Decimal | None = None
    attribute_description: str | None = None
    product_attributes: list[ProductAttributeValueRef] = Field(default_factory=list)
    item_weight: Decimal | None = None
    rental_start_date_utc: UtcDateTime | None = None
    rental_end_date_utc: UtcDateTime | None = None
    product: Product | None = None

    @property
    def sku(self) -> str | None:
        """The product's SKU (order items have none of their own; variants may differ, see combinations)."""
        return self.product.sku if self.product is not None else None


class Order(NopModel):
    _enum_pairs = {
        "order_status": ("order_status_id", OrderStatus),
        "payment_status": ("payment_status_id", PaymentStatus),
        "shipping_status": ("shipping_status_id", ShippingStatus),
        "customer_tax_display_type": ("customer_tax_display_type_id", TaxDisplayType),
    }

    id: int
    store_id: int | None = None
    customer_id: int | None = None
    custom_order_number: str | None = None   # not in the community DTO; the official API has it
    order_status: str | None = None
    order_status_id: int | None = None
    payment_status: str | None = None
    payment_status_id: int | None = None
    shipping_status: str | None = None
    shipping_status_id: int | None = None
    customer_tax_display_type: str | None = None
    customer_tax_display_type_id: int | None = None
    pick_up_in_store: bool | None = None
    payment_method_system_name: str | None = None
    customer_currency_code: str | None = None
    currency_rate: Decimal | None = None
    vat_number: str | None = None
    order_subtotal_incl_tax: Decimal | None = None
    order_subtotal_excl_tax: Decimal | None = None
    order_sub_total_discount_incl_tax: Decimal | None = None
    order_sub_total_discount_excl_tax: Decimal | None = None
    order_shipping_incl_tax: Decimal | None = None
    order_shipping_excl_tax: Decimal | None = None
    payment_method_additional_fee_incl_tax: Decimal | None = None
    payment_method_additional_fee_excl_tax: Decimal | None = None
    tax_rates: str | None = None
    order_tax: Decimal | None = None
    order_discount: Decimal | None = None
    order_total: Decimal | None = None
    refunded_amount: Decimal | None = None
    checkout_attribute_description: str | None = None
    customer_language_id: int | None = None
    affiliate_id: int | None = None
    customer_ip: str | None = None
    paid_date_utc: UtcDateTime | None = None
    shipping_method: str | None = None
    shipping_rate_computation_method_system_name: str | None = None
    custom_values_xml: str | None = None
    deleted: bool | None = None
    created_on_utc: UtcDateTime | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    order_items: list[OrderItem] = Field(default_factory=list)
    customer: dict[str, Any] | None = None

    @property
    def number(self) -> str:
        """What the shopper sees: the custom order number when known, else the id (the default mask)."""
        return self.custom_order_number or str(self.id)


class Customer(NopModel):
    id: int
    customer_guid: str | None = None
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    language_id: int | str | None = None
    currency_id: int | None = None
    date_of_birth: UtcDateTime | None = None
    gender: str | None = None
    admin_comment: str | None = None
    is_tax_exempt: bool | None = None
    vat_number: str | None = None
    active: bool | None = None
    deleted: bool | None = None
    is_system_account: bool | None = None
    system_name: str | None = None
    created_on_utc: UtcDateTime | None = None
    last_login_date_utc: UtcDateTime | None = None
    last_activity_date_utc: UtcDateTime | None = None
    registered_in_store_id: int | None = None
    role_ids: list[int] = Field(default_factory=list)
    billing_address: Address | None = None
    shipping_address: Address | None = None
    addresses: list[Address] = Field(default_factory=list)


class ShipmentItem(NopModel):
    id: int | None = None
    order_item_id: int | None = None
    quantity: int | None = None
    warehouse_id: int | None = None


class Shipment(NopModel):
    id: int
    order_id: int | None = None
    tracking_number: str | None = None
    admin_comment: str | None = None
    weight: Decimal | None = None
    created_on_utc: UtcDateTime | None = None
    shipped_date_utc: UtcDateTime | None = None
    delivery_date_utc: UtcDateTime | None = None
    ready_for_pickup_date_utc: UtcDateTime | None = None
    shipment_items: list[ShipmentItem] = Field(default_factory=list)


class Warehouse(NopModel):
    id: int
    name: str | None = None
    admin_comment: str | None = None
    address: Address | None = None


class ProductWarehouseInventory(NopModel):
    id: int
    product_id: int | None = None
    warehouse_id: int | None = None
    stock_quantity: int | None = None
    reserved_quantity: int | None = None


class Country(NopModel):
    id: int
    name: str | None = None
    allows_billing: bool | None = None
    allows_shipping: bool | None = None
    two_letter_iso_code: str | None = None
    three_letter_iso_code: str | None = Field(None, alias="ThreeLetterIsoCode")  # the plugin's literal key
    numeric_iso_code: int | None = None
    subject_to_vat: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _either_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ThreeLetterIsoCode" not in data and "three_letter_iso_code" in data:
            data = {**data, "ThreeLetterIsoCode": data["three_letter_iso_code"]}
        return data


class StateProvince(NopModel):
    id: int
    name: str | None = None
    abbreviation: str | None = None
    country_id: int | None = None       # the plugin's DTO has none; kept when a store sends it
    published: bool | None = None
    display_order: int | None = None


class Currency(NopModel):
    _enum_pairs = {"rounding_type": ("rounding_type_id", RoundingType)}

    id: int
    name: str | None = None
    currency_code: str | None = None
    rate: Decimal | None = None
    display_locale: str | None = None
    custom_formatting: str | None = None
    published: bool | None = None
    display_order: int | None = None
    rounding_type: str | None = None
    rounding_type_id: int | None = None
    created_on_utc: UtcDateTime | None = None
    updated_on_utc: UtcDateTime | None = None
    store_ids: list[int] | None = None


class TokenInfo(NopModel):
    access_token: str
    token_type: str | None = None
    created_at_utc: UtcDateTime | None = None
    expires_at_utc: UtcDateTime | None = None
    customer_id: int | None = None
