"""A labelled stream of nopCommerce orders for measuring the quality checks.

Orders have the shape the store's API returns (OrderDto, reference §3a): addresses carry only
`country_id` (names null), money is Decimal with four places, dates are UTC without an offset.
The catalogue is the nopCommerce sample catalogue; unit prices follow BNG's list prices (BNG owns
prices in the default mapping) with the shop's everyday variation: quantity discounts of 5-15%,
sales of 10-25% on some lines, option surcharges on the configurable computer, and
customer-entered prices on the donation downloads.

Shoppers behave like a shop's customers do: a few come back often, most rarely; each has a taste
(gadgets or style) and a budget that shows in what they buy, buys mostly one of an item, ships
home (now and then to a friend abroad, or picks up in store), shops from home or the phone, and
sometimes shares an office IP with colleagues or places a second order a few minutes after the
first. None of that is labelled: it is the legitimate variety the checks must let through.

`anomalies()` injects labelled bad data of every kind the checks are meant to catch. The
first `burst_orders - 1` orders of a burst are not labelled: on their own they are ordinary, and
no check can know at that moment that more will follow.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pycountry

DATA = Path(__file__).resolve().parents[2] / "agent" / "sandbox" / "data"
FOUR = Decimal("0.0001")
CENT = Decimal("0.01")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp()

GADGETS = {"Desktops", "Notebooks", "Camera & photo", "Cell phones", "Software", "Others"}

# label → the checks that catch it
EXPECTED: dict[str, tuple[str, ...]] = {
    "huge_quantity": ("quantity_spike",),
    "price_far": ("price_vs_list",),
    "zero_price": ("zero_price",),
    "total_spike": ("total_spike",),
    "burst": ("burst",),
    "new_ship_country": ("new_ship_country",),
    "invalid_email": ("email",),
    "unknown_sku": ("unknown_sku",),
    "incomplete_address": ("address",),
    "bad_currency": ("currency",),
    "bad_quantity": ("bad_quantity",),
}

# (alpha-2, currency, rate, city, region, postal code, phone, weight among shoppers)
HOMES: list[tuple[str, str, str, str, str | None, str, str, int]] = [
    ("US", "USD", "1", "Los Angeles", "California", "90077", "(213) 555-0147", 40),
    ("US", "USD", "1", "New York", "New York", "10021", "(212) 555-0100", 0),
    ("US", "USD", "1", "Ketchikan", "Alaska", "99901", "(907) 555-0123", 0),
    ("CA", "CAD", "1.32", "Saskatoon", "Saskatchewan", "S7K 1J9", "(306) 555-0199", 10),
    ("GB", "GBP", "0.75", "London", None, "NW1 6XE", "020 7946 0958", 15),
    ("DE", "EUR", "0.86", "Berlin", None, "10115", "030 1234567", 12),
    ("FR", "EUR", "0.86", "Paris", None, "75001", "01 42 68 53 00", 8),
    ("NL", "EUR", "0.86", "Amsterdam", None, "1012 JS", "020 123 4567", 5),
    ("AU", "USD", "1", "Sydney", "New South Wales", "2000", "(02) 9374 4000", 6),
    ("HK", "USD", "1", "Hong Kong", None, "", "2123 4567", 4),
]


def _money(value: Decimal | int | float | str) -> Decimal:
    return Decimal(str(value)).quantize(FOUR)


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def store_countries() -> dict[int, dict[str, Any]]:
    """The store's country list as /api/countries gives it: ids in alphabetical order of name."""
    ordered = sorted(pycountry.countries, key=lambda c: c.name)
    return {i: {"id": i, "name": c.name, "two_letter_iso_code": c.alpha_2, "ThreeLetterIsoCode": c.alpha_3}
            for i, c in enumerate(ordered, start=1)}


COUNTRIES = store_countries()
COUNTRY_IDS = {c["two_letter_iso_code"]: i for i, c in COUNTRIES.items()}


def bng_list_prices() -> dict[str, Decimal]:
    """SKU → BNG list price, from the BNG demo company."""
    data = json.loads((DATA / "bng-sample-data.json").read_text(encoding="utf-8"))
    return {item["item_no"]: Decimal(item["unit_price"]) for item in data["items"]}


@dataclass
class Product:
    id: int
    sku: str
    name: str
    price: Decimal
    category: str
    minimum: int
    customer_enters_price: bool
    ships: bool


