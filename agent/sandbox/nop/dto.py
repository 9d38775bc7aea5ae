"""Records as the API plugin shows them (the [AK] 4.90 fork's DTOs and DTOHelper).

Faithful to what the plugin really sends rather than to what would be convenient:

- addresses carry `country_id`/`state_province_id` but `country` and `province` are always null
  (the AutoMapper map leaves them empty);
- every order line embeds the full ProductDto, `product_attributes` are `{id, value}` pairs keyed by
  the ProductAttributeMapping id, and the line's downloadable flag is spelled `isDownload_activated`;
- the OrderDto has no `custom_order_number`, `order_guid` or checkout-attribute XML, only the
  formatted `checkout_attribute_description`;
- the CustomerDto never shows custom customer attributes; its default addresses are shown only
  when they are in the customer's own address book;
- ProductDto's `manufacturer_ids` are the product-manufacturer mapping ids (a plugin bug kept here).

Callers hold `state.lock`. Product DTOs are cached per product (with their encoded JSON) and
dropped on every change, since each order line repeats one; treat returned DTOs as read-only.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from agent.sandbox.nop.model import (
    ATTRIBUTE_CONTROL_TYPE,
    ORDER_STATUS,
    PAYMENT_STATUS,
    PRODUCT_TYPE,
    SHIPPING_STATUS,
    SPECIFICATION_ATTRIBUTE_TYPE,
    TAX_DISPLAY_TYPE,
    Address,
    AttributeMapping,
    Customer,
    Order,
    OrderItem,
    Product,
    ProductSpecification,
    Shipment,
    SpecificationAttribute,
    SpecificationOption,
    Warehouse,
    WarehouseInventory,
    enum_name,
)
from agent.sandbox.nop.schema import ORDER_FIELDS, PRODUCT_FIELDS
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import ZERO, EncodedDict, nop_date

_PRODUCT_SCALARS = [spec for spec in PRODUCT_FIELDS if spec.kind != "enum"]
_ORDER_SCALARS = [spec for spec in ORDER_FIELDS if spec.kind != "enum"]


def _value(spec_kind: str, value: Any) -> Any:
    return nop_date(value) if spec_kind == "date" else value


def address_dto(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "id": address.id, "first_name": address.first_name, "last_name": address.last_name,
        "email": address.email, "company": address.company, "country_id": address.country_id,
        "country": None, "state_province_id": address.state_province_id, "city": address.city,
        "address1": address.address1, "address2": address.address2, "zip_postal_code": address.zip_postal_code,
        "phone_number": address.phone_number, "fax_number": address.fax_number,
        "customer_attributes": address.custom_attributes, "created_on_utc": nop_date(address.created_on_utc),
        "province": None,
    }


# -- products ----------------------------------------------------------------------------------

def se_name(name: str | None) -> str:
    """The product's URL slug as nopCommerce generates it."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")
    return slug or "product"


def _attribute_mapping_dto(mapping: AttributeMapping) -> dict[str, Any]:
    return {
        "id": mapping.id, "product_attribute_id": mapping.product_attribute_id,
        "product_attribute_name": mapping.product_attribute_name, "text_prompt": mapping.text_prompt,
        "is_required": mapping.is_required, "attribute_control_type_id": mapping.attribute_control_type_id,
        "display_order": mapping.display_order, "default_value": None,
        "attribute_control_type_name": enum_name(ATTRIBUTE_CONTROL_TYPE, mapping.attribute_control_type_id),
        "attribute_values": [{
            "id": value.id, "type_id": 0, "associated_product_id": 0, "name": value.name,
            "color_squares_rgb": value.color_squares_rgb, "image_squares_image": None,
            "price_adjustment": value.price_adjustment, "weight_adjustment": value.weight_adjustment,
            "cost": value.cost, "quantity": 1, "is_pre_selected": value.is_pre_selected,
            "display_order": value.display_order, "product_image_id": None, "type": "Simple",
        } for value in mapping.values],
    }


def product_specification_dto(spec: ProductSpecification) -> dict[str, Any]:
    return {
        "id": spec.id, "product_id": spec.product_id, "attribute_type_id": spec.attribute_type_id,
        "specification_attribute_option_id": spec.specification_attribute_option_id,
        "custom_value": spec.custom_value, "allow_filtering": spec.allow_filtering,
        "show_on_product_page": spec.show_on_product_page, "display_order": spec.display_order,
        "attribute_type": enum_name(SPECIFICATION_ATTRIBUTE_TYPE, spec.attribute_type_id),
        "specification_attribute_option": None,
    }


