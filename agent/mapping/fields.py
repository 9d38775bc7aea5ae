"""Store values → BNG custom fields, typed the way BNG's definitions say.

The store keeps its extra fields in three shapes: custom customer attributes and checkout
attributes as attribute XML (ids only, names come from lookups), and — because the store's API
hands out no checkout-attribute XML — the rendered HTML description on the order ("Gift wrapping:
Yes [+$10.00]"). The merchant's `CustomFieldRule`s say which value goes to which BNG field; BNG's
definitions (`/metadata/custom-fields`) say what the value must look like. Anything that does not
fit is a MappingError naming the field, the value and what BNG accepts, because BNG would refuse
the whole order otherwise.

The XML comes from shoppers' input, so it is parsed defensively: documents with a DTD or entity
declarations are refused outright (no entity expansion, no external fetches) and size is capped.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.config import CustomFieldRule
from agent.mapping.errors import MappingError

MAX_XML_CHARS = 100_000
ENTITY_LABELS = {"sales_order": "sales orders", "customer": "customers"}

# `order:<field>` short names people write in rules → OrderDto keys
ORDER_FIELD_ALIASES = {"payment_method": "payment_method_system_name", "order_number": "custom_order_number",
                       "shipping_rate_method": "shipping_rate_computation_method_system_name",
                       "ip": "customer_ip", "currency": "customer_currency_code"}

_TRUE = {"yes", "true", "1", "y", "on", "checked"}
_FALSE = {"no", "false", "0", "n", "off", "unchecked", ""}


@dataclass(frozen=True)
class AttributeInfo:
    """A store attribute definition: its name and, for list-type attributes, value id → value name.

    Attributes without `values` (text boxes, date pickers) carry free text in the XML.
    """

    name: str
    values: Mapping[int, str] = field(default_factory=dict)


# -- attribute XML -------------------------------------------------------------------------------

def _safe_root(xml_text: str, what: str) -> ET.Element:
    if len(xml_text) > MAX_XML_CHARS:
        raise MappingError(f"The {what} data is larger than {MAX_XML_CHARS} characters and was not read")
    upper = xml_text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise MappingError(f"The {what} data contains a document type or entity declaration, "
                           "which is never legitimate here; it was refused")
    try:
        return ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise MappingError(f"The {what} data is not well-formed XML ({exc})") from None


def parse_attributes_xml(xml_text: str | None, attributes: Mapping[int, AttributeInfo], *,
                         kind: str = "CustomerAttribute") -> dict[str, str]:
    """{attribute name: value} from the store's attribute XML.

    `kind` is the element name: CustomerAttribute, CheckoutAttribute or AddressAttribute. Value ids
    of list-type attributes become their names; several values (check boxes) are joined with ", ".
    Attributes the lookup does not know are skipped (they cannot be named, so no rule can use
    them); a value id the lookup does not know is a MappingError, since the lookup is stale.
    """
    if not xml_text or not xml_text.strip():
        return {}
    what = {"CustomerAttribute": "customer attribute", "CheckoutAttribute": "checkout attribute",
            "AddressAttribute": "address attribute"}.get(kind, kind)
    root = _safe_root(xml_text, what)
    result: dict[str, str] = {}
    for element in root.iter(kind):
        try:
            attribute_id = int(element.get("ID", ""))
        except ValueError:
            raise MappingError(f"A {what} in the order data has no valid ID") from None
        info = attributes.get(attribute_id)
        if info is None:
            continue
        values: list[str] = []
        for value_element in element.iter(kind + "Value"):
            raw = (value_element.findtext("Value") or "").strip()
            if info.values:
                try:
                    values.append(info.values[int(raw)])
                except (ValueError, KeyError):
                    raise MappingError(f"The {what} '{info.name}' has value '{raw}', which is not one of its "
                                       "values in the web store; refresh the attribute list") from None
            elif raw:
                values.append(raw)
        if values:
            result[info.name] = ", ".join(values)
    return result


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_PRICE_SUFFIX = re.compile(r"\s*\[[+\-−]?[^\[\]]*\d[^\[\]]*\]\s*$")


def parse_checkout_attribute_description(description: str | None) -> dict[str, str]:
    """{name: value} from the order's rendered checkout-attribute HTML.

    "Gift wrapping: Yes [+$10.00]<br />Gift message: Happy &amp; well" →
    {"Gift wrapping": "Yes", "Gift message": "Happy & well"}. Repeated names (check boxes) are
    joined with ", "; a line without "name: " continues the previous value (multi-line text).
    """
    if not description:
        return {}
    result: dict[str, str] = {}
    last: str | None = None
    for raw_line in _BR.split(description):
        line = html.unescape(_TAG.sub("", raw_line)).strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip():
            name = name.strip()
            value = _PRICE_SUFFIX.sub("", value).strip()
            result[name] = f"{result[name]}, {value}" if name in result and value else (value or result.get(name, ""))
            last = name
        elif last is not None:
            result[last] = f"{result[last]}\n{line}".strip()
    return result


# -- coercion to BNG's types ---------------------------------------------------------------------

@dataclass
class FieldsResult:
    """BNG custom fields (name → value) and notes for the history (e.g. a text that was cut)."""

    values: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _label(definition: Mapping[str, Any]) -> str:
    return f"{definition.get('label') or definition['name']} ({definition['name']})"


def coerce_value(value: Any, definition: Mapping[str, Any], notes: list[str] | None = None) -> Any:
    """`value` as BNG's definition wants it: bool, number (decimal string), ISO date, choice, text."""
    kind = definition.get("type")
    text = "" if value is None else str(value).strip()
    label = _label(definition)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        folded = text.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise MappingError(f"Custom field {label} is a yes/no field, but the value is '{text}'")
    if kind == "number":
        if isinstance(value, float):
            raise TypeError("numbers must not be floats")
        try:
            number = Decimal(text.replace(" ", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise MappingError(f"Custom field {label} is a number field, but the value is '{text}'")
        text = format(number, "f")
        return text[1:] if number == 0 and text.startswith("-") else text
    if kind == "date":
        return _iso_date(value, text, label)
    if kind == "choice":
        choices = list(definition.get("choices") or [])
        for choice in choices:
            if choice.casefold() == text.casefold():
                return choice
        raise MappingError(f"Custom field {label} only accepts {', '.join(repr(c) for c in choices)}, "
                           f"but the value is '{text}'; add a value translation to the rule under "
                           "Mappings → Custom fields")
    if kind == "text":
        limit = definition.get("max_length")
        if limit and len(text) > limit:
            if notes is not None:
                notes.append(f"custom field {definition['name']} cut to {limit} characters: '{text}'")
            return text[:limit]
        return text
    raise MappingError(f"BNG's custom field {label} has type '{kind}', which this agent does not know")


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%A, %B %d, %Y", "%B %d, %Y", "%d %B %Y")


def _iso_date(value: Any, text: str, label: str) -> str:
    """ISO date from ISO text, a US short date (the store's default culture) or an English long date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise MappingError(f"Custom field {label} is a date field, but the value is '{text}'")


# -- rules ---------------------------------------------------------------------------------------

def _find(values: Mapping[str, Any], name: str) -> Any:
    if name in values:
        return values[name]
    folded = name.strip().casefold()
    return next((v for k, v in values.items() if str(k).strip().casefold() == folded), None)


def source_value(source: str, *, order: Mapping[str, Any] | None = None,
                 customer_attributes: Mapping[str, Any] | None = None,
                 checkout_attributes: Mapping[str, Any] | None = None) -> Any:
    """The value a rule's source names; None when the record does not have it."""
    kind, sep, key = source.partition(":")
    kind = kind.strip().casefold()
    if not sep:
        raise MappingError(f"Custom field source '{source}' needs a kind, e.g. 'order:store_id'")
    if kind == "constant":
        return key
    if kind == "customer_attribute":
        return _find(customer_attributes or {}, key)
    if kind == "checkout_attribute":
        return _find(checkout_attributes or {}, key)
    if kind == "order":
        order = order or {}
        name = key.strip()
        value = _find(order, name)
        if value is None and name in ORDER_FIELD_ALIASES:
            value = order.get(ORDER_FIELD_ALIASES[name])
        if value is None and name == "custom_order_number" and order.get("id") is not None:
            value = order["id"]  # the store's API leaves it out; with the default mask it is the id
        return value
    raise MappingError(f"Custom field source '{source}' is not understood; use customer_attribute:, "
                       "checkout_attribute:, order: or constant:")


def build_custom_fields(rules: Iterable[CustomFieldRule], definitions: Sequence[Mapping[str, Any]], *,
                        entity: str = "sales_order", order: Mapping[str, Any] | None = None,
                        customer_attributes: Mapping[str, Any] | None = None,
                        checkout_attributes: Mapping[str, Any] | None = None) -> FieldsResult:
    """BNG custom fields for one record of `entity` ("sales_order" or "customer").

    Rules for the other entity are ignored. A rule whose target BNG does not define for the
    entity, a value that does not fit, or a required field left empty → MappingError.
    A rule whose source is empty sends nothing (the field stays empty in BNG).
    """
    defined = {str(d["name"]).casefold(): d for d in definitions if d.get("entity") == entity}
    where = ENTITY_LABELS.get(entity, entity)
    result = FieldsResult(values={})
    for rule in rules:
        if rule.entity != entity:
            continue
        definition = defined.get(rule.target.strip().casefold())
        if definition is None:
            raise MappingError(f"The custom field rule for '{rule.target}' has no matching field in BNG: BNG "
                               f"defines {', '.join(d['name'] for d in defined.values()) or 'none'} for {where}; "
                               "fix the rule under Mappings → Custom fields")
        value = source_value(rule.source, order=order, customer_attributes=customer_attributes,
                             checkout_attributes=checkout_attributes)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        text = str(value).strip()
        if rule.values:
            translated = _find(rule.values, text)
            value = translated if translated is not None else value
        result.values[definition["name"]] = coerce_value(value, definition, result.notes)
    missing = [d for d in defined.values() if d.get("required") and d["name"] not in result.values]
    if missing:
        names = ", ".join(_label(d) for d in missing)
        raise MappingError(f"BNG requires the custom field{'s' if len(missing) > 1 else ''} {names} on {where}, "
                           "but no rule fills it for this record; add a rule under Mappings → Custom fields")
    return result