def catalogue() -> list[Product]:
    """The sample products BNG sells (the grouped parent is not an item of its own)."""
    data = json.loads((DATA / "nop-sample-data.json").read_text(encoding="utf-8"))
    prices = bng_list_prices()
    out = []
    for p in data["products"]:
        if p["sku"] not in prices or p["product_type"]["name"] != "SimpleProduct":
            continue
        out.append(Product(p["expected_id"], p["sku"], p["name"], prices[p["sku"]],
                           p.get("category") or "Camera & photo",  # the grouped camera's children have none
                           p.get("order_minimum_quantity") or 1, p["customer_enters_price"],
                           not p.get("is_download") and not (p.get("is_gift_card") and p["sku"].startswith("VG"))))
    return out


@dataclass
class Shopper:
    id: int
    email: str
    first_name: str
    last_name: str
    home: tuple
    street: str
    ip: str
    gadgets: bool
    budget: float
    weight: float
    orders: int = 0


@dataclass
class Labelled:
    order: dict[str, Any]
    labels: list[str] = field(default_factory=list)


class Shop:
    """A shop's order stream; `seed` makes it repeatable."""

    def __init__(self, seed: int = 7, shoppers: int = 300):
        self.rng = random.Random(seed)
        self.products = catalogue()
        self.list_prices = bng_list_prices()
        self.countries = COUNTRIES
        self.by_sku = {p.sku: p for p in self.products}
        self.clock = START
        self.next_order = 1
        self.next_item = 1
        self.next_address = 1
        offices = [self._public_ip() for _ in range(12)]
        homes = [h for h in HOMES for _ in range(h[7])] + [h for h in HOMES if h[7] == 0]
        self.shoppers: list[Shopper] = []
        for i in range(shoppers):
            first = self.rng.choice(["Ann", "Ben", "Chloe", "Dev", "Eva", "Finn", "Grace", "Hugo", "Isla", "Jon",
                                     "Kim", "Leo", "Mia", "Noah", "Olga", "Pia", "Ravi", "Sara", "Tom", "Uma"])
            last = self.rng.choice(["Gates", "Holmes", "Pan", "Lindgren", "Terces", "Smith", "Okafor", "Novak",
                                    "Garcia", "Nguyen", "Schmidt", "Dubois", "Rossi", "Tanaka", "Khan"])
            home = self.rng.choice(homes)
            self.shoppers.append(Shopper(
                id=100 + i, email=f"{first}.{last}{i}@example.com".lower(), first_name=first, last_name=last,
                home=home, street=f"{self.rng.randint(1, 999)} {self.rng.choice(['Main', 'High', 'Park', 'Oak'])} "
                                  f"{self.rng.choice(['Street', 'Road', 'Avenue'])}",
                ip=self.rng.choice(offices) if self.rng.random() < 0.15 else self._public_ip(),
                gadgets=self.rng.random() < 0.45, budget=self.rng.lognormvariate(0, 0.5),
                weight=self.rng.paretovariate(1.2)))
        self.weights = [s.weight for s in self.shoppers]
        self.pending: list[Labelled] = []  # a shopper's quick second order waits here

    # -- plain orders ------------------------------------------------------------------------------
    def _public_ip(self) -> str:
        return f"{self.rng.choice([31, 46, 62, 77, 81, 86, 93, 109, 176, 185, 203])}.{self.rng.randint(0, 255)}." \
               f"{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    def _tick(self) -> float:
        self.clock += self.rng.expovariate(1 / 1200)  # an order every 20 minutes on average
        return self.clock

    def _address(self, shopper: Shopper, home: tuple | None = None) -> dict[str, Any]:
        country, _cur, _rate, city, region, postal, phone, _w = home or shopper.home
        self.next_address += 1
        return {"id": self.next_address, "first_name": shopper.first_name, "last_name": shopper.last_name,
                "email": shopper.email, "company": None, "country_id": COUNTRY_IDS[country], "country": None,
                "state_province_id": (self.rng.randint(1, 60) if region else None), "province": None,
                "city": city, "address1": shopper.street, "address2": None, "zip_postal_code": postal,
                "phone_number": phone, "fax_number": None, "customer_attributes": None,
                "created_on_utc": _stamp(self.clock)}

    def _pick(self, shopper: Shopper, expensive: bool | None = None) -> Product:
        own = self.rng.random() < 0.9
        wanted = shopper.gadgets if own else not shopper.gadgets
        pool = [p for p in self.products if (p.category in GADGETS) == wanted]
        if expensive is not None:
            pool = [p for p in pool if (p.price >= 300) == expensive] or pool
        # budget: cheaper items are more likely for small budgets
        weights = [1 / (1 + float(p.price) / (300 * shopper.budget)) for p in pool]
        return self.rng.choices(pool, weights)[0]

    def _quantity(self, product: Product) -> int:
        r = self.rng.random()
        if product.price < 100:
            q = 1 if r < 0.72 else 2 if r < 0.88 else 3 if r < 0.94 else self.rng.randint(4, 6) if r < 0.99 else 10
        else:
            q = 1 if r < 0.9 else 2 if r < 0.98 else 3
        return max(q, product.minimum)

    def _unit_price(self, product: Product, quantity: int) -> Decimal:
        if product.customer_enters_price:
            return _money(self.rng.choice([1, 2, 3, 5, 10, 20]))
        price = product.price
        if product.sku == "COMP_CUST":
            price += self.rng.choice([0, 15, 60, 100, 175])  # processor, RAM, disk options
        if quantity >= 10:
            price *= Decimal("0.85")
        elif quantity >= 6:
            price *= Decimal("0.90")
        elif quantity >= 3:
            price *= Decimal("0.95")
        if self.rng.random() < 0.05:
            price *= Decimal(1) - Decimal(self.rng.choice([10, 15, 20, 25])) / 100  # on sale
        return _money(price.quantize(CENT))

    def _line(self, product: Product, quantity: int, unit: Decimal | None = None) -> dict[str, Any]:
        unit = self._unit_price(product, quantity) if unit is None else _money(unit)
        self.next_item += 1
        total = _money(unit * quantity)
        return {"id": self.next_item, "product_attributes": [], "quantity": quantity,
                "unit_price_incl_tax": unit, "unit_price_excl_tax": unit, "price_incl_tax": total,
                "price_excl_tax": total, "discount_amount_incl_tax": _money(0), "discount_amount_excl_tax": _money(0),
                "original_product_cost": _money(0), "attribute_description": None, "download_count": 0,
                "isDownload_activated": False, "license_download_id": None, "item_weight": None,
                "rental_start_date_utc": None, "rental_end_date_utc": None,
                "product": {"id": product.id, "name": product.name, "sku": product.sku}, "product_id": product.id}

    def order(self, shopper: Shopper | None = None, *, at: float | None = None,
              lines: list[dict[str, Any]] | None = None, ship_home: tuple | None = None) -> dict[str, Any]:
        """One legitimate order (or one with the given lines / destination)."""
        shopper = shopper or self.rng.choices(self.shoppers, self.weights)[0]
        moment = at if at is not None else self._tick()
        if lines is None:
            count = self.rng.choices([1, 2, 3, 4], [60, 25, 10, 5])[0]
            products = {p.sku: p for p in (self._pick(shopper) for _ in range(count))}.values()
            lines = [self._line(p, q) for p in products for q in [self._quantity(p)]]
        subtotal = _money(sum((Decimal(str(li["price_excl_tax"])) for li in lines), Decimal(0)))
        country, currency, rate, *_ = shopper.home
        ships = any(self.by_sku.get(li["product"]["sku"], self.products[0]).ships for li in lines)
        r = self.rng.random()
        pickup = ships and ship_home is None and r < 0.03
        if ship_home is None and ships and not pickup and r > 0.996:
            ship_home = self.rng.choice([h for h in HOMES if h[0] != country])  # a present for a friend abroad
        shipping = _money(0 if not ships or pickup or subtotal > 100 else 10)
        billing = self._address(shopper)
        order_id = self.next_order
        self.next_order += 1
        shopper.orders += 1
        return {
            "id": order_id, "store_id": 1, "pick_up_in_store": pickup,
            "payment_method_system_name": "Payments.Manual", "customer_currency_code": currency,
            "currency_rate": Decimal(rate), "customer_tax_display_type_id": 10, "vat_number": None,
            "order_subtotal_incl_tax": subtotal, "order_subtotal_excl_tax": subtotal,
            "order_sub_total_discount_incl_tax": _money(0), "order_sub_total_discount_excl_tax": _money(0),
            "order_shipping_incl_tax": shipping, "order_shipping_excl_tax": shipping,
            "payment_method_additional_fee_incl_tax": _money(0), "payment_method_additional_fee_excl_tax": _money(0),
            "tax_rates": "0:0;", "order_tax": _money(0), "order_discount": _money(0),
            "order_total": _money(subtotal + shipping), "refunded_amount": _money(0),
            "checkout_attribute_description": None, "customer_language_id": 1, "affiliate_id": 0,
            "customer_ip": shopper.ip if self.rng.random() < 0.8 else self._public_ip(),
            "paid_date_utc": _stamp(moment), "shipping_method": None if not ships else
            ("In-Store Pickup" if pickup else "Ground"),
            "shipping_rate_computation_method_system_name": "Shipping.FixedByWeightByTotal",
            "custom_values_xml": None, "deleted": False, "created_on_utc": _stamp(moment),
            "customer_id": shopper.id, "customer": {"id": shopper.id, "email": shopper.email},
            "billing_address": billing,
            "shipping_address": (self._address(shopper, ship_home) if ships and not pickup else None),
            "order_items": lines, "order_status": "Processing", "payment_status": "Paid",
            "shipping_status": "NotYetShipped" if ships else "ShippingNotRequired",
            "customer_tax_display_type": "ExcludingTax",
        }

    def clean(self, count: int) -> list[dict[str, Any]]:
        """`count` legitimate orders in time order."""
        return [labelled.order for labelled in self.stream(count, anomaly_rate=0.0)]

    def stream(self, count: int, anomaly_rate: float = 0.05) -> list[Labelled]:
        """`count` orders in time order; about `anomaly_rate` of them start an injected anomaly."""
        out: list[Labelled] = []
        while len(out) < count:
            if self.pending and self.pending[0].order["created_on_utc"] <= _stamp(self.clock):
                out.append(self.pending.pop(0))
                continue
            if self.rng.random() < anomaly_rate:
                out.extend(self.anomaly())
                continue
            order = self.order()
            out.append(Labelled(order))
            shopper = next(s for s in self.shoppers if s.id == order["customer_id"])
            if self.rng.random() < 0.02:  # forgot something: a second order minutes later
                self.pending.append(Labelled(self.order(shopper, at=self.clock + self.rng.uniform(60, 400))))
        return out[:count]

    # -- anomalies ---------------------------------------------------------------------------------
    def anomaly(self, kind: str | None = None, burst_orders: int = 5) -> list[Labelled]:
        kind = kind or self.rng.choice(sorted(EXPECTED))
        return list(getattr(self, f"_{kind}")(burst_orders) if kind == "burst" else getattr(self, f"_{kind}")())

    def _known(self, minimum: int = 4) -> Shopper:
        known = [s for s in self.shoppers if s.orders >= minimum]
        return self.rng.choice(known) if known else self.rng.choice(self.shoppers)

    def _huge_quantity(self) -> Iterator[Labelled]:
        order = self.order()
        line = self.rng.choice(order["order_items"])
        product = self.by_sku[line["product"]["sku"]]
        quantity = self.rng.choice([40, 60, 100, 150, 250, 500]) if product.price < 300 else self.rng.randint(25, 80)
        huge = self._line(product, quantity, line["unit_price_excl_tax"])
        order["order_items"][order["order_items"].index(line)] = huge
        yield Labelled(self._retotal(order), ["huge_quantity"])

    def _price_far(self) -> Iterator[Labelled]:
        order = self.order()
        line = self.rng.choice(order["order_items"])
        product = self.by_sku[line["product"]["sku"]]
        if product.customer_enters_price:
            product = self.rng.choice([p for p in self.products if not p.customer_enters_price])
        factor = Decimal(str(self.rng.choice([0.05, 0.1, 0.2, 0.3, 2.5, 4, 10])))
        order["order_items"][order["order_items"].index(line)] = self._line(product, line["quantity"],
                                                                            (product.price * factor).quantize(CENT))
        yield Labelled(self._retotal(order), ["price_far"])

    def _zero_price(self) -> Iterator[Labelled]:
        order = self.order()
        product = self.rng.choice([p for p in self.products if p.price > 0])
        order["order_items"].append(self._line(product, 1, Decimal(0)))
        yield Labelled(self._retotal(order), ["zero_price"])

    def _total_spike(self) -> Iterator[Labelled]:
        shopper = self._known()
        pricey = sorted((p for p in self.products if p.price >= 1000), key=lambda p: p.sku)
        lines = [self._line(p, self.rng.randint(max(2, p.minimum), 4))
                 for p in self.rng.sample(pricey, self.rng.randint(4, 7))]
        yield Labelled(self.order(shopper, lines=lines), ["total_spike"])

    def _burst(self, burst_orders: int) -> Iterator[Labelled]:
        ip = self._public_ip()
        same_person = self.rng.random() < 0.5
        shopper = self.rng.choice(self.shoppers)
        moment = self._tick()
        for n in range(burst_orders + self.rng.randint(0, 3)):
            moment += self.rng.uniform(20, 90)
            if not same_person:  # card testing: new made-up customers from one address
                shopper = Shopper(id=9000 + self.next_order, email=f"buyer{self.next_order}@mailbox.example.org",
                                  first_name="Al", last_name="Test", home=HOMES[0], street="1 Main Street", ip=ip,
                                  gadgets=True, budget=1.0, weight=0)
            order = self.order(shopper, at=moment)
            order["customer_ip"] = ip
            yield Labelled(order, ["burst"] if n + 1 >= burst_orders else [])
        self.clock = moment

    def _new_ship_country(self) -> Iterator[Labelled]:
        shopper = self._known()
        while True:
            abroad = self.rng.choice(HOMES)
            if abroad[0] != shopper.home[0]:
                break
        order = self.order(shopper, ship_home=abroad)
        if order["shipping_address"] is None:  # a download-only order ships nowhere: add a parcel
            product = self.rng.choice([p for p in self.products if p.ships and p.price < 100])
            order["order_items"].append(self._line(product, 1))
            order["pick_up_in_store"] = False
            order["shipping_address"] = self._address(shopper, abroad)
            self._retotal(order)
        yield Labelled(order, ["new_ship_country"])

    def _invalid_email(self) -> Iterator[Labelled]:
        order = self.order()
        bad = self.rng.choice(["ann@@example.com", "ann.example.com", "ann@example", "ann smith@example.com",
                               "ann@exa mple.com", "@example.com", "ann@.com"])
        order["billing_address"]["email"] = bad
        order["customer"]["email"] = None  # a guest checkout: the billing e-mail is all there is
        yield Labelled(order, ["invalid_email"])

    def _unknown_sku(self) -> Iterator[Labelled]:
        order = self.order()
        fake = Product(900, f"XX_{self.rng.randint(100, 999)}_NEW", "Product not in BNG", Decimal("49.00"), "Others",
                       1, False, True)
        order["order_items"].append(self._line(fake, 1))
        yield Labelled(self._retotal(order), ["unknown_sku"])

    def _incomplete_address(self) -> Iterator[Labelled]:
        order = self.order()
        key = "shipping_address" if order["shipping_address"] else "billing_address"
        missing = self.rng.choice(["city", "address1", "zip_postal_code", "country_id"])
        if missing == "zip_postal_code" and not order[key]["zip_postal_code"]:
            missing = "city"
        order[key][missing] = None if missing == "country_id" else ""
        yield Labelled(order, ["incomplete_address"])

    def _bad_currency(self) -> Iterator[Labelled]:
        order = self.order()
        order["customer_currency_code"] = self.rng.choice(["XYZ", "US$", "EURO", "XXX"])
        yield Labelled(order, ["bad_currency"])

    def _bad_quantity(self) -> Iterator[Labelled]:
        order = self.order()
        order["order_items"][0]["quantity"] = self.rng.choice([0, -1, -5])
        yield Labelled(order, ["bad_quantity"])

    @staticmethod
    def _retotal(order: dict[str, Any]) -> dict[str, Any]:
        subtotal = _money(sum((Decimal(str(li["price_excl_tax"])) for li in order["order_items"]), Decimal(0)))
        order["order_subtotal_excl_tax"] = order["order_subtotal_incl_tax"] = subtotal
        order["order_total"] = _money(subtotal + Decimal(str(order["order_shipping_excl_tax"])))
        return order


