"""The order transform on its own: lines, substitutions, money, addresses, fields, dimensions."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from agent.config import MappingSettings
from agent.flows.order_mapping import (
    build_sales_order,
    group_lines,
    order_date,
    order_payload,
    store_sku,
    substitutions,
)
from agent.mapping import MappingError

COUNTRIES = {236: {"id": 236, "name": "United States", "two_letter_iso_code": "US", "three_letter_iso_code": "USA"},
             40: {"id": 40, "name": "Canada", "two_letter_iso_code": "CA", "three_letter_iso_code": "CAN"},
             80: {"id": 80, "name": "Germany", "two_letter_iso_code": "DE", "three_letter_iso_code": "DEU"}}
STATES = {5: {"id": 5, "name": "California", "abbreviation": "CA"},
          71: {"id": 71, "name": "Saskatchewan", "abbreviation": "SK"}}
CUSTOM_FIELDS = [
    {"entity": "sales_order", "name": "ORDER_SOURCE", "label": "Order source", "type": "choice",
     "choices": ["Web", "Phone"], "required": True},
    {"entity": "sales_order", "name": "GIFT_WRAP", "label": "Gift wrap", "type": "bool", "required": False},
    {"entity": "sales_order", "name": "WEB_ORDER_NUMBER", "label": "Web order number", "type": "text",
     "max_length": 30, "required": False},
    {"entity": "customer", "name": "CUSTOMER_TYPE", "label": "Customer type", "type": "choice",
     "choices": ["Retail"], "required": False},
]
DIMENSIONS = [
    {"code": "COSTCENTER", "label": "Cost center", "required_on_sales_orders": True,
     "values": [{"code": c, "label": c} for c in ("WEB-US", "WEB-CA", "WEB-EU", "WEB-ROW")]},
    {"code": "CHANNEL", "label": "Channel", "required_on_sales_orders": True,
     "values": [{"code": "ONLINE", "label": "Online"}]},
    {"code": "DEPARTMENT", "label": "Department", "values": [{"code": "ELEC", "label": "Elec"},
                                                              {"code": "APPAREL", "label": "Apparel"}]},
]
ITEMS = {"TSHIRT": {"item_no": "TSHIRT", "uom": "EA", "active": True, "department": "APPAREL", "unit_price": "15"},
         "LAPTOP": {"item_no": "LAPTOP", "uom": "EA", "active": True, "department": "ELEC", "unit_price": "999"},
         "NEW_TSHIRT": {"item_no": "NEW_TSHIRT", "uom": "EA", "active": True, "department": "APPAREL",
                        "unit_price": "15"}}


def address(**changes: Any) -> dict[str, Any]:
    base = {"id": 9, "first_name": "steve", "last_name": "GATES", "email": "steve@example.com", "company": "ACME",
            "country_id": 236, "country": None, "state_province_id": 5, "province": None, "city": "los angeles",
            "address1": "750 Bel Air Rd.", "address2": None, "zip_postal_code": "90077", "phone_number": "555"}
    return {**base, **changes}


def item(item_id: int, sku: str, quantity: int, price: str, *, discount: str = "0", attributes: Any = (),
         description: str | None = None, name: str | None = None) -> dict[str, Any]:
    total = Decimal(price) * quantity - Decimal(discount)
    return {"id": item_id, "product_id": item_id + 100, "quantity": quantity, "unit_price_excl_tax": price,
            "price_excl_tax": str(total), "discount_amount_excl_tax": discount,
            "product_attributes": [{"id": a, "value": v} for a, v in attributes],
            "attribute_description": description,
            "product": {"id": item_id + 100, "sku": sku, "name": name or sku.title()}}


def order(items: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    subtotal = sum(Decimal(i["price_excl_tax"]) for i in items)
    base = {"id": 1234, "customer_id": 4, "order_status": "Pending", "payment_status": "Pending",
            "shipping_status": "NotYetShipped", "customer_currency_code": "USD", "currency_rate": "1",
            "order_subtotal_excl_tax": str(subtotal), "order_sub_total_discount_excl_tax": "0",
            "order_shipping_excl_tax": "0", "payment_method_additional_fee_excl_tax": "0", "order_tax": "0",
            "order_discount": "0", "order_total": str(subtotal), "created_on_utc": "2026-01-28T10:00:00.1234567",
            "payment_method_system_name": "Payments.Manual", "shipping_method": "Ground", "store_id": 1,
            "billing_address": address(), "shipping_address": address(id=10), "order_items": items,
            "checkout_attribute_description": "Gift wrapping: Yes [+$10.00]"}
    return {**base, **changes}


def build(o: dict[str, Any], mapping: MappingSettings | None = None, **kwargs: Any):
    mapping = mapping or MappingSettings()
    return build_sales_order(o, customer_no="C000001", mapping=mapping, items=ITEMS, countries=COUNTRIES,
                             states=STATES, custom_field_defs=CUSTOM_FIELDS, dimension_defs=DIMENSIONS,
                             subs=kwargs.pop("subs", substitutions(mapping, o)), **kwargs)


def line_math_holds(payload: dict[str, Any]) -> None:
    """BNG's own validation rule, checked here with exact decimals."""
    total = Decimal(0)
    for line in payload["lines"]:
        assert isinstance(line["line_total"], str)
        expected = Decimal(line["quantity"]) * Decimal(line["unit_price"]) - Decimal(line["discount_amount"])
        assert abs(Decimal(line["line_total"]) - expected) <= Decimal("0.01")
        total += Decimal(line["line_total"])
    total += Decimal(payload["shipping_amount"]) + Decimal(payload["tax_amount"]) - Decimal(payload["discount_amount"])
    assert abs(Decimal(payload["total"]) - total) <= Decimal("0.01")


