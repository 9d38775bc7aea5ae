from __future__ import annotations

from decimal import Decimal

import pytest

from agent.config import CustomFieldRule, MappingSettings
from agent.mapping import MappingError
from agent.mapping.fields import (
    AttributeInfo,
    build_custom_fields,
    coerce_value,
    parse_attributes_xml,
    parse_checkout_attribute_description,
    source_value,
)

CUSTOMER_ATTRIBUTES = {1: AttributeInfo("Customer Type", {1: "Retail", 2: "Wholesale", 3: "Education"}),
                       3: AttributeInfo("Tax reference"),
                       4: AttributeInfo("Interests", {7: "Cameras", 8: "Books"})}


@pytest.fixture
def gift_wrapping(nop_sample) -> dict[int, AttributeInfo]:
    """The sample checkout attribute, as the store's lookup would give it."""
    attribute = nop_sample["checkout_attributes"][0]
    return {attribute["expected_id"]: AttributeInfo(attribute["name"],
                                                    {v["expected_id"]: v["name"] for v in attribute["values"]})}


@pytest.fixture
def definitions(bng_sample) -> list[dict]:
    return bng_sample["custom_fields"]


# -- attribute XML -------------------------------------------------------------------------------

def test_customer_attribute_xml():
    xml = ('<Attributes>\n'
           '  <CustomerAttribute ID="1"><CustomerAttributeValue><Value>2</Value></CustomerAttributeValue>'
           '</CustomerAttribute>\n'
           '  <CustomerAttribute ID="3"><CustomerAttributeValue><Value>free text here</Value>'
           '</CustomerAttributeValue></CustomerAttribute>\n'
           '  <CustomerAttribute ID="4"><CustomerAttributeValue><Value>7</Value></CustomerAttributeValue>'
           '<CustomerAttributeValue><Value>8</Value></CustomerAttributeValue></CustomerAttribute>\n'
           '  <CustomerAttribute ID="99"><CustomerAttributeValue><Value>x</Value></CustomerAttributeValue>'
           '</CustomerAttribute>\n'
           '</Attributes>')
    assert parse_attributes_xml(xml, CUSTOMER_ATTRIBUTES) == {
        "Customer Type": "Wholesale", "Tax reference": "free text here", "Interests": "Cameras, Books"}


def test_checkout_attribute_xml(gift_wrapping):
    xml = ('<Attributes><CheckoutAttribute ID="1"><CheckoutAttributeValue><Value>2</Value>'
           '</CheckoutAttributeValue></CheckoutAttribute></Attributes>')
    assert parse_attributes_xml(xml, gift_wrapping, kind="CheckoutAttribute") == {"Gift wrapping": "Yes"}


def test_empty_xml():
    assert parse_attributes_xml(None, CUSTOMER_ATTRIBUTES) == {}
    assert parse_attributes_xml("  ", CUSTOMER_ATTRIBUTES) == {}
    assert parse_attributes_xml("<Attributes></Attributes>", CUSTOMER_ATTRIBUTES) == {}


def test_stale_value_id():
    xml = ('<Attributes><CustomerAttribute ID="1"><CustomerAttributeValue><Value>9</Value>'
           '</CustomerAttributeValue></CustomerAttribute></Attributes>')
    with pytest.raises(MappingError, match="'Customer Type' has value '9'"):
        parse_attributes_xml(xml, CUSTOMER_ATTRIBUTES)


@pytest.mark.parametrize("xml", [
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    '<Attributes><CustomerAttribute ID="3"><CustomerAttributeValue><Value>&lol2;</Value>'
    '</CustomerAttributeValue></CustomerAttribute></Attributes>',
    # external entity
    '<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Attributes><CustomerAttribute ID="3">'
    '<CustomerAttributeValue><Value>&xxe;</Value></CustomerAttributeValue></CustomerAttribute></Attributes>',
    # lower-case and entity-only variants
    '<!doctype Attributes><Attributes/>',
    '<Attributes><!ENTITY x "y"></Attributes>',
])
def test_malicious_xml_is_refused(xml):
    with pytest.raises(MappingError, match="refused"):
        parse_attributes_xml(xml, CUSTOMER_ATTRIBUTES)