def sample_orders() -> list[dict[str, Any]]:
    """The five orders of nopCommerce's sample data, as the store's API returns them."""
    data = json.loads((DATA / "nop-sample-data.json").read_text(encoding="utf-8"))
    customers = {c["email"].lower(): c for c in data["sample_customers"]}
    products = {p["sku"]: p for p in data["products"]}
    alpha3 = {c["ThreeLetterIsoCode"]: i for i, c in COUNTRIES.items()}
    orders = []
    for n, o in enumerate(data["orders"]):
        customer = customers[o["customer_email"].lower()]
        a = customer["billing_and_shipping_address"]
        address = {"id": 10 + n, "first_name": a["first_name"], "last_name": a["last_name"], "email": a["email"],
                   "company": a["company"], "country_id": alpha3[a["country_three_letter_iso_code"]], "country": None,
                   "state_province_id": 5 if a.get("state_province") else None, "province": None, "city": a["city"],
                   "address1": a["address1"], "address2": a["address2"], "zip_postal_code": a["zip_postal_code"],
                   "phone_number": a["phone_number"], "fax_number": a["fax_number"], "customer_attributes": None,
                   "created_on_utc": "2026-01-28T10:00:00.1"}
        items = [{"id": i["expected_id"], "quantity": i["quantity"], "unit_price_incl_tax": i["unit_price_incl_tax"],
                  "unit_price_excl_tax": i["unit_price_excl_tax"], "price_incl_tax": i["price_incl_tax"],
                  "price_excl_tax": i["price_excl_tax"], "product_id": i["expected_product_id"],
                  "product": {"id": i["expected_product_id"], "name": products[i["product_sku"]]["name"],
                              "sku": i["product_sku"]}} for i in o["order_items"]]
        order = {key: value for key, value in o.items()
                 if key not in {"expected_id", "order_items", "shipments", "order_notes", "order_status",
                                "payment_status", "shipping_status", "has_shipping_address", "customer_email",
                                "expected_customer_id", "paid_date_utc", "pickup_in_store"}}
        order.update({"id": o["expected_id"], "customer_id": o["expected_customer_id"],
                      "pick_up_in_store": o["pickup_in_store"], "created_on_utc": "2026-01-28T10:00:00.123",
                      "paid_date_utc": "2026-01-28T10:00:00.123", "order_status": o["order_status"]["name"],
                      "payment_status": o["payment_status"]["name"], "shipping_status": o["shipping_status"]["name"],
                      "billing_address": address, "shipping_address": dict(address) if o["has_shipping_address"]
                      else None, "order_items": items, "customer": {"id": o["expected_customer_id"],
                                                                    "email": o["customer_email"]}})
        orders.append(order)
    return orders