def test_one_line_per_item_and_identical_items_are_added_up() -> None:
    o = order([item(1, "TSHIRT", 1, "15", attributes=[(7, "2")], description="Size: M"),
               item(2, "LAPTOP", 1, "999"),
               item(3, "TSHIRT", 2, "15", attributes=[(7, "2")], description="Size: M"),
               item(4, "TSHIRT", 1, "15", attributes=[(7, "3")], description="Size: L")])
    draft = build(o)
    lines = draft.payload["lines"]
    assert [(line["item_no"], line["quantity"]) for line in lines] == [("TSHIRT", "3"), ("LAPTOP", "1"),
                                                                        ("TSHIRT", "1")]
    assert lines[0]["description"] == "Tshirt (Size: M)"
    assert draft.line_items == [[(1, 1), (3, 2)], [(2, 1)], [(4, 1)]]
    line_math_holds(draft.payload)
    assert draft.payload["total"] == "1059.00"


def test_discounts_shipping_and_tax_add_up_exactly() -> None:
    items = [item(1, "TSHIRT", 3, "15", discount="4.50"), item(2, "LAPTOP", 1, "999")]
    o = order(items, order_sub_total_discount_excl_tax="10.00", order_shipping_excl_tax="7.95",
              order_tax="80.17", order_discount="20.00")
    subtotal = Decimal("40.50") + Decimal("999")
    o["order_subtotal_excl_tax"] = str(subtotal)
    o["order_total"] = str(subtotal - Decimal("10.00") + Decimal("7.95") + Decimal("80.17") - Decimal("20.00"))
    payload = build(o).payload
    line_math_holds(payload)
    assert payload["shipping_amount"] == "7.95"
    assert payload["tax_amount"] == "80.17"
    assert payload["discount_amount"] == "20.00"
    assert Decimal(payload["lines"][0]["discount_amount"]) > Decimal("4.50")  # its share of the subtotal discount
    assert payload["total"] == "1097.62"


def test_foreign_currency_converts_at_the_orders_rate() -> None:
    o = order([item(1, "LAPTOP", 1, "999")], customer_currency_code="EUR", currency_rate="0.86")
    payload = build(o).payload
    assert payload["currency"] == "EUR"
    assert payload["exchange_rate"] == "0.86"
    assert payload["total"] == "859.14"
    line_math_holds(payload)


def test_addresses_are_normalized_and_ids_resolved() -> None:
    o = order([item(1, "LAPTOP", 1, "999")],
              shipping_address=address(id=10, country_id=40, state_province_id=71, city="SASKATOON",
                                       address1="201 1st Avenue South", zip_postal_code="s7k1j9"))
    draft = build(o)
    assert draft.payload["bill_to"]["region"] == "CA"
    assert draft.payload["bill_to"]["country"] == "US"
    assert draft.payload["bill_to"]["name"] == "Steve Gates"
    assert draft.payload["ship_to"] == {"name": "Steve Gates", "company": "ACME", "line1": "201 1st Avenue South",
                                        "line2": None, "city": "Saskatoon", "region": "SK",
                                        "postal_code": "S7K 1J9", "country": "CA", "phone": "555"}
    assert draft.ship_country == "CA"
    assert any("postal code" in note for note in draft.notes)


def test_no_shipping_address_ships_to_billing() -> None:
    o = order([item(1, "LAPTOP", 1, "999")], shipping_address=None)
    payload = build(o).payload
    assert payload["ship_to"] == payload["bill_to"]


