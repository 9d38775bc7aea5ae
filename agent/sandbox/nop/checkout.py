"""What nopCommerce's OrderProcessingService does with an order (reference §1.1).

- `place_order` follows PlaceOrderAsync: cart checks (published, buyable, stock on hand), totals the
  way the store computes them, addresses cloned into new rows, the order saved Pending with the
  payment plugin's status, stock taken per line through `adjust_inventory`, then CheckOrderStatus —
  so a paid order is Processing at once (Complete when nothing needs shipping).
- `cancel_order`, `mark_paid`, `ship_order`, `deliver_order` are the admin's buttons that go
  through the service (unlike the API's PUT, which writes statuses directly).

Totals, all in the primary currency (USD) whatever the customer paid in:
  line      unit_excl = round2(price or tier price + attribute adjustments − SKU discount per unit)
            price_excl = unit_excl × qty; *_incl = *_excl × (1 + rate), four places, not rounded
  subtotal  Σ line price (+ gift wrapping), excl and incl
  shipping  flat by method, 0 when every shippable line has free shipping (shipping is not taxed)
  tax       subtotal_incl − subtotal_excl; tax_rates "rate:amount;   " ("" when there is none)
  discount  an order-total percentage of (subtotal + shipping + fee + tax), rounded to cents
  total     round2(subtotal_excl − subtotal discount + shipping + fee + tax − discount)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from agent.sandbox.nop.directory import format_price
from agent.sandbox.nop.model import (
    ORDER_STATUS,
    PAYMENT_STATUS,
    SHIPPING_STATUS,
    Order,
    OrderItem,
    Product,
    Shipment,
    ShipmentItem,
)
from agent.sandbox.nop.schema import ORDER_FIELDS, defaults
from agent.sandbox.nop.seed import GIFT_WRAPPING_ID
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import ZERO, money, round_price

FIXED_RATE_METHOD = "Shipping.FixedByWeightByTotal"
PICKUP_METHOD = "Pickup.PickupInStore"
SHIPPING_RATES = {"Ground": money(10), "2nd Day Air": money(25), "Next Day Air": money(40)}
PICKUP_NAME = "Pickup in store"
HUNDRED = Decimal(100)


class PlaceOrderError(Exception):
    """The store refused the order (the storefront would show these warnings)."""


class OrderActionError(Exception):
    """An admin action the order's state does not allow (CanCancelOrder, CanMarkOrderAsPaid...)."""


@dataclass
class CartLine:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None        # customer-entered price, or a price override
    attributes_xml: str | None = None
    attribute_description: str | None = None
    price_adjustment: Decimal = ZERO         # selected attribute values, per unit
    discount_per_unit: Decimal = ZERO        # an AssignedToSkus discount, per unit


@dataclass
class Checkout:
    customer_id: int
    lines: list[CartLine]
    billing_address_id: int                  # an address of the customer; the order gets a copy
    shipping_address_id: int | None = None
    shipping_method: str = "Ground"
    pickup_in_store: bool = False
    payment_method: str = "Payments.CheckMoneyOrder"
    payment_status: str = "Pending"          # the payment plugin's NewPaymentStatus
    currency_code: str = "USD"
    tax_rate: Decimal = ZERO                 # percent
    tax_display_type_id: int = 10
    gift_wrap: bool = False
    order_discount_percent: Decimal = ZERO
    payment_fee: Decimal = ZERO
    customer_ip: str = "127.0.0.1"
    custom_values_xml: str | None = None
    created_on_utc: datetime | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Line:
    product: Product
    cart: CartLine
    unit_excl: Decimal
    unit_incl: Decimal
    price_excl: Decimal
    price_incl: Decimal
    discount_excl: Decimal
    discount_incl: Decimal


def _rate_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _amount_text(value: Decimal) -> str:
    text = f"{value:.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def with_tax(amount: Decimal, rate: Decimal) -> Decimal:
    return money(amount * (1 + rate / HUNDRED))


def unit_price(product: Product, quantity: int) -> Decimal:
    """The product's price for this quantity: the best tier price reached, else the list price."""
    price = product.fields["price"]
    for tier in sorted(product.tier_prices, key=lambda t: t.quantity):
        if quantity >= tier.quantity:
            price = tier.price
    return price


def requires_shipping(state: NopState, lines: list[CartLine]) -> bool:
    return any(state.products[line.product_id].fields["is_ship_enabled"] for line in lines)


