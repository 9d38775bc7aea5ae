"""What the agent remembers about past orders, and what is "usual" for an item or a customer.

Every order that passes through the agent leaves a few facts in the local store (who, from which
IP, shipped where, for how much, and per line: which SKU, how many, at what price). The anomaly
checks compare a new order with these facts, so they learn the shop's own normal without any
network service and keep working offline.

"Usual" is measured with the median and the median absolute deviation (MAD) rather than the mean
and standard deviation: a handful of past oddities (a wholesale order, an earlier attack) would
drag a mean and inflate a standard deviation until nothing looks unusual any more; the median
and MAD shrug off anything less than half of the data. The reasons people read cite the 10th to
90th percentile, which is just as robust and easier to picture than a MAD.

Facts hold numbers for statistics only (REAL); no amount read from here is ever written anywhere.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.mapping.address import country_code
from agent.mapping.errors import MappingError
from agent.quality.report import to_decimal
from agent.store import Store

# How many recent samples a statistic looks at: enough for a stable median, and recent enough to
# follow a shop whose customers and prices change over the years.
SAMPLE_LIMIT = 500
SHOP_SAMPLE_LIMIT = 2000

# Least multiples of the median and of the usual high end (90th percentile) that count as
# unusual. Most items sell one at a time and many customers spend about the same each time, so
# the MAD is often zero and a second laptop would otherwise look "infinitely" unusual; and
# customers who mostly buy small now and then buy big, so what they spend at most matters as
# much as what they spend typically. At these multiples a person looking at the flag agrees
# that something is odd.
MEDIAN_FACTOR = 10.0
HIGH_FACTOR = 5.0

# 1.4826 × MAD estimates the standard deviation of normally distributed data.
MAD_TO_SIGMA = 1.4826

# Addresses shared by many people (office and carrier NAT) or belonging to the store's own
# machines (a reverse proxy that hides the shopper's address): a burst from these is no signal.
SHARED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "::/128", "::1/128", "fc00::/7", "fe80::/10"))


# -- reading an order ----------------------------------------------------------------------------

def order_name(order: Mapping[str, Any]) -> str:
    """How a person refers to the order: "order 5" (the number the shopper sees, else the id)."""
    number = order.get("custom_order_number") or order.get("id")
    return f"order {number}" if number not in (None, "") else "order"


def line_sku(item: Mapping[str, Any]) -> str:
    """The line's SKU (the product's, as the API nests it), or "" when the product has none."""
    product = item.get("product") or {}
    return str(product.get("sku") or item.get("sku") or item.get("product_sku") or "").strip()


def line_name(item: Mapping[str, Any]) -> str:
    """The SKU if there is one, else the product's name or id: how reasons name a line."""
    sku = line_sku(item)
    if sku:
        return sku
    product = item.get("product") or {}
    name = product.get("name") or item.get("product_name")
    if name:
        return f"'{name}'"
    return f"product {item.get('product_id') or product.get('id') or '?'}"


def customer_key(order: Mapping[str, Any]) -> str:
    """Who placed the order: the e-mail address (lower case), else the store's customer id.

    The e-mail rather than the customer id, because a guest gets a new customer id at every
    checkout while typing the same address, and the flags should name a person the merchant knows.
    """
    customer = order.get("customer") or {}
    for value in (customer.get("email"), (order.get("billing_address") or {}).get("email")):
        text = str(value or "").strip()
        if text:
            return text.casefold()
    return f"customer #{order.get('customer_id') or customer.get('id') or '?'}"


def country_key(address: Mapping[str, Any] | None,
                countries: Mapping[int, Mapping[str, Any]] | None = None) -> str | None:
    """ISO alpha-2 of an address's country, else "#<store country id>", else None."""
    if not address:
        return None
    raw_id = address.get("country_id")
    try:
        country_id = int(raw_id) if raw_id not in (None, "") else 0
    except (TypeError, ValueError):
        country_id = 0
    for value in ((country_id if country_id and countries and country_id in countries else None),
                  str(address.get("country") or "").strip() or None):
        if value is None:
            continue
        try:
            return country_code(value, countries)
        except MappingError:
            continue
    return f"#{country_id}" if country_id else None


