"""The scalar fields of ProductDto and OrderDto, and the plugin's PUT merge over them.

The plugin binds a PUT body in two steps that a client feels:

1. `TypeValidator`: each sent key must convert to the DTO property's type, else 422
   `{"errors": {"Invalid <key> type": ["Invalid Property Type"]}}`. Enum properties accept only
   the exact member name (`"Complete"`, not `"complete"` or `30`).
2. `Delta<T>.Merge`: only the sent keys are copied onto the entity. A `null` sent for a column
   that cannot hold null sets the column's default (0, false), as .NET reflection does; keys the
   entity has no column for (`special_price`, `reward_points_were_added`) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from agent.sandbox.nop.model import ORDER_STATUS, PAYMENT_STATUS, PRODUCT_TYPE, SHIPPING_STATUS, TAX_DISPLAY_TYPE
from agent.sandbox.nop.wire import ZERO, money, parse_body_date

_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str                     # JSON name, also the key in the entity's `fields`
    kind: str                    # bool | int | dec | str | date | enum
    default: Any = None
    dto_nullable: bool = True    # the DTO property is `T?` (null passes the type check)
    column: bool = True          # the entity has a column for it (else the merge drops it)
    column_nullable: bool = False
    enum: dict[str, int] | None = None
    stored_as: str | None = None  # enums are stored as their id under this key


def _b(key: str, default: bool = False, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "bool", default, **kw)


def _i(key: str, default: int | None = 0, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "int", default, **kw)


def _d(key: str, default: Decimal | None = ZERO, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "dec", default, **kw)


def _s(key: str, default: str | None = None, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "str", default, column_nullable=True, **kw)


def _t(key: str, nullable: bool = True, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "date", None, column_nullable=nullable, **kw)


def _e(key: str, table: dict[str, int], stored_as: str, **kw: Any) -> FieldSpec:
    return FieldSpec(key, "enum", None, enum=table, stored_as=stored_as, **kw)


PRODUCT_FIELDS: tuple[FieldSpec, ...] = (
    _b("visible_individually", True), _s("name"), _s("short_description"), _s("full_description"),
    _b("show_on_home_page"), _s("meta_keywords"), _s("meta_description"), _s("meta_title"),
    _b("allow_customer_reviews", True), _i("approved_rating_sum"), _i("not_approved_rating_sum"),
    _i("approved_total_reviews"), _i("not_approved_total_reviews"), _s("sku"), _s("manufacturer_part_number"),
    _s("gtin"), _b("is_gift_card"), _b("require_other_products"), _b("automatically_add_required_products"),
    _b("is_download"), _b("unlimited_downloads"), _i("max_number_of_downloads"),
    _i("download_expiration_days", None, column_nullable=True), _b("has_sample_download"),
    _b("has_user_agreement"), _b("is_recurring"), _i("recurring_cycle_length"), _i("recurring_total_cycles"),
    _b("is_rental"), _i("rental_price_length"), _b("is_ship_enabled", True), _b("is_free_shipping"),
    _b("ship_separately"), _d("additional_shipping_charge"), _b("is_tax_exempt"), _i("tax_category_id"),
    _b("is_telecommunications_or_broadcasting_or_electronic_services"), _b("use_multiple_warehouses"),
    _i("manage_inventory_method_id"), _i("stock_quantity"), _b("display_stock_availability"),
    _b("display_stock_quantity"), _i("min_stock_quantity"), _i("low_stock_activity_id", dto_nullable=False),
    _i("notify_admin_for_quantity_below", 1), _b("allow_back_in_stock_subscriptions"),
    _i("order_minimum_quantity", 1), _i("order_maximum_quantity", 10000), _s("allowed_quantities"),
    _b("allow_adding_only_existing_attribute_combinations"), _b("disable_buy_button"),
    _b("disable_wishlist_button"), _b("available_for_pre_order"), _t("pre_order_availability_start_date_time_utc"),
    _b("call_for_price"), _d("price"), _d("old_price"), _d("product_cost"),
    _d("special_price", None, column=False), _t("special_price_start_date_time_utc", column=False),
    _t("special_price_end_date_time_utc", column=False), _b("customer_enters_price"),
    _d("minimum_customer_entered_price"), _d("maximum_customer_entered_price"), _b("baseprice_enabled"),
    _d("baseprice_amount"), _d("baseprice_base_amount"), _b("mark_as_new", dto_nullable=False),
    _t("mark_as_new_start_date_time_utc"), _t("mark_as_new_end_date_time_utc"), _b("has_tier_prices"),
    _b("has_discounts_applied"), _d("weight"), _d("length"), _d("width"), _d("height"),
    _t("available_start_date_time_utc"), _t("available_end_date_time_utc"), _i("display_order"),
    _b("published", True), _b("deleted"), _t("created_on_utc", nullable=False), _t("updated_on_utc", nullable=False),
    _e("product_type", PRODUCT_TYPE, "product_type_id"), _i("parent_grouped_product_id"), _i("vendor_id"),
)

ORDER_FIELDS: tuple[FieldSpec, ...] = (
    _i("store_id", 1), _b("pick_up_in_store"), _s("payment_method_system_name"), _s("customer_currency_code", "USD"),
    _d("currency_rate", Decimal("1.0000")), _i("customer_tax_display_type_id"), _s("vat_number"),
    _d("order_subtotal_incl_tax"), _d("order_subtotal_excl_tax"), _d("order_sub_total_discount_incl_tax"),
    _d("order_sub_total_discount_excl_tax"), _d("order_shipping_incl_tax"), _d("order_shipping_excl_tax"),
    _d("payment_method_additional_fee_incl_tax"), _d("payment_method_additional_fee_excl_tax"),
    _s("tax_rates", "0:0;"), _d("order_tax"), _d("order_discount"), _d("order_total"), _d("refunded_amount"),
    FieldSpec("reward_points_were_added", "bool", None, column=False), _s("checkout_attribute_description"),
    _i("customer_language_id", 1), _i("affiliate_id"), _s("customer_ip"), _s("authorization_transaction_id"),
    _s("authorization_transaction_code"), _s("authorization_transaction_result"), _s("capture_transaction_id"),
    _s("capture_transaction_result"), _s("subscription_transaction_id"), _t("paid_date_utc"), _s("shipping_method"),
    _s("shipping_rate_computation_method_system_name"), _s("custom_values_xml"), _b("deleted"),
    _t("created_on_utc", nullable=False), _i("customer_id"),
    _e("order_status", ORDER_STATUS, "order_status_id"), _e("payment_status", PAYMENT_STATUS, "payment_status_id"),
    _e("shipping_status", SHIPPING_STATUS, "shipping_status_id"),
    _e("customer_tax_display_type", TAX_DISPLAY_TYPE, "customer_tax_display_type_id"),
)

PRODUCT_SPECS = {spec.key: spec for spec in PRODUCT_FIELDS}
ORDER_SPECS = {spec.key: spec for spec in ORDER_FIELDS}


def defaults(specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """A fresh `fields` dict: every column at its default (enums stored by id, 0 = unset)."""
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "enum":
            values[spec.stored_as or spec.key] = 0
        elif spec.column:
            values[spec.key] = spec.default
    return values


# -- type check ------------------------------------------------------------------------------

def _convert(spec: FieldSpec, value: Any) -> Any:
    """The value as the entity would hold it; raises ValueError when the plugin would reject it."""
    if value is None:
        if not spec.dto_nullable:
            raise ValueError("null")
        return None
    if isinstance(value, (dict, list)):
        raise ValueError("not a scalar")
    kind = spec.kind
    if kind == "bool":
        text = str(value).strip().lower() if not isinstance(value, bool) else str(value).lower()
        if text not in ("true", "false"):
            raise ValueError("not a bool")
        return text == "true"
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("not an int")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("not an int")
            value = int(value)
        number = int(str(value).strip())
        if not _INT32[0] <= number <= _INT32[1]:
            raise ValueError("out of range")
        return number
    if kind == "dec":
        if isinstance(value, bool):
            raise ValueError("not a number")
        return money(Decimal(str(value).strip()))
    if kind == "str":
        return str(value) if not isinstance(value, bool) else ("True" if value else "False")
    if kind == "date":
        return parse_body_date(value)
    if kind == "enum":
        if not isinstance(value, str) or value not in (spec.enum or {}):
            raise ValueError("not a member name")
        return (spec.enum or {})[value]
    raise ValueError(kind)


def invalid_keys(specs: dict[str, FieldSpec], body: dict[str, Any]) -> list[str]:
    """The sent scalar keys whose values the plugin's TypeValidator rejects."""
    bad = []
    for key, value in body.items():
        spec = specs.get(key)
        if spec is None:
            continue
        try:
            _convert(spec, value)
        except (ValueError, ArithmeticError):
            bad.append(key)
    return bad


def type_errors(keys: list[str]) -> dict[str, list[str]]:
    return {f"Invalid {key} type": ["Invalid Property Type"] for key in keys}


def merge(specs: dict[str, FieldSpec], fields: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Copy the sent scalar keys onto `fields` (call `invalid_keys` first); returns the keys changed."""
    changed = []
    for key, raw in body.items():
        spec = specs.get(key)
        if spec is None or not spec.column:
            continue
        value = _convert(spec, raw)
        target = spec.stored_as or key
        if value is None and not spec.column_nullable:
            value = _column_default(spec)
        fields[target] = value
        changed.append(key)
    return changed


def _column_default(spec: FieldSpec) -> Any:
    return {"bool": False, "int": 0, "dec": ZERO, "enum": 0, "date": datetime.min}.get(spec.kind)