def _check_cart(state: NopState, checkout: Checkout) -> None:
    if checkout.customer_id not in state.customers:
        raise PlaceOrderError(f"Customer {checkout.customer_id} not found")
    if not checkout.lines:
        raise PlaceOrderError("Your Shopping Cart is empty!")
    wanted: dict[int, int] = {}
    for line in checkout.lines:
        product = state.products.get(line.product_id)
        if product is None or product.deleted:
            raise PlaceOrderError(f"Product {line.product_id} not found")
        f = product.fields
        if not f["published"]:
            raise PlaceOrderError(f"{f['name']}: product is not published")
        if f["product_type_id"] != 5:
            raise PlaceOrderError(f"{f['name']}: a grouped product cannot be added to the cart")
        if f["disable_buy_button"]:
            raise PlaceOrderError(f"{f['name']}: buying is disabled for this product")
        if line.quantity < f["order_minimum_quantity"]:
            raise PlaceOrderError(f"{f['name']}: the minimum quantity allowed for purchase is "
                                  f"{f['order_minimum_quantity']}")
        if line.quantity > f["order_maximum_quantity"]:
            raise PlaceOrderError(f"{f['name']}: the maximum quantity allowed for purchase is "
                                  f"{f['order_maximum_quantity']}")
        wanted[product.id] = wanted.get(product.id, 0) + line.quantity
    for product_id, quantity in wanted.items():
        product = state.products[product_id]
        if product.manages_stock and product.backorder_mode_id == 0 and quantity > product.stock_quantity:
            raise PlaceOrderError(f"{product.fields['name']}: your quantity exceeds stock on hand. The maximum "
                                  f"quantity that can be added is {max(product.stock_quantity, 0)}.")


def _price_lines(state: NopState, checkout: Checkout) -> list[_Line]:
    priced = []
    for cart in checkout.lines:
        product = state.products[cart.product_id]
        base = cart.unit_price if cart.unit_price is not None else unit_price(product, cart.quantity)
        unit_excl = max(round_price(base + cart.price_adjustment - cart.discount_per_unit), ZERO)
        price_excl = money(unit_excl * cart.quantity)
        discount_excl = money(cart.discount_per_unit * cart.quantity)
        priced.append(_Line(product, cart, unit_excl, with_tax(unit_excl, checkout.tax_rate), price_excl,
                            with_tax(price_excl, checkout.tax_rate), discount_excl,
                            with_tax(discount_excl, checkout.tax_rate)))
    return priced


def _shipping_cost(lines: list[_Line], checkout: Checkout, shipping_required: bool) -> Decimal:
    if not shipping_required or checkout.pickup_in_store:
        return ZERO
    shippable = [line for line in lines if line.product.fields["is_ship_enabled"]]
    if all(line.product.fields["is_free_shipping"] for line in shippable):
        return ZERO
    extra = sum((line.product.fields["additional_shipping_charge"] * line.cart.quantity for line in shippable
                 if not line.product.fields["is_free_shipping"]), ZERO)
    return money(SHIPPING_RATES.get(checkout.shipping_method, SHIPPING_RATES["Ground"]) + extra)


def _gift_wrapping(state: NopState, checkout: Checkout, rate: Decimal) -> tuple[str, str, Decimal]:
    """Checkout attribute XML, its formatted description, and its price in USD."""
    attribute = state.checkout_attributes[GIFT_WRAPPING_ID]
    value = attribute.value_named("Yes" if checkout.gift_wrap else "No")
    xml = (f'<Attributes><CheckoutAttribute ID="{attribute.id}"><CheckoutAttributeValue><Value>{value.id}'
           f"</Value></CheckoutAttributeValue></CheckoutAttribute></Attributes>")
    description = f"{attribute.name}: {value.name}"
    if value.price_adjustment > 0:
        shown = round_price(value.price_adjustment * rate)
        description += f" [+{format_price(shown, checkout.currency_code)}]"
    return xml, description, value.price_adjustment


