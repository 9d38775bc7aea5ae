"""Simulated shoppers: orders placed through the store's own checkout (`checkout.place_order`).

Every order goes through the same path as a storefront checkout — stock is taken line by line
with a read-modify-write, statuses come out as nopCommerce sets them, addresses are copied per
order — and the variety is what a live store sees: 1–6 lines, quantities above one, tier prices,
product attributes, customer-entered prices, discounts, tax, shipping or pickup, EUR/GBP/CAD
customers (amounts stay in USD, with `customer_currency_code` and `currency_rate`), gift wrapping,
guests and new registrations with a "Customer Type", and addresses typed carelessly.

At `bad_data_rate` an order also carries bad data, recorded in `labels[order_id]`:

- `invalid_email`   the customer's e-mail (guest or new registration) is not a valid address
- `unknown_sku`     a line for a web-only product whose SKU the ERP does not know
- `zero_price`      a line priced 0
- `huge_quantity`   a line with hundreds or thousands of units

Other labels describe variety rather than faults, so tests can find examples: `messy_address`,
`guest`, `new_customer`, `foreign_currency`, `gift_wrap`, `discount`, `pickup`.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.sandbox.nop import checkout
from agent.sandbox.nop.checkout import CartLine, Checkout, PlaceOrderError
from agent.sandbox.nop.dto import order_dto
from agent.sandbox.nop.model import (
    ATTRIBUTE_CONTROL_TYPE,
    ORDER_STATUS,
    PAYMENT_STATUS,
    SHIPPING_STATUS,
    Customer,
    Product,
    new_guid,
)
from agent.sandbox.nop.people import PLACES, Person, Place, invalid_email, make_person, messy_address
from agent.sandbox.nop.schema import PRODUCT_FIELDS, defaults
from agent.sandbox.nop.seed import CUSTOMER_TYPE_ID, CUSTOMER_TYPES
from agent.sandbox.nop.state import ROLE_GUESTS, ROLE_REGISTERED, NopState
from agent.sandbox.nop.wire import ZERO, money

log = logging.getLogger(__name__)

BAD_DATA = ("invalid_email", "unknown_sku", "zero_price", "huge_quantity")
# web-only products: on the store, unknown to the ERP
WEB_ONLY_PRODUCTS = (("Deluxe Gift Box", "WEB_GIFTBOX_01", "12.50"), ("Sticker Pack (10)", "STK_PACK_10", "4.99"),
                     ("Store Tote Bag", "TOTE_BAG_WEB", "19.00"))
_LINE_COUNTS = ((1, 35), (2, 25), (3, 15), (4, 10), (5, 8), (6, 7))
_PAYMENTS = (("Payments.Manual", "Paid", 50), ("Payments.PayPalCommerce", "Paid", 10),
             ("Payments.Manual", "Authorized", 8), ("Payments.CheckMoneyOrder", "Pending", 32))
_SHIPPING = (("Ground", 70), ("2nd Day Air", 15), ("Next Day Air", 10), ("pickup", 5))
_CUSTOM_TEXTS = ("Happy birthday!", "Team Rocket 2026", "I ♥ NY", "Best Dad Ever")


@dataclass
class _Plan:
    checkout: Checkout
    labels: list[str] = field(default_factory=list)


class ShopperSimulator:
    """Places orders on `state`; reproducible for a given seed when used from one thread."""

    def __init__(self, state: NopState, seed: int | None = 0, bad_data_rate: float = 0.05,
                 guest_rate: float = 0.25, new_customer_rate: float = 0.3, admin_activity: bool = True):
        self.state = state
        self.rng = random.Random(seed)
        self.bad_data_rate = bad_data_rate
        self.guest_rate = guest_rate
        self.new_customer_rate = new_customer_rate
        self.admin_activity = admin_activity
        self.labels: dict[int, list[str]] = {}
        self.failures = 0
        self._registered: list[int] | None = None        # registered customers who can shop again
        self._rng_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None

    # -- placing orders --------------------------------------------------------------------------
    def place_order(self, **overrides: Any) -> dict[str, Any]:
        """Place one order and return it as the API shows it (OrderDto; money as exact Decimal).

        Overrides: customer_id, guest, new_customer, email, country, lines (list of
        {"sku" | "product_id", "quantity", "unit_price"} or (sku, quantity) pairs), payment_status
        ("Pending" | "Authorized" | "Paid"), currency, tax_rate, shipping_method, pickup_in_store,
        gift_wrap, discount ("sku" | "order" | None), anomalies (labels to force; [] for none),
        messy_address (bool), customer_type, created_on_utc.
        """
        last_error: PlaceOrderError | None = None
        for _attempt in range(5):
            with self.state.lock, self._rng_lock:
                plan = self._plan(overrides)
            try:
                order = checkout.place_order(self.state, plan.checkout)
            except PlaceOrderError as exc:      # stock ran out between planning and checkout
                last_error = exc
                self.failures += 1
                if "lines" in overrides:
                    raise
                continue
            with self.state.lock:
                if plan.labels:
                    self.labels[order.id] = plan.labels
                return order_dto(self.state, order)
        raise last_error or PlaceOrderError("could not place an order")

    def place_orders(self, n: int, **overrides: Any) -> list[dict[str, Any]]:
        return [self.place_order(**overrides) for _ in range(n)]

    # -- admin helpers (through the order processing service) ---------------------------------------
    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """CancelOrderAsync: the stock comes back."""
        order = checkout.cancel_order(self.state, order_id)
        with self.state.lock:
            return order_dto(self.state, order)

    def mark_paid(self, order_id: int) -> dict[str, Any]:
        order = checkout.mark_paid(self.state, order_id)
        with self.state.lock:
            return order_dto(self.state, order)

    def ship_order(self, order_id: int, tracking_number: str | None = None) -> dict[str, Any]:
        checkout.ship_order(self.state, order_id, tracking_number)
        with self.state.lock:
            return order_dto(self.state, self.state.orders[order_id])

    def deliver_order(self, order_id: int) -> dict[str, Any]:
        order = checkout.deliver_order(self.state, order_id)
        with self.state.lock:
            return order_dto(self.state, order)

    # -- running in the background ------------------------------------------------------------------
    def run(self, rate_per_second: float, stop_event: threading.Event) -> None:
        """Place orders at about `rate_per_second` (Poisson arrivals) until `stop_event` is set."""
        while not stop_event.is_set():
            with self._rng_lock:
                delay = self.rng.expovariate(rate_per_second) if rate_per_second > 0 else 1.0
            if stop_event.wait(delay):
                return
            try:
                self.place_order()
                if self.admin_activity:
                    self._store_admin_step()
            except Exception:  # a failed order must not stop the simulation
                self.failures += 1
                log.exception("shopper failed to place an order")

    def start(self, rate_per_second: float) -> None:
        self.stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(rate_per_second, self._stop), name="nop-shoppers",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = self._stop = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _store_admin_step(self) -> None:
        """Now and then the store's staff act on an order: mark paid, ship, deliver or cancel."""
        with self.state.lock, self._rng_lock:
            roll = self.rng.random()
            recent = [o for o in itertools.islice(reversed(self.state.orders.values()), 200) if not o.deleted]
            pending = [o.id for o in recent if o.fields["payment_status_id"] == PAYMENT_STATUS["Pending"]
                       and o.fields["order_status_id"] == ORDER_STATUS["Pending"]]
            to_ship = [o.id for o in recent if o.fields["order_status_id"] == ORDER_STATUS["Processing"]
                       and o.fields["shipping_status_id"] == SHIPPING_STATUS["NotYetShipped"]]
            shipped = [o.id for o in recent if o.fields["shipping_status_id"] == SHIPPING_STATUS["Shipped"]]
            choice = self.rng.choice
        try:
            if roll < 0.12 and pending:
                checkout.mark_paid(self.state, choice(pending))
            elif roll < 0.22 and to_ship:
                checkout.ship_order(self.state, choice(to_ship), f"1Z{self.rng.randint(10**9, 10**10 - 1)}")
            elif roll < 0.27 and shipped:
                checkout.deliver_order(self.state, choice(shipped))
            elif roll < 0.29 and pending:
                checkout.cancel_order(self.state, choice(pending))
        except checkout.OrderActionError:
            pass

    # -- planning an order (state lock and rng lock held) --------------------------------------------
    def _plan(self, o: dict[str, Any]) -> _Plan:
        rng = self.rng
        labels: list[str] = []
        anomalies = list(o["anomalies"]) if "anomalies" in o else self._roll_anomalies()
        unknown = set(anomalies) - set(BAD_DATA)
        if unknown:
            raise ValueError(f"unknown anomalies {sorted(unknown)}; use {BAD_DATA}")
        labels.extend(anomalies)
        customer, billing_id, place, person_labels = self._customer(o, "invalid_email" in anomalies)
        labels.extend(person_labels)
        lines = self._lines(o, anomalies)
        shippable = checkout.requires_shipping(self.state, lines)
        method, pickup = self._shipping(o, shippable)
        if pickup:
            labels.append("pickup")
        method_name, payment_status = self._payment(o)
        currency = o.get("currency") or (place.currency if rng.random() < 0.85 else "USD")
        if currency != "USD":
            labels.append("foreign_currency")
        gift_wrap = bool(o.get("gift_wrap", rng.random() < 0.2)) and shippable
        if gift_wrap:
            labels.append("gift_wrap")
        discount = o.get("discount", rng.choices((None, "sku", "order"), (82, 10, 8))[0])
        percent = ZERO
        if discount == "sku":
            target = max(lines, key=lambda line: self.state.products[line.product_id].fields["price"])
            if self.state.products[target.product_id].fields["price"] > 10 and target.unit_price is None:
                target.discount_per_unit = money(10)
                labels.append("discount")
        elif discount == "order":
            percent = Decimal(20)
            labels.append("discount")
        tax_rate = Decimal(str(o["tax_rate"])) if "tax_rate" in o else place.tax_rate
        plan = Checkout(
            customer_id=customer.id, lines=lines, billing_address_id=billing_id, shipping_address_id=billing_id,
            shipping_method=method, pickup_in_store=pickup, payment_method=method_name,
            payment_status=payment_status, currency_code=currency, tax_rate=tax_rate,
            tax_display_type_id=10 if place.country in ("US", "CA") else 0, gift_wrap=gift_wrap,
            order_discount_percent=percent, customer_ip=f"203.0.113.{rng.randint(1, 254)}",
            created_on_utc=o.get("created_on_utc"))
        return _Plan(plan, labels)

    def _roll_anomalies(self) -> list[str]:
        if self.rng.random() >= self.bad_data_rate:
            return []
        count = 2 if self.rng.random() < 0.15 else 1
        return self.rng.sample(BAD_DATA, count)

    def _customer(self, o: dict[str, Any], bad_email: bool) -> tuple[Customer, int, Place, list[str]]:
        """Who buys: an existing customer, a new registration, or a guest; returns the billing address id."""
        rng, state = self.rng, self.state
        labels: list[str] = []
        if "customer_id" in o:
            customer = state.customers[o["customer_id"]]
            return customer, self._address_of(customer), self._place_of(customer), labels
        if self._registered is None:
            self._registered = [c.id for c in state.customers.values() if ROLE_REGISTERED in c.role_ids
                                and c.address_ids and not c.is_system_account and c.id != state.api_customer_id]
        registered = self._registered
        roll = rng.random()
        guest = o.get("guest", roll < self.guest_rate)
        new = o.get("new_customer", not guest and roll < self.guest_rate + self.new_customer_rate)
        if not guest and not new and not bad_email and registered:
            customer = state.customers[rng.choice(registered)]
            if not customer.deleted:
                return customer, self._address_of(customer), self._place_of(customer), labels
        person = make_person(rng, o.get("country"))
        if o.get("messy_address", rng.random() < 0.35) and messy_address(rng, person):
            labels.append("messy_address")
        email = o.get("email") or (invalid_email(rng, person.first_name, person.last_name) if bad_email
                                   else person.email)
        address_id = self._add_address(person, email)
        now = state.clock()
        customer = Customer(id=state.next_id("customer"), customer_guid=new_guid(), email=None, username=None,
                            role_ids=[ROLE_GUESTS], created_on_utc=now, last_activity_date_utc=now,
                            address_ids=[address_id], billing_address_id=address_id, shipping_address_id=address_id)
        if guest:
            labels.append("guest")
        else:
            labels.append("new_customer")
            customer.email = customer.username = email
            customer.first_name, customer.last_name = person.first_name.strip(), person.last_name.strip()
            customer.company = person.company
            customer.role_ids = [ROLE_REGISTERED]
            customer.password = "secret-" + new_guid()[:8]
            kind = o.get("customer_type", rng.choice(CUSTOMER_TYPES) if rng.random() < 0.7 else None)
            if kind:
                value = state.customer_attributes[CUSTOMER_TYPE_ID].value_named(kind)
                customer.custom_customer_attributes_xml = (
                    f'<Attributes><CustomerAttribute ID="{CUSTOMER_TYPE_ID}"><CustomerAttributeValue>'
                    f"<Value>{value.id}</Value></CustomerAttributeValue></CustomerAttribute></Attributes>")
        if not guest and not bad_email:        # a bad e-mail never shops again, so labels stay the truth
            registered.append(customer.id)
        state.add_customer(customer)
        return customer, address_id, person.place, labels

    def _add_address(self, person: Person, email: str) -> int:
        directory = self.state.directory
        country = directory.country(person.place.country)
        province = directory.state(person.place.country, person.place.state) if person.place.state else None
        return self.state.add_address(
            first_name=person.first_name, last_name=person.last_name, email=email, company=person.company,
            country_id=country.id, state_province_id=province.id if province else None, city=person.city,
            address1=person.address1, address2=person.address2, zip_postal_code=person.postcode,
            phone_number=person.phone).id

    def _address_of(self, customer: Customer) -> int:
        return customer.billing_address_id or customer.address_ids[0]

    def _place_of(self, customer: Customer) -> Place:
        address = self.state.addresses[self._address_of(customer)]
        country = self.state.directory.countries.get(address.country_id or 0)
        iso = country.two_letter_iso_code if country else "US"
        same = [p for p in PLACES if p.country == iso]
        if address.state_province_id:
            abbreviation = self.state.directory.states[address.state_province_id].abbreviation
            same = [p for p in same if p.state == abbreviation] or same
        if same:
            return same[0]
        return next(p for p in PLACES if p.country == "US" and p.tax_rate == 0)

    def _buyable(self) -> list[Product]:
        out = []
        for product in self.state.products.values():
            f = product.fields
            if (f["deleted"] or not f["published"] or f["disable_buy_button"] or f["product_type_id"] != 5
                    or f["is_rental"] or product.sku in {sku for _, sku, _ in WEB_ONLY_PRODUCTS}):
                continue
            if product.manages_stock and product.stock_quantity < max(f["order_minimum_quantity"], 1):
                continue
            out.append(product)
        return out

    def _lines(self, o: dict[str, Any], anomalies: list[str]) -> list[CartLine]:
        if "lines" in o:
            return [self._explicit_line(raw) for raw in o["lines"]]
        rng = self.rng
        buyable = self._buyable()
        count = rng.choices([c for c, _ in _LINE_COUNTS], [w for _, w in _LINE_COUNTS])[0]
        chosen = rng.sample(buyable, min(count, len(buyable)))
        lines = [self._line_for(product) for product in chosen]
        if "unknown_sku" in anomalies:
            lines.append(self._line_for(self._web_only_product()))
        if "zero_price" in anomalies:
            plain = [line for line in lines if not self.state.products[line.product_id].fields["customer_enters_price"]]
            (rng.choice(plain) if plain else lines[0]).unit_price = ZERO
        if "huge_quantity" in anomalies:
            self._make_huge(lines)
        return lines

    def _explicit_line(self, raw: Any) -> CartLine:
        if isinstance(raw, (tuple, list)):
            raw = {"sku": raw[0], "quantity": raw[1]}
        product = (self.state.products[raw["product_id"]] if "product_id" in raw
                   else self.state.product_by_sku(raw["sku"]))
        if product is None:
            raise PlaceOrderError(f"no product with SKU {raw.get('sku')!r}")
        line = self._line_for(product, raw.get("quantity"))
        if raw.get("quantity") is not None:
            line.quantity = int(raw["quantity"])          # exactly as asked, even beyond stock
        if raw.get("unit_price") is not None:
            line.unit_price = money(raw["unit_price"])
        return line

    def _line_for(self, product: Product, quantity: int | None = None) -> CartLine:
        rng, f = self.rng, product.fields
        if quantity is None:
            quantity = rng.choices((1, rng.randint(2, 3), rng.randint(4, 10)), (65, 25, 10))[0]
        quantity = max(quantity, f["order_minimum_quantity"])
        if product.manages_stock:
            quantity = max(1, min(quantity, product.stock_quantity))
        line = CartLine(product_id=product.id, quantity=quantity)
        if f["customer_enters_price"]:
            low, high = f["minimum_customer_entered_price"], f["maximum_customer_entered_price"]
            line.unit_price = money(rng.choice([v for v in (1, 3, 5, 10, 25, 50) if low <= v <= high] or [low]))
        if f["is_gift_card"]:
            self._gift_card_info(line)
        elif product.attributes:
            self._choose_attributes(product, line)
        return line

    def _choose_attributes(self, product: Product, line: CartLine) -> None:
        rng = self.rng
        parts, described, adjustment = [], [], ZERO
        for mapping in product.attributes:
            if not mapping.is_required and rng.random() < 0.5:
                continue
            if mapping.attribute_control_type_id == ATTRIBUTE_CONTROL_TYPE["TextBox"]:
                text = rng.choice(_CUSTOM_TEXTS)
                parts.append(f'<ProductAttribute ID="{mapping.id}"><ProductAttributeValue><Value>{_xml(text)}</Value>'
                             "</ProductAttributeValue></ProductAttribute>")
                described.append(f"{_html(mapping.product_attribute_name)}: {_html(text)}")
                continue
            if not mapping.values:
                continue
            many = mapping.attribute_control_type_id == ATTRIBUTE_CONTROL_TYPE["Checkboxes"]
            picked = rng.sample(mapping.values, rng.randint(1, min(2, len(mapping.values)))) if many \
                else [rng.choice(mapping.values)]
            values = "".join(f"<ProductAttributeValue><Value>{v.id}</Value></ProductAttributeValue>" for v in picked)
            parts.append(f'<ProductAttribute ID="{mapping.id}">{values}</ProductAttribute>')
            for value in picked:
                text = f"{_html(mapping.product_attribute_name)}: {_html(value.name)}"
                if value.price_adjustment > 0:
                    text += f" [+${value.price_adjustment:.2f}]"
                described.append(text)
                adjustment += value.price_adjustment
        if parts:
            line.attributes_xml = "<Attributes>" + "".join(parts) + "</Attributes>"
            line.attribute_description = "<br />".join(described)
            line.price_adjustment = adjustment

    def _gift_card_info(self, line: CartLine) -> None:
        rng = self.rng
        sender, recipient = make_person(rng), make_person(rng)
        s_name, r_name = f"{sender.first_name} {sender.last_name}", f"{recipient.first_name} {recipient.last_name}"
        line.attributes_xml = (
            f"<Attributes><GiftCardInfo><RecipientName>{_xml(r_name)}</RecipientName><RecipientEmail>"
            f"{recipient.email}</RecipientEmail><SenderName>{_xml(s_name)}</SenderName><SenderEmail>{sender.email}"
            "</SenderEmail><Message></Message></GiftCardInfo></Attributes>")
        line.attribute_description = (f"From: {_html(s_name)} &lt;{sender.email}&gt;<br />"
                                      f"For: {_html(r_name)} &lt;{recipient.email}&gt;")

    def _make_huge(self, lines: list[CartLine]) -> None:
        rng = self.rng
        roomy = [line for line in lines if not self.state.products[line.product_id].manages_stock
                 or self.state.products[line.product_id].stock_quantity >= 500]
        if not roomy:
            product = next(p for p in self._buyable() if not p.manages_stock)
            roomy = [self._line_for(product)]
            lines.append(roomy[0])
        line = rng.choice(roomy)
        product = self.state.products[line.product_id]
        ceiling = min(product.fields["order_maximum_quantity"],
                      product.stock_quantity if product.manages_stock else 10**6, 5000)
        line.quantity = rng.randint(min(500, ceiling), ceiling)

    def _web_only_product(self) -> Product:
        name, sku, price = self.rng.choice(WEB_ONLY_PRODUCTS)
        product = self.state.product_by_sku(sku)
        if product is not None and product.stock_quantity > 10:
            return product
        if product is not None:
            product.fields["stock_quantity"] = 500
            self.state.product_changed(product.id)
            return product
        now = self.state.clock()
        fields = defaults(PRODUCT_FIELDS)
        fields.update(name=name, sku=sku, price=money(price), stock_quantity=500, manage_inventory_method_id=1,
                      low_stock_activity_id=1, product_type_id=5, weight=money("0.5"), created_on_utc=now,
                      updated_on_utc=now, short_description="Sold on the web store only")
        return self.state.add_product(Product(id=self.state.next_id("product"), fields=fields, tags=["web-only"]))

    def _shipping(self, o: dict[str, Any], shippable: bool) -> tuple[str, bool]:
        if not shippable:
            return "Ground", False
        if "pickup_in_store" in o or "shipping_method" in o:
            return o.get("shipping_method", "Ground"), bool(o.get("pickup_in_store", False))
        method = self.rng.choices([m for m, _ in _SHIPPING], [w for _, w in _SHIPPING])[0]
        return ("Ground", True) if method == "pickup" else (method, False)

    def _payment(self, o: dict[str, Any]) -> tuple[str, str]:
        if "payment_status" in o:
            status = o["payment_status"]
            if status not in ("Pending", "Authorized", "Paid"):
                raise ValueError(f"payment_status {status!r}: Pending, Authorized or Paid")
            return ("Payments.CheckMoneyOrder" if status == "Pending" else "Payments.Manual"), status
        method, status, _ = self.rng.choices(_PAYMENTS, [w for *_, w in _PAYMENTS])[0]
        return method, status


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html(text: str) -> str:
    return _xml(text).replace('"', "&quot;")