def test_broken_and_oversized_xml():
    with pytest.raises(MappingError, match="not well-formed"):
        parse_attributes_xml("<Attributes><CustomerAttribute ID='1'>", CUSTOMER_ATTRIBUTES)
    with pytest.raises(MappingError, match="no valid ID"):
        parse_attributes_xml('<Attributes><CustomerAttribute ID="x"/></Attributes>', CUSTOMER_ATTRIBUTES)
    with pytest.raises(MappingError, match="larger than"):
        parse_attributes_xml("<Attributes>" + " " * 200_000 + "</Attributes>", CUSTOMER_ATTRIBUTES)


# -- the checkout-attribute description ------------------------------------------------------------

def test_checkout_description():
    assert parse_checkout_attribute_description("Gift wrapping: Yes [+$10.00]") == {"Gift wrapping": "Yes"}
    text = ("Gift wrapping: No<br />Gift message: Tom &amp; Jerry &lt;3<br/>Extras: Ribbon [+1,50 €]"
            "<br>Extras: Card [+$2.00]<br />Delivery note: ring twice<br />then wait: 10:00")
    assert parse_checkout_attribute_description(text) == {
        "Gift wrapping": "No", "Gift message": "Tom & Jerry <3", "Extras": "Ribbon, Card",
        "Delivery note": "ring twice", "then wait": "10:00"}
    assert parse_checkout_attribute_description(None) == {}
    assert parse_checkout_attribute_description("Size: [XL]") == {"Size": "[XL]"}  # not a price


# -- coercion ------------------------------------------------------------------------------------

def definition(kind, **kw):
    return {"entity": "sales_order", "name": "F", "label": "Field", "type": kind, "choices": None,
            "max_length": None, "required": False, **kw}


@pytest.mark.parametrize(("raw", "expected"), [("Yes", True), ("no", False), ("TRUE", True), ("false", False),
                                               ("1", True), ("0", False), (True, True)])
def test_bool(raw, expected):
    assert coerce_value(raw, definition("bool")) is expected


@pytest.mark.parametrize(("raw", "expected"), [("12.50", "12.50"), (3, "3"), (Decimal("1E+2"), "100"),
                                               (" 7 ", "7"), ("-0.0", "0.0")])
def test_number(raw, expected):
    assert coerce_value(raw, definition("number")) == expected


@pytest.mark.parametrize(("raw", "expected"), [("2026-01-28", "2026-01-28"), ("2026-01-28T10:00:00.123", "2026-01-28"),
                                               ("2026-01-28T10:00:00Z", "2026-01-28"), ("01/28/2026", "2026-01-28"),
                                               ("Wednesday, January 28, 2026", "2026-01-28"),
                                               ("January 28, 2026", "2026-01-28")])
def test_date(raw, expected):
    assert coerce_value(raw, definition("date")) == expected


@pytest.mark.parametrize(("kind", "raw"), [("bool", "maybe"), ("number", "twelve"), ("number", "NaN"),
                                           ("date", "next tuesday"), ("date", "28/01/2026")])
def test_values_that_do_not_fit(kind, raw):
    with pytest.raises(MappingError, match=f"Custom field Field \\(F\\) is a .*'{raw}'"):
        coerce_value(raw, definition(kind))


def test_choice():
    d = definition("choice", choices=["Web", "Marketplace", "Phone"])
    assert coerce_value("web", d) == "Web"
    with pytest.raises(MappingError, match=r"only accepts 'Web', 'Marketplace', 'Phone', but the value is 'Fax'"):
        coerce_value("Fax", d)