def place_order(state: NopState, checkout: Checkout) -> Order:
    """Place an order as the storefront's checkout would; returns the saved order."""
    with state.lock:
        _check_cart(state, checkout)
        customer = state.customers[checkout.customer_id]
        currency = state.directory.currency(checkout.currency_code)
        shipping_required = requires_shipping(state, checkout.lines)
        lines = _price_lines(state, checkout)
        wrap_xml = wrap_description = None
        wrap_excl = ZERO
        if shipping_required:
            wrap_xml, wrap_description, wrap_excl = _gift_wrapping(state, checkout, currency.rate)
        subtotal_excl = money(sum((line.price_excl for line in lines), ZERO) + wrap_excl)
        subtotal_incl = money(sum((line.price_incl for line in lines), ZERO) + with_tax(wrap_excl, checkout.tax_rate))
        shipping = _shipping_cost(lines, checkout, shipping_required)
        fee = money(checkout.payment_fee)
        tax = subtotal_incl - subtotal_excl
        before_discount = subtotal_excl + shipping + fee + tax
        discount = round_price(before_discount * checkout.order_discount_percent / HUNDRED)
        total = round_price(before_discount - discount)

        created = checkout.created_on_utc or state.clock()
        billing = state.clone_address(checkout.billing_address_id, created).id
        shipping_address = None
        if shipping_required and not checkout.pickup_in_store and checkout.shipping_address_id:
            shipping_address = state.clone_address(checkout.shipping_address_id, created).id
        fields = defaults(ORDER_FIELDS)
        fields.update(
            customer_id=customer.id, created_on_utc=created, customer_ip=checkout.customer_ip,
            payment_method_system_name=checkout.payment_method, customer_currency_code=currency.currency_code,
            currency_rate=currency.rate, customer_tax_display_type_id=checkout.tax_display_type_id,
            order_subtotal_excl_tax=subtotal_excl, order_subtotal_incl_tax=subtotal_incl,
            order_shipping_excl_tax=shipping, order_shipping_incl_tax=shipping,
            payment_method_additional_fee_excl_tax=fee, payment_method_additional_fee_incl_tax=fee,
            order_tax=money(tax), order_discount=discount, order_total=total,
            tax_rates=f"{_rate_text(checkout.tax_rate)}:{_amount_text(tax)};   " if tax > 0 else "",
            checkout_attribute_description=wrap_description, custom_values_xml=checkout.custom_values_xml,
            pick_up_in_store=checkout.pickup_in_store and shipping_required,
            order_status_id=ORDER_STATUS["Pending"], payment_status_id=PAYMENT_STATUS[checkout.payment_status],
            shipping_status_id=SHIPPING_STATUS["NotYetShipped" if shipping_required else "ShippingNotRequired"])
        if shipping_required:
            pickup = checkout.pickup_in_store
            fields["shipping_method"] = PICKUP_NAME if pickup else checkout.shipping_method
            fields["shipping_rate_computation_method_system_name"] = PICKUP_METHOD if pickup else FIXED_RATE_METHOD
        order = Order(id=state.next_id("order"), fields=fields, billing_address_id=billing,
                      shipping_address_id=shipping_address, checkout_attributes_xml=wrap_xml)
        for line in lines:
            product = line.product
            order.items.append(OrderItem(
                id=state.next_id("order_item"), order_id=order.id, product_id=product.id,
                quantity=line.cart.quantity, unit_price_incl_tax=line.unit_incl, unit_price_excl_tax=line.unit_excl,
                price_incl_tax=line.price_incl, price_excl_tax=line.price_excl,
                discount_amount_incl_tax=line.discount_incl, discount_amount_excl_tax=line.discount_excl,
                original_product_cost=product.fields["product_cost"],
                attribute_description=line.cart.attribute_description, attributes_xml=line.cart.attributes_xml,
                item_weight=product.fields["weight"] if product.fields["is_ship_enabled"] else None))
        state.add_order(order)
        state.add_note(order, "Order placed")
        customer.last_activity_date_utc = created
    for item in order.items:
        state.adjust_inventory(item.product_id, -item.quantity,
                               f"The stock quantity has been reduced by placing the order #{order.id}")
    with state.lock:
        _check_order_status(state, order)
        state.counters["orders_placed"] += 1
        state.emit("orders/create", "order", order.id)
    return order


def _check_order_status(state: NopState, order: Order) -> None:
    """CheckOrderStatusAsync: Pending → Processing once paid/authorized or shipped; → Complete when done."""
    f = order.fields
    if f["payment_status_id"] == PAYMENT_STATUS["Paid"] and f["paid_date_utc"] is None:
        f["paid_date_utc"] = state.clock()
    pending = f["order_status_id"] == ORDER_STATUS["Pending"]
    if pending and f["payment_status_id"] in (PAYMENT_STATUS["Authorized"], PAYMENT_STATUS["Paid"]):
        f["order_status_id"] = ORDER_STATUS["Processing"]
    shipped = (SHIPPING_STATUS["PartiallyShipped"], SHIPPING_STATUS["Shipped"], SHIPPING_STATUS["Delivered"])
    if f["order_status_id"] == ORDER_STATUS["Pending"] and f["shipping_status_id"] in shipped:
        f["order_status_id"] = ORDER_STATUS["Processing"]
    if f["order_status_id"] in (ORDER_STATUS["Cancelled"], ORDER_STATUS["Complete"]):
        return
    if f["payment_status_id"] != PAYMENT_STATUS["Paid"]:
        return
    done = (SHIPPING_STATUS["ShippingNotRequired"], SHIPPING_STATUS["Delivered"])  # CompleteOrderWhenDelivered
    if f["shipping_status_id"] in done:
        f["order_status_id"] = ORDER_STATUS["Complete"]


