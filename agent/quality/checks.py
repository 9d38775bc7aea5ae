"""Validation of an order before anything is written to BNG.

These checks look at the order alone (no history): is every value one BNG can take, and is
every address complete enough for a carrier? They run on the nopCommerce OrderDto exactly as the
store's API returns it, so a problem is reported in the store's terms ("the billing address has
no postal code") and the merchant knows where to fix it.

E-mail syntax is checked without network look-ups: a DNS query per order would make the check
slow and its answer depend on the network of the machine the agent runs on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import email_validator
import phonenumbers
import pycountry

from agent.mapping.address import NO_POSTAL_CODE, REGION_REQUIRED, country_code
from agent.mapping.errors import MappingError
from agent.quality.history import line_name, line_sku, order_name
from agent.quality.report import Flag, capital, flag, money, number, to_decimal

if TYPE_CHECKING:
    from agent.config import QualitySettings

# ISO 4217 codes that are not money anyone pays with: metals, fund units, "testing", "no currency".
NOT_MONEY: frozenset[str] = frozenset(
    ["XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA", "XTS", "XXX"])

_ADDRESSES = (("billing_address", "billing address"), ("shipping_address", "shipping address"))
_ORDER_MONEY = (("order_total", "order total"), ("order_subtotal_excl_tax", "order subtotal"),
                ("order_subtotal_incl_tax", "order subtotal incl. tax"),
                ("order_shipping_excl_tax", "shipping charge"), ("order_tax", "order tax"))
_LINE_MONEY = (("unit_price_excl_tax", "unit price"), ("unit_price_incl_tax", "unit price incl. tax"),
               ("price_excl_tax", "line total"), ("price_incl_tax", "line total incl. tax"))


def validate_order(order: Mapping[str, Any], *, countries: Mapping[int, Mapping[str, Any]] | None = None,
                   required_custom_fields: Iterable[str] = (), custom_values: Mapping[str, Any] | None = None,
                   settings: QualitySettings) -> list[Flag]:
    """Every problem that would make BNG refuse the order or store wrong data, as Flags.

    `countries` (store country id → the /api/countries record) resolves the `country_id` the API
    sends in place of a name; without it an address's country is only known by name.
    `required_custom_fields` are BNG custom fields the order must fill; `custom_values` holds the
    values the mapping computed for them.
    """
    flags: list[Flag] = []
    flags += _emails(order, settings)
    flags += _addresses(order, countries, settings)
    flags += _custom_fields(order, required_custom_fields, custom_values or {}, settings)
    flags += _currency(order, settings)
    flags += _lines(order, settings)
    flags += _order_money(order, settings)
    return flags


# -- e-mail ---------------------------------------------------------------------------------------

def email_problem(address: str) -> str | None:
    """Why an e-mail address is not valid (a plain sentence fragment), or None when it is."""
    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        text = str(exc).rstrip(".")
        return text[:1].lower() + text[1:]
    return None


def _emails(order: Mapping[str, Any], settings: QualitySettings) -> list[Flag]:
    found: list[tuple[str, str]] = []
    customer = order.get("customer") or {}
    for where, value in (("customer account", customer.get("email")),
                         ("billing address", (order.get("billing_address") or {}).get("email")),
                         ("shipping address", (order.get("shipping_address") or {}).get("email"))):
        text = str(value).strip() if value is not None else ""
        if text and text.casefold() not in {seen.casefold() for _, seen in found}:
            found.append((where, text))
    name = order_name(order)
    if not found:
        return [flag("email", f"{capital(name)} has no e-mail address; BNG needs one to find or create the customer.",
                     name, settings)]
    flags = []
    for where, text in found:
        problem = email_problem(text)
        if problem:
            flags.append(flag("email", f"The e-mail address '{text}' of the {where} is not valid: {problem}.",
                              text, settings, email=text, where=where))
    return flags


# -- phone ----------------------------------------------------------------------------------------

def normalize_phone(number_text: str | None, country_alpha2: str | None) -> str | None:
    """The number in E.164 ("+12125550147"), or None when it is not a valid number.

    `country_alpha2` is the address's country and decides how a number without "+" is read;
    without it only international numbers ("+44 20 ...") can be normalized. None means: pass
    the number on as the shopper typed it.
    """
    text = (number_text or "").strip()
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, (country_alpha2 or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_phone_like(number_text: str) -> bool:
    """Whether the text could be a phone number at all: digits, and only phone punctuation.

    Deliberately lenient: stores are full of numbers that are short or in a local format
    ("87654321" in the sample data) and those still reach a person on the phone; only text that is
    no number at all ("n/a", "none", an e-mail address, "0") is worth a flag.
    """
    text = number_text.strip()
    digits = sum(c.isdigit() for c in text)
    lowered = text.lower()
    for word in ("ext.", "ext", "x"):  # "+1 212 555 0100 ext. 12"
        lowered = lowered.replace(word, " ")
    allowed = set("0123456789+-()./ \t")
    return digits >= 5 and all(c in allowed for c in lowered)


# -- addresses ------------------------------------------------------------------------------------

def _country(address: Mapping[str, Any],
             countries: Mapping[int, Mapping[str, Any]] | None) -> tuple[str | None, str | None]:
    """(ISO alpha-2 or None, a problem sentence or None) for an address's country."""
    raw_id = address.get("country_id")
    name = str(address.get("country") or "").strip()
    try:
        country_id = int(raw_id) if raw_id not in (None, "") else 0
    except (TypeError, ValueError):
        country_id = 0
    if country_id and countries is not None:
        if country_id in countries:
            try:
                return country_code(country_id, countries), None
            except MappingError as exc:
                return None, str(exc)
        if not name:
            return None, f"its country (id {country_id}) is not in the web store's country list"
    if name:
        try:
            return country_code(name), None
        except MappingError:
            return None, f"its country '{name}' is not a country BNG knows"
    if country_id:
        return None, None  # a country is set; without the store's list we cannot tell which
    return None, "it has no country"


