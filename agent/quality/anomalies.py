"""Suspicious orders: valid in every field, but unlike what this shop usually sees.

Each check compares the order with BNG's list prices or with the shop's own history
(`OrderHistory`) and words its suspicion so that a person can judge it in seconds: which value,
how far from what, and what "usual" is based on. While an item or a customer has too little
history to know its usual, the configured bounds (`max_line_quantity`, `max_order_total`) stand in.

Checks (default action in `report.DEFAULT_ACTIONS`):
- unknown_sku: BNG has no item for a line's SKU;
- zero_price: a line is free although BNG lists a price (a gift, or a pricing mistake);
- price_vs_list: a line's unit price is further from BNG's list price than `price_tolerance`,
  and not a price the shop often sells the item at;
- quantity_spike: far more of an item than it usually sells in one order;
- total_spike: an order total far above the customer's usual;
- burst: `burst_orders` or more orders from one customer, or one IP, within `burst_minutes`;
- new_ship_country: a customer with several earlier orders ships to a country none of them went to.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pycountry

from agent.quality.history import (
    OrderHistory,
    Usual,
    customer_key,
    is_shared_ip,
    line_name,
    line_sku,
    order_name,
    order_time,
    percentile,
    ship_country,
    usual,
)
from agent.quality.report import Flag, capital, flag, money, number, times, to_decimal

if TYPE_CHECKING:
    from agent.config import QualitySettings

# An order total must also be larger than this share of the shop's recent orders to be a spike.
SHOP_PERCENTILE = 99


def detect_anomalies(order: Mapping[str, Any], history: OrderHistory, *, list_prices: Mapping[str, Decimal],
                     settings: QualitySettings, now: float | None = None) -> list[Flag]:
    """Flags for everything unusual about the order.

    `list_prices`: store SKU → BNG list price (Item.unit_price) in the store's primary currency, the
    currency of the order's unit prices; the caller applies SKU substitutions. An empty mapping
    means the catalogue is not known, and the price and SKU checks are skipped.
    `now` stands in for the order's time when it carries no `created_on_utc`.
    The order itself is left out of the statistics, so checking an order that is already
    recorded gives the same answer as checking it first.
    """
    order_id = int(order["id"]) if order.get("id") not in (None, "") else None
    flags: list[Flag] = []
    flags += _prices(order, history, order_id, list_prices, settings)
    flags += _quantities(order, history, order_id, settings)
    flags += _total(order, history, order_id, settings)
    flags += _bursts(order, history, order_id, settings, order_time(order, now))
    flags += _ship_country(order, history, order_id, settings)
    return flags


# -- prices ---------------------------------------------------------------------------------------

def _prices(order: Mapping[str, Any], history: OrderHistory, order_id: int | None,
            list_prices: Mapping[str, Decimal], settings: QualitySettings) -> list[Flag]:
    """Lines BNG does not know, free lines, and prices far from BNG's list price.

    A price far from the list price that the shop has often sold the item at (a quantity price,
    a standing discount: between the 5th and 95th percentile of its recent prices) is the shop's
    pricing, not a suspicious order, and is not flagged again and again.
    """
    if not list_prices:
        return []
    flags: list[Flag] = []
    name = order_name(order)
    seen: set[str] = set()
    tolerance = settings.price_tolerance
    for item in order.get("order_items") or []:
        sku = line_sku(item)
        what = line_name(item)
        if sku not in list_prices:
            if sku not in seen:
                seen.add(sku)
                reason = (f"BNG has no item {sku}, so it would refuse this line of {name}." if sku else
                          f"The product {what} on {name} has no SKU, so BNG cannot tell which item it is.")
                flags.append(flag("unknown_sku", reason, sku or what, settings, sku=sku))
            continue
        listed = to_decimal(list_prices[sku])
        price = to_decimal(item.get("unit_price_excl_tax"))
        if listed is None or price is None or listed <= 0 or price < 0:
            continue  # no list price to compare with (a customer-entered price), or invalid anyway
        if price == 0:
            flags.append(flag("zero_price", f"{sku} is on {name} for free (unit price 0.00), while BNG's "
                              f"list price is {money(listed)}.", sku, settings, sku=sku, list_price=listed))
            continue
        gap = (price - listed) / listed
        if abs(gap) <= tolerance:
            continue
        sold_at = history.sku_prices(sku, exclude_order=order_id)
        if len(sold_at) >= settings.min_history and \
                percentile(sold_at, 5) <= float(price) <= percentile(sold_at, 95):
            continue
        direction = "above" if gap > 0 else "below"
        flags.append(flag(
            "price_vs_list",
            f"The unit price {money(price)} of {sku} is {_percent(abs(gap))} {direction} BNG's list price "
            f"{money(listed)} (allowed: {_percent(tolerance)} either way).",
            sku, settings, sku=sku, unit_price=price, list_price=listed, gap=round(float(gap), 4)))
    return flags


def _percent(fraction: Decimal) -> str:
    return f"{fraction * 100:.0f}%"


# -- quantities -----------------------------------------------------------------------------------

def _quantities(order: Mapping[str, Any], history: OrderHistory, order_id: int | None,
                settings: QualitySettings) -> list[Flag]:
    totals: dict[str, Decimal] = {}
    for item in order.get("order_items") or []:
        sku = line_sku(item)
        quantity = to_decimal(item.get("quantity"))
        if sku and quantity is not None and quantity > 0:
            totals[sku] = totals.get(sku, Decimal(0)) + quantity
    flags: list[Flag] = []
    for sku, quantity in totals.items():
        samples = history.sku_quantities(sku, exclude_order=order_id)
        if len(samples) >= settings.min_history:
            stats = usual(samples, settings.robust_z)
            if float(quantity) > stats.limit:
                flags.append(flag(
                    "quantity_spike",
                    f"Quantity {number(quantity)} of {sku} is {times(float(quantity) / stats.high)} the usual "
                    f"{_range(stats, number)} for this item ({_basis(stats, number)}).",
                    sku, settings, sku=sku, quantity=quantity, **_stats_data(stats, float(quantity))))
        elif quantity > settings.max_line_quantity:
            flags.append(flag(
                "quantity_spike",
                f"Quantity {number(quantity)} of {sku} is above {number(settings.max_line_quantity)}, the most "
                f"expected in one order while this item has too little history to know its usual "
                f"({_orders(len(samples))} so far).",
                sku, settings, sku=sku, quantity=quantity, bound=settings.max_line_quantity,
                history=len(samples)))
    return flags


# -- order total ----------------------------------------------------------------------------------

def _total(order: Mapping[str, Any], history: OrderHistory, order_id: int | None,
           settings: QualitySettings) -> list[Flag]:
    """Far above the customer's usual, and a big order for the shop too.

    The second condition keeps a customer who usually buys books from being flagged for their
    first laptop: unusual for them, but an order like many others in the shop. With too little
    history of the shop, only the customer's usual counts.
    """
    total = to_decimal(order.get("order_total"))
    if total is None or total <= 0:
        return []
    who = customer_key(order)
    samples = history.customer_totals(who, exclude_order=order_id)
    if len(samples) >= settings.known_customer_orders:
        stats = usual(samples, settings.robust_z)
        if float(total) <= stats.limit:
            return []
        shop_high, shop_count = history.shop_total_percentile(SHOP_PERCENTILE, exclude_order=order_id)
        if shop_count < settings.min_history:
            shop_high = 0.0
        if float(total) > shop_high:
            shop_part = f", and larger than {SHOP_PERCENTILE}% of the shop's orders" if shop_high else ""
            return [flag(
                "total_spike",
                f"The order total {money(total)} is {times(float(total) / stats.high)} the usual "
                f"{_range(stats, money)} of {who} ({_basis(stats, money)}){shop_part}.",
                who, settings, total=total, customer=who, shop_high=shop_high, **_stats_data(stats, float(total)))]
    elif total > settings.max_order_total:
        return [flag(
            "total_spike",
            f"The order total {money(total)} is above {money(settings.max_order_total)}, the most expected "
            f"while {who} has too few earlier orders to know their usual ({_orders(len(samples))} so far).",
            who, settings, total=total, customer=who, bound=settings.max_order_total, history=len(samples))]
    return []


# -- bursts ---------------------------------------------------------------------------------------

def _bursts(order: Mapping[str, Any], history: OrderHistory, order_id: int | None, settings: QualitySettings,
            at: float) -> list[Flag]:
    window = settings.burst_minutes * 60.0
    minutes = f"{settings.burst_minutes} minute{'s' if settings.burst_minutes != 1 else ''}"
    flags: list[Flag] = []
    who = customer_key(order)
    mine = _densest(history.recent(customer=who, since=at - window, until=at + window, exclude_order=order_id),
                    at, window)
    if len(mine) + 1 >= settings.burst_orders:
        flags.append(flag(
            "burst",
            f"{who} placed {len(mine) + 1} orders within {minutes}, this one included "
            f"({settings.burst_orders} or more in that time is unusual).",
            who, settings, customer=who, orders=len(mine) + 1, minutes=settings.burst_minutes,
            order_ids=[r["nop_order_id"] for r in mine]))
    ip = str(order.get("customer_ip") or "").strip()
    if not is_shared_ip(ip):
        same_ip = _densest(history.recent(ip=ip, since=at - window, until=at + window, exclude_order=order_id),
                           at, window)
        customers = {r["customer_key"] for r in same_ip} | {who}
        if len(same_ip) + 1 >= settings.burst_orders and len(customers) > 1:  # one customer: said above
            flags.append(flag(
                "burst",
                f"{len(same_ip) + 1} orders from {len(customers)} different customers came from the IP address "
                f"{ip} within {minutes}, this one included.",
                ip, settings, ip=ip, orders=len(same_ip) + 1, customers=len(customers),
                minutes=settings.burst_minutes, order_ids=[r["nop_order_id"] for r in same_ip]))
    return flags


def _densest(rows: list[dict[str, Any]], at: float, window: float) -> list[dict[str, Any]]:
    """The most other orders that fit in one window of `window` seconds together with this order.

    Orders do not always reach the agent in the order they were placed (retries, parallel
    workers), so the window may lie before, around or after this order's time.
    """
    rows = sorted(rows, key=lambda r: r["created_at"])
    times = [r["created_at"] for r in rows]
    best = (0, 0)
    for time_ in times:                         # each order as the window's start (sorted: O(n log n))
        start = min(time_, at)
        if start + window < at:
            continue
        low, high = bisect.bisect_left(times, start), bisect.bisect_right(times, start + window)
        if high - low > best[1] - best[0]:
            best = (low, high)
    return rows[best[0]:best[1]]


# -- shipping country -----------------------------------------------------------------------------

def _ship_country(order: Mapping[str, Any], history: OrderHistory, order_id: int | None,
                  settings: QualitySettings) -> list[Flag]:
    country = ship_country(order, history.countries)
    if country is None:
        return []
    who = customer_key(order)
    earlier = history.customer_countries(who, exclude_order=order_id)
    count = sum(earlier.values())
    if count < settings.known_customer_orders or country in earlier:
        return []
    places = sorted(earlier, key=lambda c: -earlier[c])
    went = _join([country_name(c) for c in places])
    return [flag(
        "new_ship_country",
        f"{capital(order_name(order))} ships to {country_name(country)}, while all {count} earlier orders of "
        f"{who} went to {went}.",
        who, settings, customer=who, country=country, earlier=earlier)]


def country_name(code: str) -> str:
    """"CA" → "Canada"; "#41" (a store country id nobody could resolve) → "country id 41"."""
    if code.startswith("#"):
        return f"country id {code[1:]}"
    found = pycountry.countries.get(alpha_2=code)
    if found is None:
        return code
    return getattr(found, "common_name", None) or found.name


# -- wording --------------------------------------------------------------------------------------

def _range(stats: Usual, fmt: Any) -> str:
    return fmt(stats.high) if stats.low == stats.high else f"{fmt(stats.low)}–{fmt(stats.high)}"


def _basis(stats: Usual, fmt: Any) -> str:
    return f"median {fmt(stats.median)}, from {_orders(stats.count)}"


def _orders(n: int) -> str:
    return f"{n} earlier order{'s' if n != 1 else ''}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _stats_data(stats: Usual, value: float) -> dict[str, Any]:
    return {"usual_low": stats.low, "usual_high": stats.high, "median": stats.median,
            "history": stats.count, "limit": round(stats.limit, 4),
            "robust_z": None if math.isinf(z := stats.robust_z(value)) else round(z, 2)}  # inf: MAD was 0