def test_text_is_cut_with_a_note():
    notes: list[str] = []
    assert coerce_value("x" * 40, definition("text", max_length=30), notes) == "x" * 30
    assert notes and "cut to 30" in notes[0]
    with pytest.raises(MappingError, match="type 'json'"):
        coerce_value("x", definition("json"))


# -- rules ---------------------------------------------------------------------------------------

def sample_order(nop_sample, order_id=1):
    order = dict(next(o for o in nop_sample["orders"] if o["expected_id"] == order_id))
    order["id"] = order_id
    return order


def test_default_rules_work_on_the_sample_company(nop_sample, definitions):
    """The default ORDER_SOURCE constant is one of the sample BNG's choices."""
    result = build_custom_fields(MappingSettings().custom_fields, definitions, order=sample_order(nop_sample))
    assert result.values["ORDER_SOURCE"] == "Web"


def test_sales_order_fields(nop_sample, definitions):
    rules = [CustomFieldRule(source="constant:Web store", target="ORDER_SOURCE", values={"Web store": "Web"}),
             *MappingSettings().custom_fields[1:]]
    checkout = parse_checkout_attribute_description("Gift wrapping: Yes [+$10.00]")
    result = build_custom_fields(rules, definitions, order=sample_order(nop_sample), checkout_attributes=checkout)
    assert result.values == {"ORDER_SOURCE": "Web", "WEB_ORDER_NUMBER": "1", "GIFT_WRAP": True}
    # without the checkout attribute the optional field is simply not sent
    result = build_custom_fields(rules, definitions, order=sample_order(nop_sample))
    assert result.values == {"ORDER_SOURCE": "Web", "WEB_ORDER_NUMBER": "1"}


def test_customer_fields(definitions):
    xml = ('<Attributes><CustomerAttribute ID="1"><CustomerAttributeValue><Value>1</Value>'
           '</CustomerAttributeValue></CustomerAttribute></Attributes>')
    attributes = parse_attributes_xml(xml, CUSTOMER_ATTRIBUTES)
    rules = [*MappingSettings().custom_fields,
             CustomFieldRule(source="constant:yes", target="newsletter", entity="customer")]
    result = build_custom_fields(rules, definitions, entity="customer", customer_attributes=attributes)
    assert result.values == {"CUSTOMER_TYPE": "Retail", "NEWSLETTER": True}


def test_rule_for_a_field_bng_does_not_have(definitions):
    rules = [CustomFieldRule(source="constant:x", target="LOYALTY_TIER", entity="customer")]
    with pytest.raises(MappingError, match=r"'LOYALTY_TIER' has no matching field in BNG: BNG defines "
                                           r"CUSTOMER_TYPE, NEWSLETTER for customers"):
        build_custom_fields(rules, definitions, entity="customer")


def test_required_field_without_a_rule(definitions):
    with pytest.raises(MappingError, match=r"requires the custom field Order source \(ORDER_SOURCE\)"):
        build_custom_fields([], definitions)


def test_order_sources(nop_sample):
    order = sample_order(nop_sample, 2)
    assert source_value("order:store_id", order={"store_id": 1}) == 1
    assert source_value("order:payment_method", order=order) == "Payments.CheckMoneyOrder"
    assert source_value("order:shipping_method", order=order) == "Next Day Air"
    assert source_value("order:customer_ip", order=order) == "127.0.0.1"
    assert source_value("order:custom_order_number", order={"id": 42}) == 42
    assert source_value("checkout_attribute:gift WRAPPING", checkout_attributes={"Gift wrapping": "No"}) == "No"
    assert source_value("customer_attribute:Missing", customer_attributes={}) is None
    with pytest.raises(MappingError, match="not understood"):
        source_value("cookie:x")
    with pytest.raises(MappingError, match="needs a kind"):
        source_value("store_id")


def test_number_field_from_an_order_value():
    defs = [definition("number", name="STORE", required=True)]
    result = build_custom_fields([CustomFieldRule(source="order:store_id", target="STORE")], defs,
                                 order={"store_id": 2})
    assert result.values == {"STORE": "2"}