def test_ids_custom_fields_dimensions_status() -> None:
    payload = build(order([item(1, "LAPTOP", 1, "999"), item(2, "TSHIRT", 1, "15")])).payload
    assert payload["external_order_id"] == "1234"
    assert payload["external_order_number"] == "1234"
    assert payload["order_date"] == "2026-01-28T10:00:00.123456Z"
    assert payload["custom_fields"] == {"ORDER_SOURCE": "Web", "WEB_ORDER_NUMBER": "1234", "GIFT_WRAP": True}
    assert payload["dimensions"] == {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE", "DEPARTMENT": "ELEC"}
    assert payload["status"] == "New"
    assert payload["payment_status"] == "Unpaid"
    assert "location" not in payload


def test_location_and_hold_and_statuses_bng_cannot_create() -> None:
    mapping = MappingSettings()
    mapping.locations.order_location = "WEST"
    payload = build(order([item(1, "LAPTOP", 1, "999")]), mapping, hold=True).payload
    assert payload["location"] == "WEST"
    assert payload["status"] == "OnHold"
    draft = build(order([item(1, "LAPTOP", 1, "999")], order_status="Complete", payment_status="Paid"))
    assert draft.payload["status"] == "Open"
    assert draft.payload["payment_status"] == "Paid"
    assert any("created Open" in note for note in draft.notes)


def test_unmapped_status_is_a_reason_not_a_crash() -> None:
    mapping = MappingSettings()
    mapping.status.order_to_bng = {"Processing": "Open"}
    with pytest.raises(MappingError, match="Order status 'Pending' has no BNG status"):
        build(order([item(1, "LAPTOP", 1, "999")]), mapping)


def test_sku_substitution_from_settings_and_from_a_retry() -> None:
    o = order([item(1, "OLD_TSHIRT", 1, "15")])
    mapping = MappingSettings(sku_substitutions={"OLD_TSHIRT": "TSHIRT"})
    draft = build(o, mapping)
    assert draft.payload["lines"][0]["item_no"] == "TSHIRT"
    assert any("OLD_TSHIRT sent to BNG as TSHIRT" in n for n in draft.notes)
    retried = {**o, "sku_substitutions": {"old_tshirt": "NEW_TSHIRT"}}
    assert build(retried, mapping).payload["lines"][0]["item_no"] == "NEW_TSHIRT"


def test_variant_sku_comes_from_the_matching_combination() -> None:
    line = item(1, "SHOE", 1, "40", attributes=[(3, "11"), (4, "20")])
    line["product"]["product_attribute_combinations"] = [
        {"id": 1, "sku": "SHOE-8-RED", "attributes_xml": '<Attributes><ProductAttribute ID="4"><ProductAttributeValue>'
         '<Value>20</Value></ProductAttributeValue></ProductAttribute><ProductAttribute ID="3"><ProductAttributeValue>'
         "<Value>11</Value></ProductAttributeValue></ProductAttribute></Attributes>"},
        {"id": 2, "sku": "SHOE-9-RED", "attributes_xml": '<Attributes><ProductAttribute ID="3"><ProductAttributeValue>'
         "<Value>12</Value></ProductAttributeValue></ProductAttribute></Attributes>"}]
    assert store_sku(line) == "SHOE-8-RED"
    line["product_attributes"] = [{"id": 3, "value": "99"}]
    assert store_sku(line) == "SHOE"


def test_inactive_item_and_missing_sku_are_reasons() -> None:
    items = {**ITEMS, "LAPTOP": {**ITEMS["LAPTOP"], "active": False}}
    with pytest.raises(MappingError, match="SKU LAPTOP is no longer active in BNG"):
        build_sales_order(order([item(1, "LAPTOP", 1, "999")]), customer_no="C1", mapping=MappingSettings(),
                          items=items, countries=COUNTRIES, states=STATES, custom_field_defs=CUSTOM_FIELDS,
                          dimension_defs=DIMENSIONS, subs={})
    with pytest.raises(MappingError, match="has no SKU"):
        group_lines(order([item(1, "", 1, "5")]), {})


def test_totals_that_do_not_add_up_are_a_reason() -> None:
    o = order([item(1, "LAPTOP", 1, "999")], order_total="500.00")
    with pytest.raises(MappingError, match="do not add up"):
        build(o)


def test_payload_keeps_numbers_exact_and_products_small() -> None:
    raw = order([item(1, "LAPTOP", 1, "999")])
    raw["order_items"][0]["product"].update({"full_description": "x" * 5000, "price": 999.1})
    raw["order_total"] = 999.0
    payload = order_payload(copy.deepcopy(raw))
    assert payload["order_total"] == "999.0"
    assert payload["order_items"][0]["product"] == {"id": 101, "sku": "LAPTOP", "name": "Laptop", "price": "999.1"}
    assert order_date({"created_on_utc": "2026-01-28T10:00:00Z"}) == "2026-01-28T10:00:00Z"