def _addresses(order: Mapping[str, Any], countries: Mapping[int, Mapping[str, Any]] | None,
               settings: QualitySettings) -> list[Flag]:
    flags: list[Flag] = []
    name = order_name(order)
    for key, label in _ADDRESSES:
        address = order.get(key)
        if key == "shipping_address" and (not address or order.get("pick_up_in_store")):
            continue  # downloads and store pick-ups need no shipping address
        if not address:
            flags.append(flag("address", f"{capital(name)} has no {label}.", f"{name} {label}", settings))
            continue
        country, country_problem = _country(address, countries)
        missing = [part for part, field in (("street", "address1"), ("city", "city"))
                   if not str(address.get(field) or "").strip()]
        if country and country not in NO_POSTAL_CODE and not str(address.get("zip_postal_code") or "").strip():
            missing.append("postal code")
        if country in REGION_REQUIRED and not (address.get("state_province_id")
                                               or str(address.get("province") or "").strip()):
            missing.append("state/province")
        problems = []
        if missing:
            problems.append("it has no " + _join(missing))
        if country_problem:
            problems.append(country_problem)
        if problems:
            flags.append(flag("address", f"The {label} of {name} is incomplete: {'; '.join(problems)}.",
                              f"{name} {label}", settings, missing=missing, country=country))
        phone = str(address.get("phone_number") or "").strip()
        if phone and not is_phone_like(phone):
            flags.append(flag("phone", f"The phone number '{phone}' of the {label} is not a phone number.",
                              f"{name} {label}", settings, phone=phone))
    return flags


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


# -- custom fields, currency ----------------------------------------------------------------------

def _custom_fields(order: Mapping[str, Any], required: Iterable[str], values: Mapping[str, Any],
                   settings: QualitySettings) -> list[Flag]:
    name = order_name(order)
    flags = []
    for field_name in required:
        value = values.get(field_name)
        if value is None or (isinstance(value, str) and not value.strip()):
            flags.append(flag("custom_field", f"BNG needs a value for the field {field_name}, and {name} "
                              "gives none.", name, settings, field=field_name))
    return flags


def _currency(order: Mapping[str, Any], settings: QualitySettings) -> list[Flag]:
    name = order_name(order)
    code = str(order.get("customer_currency_code") or "").strip()
    if not code:
        return [flag("currency", f"{capital(name)} has no currency code.", name, settings)]
    if len(code) != 3 or not code.isalpha() or code.upper() in NOT_MONEY \
            or pycountry.currencies.get(alpha_3=code.upper()) is None:
        return [flag("currency", f"The currency code '{code}' of {name} is not an ISO 4217 currency.",
                     name, settings, currency=code)]
    return []


# -- quantities and money -------------------------------------------------------------------------

def _lines(order: Mapping[str, Any], settings: QualitySettings) -> list[Flag]:
    flags: list[Flag] = []
    name = order_name(order)
    for item in order.get("order_items") or []:
        sku = line_sku(item)
        what = line_name(item)
        subject = f"{name} {sku or what}"
        raw = item.get("quantity")
        quantity = to_decimal(raw)
        bad_quantity = quantity is None or quantity <= 0 or quantity != quantity.to_integral_value()
        if bad_quantity:
            shown = number(quantity) if quantity is not None else repr(raw)
            flags.append(flag("bad_quantity", f"Quantity {shown} of {what} is not a positive whole number.",
                              subject, settings, sku=sku, quantity=quantity if quantity is not None else raw))
        for key, label in _LINE_MONEY if not bad_quantity else _LINE_MONEY[:2]:  # totals follow the quantity
            value = to_decimal(item.get(key))
            if value is not None and value < 0:
                flags.append(flag("negative_price", f"The {label} {money(value)} of {what} is negative.",
                                  subject, settings, sku=sku, field=key, value=value))
                break  # one sentence per line is enough: the other prices follow from it
    return flags


def _order_money(order: Mapping[str, Any], settings: QualitySettings) -> list[Flag]:
    name = order_name(order)
    for key, label in _ORDER_MONEY:
        value = to_decimal(order.get(key))
        if value is not None and value < 0:
            return [flag("negative_price", f"The {label} {money(value)} of {name} is negative.",
                         name, settings, field=key, value=value)]
    return []
