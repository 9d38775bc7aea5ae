"""A web order → a BNG sales order: which lines, which numbers, which addresses, which fields.

The rules themselves live in `agent.mapping` (statuses, addresses, exact money, custom fields,
dimensions); this module applies them to one store order and says, line by line, which store
items ended up on which BNG line, because shipments come back from BNG by line number and have to
be booked against the store's order items.

Why the lines look as they do:
- one BNG line per store item, except that items with the same BNG item number *and* the same
  chosen attributes are added up (a shopper who put the same T-shirt in the cart twice bought two
  T-shirts, not two different things); items that differ in attributes (size, engraving, a gift
  card's recipient) stay apart so the warehouse sees what to pick;
- a store SKU is first replaced by the merchant's substitution (`mapping.sku_substitutions`, or
  the one a person gave when retrying the order), so a renamed item still finds its BNG twin;
- a variant's SKU is the attribute combination's when the product has one for the chosen values.

`Lookups` is what the transform needs to know about the two systems (countries, states, BNG
items, custom-field and dimension definitions), read once and kept in the agent's cache for a
few minutes: a repeat-customer order must cost about one BNG call (the create), not ten.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from agent.connectors.errors import NotFound
from agent.connectors.http import zulu
from agent.mapping import (
    LineInput,
    MappingError,
    build_custom_fields,
    build_order_money,
    choose_currency,
    context_from_nop_order,
    normalize_address,
    order_status_to_bng,
    parse_checkout_attribute_description,
    payment_status_to_bng,
    resolve_dimensions,
)
from agent.mapping.address import AddressResult

if TYPE_CHECKING:
    from agent.config import MappingSettings
    from agent.flows.base import FlowContext

# BNG takes new orders only in these states (a Closed or Shipped order cannot be created).
CREATE_STATUSES = ("New", "Open", "OnHold", "Released")
FALLBACK_CREATE_STATUS = "Open"

METADATA_TTL = 600.0     # countries, states, custom-field and dimension definitions
ADDRESS_CACHE = 20_000   # normalized addresses kept (a repeat customer's address is cleaned once)
ADDRESS_FIELDS = ("first_name", "last_name", "company", "country_id", "country", "state_province_id", "province",
                  "city", "address1", "address2", "zip_postal_code", "phone_number")
ITEM_TTL = 300.0         # a BNG item (uom, active, department, list price)

# What an order line keeps of the embedded product: enough to name, identify and price the item.
# The plugin embeds the whole ProductDto (some 10 KB) in every line; the rest only bloats the job.
PRODUCT_KEYS = ("id", "sku", "name", "price", "product_type", "is_gift_card", "is_download", "is_ship_enabled",
                "manage_inventory_method_id", "customer_enters_price", "product_attribute_combinations")


# -- the job payload ---------------------------------------------------------------------------

def order_payload(order: Any) -> dict[str, Any]:
    """The order as the store's API returned it (a model or a dict), JSON-ready, with each line's
    embedded product cut to `PRODUCT_KEYS`. Money stays exact: Decimals become decimal strings and
    floats (a webhook body parsed by plain `json`) their shortest exact text."""
    data = order.model_dump(mode="json") if hasattr(order, "model_dump") else exact_numbers(dict(order))
    items = []
    for item in data.get("order_items") or []:
        item = dict(item)
        product = item.get("product")
        if isinstance(product, dict):
            item["product"] = {k: product[k] for k in PRODUCT_KEYS if k in product}
        items.append(item)
    data["order_items"] = items
    return data


def exact_numbers(value: Any) -> Any:
    """Floats → their shortest round-trip text ("43.5"), so no amount ever travels as a float."""
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: exact_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact_numbers(v) for v in value]
    return value


# -- caching -----------------------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()


def cached(cache: dict[str, Any], key: str, ttl: float, now: float, load: Callable[[], Any]) -> Any:
    """`load()` once per `ttl` seconds per key. Two workers may both load at expiry: harmless."""
    entry = cache.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]
    value = load()
    with _CACHE_LOCK:
        cache[key] = (now + ttl, value)
    return value


class Lookups:
    """The store's directory and BNG's metadata and items, cached in the agent's `ctx.cache`."""

    def __init__(self, ctx: FlowContext):
        self.ctx = ctx

    def _cached(self, key: str, ttl: float, load: Callable[[], Any]) -> Any:
        return cached(self.ctx.cache, key, ttl, self.ctx.clock(), load)

    def countries(self) -> dict[int, dict[str, Any]]:
        """Store country id → the /api/countries record (ISO codes), for addresses that carry only ids."""
        return self._cached("nop:countries", METADATA_TTL, lambda: {
            c.id: c.model_dump() for c in self.ctx.nop.countries()})

    def states(self) -> dict[int, dict[str, Any]]:
        return self._cached("nop:states", METADATA_TTL, lambda: {
            s.id: s.model_dump() for s in self.ctx.nop.state_provinces()})

    def custom_fields(self) -> list[dict[str, Any]]:
        return self._cached("bng:custom-fields", METADATA_TTL, lambda: [
            d.model_dump() for d in self.ctx.bng.custom_fields()])

    def dimensions(self) -> list[dict[str, Any]]:
        return self._cached("bng:dimensions", METADATA_TTL, lambda: [
            d.model_dump() for d in self.ctx.bng.dimensions()])

    def currency_rates(self) -> dict[str, Decimal]:
        """The store's currency table (units per 1 primary unit), only needed for a fixed currency."""
        return self._cached("nop:currency-rates", METADATA_TTL, lambda: {
            c.currency_code: c.rate for c in self.ctx.nop.currencies() if c.currency_code and c.rate})

    def item(self, item_no: str) -> dict[str, Any] | None:
        """The BNG item, or None when BNG has none. Only found items are cached: once somebody adds
        a missing item in BNG, the next retry of the order must see it."""
        key = f"bng:item:{item_no}"
        entry = self.ctx.cache.get(key)
        now = self.ctx.clock()
        if entry is not None and entry[0] > now:
            return entry[1]
        try:
            value = self.ctx.bng.get_item(item_no).model_dump()
        except NotFound:
            return None
        with _CACHE_LOCK:
            self.ctx.cache[key] = (now + ITEM_TTL, value)
        return value

    def normalize(self, address: Mapping[str, Any], *, countries: Mapping[int, Mapping[str, Any]],
                  states: Mapping[int, Mapping[str, Any]], what: str = "address") -> AddressResult:
        """`normalize_address`, remembered by the address's content: cleaning a US street line
        (USPS rules) is the costliest step of an order, and repeat customers repeat addresses."""
        key = (what, *(str(address.get(name) or "") for name in ADDRESS_FIELDS))
        memory = self.ctx.cache.setdefault("addresses", {})
        result = memory.get(key)
        if result is None:
            result = normalize_address(address, countries=countries, states=states, what=what)
            with _CACHE_LOCK:
                if len(memory) >= ADDRESS_CACHE:
                    memory.clear()
                memory[key] = result
        return AddressResult(dict(result.address), list(result.changes), list(result.warnings))

    def items(self, item_nos: Iterable[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """(found items by number, numbers BNG does not have), each number asked once."""
        found: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for item_no in dict.fromkeys(item_nos):
            item = self.item(item_no)
            if item is None:
                missing.append(item_no)
            else:
                found[item_no] = item
        return found, missing


# -- reading the order's lines ------------------------------------------------------------------

def substitutions(mapping: MappingSettings, payload: Mapping[str, Any]) -> dict[str, str]:
    """Store SKU → BNG item number: the configured table, overridden by a retry's own table."""
    table = {str(k).strip().casefold(): str(v).strip() for k, v in mapping.sku_substitutions.items()}
    extra = payload.get("sku_substitutions")
    if isinstance(extra, Mapping):
        table.update({str(k).strip().casefold(): str(v).strip() for k, v in extra.items() if v})
    return table


def _attribute_pairs(item: Mapping[str, Any]) -> tuple[tuple[int, str], ...]:
    pairs = []
    for attribute in item.get("product_attributes") or []:
        if isinstance(attribute, Mapping) and attribute.get("id") is not None:
            pairs.append((int(attribute["id"]), str(attribute.get("value") or "").strip()))
    return tuple(sorted(pairs))


def _xml_pairs(attributes_xml: str | None) -> tuple[tuple[int, str], ...] | None:
    """The (mapping id, value) pairs of a combination's attribute XML (trusted: the store wrote it)."""
    if not attributes_xml or "<!" in attributes_xml:
        return None
    try:
        root = ElementTree.fromstring(attributes_xml)
    except ElementTree.ParseError:
        return None
    pairs = []
    for node in root.iter("ProductAttribute"):
        try:
            mapping_id = int((node.get("ID") or "").strip())
        except ValueError:
            return None
        for value in node.findall("ProductAttributeValue"):
            pairs.append((mapping_id, (value.findtext("Value") or "").strip()))
    return tuple(sorted(pairs))


def store_sku(item: Mapping[str, Any]) -> str:
    """The SKU the store sells the line under: the matching attribute combination's, else the product's."""
    product = item.get("product") or {}
    pairs = _attribute_pairs(item)
    if pairs:
        for combination in product.get("product_attribute_combinations") or []:
            sku = str(combination.get("sku") or "").strip()
            if sku and _xml_pairs(combination.get("attributes_xml")) == pairs:
                return sku
    return str(product.get("sku") or item.get("sku") or item.get("product_sku") or "").strip()


def item_number(item: Mapping[str, Any], subs: Mapping[str, str]) -> str:
    sku = store_sku(item)
    return subs.get(sku.casefold(), sku)


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def plain_text(markup: str | None) -> str:
    """The store's formatted attribute HTML as one line of text ("Size: 8; Color: White")."""
    if not markup:
        return ""
    parts = [" ".join(html.unescape(_TAG.sub("", part)).split()) for part in _BR.split(markup)]
    return "; ".join(p for p in parts if p)


@dataclass
class Line:
    """One BNG line: the store items it stands for, added up."""

    item_no: str
    store_sku: str
    name: str
    attributes: str
    quantity: int = 0
    unit_price_excl_tax: Decimal = Decimal(0)
    price_excl_tax: Decimal = Decimal(0)
    discount_excl_tax: Decimal = Decimal(0)
    items: list[tuple[int, int]] = field(default_factory=list)     # (order item id, quantity)

    @property
    def description(self) -> str:
        return f"{self.name} ({self.attributes})" if self.attributes else self.name


def _decimal(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        raise MappingError(f"The {what} '{value}' is not a number") from None


def group_lines(order: Mapping[str, Any], subs: Mapping[str, str]) -> list[Line]:
    """The order's items as BNG lines: identical item number and attributes added up, order kept."""
    lines: dict[tuple[Any, ...], Line] = {}
    for item in order.get("order_items") or []:
        product = item.get("product") or {}
        sku = store_sku(item)
        item_no = subs.get(sku.casefold(), sku)
        if not item_no:
            name = product.get("name") or f"product {item.get('product_id')}"
            raise MappingError(f"The item '{name}' of order {order.get('id')} has no SKU, so it cannot be "
                               "matched to a BNG item; give the product a SKU in the store")
        quantity = item.get("quantity")
        if isinstance(quantity, str) and quantity.strip().lstrip("-").isdigit():
            quantity = int(quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise MappingError(f"The quantity {quantity!r} of {sku} in order {order.get('id')} is not a "
                               "positive whole number")
        attributes = plain_text(item.get("attribute_description"))
        key = (item_no, _attribute_pairs(item), attributes)
        line = lines.get(key)
        if line is None:
            line = lines[key] = Line(item_no, sku, str(product.get("name") or item_no), attributes)
        line.quantity += quantity
        line.price_excl_tax += _decimal(item.get("price_excl_tax"), f"line total of {sku}")
        line.discount_excl_tax += _decimal(item.get("discount_amount_excl_tax"), f"discount of {sku}")
        line.unit_price_excl_tax = _decimal(item.get("unit_price_excl_tax"), f"unit price of {sku}")
        line.items.append((int(item["id"]), quantity))
    return list(lines.values())


def check_quantities(lines: Iterable[Line], items: Mapping[str, Mapping[str, Any]]) -> None:
    """Every line must be a quantity its BNG item can be sold in, of an item BNG still sells."""
    problems = []
    for line in lines:
        item = items[line.item_no]
        if not item.get("active", True):
            problems.append(f"SKU {line.item_no} is no longer active in BNG")
        uom = str(item.get("uom") or "EA").upper()
        if uom == "EA" and Decimal(line.quantity) != Decimal(line.quantity).to_integral_value():
            problems.append(f"SKU {line.item_no} is sold in whole units (EA), but the order has {line.quantity}")
    if problems:
        raise MappingError("; ".join(problems))


# -- the sales order ----------------------------------------------------------------------------

@dataclass
class SalesOrderDraft:
    """The BNG create body, the store items behind each BNG line, and what changed on the way."""

    payload: dict[str, Any]
    line_items: list[list[tuple[int, int]]]     # per BNG line, in posting order: (order item id, qty)
    skus: list[str]
    notes: list[str] = field(default_factory=list)
    ship_country: str | None = None


Normalizer = Callable[..., AddressResult]


def ship_and_bill(order: Mapping[str, Any], countries: Mapping[int, Mapping[str, Any]],
                  states: Mapping[int, Mapping[str, Any]],
                  normalize: Normalizer = normalize_address) -> tuple[AddressResult, AddressResult]:
    """Normalized (bill_to, ship_to); orders without a shipping address (downloads, store pick-up)
    ship to the billing address, since BNG needs one on every order."""
    billing = order.get("billing_address")
    if not billing:
        raise MappingError(f"Order {order.get('id')} has no billing address")
    bill = normalize(billing, countries=countries, states=states, what="billing address")
    shipping = order.get("shipping_address")
    if shipping and not order.get("pick_up_in_store"):
        ship = normalize(shipping, countries=countries, states=states, what="shipping address")
    else:
        ship = bill
    return bill, ship


_FRACTION = re.compile(r"(\.\d{6})\d+")


def order_date(order: Mapping[str, Any]) -> str:
    """When the order was placed, as BNG wants it (UTC with a Z). The store writes UTC without an
    offset and up to seven fractional digits; the agent's own payloads already carry the Z."""
    text = str(order.get("created_on_utc") or "").strip()
    if not text:
        raise MappingError(f"Order {order.get('id')} has no creation date")
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"Order {order.get('id')} has the creation date '{text}', which is not a date") from None
    return zulu(moment)


def create_status(order: Mapping[str, Any], mapping: MappingSettings, hold: bool) -> tuple[str, str | None]:
    """(BNG status to create with, a note when the mapped one cannot be used for a new order)."""
    status = order_status_to_bng(order.get("order_status") or order.get("order_status_id"), mapping.status)
    if hold:
        return "OnHold", None
    if status in CREATE_STATUSES:
        return status, None
    return FALLBACK_CREATE_STATUS, (f"the store's status maps to BNG {status}, which BNG does not accept for a "
                                    f"new order; it was created {FALLBACK_CREATE_STATUS}")


def build_sales_order(order: Mapping[str, Any], *, customer_no: str, mapping: MappingSettings,
                      items: Mapping[str, Mapping[str, Any]], countries: Mapping[int, Mapping[str, Any]],
                      states: Mapping[int, Mapping[str, Any]], custom_field_defs: list[Mapping[str, Any]],
                      dimension_defs: list[Mapping[str, Any]], subs: Mapping[str, str],
                      rates: Mapping[str, Decimal] | None = None, hold: bool = False,
                      addresses: tuple[AddressResult, AddressResult] | None = None) -> SalesOrderDraft:
    """The BNG SalesOrderCreate body for a store order (see the module doc).

    `items` must hold the BNG item of every line (the caller quarantines unknown SKUs first).
    Raises MappingError with a reason a merchant can act on.
    """
    notes: list[str] = []
    lines = group_lines(order, subs)
    check_quantities(lines, items)
    for line in lines:
        if line.item_no != line.store_sku:
            notes.append(f"SKU {line.store_sku} sent to BNG as {line.item_no} (SKU substitution)")

    choice = choose_currency(mapping.currency, order.get("customer_currency_code"), order.get("currency_rate"),
                             rates=rates, primary_code=mapping.currency.code)
    money = build_order_money(
        [LineInput(line.item_no, line.quantity, line.unit_price_excl_tax, line.price_excl_tax,
                   line.discount_excl_tax) for line in lines],
        subtotal_discount_excl_tax=order.get("order_sub_total_discount_excl_tax") or 0,
        order_discount=order.get("order_discount") or 0,
        shipping_excl_tax=order.get("order_shipping_excl_tax") or 0,
        payment_fee_excl_tax=order.get("payment_method_additional_fee_excl_tax") or 0,
        order_tax=order.get("order_tax") or 0, order_total=order.get("order_total"),
        rate=choice.rate, currency=choice.code, order_subtotal_excl_tax=order.get("order_subtotal_excl_tax"))
    notes.extend(money.notes)

    bill, ship = addresses or ship_and_bill(order, countries, states)
    for what, result in (("billing address", bill), ("shipping address", ship)):
        notes.extend(f"{what}: {change}" for change in result.changes)
        notes.extend(f"{what}: {warning}" for warning in result.warnings)
        if ship is bill:
            break

    fields = build_custom_fields(mapping.custom_fields, custom_field_defs, entity="sales_order", order=order,
                                 checkout_attributes=parse_checkout_attribute_description(
                                     order.get("checkout_attribute_description")))
    notes.extend(fields.notes)
    ship_country = ship.address.get("country")
    by_sku = {str((item.get("product") or {}).get("sku") or ""): items[item_number(item, subs)]
              for item in order.get("order_items") or []}
    context = context_from_nop_order(order, country=ship_country, currency=choice.code, items=by_sku)
    dimensions = resolve_dimensions(mapping.dimensions, context, dimension_defs)

    status, status_note = create_status(order, mapping, hold)
    if status_note:
        notes.append(status_note)
    body = money.as_bng()
    for line, bng_line in zip(lines, body["lines"], strict=True):
        bng_line["description"] = line.description
    number = order.get("custom_order_number") or order.get("id")
    payload: dict[str, Any] = {
        "customer_no": customer_no,
        "external_order_id": str(order["id"]),
        "external_order_number": str(number),
        "order_date": order_date(order),
        "status": status,
        "payment_status": payment_status_to_bng(order.get("payment_status") or order.get("payment_status_id"),
                                                mapping.status),
        "payment_method": order.get("payment_method_system_name"),
        "shipping_method": "Pickup in store" if order.get("pick_up_in_store") else order.get("shipping_method"),
        "bill_to": bill.address,
        "ship_to": ship.address,
        **body,
        "custom_fields": fields.values,
        "dimensions": dimensions,
    }
    if mapping.locations.order_location:
        payload["location"] = mapping.locations.order_location
    return SalesOrderDraft(payload=payload, line_items=[line.items for line in lines],
                           skus=[line.item_no for line in lines], notes=notes, ship_country=ship_country)