def product_dto(state: NopState, product: Product) -> dict[str, Any]:
    cached = state.product_dto_cache.get(product.id)
    if cached is not None:
        return cached
    f = product.fields
    dto: dict[str, Any] = EncodedDict(id=product.id)
    for spec in _PRODUCT_SCALARS:
        dto[spec.key] = _value(spec.kind, f.get(spec.key))
    dto["required_product_ids"] = []
    dto["product_type"] = enum_name(PRODUCT_TYPE, f["product_type_id"])
    dto["role_ids"] = []
    dto["discount_ids"] = []
    dto["store_ids"] = []
    dto["manufacturer_ids"] = list(product.manufacturer_mapping_ids)
    dto["images"] = []
    dto["attributes"] = [_attribute_mapping_dto(m) for m in product.attributes]
    dto["product_attribute_combinations"] = [{
        "id": c.id, "product_id": product.id, "attributes_xml": c.attributes_xml, "stock_quantity": c.stock_quantity,
        "sku": c.sku, "manufacturer_part_number": None, "gtin": None, "overridden_price": c.overridden_price,
        "picture_id": 0,
    } for c in product.combinations]
    dto["product_specification_attributes"] = [
        product_specification_dto(s) for s in state.product_specifications.values() if s.product_id == product.id]
    dto["associated_product_ids"] = [
        p.id for p in state.products.values() if p.fields["parent_grouped_product_id"] == product.id and not p.deleted]
    dto["tags"] = list(product.tags)
    dto["se_name"] = se_name(f.get("name"))
    state.product_dto_cache[product.id] = dto
    return dto


# -- orders ------------------------------------------------------------------------------------

def product_item_attributes(attributes_xml: str | None) -> list[dict[str, Any]]:
    """`ProductAttributeConverter.Parse`: one {id, value} per selected value; gift-card info is skipped."""
    if not attributes_xml:
        return []
    try:
        root = ElementTree.fromstring(attributes_xml)
    except ElementTree.ParseError:
        return []
    pairs = []
    for node in root.iter("ProductAttribute"):
        try:
            mapping_id = int((node.get("ID") or "").strip())
        except ValueError:
            continue
        for value in node.findall("ProductAttributeValue"):
            pairs.append({"id": mapping_id, "value": (value.findtext("Value") or "").strip()})
    return pairs


def order_item_dto(state: NopState, item: OrderItem) -> dict[str, Any]:
    product = state.products.get(item.product_id)
    return {
        "id": item.id, "product_attributes": product_item_attributes(item.attributes_xml),
        "quantity": item.quantity, "unit_price_incl_tax": item.unit_price_incl_tax,
        "unit_price_excl_tax": item.unit_price_excl_tax, "price_incl_tax": item.price_incl_tax,
        "price_excl_tax": item.price_excl_tax, "discount_amount_incl_tax": item.discount_amount_incl_tax,
        "discount_amount_excl_tax": item.discount_amount_excl_tax, "original_product_cost": item.original_product_cost,
        "attribute_description": item.attribute_description, "download_count": item.download_count,
        "isDownload_activated": item.is_download_activated, "license_download_id": item.license_download_id,
        "item_weight": item.item_weight, "rental_start_date_utc": nop_date(item.rental_start_date_utc),
        "rental_end_date_utc": nop_date(item.rental_end_date_utc),
        "product": product_dto(state, product) if product is not None else None,
        "product_id": item.product_id,
    }


def order_dto(state: NopState, order: Order) -> dict[str, Any]:
    f = order.fields
    dto: dict[str, Any] = {"id": order.id}
    for spec in _ORDER_SCALARS:
        dto[spec.key] = _value(spec.kind, f.get(spec.key))
    dto["billing_address"] = address_dto(state.addresses.get(order.billing_address_id))
    dto["shipping_address"] = address_dto(state.addresses.get(order.shipping_address_id or 0))
    dto["order_items"] = [order_item_dto(state, item) for item in order.items]
    dto["order_status"] = enum_name(ORDER_STATUS, f["order_status_id"])
    dto["payment_status"] = enum_name(PAYMENT_STATUS, f["payment_status_id"])
    dto["shipping_status"] = enum_name(SHIPPING_STATUS, f["shipping_status_id"])
    dto["customer_tax_display_type"] = enum_name(TAX_DISPLAY_TYPE, f["customer_tax_display_type_id"])
    return dto