def ship_country(order: Mapping[str, Any], countries: Mapping[int, Mapping[str, Any]] | None = None) -> str | None:
    """Where the order goes; None for store pick-ups and orders without a shipping address."""
    if order.get("pick_up_in_store"):
        return None
    return country_key(order.get("shipping_address"), countries)


def order_time(order: Mapping[str, Any], default: float | None = None) -> float:
    """When the order was placed (epoch seconds), from `created_on_utc`.

    The API writes UTC without an offset and with up to seven fractional digits
    ("2026-01-28T10:00:00.1234567"); Python reads at most six.
    """
    text = str(order.get("created_on_utc") or "").strip()
    if text:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        head, dot, tail = text.partition(".")
        if dot:
            digits = "".join(c for c in tail if c.isdigit())
            text = f"{head}.{digits[:6]}{tail[len(digits):]}"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    return default if default is not None else time.time()


def is_shared_ip(ip: str | None) -> bool:
    """True for addresses that do not identify one shopper (private, NAT, loopback) or no address."""
    if not ip:
        return True
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return True
    return any(address in network for network in SHARED_NETWORKS if network.version == address.version)


def _order_id(order: Mapping[str, Any]) -> int:
    return int(order["id"])


# -- robust statistics ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Usual:
    """What is usual for a set of past values, and from where on a value is unusually high.

    `low`–`high` is the range most past values fall in (10th to 90th percentile), for reasons a
    person reads. `limit` is the threshold: the median plus `z` robust standard deviations
    (1.4826 × MAD), but never below `MEDIAN_FACTOR` times the median nor `HIGH_FACTOR` times
    the usual high end.
    """

    count: int
    median: float
    low: float
    high: float
    mad: float
    limit: float

    def robust_z(self, value: float) -> float:
        """How many robust standard deviations `value` lies above the median (inf when MAD is 0)."""
        sigma = MAD_TO_SIGMA * self.mad
        if sigma == 0:
            return math.inf if value > self.median else 0.0
        return (value - self.median) / sigma


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always one of the values, never an interpolation."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def usual(values: Sequence[float], z: float) -> Usual:
    """Median/MAD statistics of `values` (at least one); see `Usual`."""
    mid = median(values)
    mad = median([abs(v - mid) for v in values])
    high = percentile(values, 90)
    return Usual(count=len(values), median=mid, low=percentile(values, 10), high=high, mad=mad,
                 limit=max(mid + z * MAD_TO_SIGMA * mad, MEDIAN_FACTOR * mid, HIGH_FACTOR * high))


# -- the store -----------------------------------------------------------------------------------