# -- measuring ------------------------------------------------------------------------------------

@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_pos + self.false_neg
        return self.true_pos / labelled if labelled else 1.0


@dataclass
class Evaluation:
    """Precision and recall of "flagged" against "labelled", overall, per label and per check."""

    orders: int = 0
    labelled: int = 0
    overall: Score = field(default_factory=Score)
    by_label: dict[str, Score] = field(default_factory=dict)
    by_check: dict[str, Score] = field(default_factory=dict)
    false_alarms: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, labels: list[str], flags: list[Any]) -> None:
        self.orders += 1
        self.labelled += bool(labels)
        checks = {f.check for f in flags}
        if labels and flags:
            self.overall.true_pos += 1
        elif flags:
            self.overall.false_pos += 1
            self.false_alarms.extend(f"{f.check}: {f.reason}" for f in flags)
        elif labels:
            self.overall.false_neg += 1
        for label in labels:
            score = self.by_label.setdefault(label, Score())
            if checks & set(EXPECTED[label]):
                score.true_pos += 1
            else:
                score.false_neg += 1
                self.misses.append(f"{label}: flagged {sorted(checks) or 'nothing'}")
        for check in checks:
            score = self.by_check.setdefault(check, Score())
            if labels:
                score.true_pos += 1
            else:
                score.false_pos += 1

    def merge(self, other: Evaluation) -> Evaluation:
        """Pool another run's counts into this one (for figures over several seeds)."""
        self.orders += other.orders
        self.labelled += other.labelled
        for mine, theirs in ((self.by_label, other.by_label), (self.by_check, other.by_check)):
            for key, score in theirs.items():
                pooled = mine.setdefault(key, Score())
                pooled.true_pos += score.true_pos
                pooled.false_pos += score.false_pos
                pooled.false_neg += score.false_neg
        self.overall.true_pos += other.overall.true_pos
        self.overall.false_pos += other.overall.false_pos
        self.overall.false_neg += other.overall.false_neg
        self.false_alarms += other.false_alarms
        self.misses += other.misses
        return self

    def table(self) -> str:
        lines = [f"{self.orders} orders, {self.labelled} with an injected anomaly", "",
                 f"{'':24}{'flagged':>9}{'precision':>11}{'recall':>9}"]
        o = self.overall
        lines.append(f"{'overall':24}{o.true_pos + o.false_pos:>9}{o.precision:>11.3f}{o.recall:>9.3f}")
        lines += ["", "per injected anomaly (recall: caught by its own check)"]
        for label, s in sorted(self.by_label.items()):
            lines.append(f"  {label:22}{s.true_pos:>9}{'':>11}{s.recall:>9.3f}   of {s.true_pos + s.false_neg}")
        lines += ["", "per check (precision: flagged orders that carry an injected anomaly)"]
        for check, s in sorted(self.by_check.items()):
            lines.append(f"  {check:22}{s.true_pos + s.false_pos:>9}{s.precision:>11.3f}")
        return "\n".join(lines)


