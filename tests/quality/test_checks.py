"""Validation before any write: what BNG would refuse or store wrongly, each with a plain reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.config import QualitySettings
from agent.quality import decide, normalize_phone, validate_order
from tests.quality.builders import address, order
from tests.quality.simulator import COUNTRIES

SETTINGS = QualitySettings()


def check(o, **kwargs):
    return validate_order(o, countries=COUNTRIES, settings=kwargs.pop("settings", SETTINGS), **kwargs)


def test_a_good_order_passes_with_decimal_or_float_money():
    assert check(order(1)) == []
    assert check(order(2, [("LV_511_JN", 2, 43.5), ("PRIDE_PRJ", 1, 24)], total=111.0)) == []


def test_a_malformed_email_is_quarantined_with_the_reason():
    o = order(1, email="ann@@example")
    o["customer"]["email"] = None
    [flag] = check(o)
    assert (flag.check, flag.action, flag.subject) == ("email", "quarantine", "ann@@example")
    assert flag.reason.startswith("The e-mail address 'ann@@example' of the billing address is not valid: ")
    assert "@" in flag.reason.split("not valid: ")[1]


def test_each_distinct_email_is_checked_and_named_by_where_it_is():
    o = order(1, email="ann@example.com")
    o["shipping_address"]["email"] = "ann.example.com"
    [flag] = check(o)
    assert "shipping address" in flag.reason and "'ann.example.com'" in flag.reason


def test_an_order_without_any_email_is_quarantined():
    o = order(1)
    o["customer"]["email"] = None
    o["billing_address"]["email"] = ""
    o["shipping_address"]["email"] = None
    [flag] = check(o)
    assert flag.check == "email" and "has no e-mail address" in flag.reason


def test_no_network_lookup_is_needed_for_email():
    # a syntactically valid address at a domain that does not exist passes: no DNS query is made
    assert check(order(1, email="someone@no-such-domain-bngsync.example")) == []


@pytest.mark.parametrize(("number", "country", "expected"), [
    ("(212) 555-0147", "US", "+12125550147"),
    ("212.555.0147", "US", "+12125550147"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 20 7946 0958", None, "+442079460958"),
    ("030 1234567", "de", "+49301234567"),
    ("87654321", "US", None),           # the sample data's placeholder: passed on as typed
    ("020 7946 0958", None, None),      # no country, no international prefix: cannot tell
    ("n/a", "US", None),
    ("", "US", None),
    (None, "US", None),
])
def test_phone_numbers_are_normalized_to_e164_where_the_country_is_known(number, country, expected):
    assert normalize_phone(number, country) == expected


def test_only_text_that_is_no_phone_number_at_all_is_noted():
    o = order(1)
    o["billing_address"]["phone_number"] = "n/a"
    o["shipping_address"]["phone_number"] = "87654321"       # short, but a number a person can call
    [flag] = check(o)
    assert (flag.check, flag.action) == ("phone", "note")
    assert flag.reason == "The phone number 'n/a' of the billing address is not a phone number."


@pytest.mark.parametrize(("country", "field", "missing"), [
    ("US", "zip_postal_code", "postal code"),
    ("US", "city", "city"),
    ("GB", "address1", "street"),
    ("US", "state_province_id", "state/province"),
])
def test_incomplete_addresses_are_quarantined_naming_what_is_missing(country, field, missing):
    o = order(1, country=country)
    o["shipping_address"][field] = None
    [flag] = check(o)
    assert (flag.check, flag.action) == ("address", "quarantine")
    assert flag.reason == f"The shipping address of order 1 is incomplete: it has no {missing}."


def test_countries_without_postal_codes_need_none():
    assert check(order(1, country="HK")) == []


def test_an_address_needs_a_known_country():
    o = order(1)
    o["billing_address"]["country_id"] = 0
    o["shipping_address"]["country_id"] = 99999
    flags = check(o)
    assert [f.reason for f in flags] == [
        "The billing address of order 1 is incomplete: it has no country.",
        "The shipping address of order 1 is incomplete: its country (id 99999) is not in the web store's "
        "country list."]


def test_without_the_country_list_a_country_id_is_trusted_and_a_name_is_used():
    o = order(1)
    o["billing_address"]["zip_postal_code"] = ""
    assert validate_order(o, settings=SETTINGS) == []  # id only: we cannot tell whether a postal code is needed
    o["billing_address"]["country"] = "United States"
    [flag] = validate_order(o, settings=SETTINGS)
    assert "postal code" in flag.reason


def test_pickups_and_downloads_need_no_shipping_address():
    assert check(order(1, shipping_address=None)) == []
    assert check(order(2, pick_up_in_store=True, shipping_address=address("US", city=""))) == []


def test_required_custom_fields_must_have_values():
    o = order(1, custom_order_number="1001")
    [flag] = check(o, required_custom_fields=["ORDER_SOURCE", "WEB_ORDER_NUMBER"],
                   custom_values={"ORDER_SOURCE": " ", "WEB_ORDER_NUMBER": "1001"})
    assert (flag.check, flag.action) == ("custom_field", "quarantine")
    assert flag.reason == "BNG needs a value for the field ORDER_SOURCE, and order 1001 gives none."
    assert check(o, required_custom_fields=["ORDER_SOURCE"], custom_values={"ORDER_SOURCE": "Web"}) == []


@pytest.mark.parametrize("code", ["XYZ", "XXX", "XAU", "US$", "EURO"])
def test_unknown_currency_codes_are_quarantined(code):
    [flag] = check(order(1, currency=code))
    assert (flag.check, flag.action) == ("currency", "quarantine")
    assert flag.reason == f"The currency code '{code}' of order 1 is not an ISO 4217 currency."


def test_a_missing_currency_code_is_quarantined():
    [flag] = check(order(1, currency=""))
    assert flag.reason == "Order 1 has no currency code."


@pytest.mark.parametrize(("quantity", "shown"), [(-2, "-2"), (0, "0"), (Decimal("1.5"), "1.5"), (None, "None")])
def test_quantities_must_be_positive_whole_numbers(quantity, shown):
    flag, *rest = check(order(1, [("AP_MBP_13", quantity, Decimal(1800))], total=Decimal(0)))
    assert (flag.check, flag.action) == ("bad_quantity", "quarantine")
    assert all(f.check == "negative_price" and "subtotal" in f.reason for f in rest)  # follows from it
    assert flag.reason == f"Quantity {shown} of AP_MBP_13 is not a positive whole number."


def test_negative_prices_and_totals_are_quarantined():
    flags = check(order(1, [("LV_511_JN", 1, Decimal("-5"))]))
    assert [(f.check, f.reason) for f in flags] == [
        ("negative_price", "The unit price -5.00 of LV_511_JN is negative."),
        ("negative_price", "The order total -5.00 of order 1 is negative.")]


def test_a_configured_action_replaces_the_default():
    settings = QualitySettings(actions={"email": "hold"})
    flags = check(order(1, email="ann@@example"), settings=settings)
    assert {f.action for f in flags} == {"hold"} and decide(flags) == "hold"