class OrderHistory:
    """Facts about past orders in the local store, and the statistics the anomaly checks ask for.

    `countries` (store country id → /api/countries record) turns the ids in addresses into ISO
    codes, so an order shipped to "Canada" by name and one to country id 41 count as one country.
    """

    def __init__(self, store: Store, *, countries: Mapping[int, Mapping[str, Any]] | None = None):
        self.store = store
        self.countries = countries

    # -- recording --------------------------------------------------------------------------------
    def record(self, order: Mapping[str, Any]) -> None:
        """Remember the order's facts; recording the same order again replaces them."""
        self.record_many([order])

    def record_many(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """`record` for many orders in one transaction (a first import of the shop's history)."""
        now = time.time()
        with self.store.write():
            for order in orders:
                order_id = _order_id(order)
                total = to_decimal(order.get("order_total"))
                self.store.execute("DELETE FROM line_fact WHERE nop_order_id = ?", (order_id,))
                self.store.execute(
                    "INSERT OR REPLACE INTO order_fact (nop_order_id, customer_key, ip, ship_country, total, "
                    "currency, created_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (order_id, customer_key(order), str(order.get("customer_ip") or "").strip() or None,
                     ship_country(order, self.countries), float(total) if total is not None else 0.0,
                     order.get("customer_currency_code"), order_time(order, now), now))
                for line_no, item in enumerate(order.get("order_items") or [], start=1):
                    quantity = to_decimal(item.get("quantity"))
                    price = to_decimal(item.get("unit_price_excl_tax"))
                    self.store.execute(
                        "INSERT INTO line_fact (nop_order_id, line_no, sku, quantity, unit_price) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (order_id, line_no, line_sku(item), float(quantity) if quantity is not None else 0.0,
                         float(price) if price is not None else 0.0))

    def forget_before(self, moment: float) -> int:
        """Drop facts of orders placed before `moment` (epoch seconds); returns how many orders."""
        with self.store.write():
            self.store.execute("DELETE FROM line_fact WHERE nop_order_id IN "
                               "(SELECT nop_order_id FROM order_fact WHERE created_at < ?)", (moment,))
            return self.store.execute("DELETE FROM order_fact WHERE created_at < ?", (moment,)).rowcount

    # -- questions ----------------------------------------------------------------------------------
    def sku_quantities(self, sku: str, *, exclude_order: int | None = None) -> list[float]:
        """How many of the SKU each recent order took (lines of one SKU in one order added up)."""
        rows = self.store.query(
            "SELECT SUM(l.quantity) AS q FROM line_fact l JOIN order_fact o USING (nop_order_id) "
            "WHERE l.sku = ? AND l.nop_order_id != ? AND l.quantity > 0 "
            "GROUP BY l.nop_order_id ORDER BY MAX(o.created_at) DESC LIMIT ?",
            (sku, _none_id(exclude_order), SAMPLE_LIMIT))
        return [r["q"] for r in rows]

    def sku_prices(self, sku: str, *, exclude_order: int | None = None) -> list[float]:
        """The unit prices (before tax) the SKU recently sold at, one per line."""
        rows = self.store.query(
            "SELECT l.unit_price AS p FROM line_fact l JOIN order_fact o USING (nop_order_id) "
            "WHERE l.sku = ? AND l.nop_order_id != ? AND l.unit_price > 0 ORDER BY o.created_at DESC LIMIT ?",
            (sku, _none_id(exclude_order), SAMPLE_LIMIT))
        return [r["p"] for r in rows]

    def customer_totals(self, key: str, *, exclude_order: int | None = None) -> list[float]:
        """The totals of the customer's recent orders that cost something (a free order says nothing
        about what the customer usually spends)."""
        rows = self.store.query(
            "SELECT total FROM order_fact WHERE customer_key = ? AND nop_order_id != ? AND total > 0 "
            "ORDER BY created_at DESC LIMIT ?", (key, _none_id(exclude_order), SAMPLE_LIMIT))
        return [r["total"] for r in rows]

    def shop_total_percentile(self, q: float, *, exclude_order: int | None = None) -> tuple[float, int]:
        """(the q-th percentile of the shop's recent order totals, how many orders it is from)."""
        recent = ("SELECT total FROM order_fact WHERE nop_order_id != ? ORDER BY created_at DESC LIMIT ?")
        args = (_none_id(exclude_order), SHOP_SAMPLE_LIMIT)
        count = self.store.scalar(f"SELECT COUNT(*) FROM ({recent})", args) or 0
        if not count:
            return 0.0, 0
        rank = max(1, math.ceil(q / 100 * count))
        value = self.store.scalar(f"SELECT total FROM ({recent}) ORDER BY total LIMIT 1 OFFSET ?", (*args, rank - 1))
        return float(value), count

    def customer_countries(self, key: str, *, exclude_order: int | None = None) -> dict[str, int]:
        """Country → number of the customer's orders shipped there."""
        rows = self.store.query(
            "SELECT ship_country AS c, COUNT(*) AS n FROM order_fact WHERE customer_key = ? "
            "AND nop_order_id != ? AND ship_country IS NOT NULL GROUP BY ship_country",
            (key, _none_id(exclude_order)))
        return {r["c"]: r["n"] for r in rows}

    def recent(self, *, customer: str | None = None, ip: str | None = None, since: float, until: float,
               exclude_order: int | None = None) -> list[dict[str, Any]]:
        """Orders from one customer or one IP placed in [since, until]: id, customer, time."""
        column, value = ("customer_key", customer) if customer is not None else ("ip", ip)
        return self.store.query(
            f"SELECT nop_order_id, customer_key, created_at FROM order_fact WHERE {column} = ? "
            "AND created_at BETWEEN ? AND ? AND nop_order_id != ? ORDER BY created_at",
            (value, since, until, _none_id(exclude_order)))

    def order_count(self) -> int:
        return self.store.scalar("SELECT COUNT(*) FROM order_fact") or 0


def _none_id(order_id: int | None) -> int:
    return -1 if order_id is None else order_id