def evaluate(store: Any, *, seed: int = 7, warmup: int = 1500, count: int = 1000, anomaly_rate: float = 0.05,
             settings: Any = None) -> Evaluation:
    """Warm the history up with clean orders, then check a labelled stream order by order.

    Every order is checked before it is recorded, as the order flow does; quarantined orders are
    not recorded, since they never reach BNG.
    """
    from agent.config import QualitySettings
    from agent.quality import OrderHistory, decide, detect_anomalies, validate_order

    settings = settings or QualitySettings()
    shop = Shop(seed)
    history = OrderHistory(store, countries=shop.countries)
    history.record_many(shop.clean(warmup))
    result = Evaluation()
    for item in shop.stream(count, anomaly_rate):
        flags = validate_order(item.order, countries=shop.countries, settings=settings)
        flags += detect_anomalies(item.order, history, list_prices=shop.list_prices, settings=settings)
        if decide(flags) != "quarantine":
            history.record(item.order)
        result.add(item.labels, flags)
    return result


def evaluate_sandbox(store: Any, *, seed: int = 7, warmup: int = 1000, count: int = 1000,
                     bad_data_rate: float = 0.05, settings: Any = None) -> Evaluation:
    """The same measurement on the sandbox store's shopper simulator (agent.sandbox.nop.shoppers).

    Its orders go through the double's checkout; its labels of bad data (`BAD_DATA`) are the truth,
    its other labels (guest, discount, pickup, ...) are variety. Orders are spaced like `Shop`'s,
    about 20 minutes apart, since the simulator itself places them as fast as it can.
    """
    from datetime import timedelta

    from agent.config import QualitySettings
    from agent.quality import OrderHistory, decide, detect_anomalies, validate_order
    from agent.sandbox.nop import NopServer
    from agent.sandbox.nop.shoppers import BAD_DATA

    settings = settings or QualitySettings()
    nop = NopServer(seed=seed, bad_data_rate=bad_data_rate)
    shoppers = nop.shoppers
    countries = {c.id: {"two_letter_iso_code": c.two_letter_iso_code, "name": c.name}
                 for c in nop.state.directory.countries.values()}
    prices = bng_list_prices()
    rng = random.Random(seed)
    clock = datetime.fromtimestamp(START, UTC).replace(tzinfo=None)

    def place(**overrides: Any) -> dict[str, Any]:
        nonlocal clock
        clock += timedelta(seconds=rng.expovariate(1 / 1200))
        return shoppers.place_order(created_on_utc=clock, **overrides)

    history = OrderHistory(store, countries=countries)
    history.record_many([place(anomalies=[]) for _ in range(warmup)])
    result = Evaluation()
    for _ in range(count):
        order = place()
        labels = [label for label in shoppers.labels.get(order["id"], []) if label in BAD_DATA]
        flags = validate_order(order, countries=countries, settings=settings)
        flags += detect_anomalies(order, history, list_prices=prices, settings=settings)
        if decide(flags) != "quarantine":
            history.record(order)
        result.add(labels, flags)
    return result