def shipment_dto(state: NopState, shipment: Shipment, with_items: bool = True) -> dict[str, Any]:
    return {
        "id": shipment.id, "tracking_number": shipment.tracking_number, "admin_comment": shipment.admin_comment,
        "weight": shipment.total_weight if shipment.total_weight is not None else ZERO,
        "created_on_utc": nop_date(shipment.created_on_utc), "shipped_date_utc": nop_date(shipment.shipped_date_utc),
        "delivery_date_utc": nop_date(shipment.delivery_date_utc),
        "ready_for_pickup_date_utc": nop_date(shipment.ready_for_pickup_date_utc),
        "shipment_items": [{
            "id": item.id, "quantity": item.quantity, "order_item": None, "order_item_id": item.order_item_id,
            "warehouse_id": item.warehouse_id,
        } for item in shipment.items] if with_items else [],
    }


# -- customers ---------------------------------------------------------------------------------

def customer_dto(state: NopState, customer: Customer) -> dict[str, Any]:
    def own(address_id: int | None) -> dict[str, Any] | None:
        if address_id is None or address_id not in customer.address_ids:
            return None
        return address_dto(state.addresses.get(address_id))

    return {
        "password": None,
        "billing_address": own(customer.billing_address_id),
        "shipping_address": own(customer.shipping_address_id),
        "addresses": [address_dto(state.addresses[a]) for a in customer.address_ids if a in state.addresses],
        "id": customer.id, "customer_guid": customer.customer_guid, "username": customer.username,
        "email": customer.email, "first_name": customer.first_name, "last_name": customer.last_name,
        "language_id": customer.language_id, "currency_id": customer.currency_id, "date_of_birth": None,
        "gender": None, "admin_comment": customer.admin_comment, "is_tax_exempt": customer.is_tax_exempt,
        "has_shopping_cart_items": False, "active": customer.active, "deleted": customer.deleted,
        "is_system_account": customer.is_system_account, "system_name": customer.system_name,
        "last_ip_address": customer.last_ip_address, "created_on_utc": nop_date(customer.created_on_utc),
        "last_login_date_utc": nop_date(customer.last_login_date_utc),
        "last_activity_date_utc": nop_date(customer.last_activity_date_utc),
        "registered_in_store_id": customer.registered_in_store_id, "subscribed_to_newsletter": False,
        "vat_number": customer.vat_number, "vat_number_status_id": 0, "eu_cookie_law_accepted": None,
        "company": customer.company, "role_ids": list(customer.role_ids),
    }


# -- catalog extras and directory --------------------------------------------------------------

def warehouse_dto(state: NopState, warehouse: Warehouse) -> dict[str, Any]:
    return {"id": warehouse.id, "name": warehouse.name, "admin_comment": warehouse.admin_comment,
            "address": address_dto(state.addresses.get(warehouse.address_id))}


def inventory_dto(inventory: WarehouseInventory) -> dict[str, Any]:
    return {"id": inventory.id, "product_id": inventory.product_id, "warehouse_id": inventory.warehouse_id,
            "stock_quantity": inventory.stock_quantity, "reserved_quantity": inventory.reserved_quantity}


def specification_option_dto(option: SpecificationOption) -> dict[str, Any]:
    return {"id": option.id, "specification_attribute_id": option.specification_attribute_id,
            "name": option.name, "color_squares_rgb": option.color_squares_rgb,
            "display_order": option.display_order}


def specification_attribute_dto(attribute: SpecificationAttribute) -> dict[str, Any]:
    return {"id": attribute.id, "name": attribute.name, "display_order": attribute.display_order,
            "specification_attribute_options": [specification_option_dto(o) for o in attribute.options]}


def country_dto(state: NopState, country_id: int) -> dict[str, Any]:
    c = state.directory.countries[country_id]
    return {"id": c.id, "name": c.name, "allows_billing": c.allows_billing, "allows_shipping": c.allows_shipping,
            "two_letter_iso_code": c.two_letter_iso_code, "ThreeLetterIsoCode": c.three_letter_iso_code,
            "numeric_iso_code": c.numeric_iso_code, "subject_to_vat": c.subject_to_vat}


def state_province_dto(state: NopState, state_id: int) -> dict[str, Any]:
    s = state.directory.states[state_id]
    return {"id": s.id, "name": s.name, "abbreviation": s.abbreviation, "published": s.published,
            "display_order": s.display_order}


def currency_dto(state: NopState, currency_id: int) -> dict[str, Any]:
    c = state.directory.currencies[currency_id]
    return {"id": c.id, "name": c.name, "currency_code": c.currency_code, "rate": c.rate,
            "display_locale": c.display_locale, "custom_formatting": c.custom_formatting,
            "limited_to_stores": False, "published": c.published, "display_order": c.display_order,
            "created_on_utc": nop_date(c.created_on_utc), "updated_on_utc": nop_date(c.updated_on_utc),
            "rounding_type": c.rounding_type_id, "store_ids": []}