def _order(state: NopState, order_id: int) -> Order:
    order = state.orders.get(order_id)
    if order is None or order.deleted:
        raise KeyError(order_id)
    return order


def cancel_order(state: NopState, order_id: int) -> Order:
    """CancelOrderAsync: allowed from any status but Cancelled; gives the stock back."""
    with state.lock:
        order = _order(state, order_id)
        if order.fields["order_status_id"] == ORDER_STATUS["Cancelled"]:
            raise OrderActionError("Cannot cancel order")
        order.fields["order_status_id"] = ORDER_STATUS["Cancelled"]
        state.add_note(order, "Order has been cancelled")
        items = list(order.items)
    for item in items:
        state.adjust_inventory(item.product_id, item.quantity,
                               f"The stock quantity has been increased by cancelling the order #{order_id}")
    with state.lock:
        state.emit("orders/update", "order", order_id)
    return order


def mark_paid(state: NopState, order_id: int) -> Order:
    """MarkOrderAsPaidAsync: not for cancelled orders nor ones already paid, refunded or voided."""
    with state.lock:
        order = _order(state, order_id)
        f = order.fields
        closed = (PAYMENT_STATUS["Paid"], PAYMENT_STATUS["Refunded"], PAYMENT_STATUS["Voided"])
        if f["order_status_id"] == ORDER_STATUS["Cancelled"] or f["payment_status_id"] in closed:
            raise OrderActionError("You can't mark this order as paid")
        f["payment_status_id"] = PAYMENT_STATUS["Paid"]
        f["paid_date_utc"] = state.clock()
        state.add_note(order, "Order has been marked as paid")
        _check_order_status(state, order)
        state.emit("orders/update", "order", order_id)
        return order


def ship_order(state: NopState, order_id: int, tracking_number: str | None = None) -> Shipment:
    """Create a shipment of everything not yet shipped and ship it (ShipAsync)."""
    with state.lock:
        order = _order(state, order_id)
        f = order.fields
        if f["shipping_status_id"] == SHIPPING_STATUS["ShippingNotRequired"]:
            raise OrderActionError("Shipping is not required for this order")
        shipped: dict[int, int] = {}
        for shipment in state.shipments_of(order_id):
            for item in shipment.items:
                shipped[item.order_item_id] = shipped.get(item.order_item_id, 0) + item.quantity
        now = state.clock()
        shipment = Shipment(id=state.next_id("shipment"), order_id=order_id, tracking_number=tracking_number,
                            created_on_utc=now, shipped_date_utc=now)
        weight = ZERO
        for item in order.items:
            product = state.products[item.product_id]
            remaining = item.quantity - shipped.get(item.id, 0)
            if remaining > 0 and product.fields["is_ship_enabled"]:
                shipment.items.append(ShipmentItem(state.next_id("shipment_item"), item.id, remaining))
                weight += (item.item_weight or ZERO) * remaining
        if not shipment.items:
            raise OrderActionError("Nothing left to ship")
        shipment.total_weight = money(weight)
        state.shipments[shipment.id] = shipment
        f["shipping_status_id"] = SHIPPING_STATUS["Shipped"]
        state.add_note(order, f"Shipment# {shipment.id} has been sent")
        _check_order_status(state, order)
        state.emit("orders/update", "order", order_id)
        return shipment


def deliver_order(state: NopState, order_id: int) -> Order:
    """Mark every shipment delivered (DeliverAsync); a paid order becomes Complete."""
    with state.lock:
        order = _order(state, order_id)
        shipments = state.shipments_of(order_id)
        if not shipments or any(s.shipped_date_utc is None for s in shipments):
            raise OrderActionError("Ship the order first")
        now = state.clock()
        for shipment in shipments:
            shipment.delivery_date_utc = shipment.delivery_date_utc or now
        order.fields["shipping_status_id"] = SHIPPING_STATUS["Delivered"]
        state.add_note(order, "Order has been delivered")
        _check_order_status(state, order)
        state.emit("orders/update", "order", order_id)
        return order
