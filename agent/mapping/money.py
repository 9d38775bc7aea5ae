"""The money part of a BNG sales order, exact to the last cent.

BNG refuses an order whose numbers do not add up (line_total = quantity × unit_price −
discount_amount; total = Σ line_total + shipping_amount + tax_amount − discount_amount). The web
store keeps four decimals in its primary currency, while BNG gets the order converted into another
currency and rounded to that currency's minor unit (JPY 0, USD 2, KWD 3). Rounding every number on
its own would break the sums by a cent here and there, so everything below is computed in whole
minor units (integers) and the remainders are handed out by fixed rules. Floats never enter:
every input is a Decimal, int or numeric string, and a float raises TypeError.

Rules (the accounting team can rely on them):
- Currency: `CurrencySettings.mode` "customer" (default) writes the order in the shopper's
  currency at the order's own `currency_rate`; "primary" in the store's primary currency
  (`CurrencySettings.code`) at rate 1; "fixed" in `code`. The store's primary currency is assumed
  to be BNG's base currency (USD), so `exchange_rate` (order currency per 1 USD) is the store's
  `currency_rate` as it is.
- Rounding: ROUND_HALF_UP to the currency's minor unit (babel's currency precision).
- Total: BNG's total is the store's order total converted and rounded — the amount the shopper
  was charged — and never anything else.
- Tax, shipping and the order-level discount are each converted and rounded once. The lines
  together get the rest (total − tax − shipping + discount), so the sum always closes exactly.
- Lines: the rest is allocated to the lines in proportion to the store's line totals
  (largest-remainder method, ties to the earlier line). That is where the store's subtotal
  discount ("AssignedToOrderSubTotal") goes: it is spread over the lines, because it is a discount
  on the goods and belongs in the item revenue BNG reports. The store's order-total discount
  ("AssignedToOrderTotal", taken off after shipping and tax) stays BNG's order-level
  `discount_amount`.
- unit_price is the store's undiscounted unit price ((line total + line discount) / quantity),
  converted; `discount_amount` is what makes quantity × unit_price come down to the line total —
  the line's own discount, its share of the subtotal discount and any rounding cent. If rounding
  would make that discount negative, the unit price goes up by the fewest minor units that avoid it.
- The payment method's additional fee and checkout-attribute charges (gift wrapping …) have no
  BNG item to land on, so they are added to `shipping_amount` and named in `notes`.
- Tax is also spread over the lines (same largest-remainder rule, by line total) for information;
  the line tax amounts add up to the order's tax.
- If the store's own numbers do not add up (its rounding drift), the difference is named in
  `notes` and absorbed by the lines; if it is more than 0.01 per line, the order is refused with
  a MappingError, since something (gift cards, reward points, a plugin) changed the total in a
  way these rules cannot see — pass such amounts as `other_deductions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from math import floor
from typing import Any

from babel.numbers import get_currency_precision

from agent.config import CurrencySettings
from agent.mapping.errors import MappingError

Amount = Decimal | int | str
BNG_BASE_CURRENCY = "USD"
_FOUR = Decimal("0.0001")


def to_decimal(value: Any, what: str = "amount") -> Decimal:
    """A Decimal from a Decimal, int or numeric string; floats are refused (TypeError)."""
    if isinstance(value, float):
        raise TypeError(f"{what} is a float ({value!r}); money must be a Decimal, int or string")
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{what} must be a number, not {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MappingError(f"The {what} '{value}' is not a number") from None
    else:
        raise TypeError(f"{what} must be a Decimal, int or string, not {type(value).__name__}")
    if not result.is_finite():
        raise MappingError(f"The {what} '{value}' is not a number")
    return result


def to_bng_decimal(value: Amount) -> str:
    """BNG's decimal string: plain notation, at most 4 fraction digits (ROUND_HALF_UP), e.g. "1299.50"."""
    d = to_decimal(value)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -4:
        d = d.quantize(_FOUR, rounding=ROUND_HALF_UP)
    elif exponent > 0:
        d = d.quantize(Decimal(1))
    text = format(d, "f")
    return text[1:] if text.startswith("-") and d == 0 else text


def currency_precision(currency: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3)."""
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise MappingError(f"'{currency}' is not a currency code (expected three letters like USD)")
    return int(get_currency_precision(code))


def round_money(amount: Amount, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit."""
    return to_decimal(amount).quantize(Decimal(1).scaleb(-currency_precision(currency)), rounding=ROUND_HALF_UP)


def convert(amount: Amount, rate: Amount, currency: str) -> Decimal:
    """A primary-currency amount in the order currency, rounded to its minor unit."""
    return round_money(to_decimal(amount) * to_decimal(rate, "exchange rate"), currency)


# -- which currency ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CurrencyChoice:
    """The currency BNG gets and the rate from the store's primary currency (= BNG base, USD)."""

    code: str
    rate: Decimal

    @property
    def exchange_rate(self) -> str:
        """BNG's `exchange_rate`: order-currency units per 1 unit of BNG's base currency."""
        return to_bng_decimal(self.rate)


def choose_currency(settings: CurrencySettings, customer_currency_code: str | None,
                    currency_rate: Amount | None, *, rates: Mapping[str, Amount] | None = None,
                    primary_code: str = BNG_BASE_CURRENCY) -> CurrencyChoice:
    """The order's BNG currency under the configured mode.

    "customer": the order's currency and its own rate (the primary currency at rate 1 when the
    order has none). "primary": `settings.code` at rate 1. "fixed": `settings.code`, at the order's
    rate when it is the order's currency, else from `rates` (the store's currency table: units per
    1 primary unit), else rate 1 when it is `primary_code`; otherwise MappingError.
    """
    customer = (customer_currency_code or "").strip().upper()
    if settings.mode == "customer":
        if not customer:
            return CurrencyChoice(settings.code, Decimal(1))
        currency_precision(customer)
        return CurrencyChoice(customer, _rate(currency_rate, customer))
    if settings.mode == "primary":
        return CurrencyChoice(settings.code, Decimal(1))
    code = settings.code
    if code == customer and currency_rate is not None:
        return CurrencyChoice(code, _rate(currency_rate, code))
    if rates and code in rates:
        return CurrencyChoice(code, _rate(rates[code], code))
    if code == primary_code.upper():
        return CurrencyChoice(code, Decimal(1))
    raise MappingError(f"Orders are set to be sent to BNG in {code}, but there is no exchange rate from "
                       f"{primary_code} to {code}; add {code} to the store's currencies or change "
                       "the currency setting")


def _rate(value: Amount | None, code: str) -> Decimal:
    if value is None:
        raise MappingError(f"The order has no exchange rate for {code}")
    rate = to_decimal(value, "exchange rate")
    if rate <= 0:
        raise MappingError(f"The order's exchange rate for {code} is {value}; it must be above zero")
    return rate


# -- the order's numbers -------------------------------------------------------------------------

@dataclass(frozen=True)
class LineInput:
    """One store order item, amounts excluding tax in the store's primary currency.

    `price_excl_tax` is the line total after the item's discounts and `discount_excl_tax` the
    discount already taken off it. `unit_price_excl_tax` is the store's (already discounted) unit
    price; it is kept for reference only, because with a discount limited to some of the units
    quantity × unit price is not the line total.
    """

    sku: str
    quantity: int
    unit_price_excl_tax: Amount
    price_excl_tax: Amount
    discount_excl_tax: Amount = 0


@dataclass(frozen=True)
class LineMoney:
    sku: str
    quantity: int
    unit_price: Decimal
    discount_amount: Decimal
    line_total: Decimal
    tax_amount: Decimal

    def as_bng(self) -> dict[str, str]:
        """The money fields of a BNG SalesOrderLine (item_no is the SKU as given)."""
        return {"item_no": self.sku, "quantity": str(self.quantity),
                "unit_price": to_bng_decimal(self.unit_price), "discount_amount": to_bng_decimal(self.discount_amount),
                "tax_amount": to_bng_decimal(self.tax_amount), "line_total": to_bng_decimal(self.line_total)}


@dataclass
class OrderMoney:
    currency: str
    rate: Decimal
    lines: list[LineMoney]
    shipping_amount: Decimal
    tax_amount: Decimal
    discount_amount: Decimal
    total: Decimal
    notes: list[str] = field(default_factory=list)

    def as_bng(self) -> dict[str, Any]:
        """The money fields of a BNG SalesOrderCreate, as decimal strings."""
        return {"currency": self.currency, "exchange_rate": to_bng_decimal(self.rate),
                "lines": [line.as_bng() for line in self.lines],
                "shipping_amount": to_bng_decimal(self.shipping_amount),
                "tax_amount": to_bng_decimal(self.tax_amount),
                "discount_amount": to_bng_decimal(self.discount_amount), "total": to_bng_decimal(self.total)}


def allocate(amount: int, weights: Sequence[Amount]) -> list[int]:
    """Split whole minor units in proportion to `weights` (largest remainder; ties → lower index).

    All-zero weights split evenly. The parts always add up to `amount` exactly.
    """
    if not weights:
        raise ValueError("nothing to allocate to")
    if amount < 0:
        return [-part for part in allocate(-amount, weights)]
    fractions = [Fraction(to_decimal(w)) for w in weights]
    if any(f < 0 for f in fractions):
        raise ValueError("weights must not be negative")
    total = sum(fractions)
    if total == 0:
        fractions, total = [Fraction(1)] * len(weights), Fraction(len(weights))
    shares = [Fraction(amount) * f / total for f in fractions]
    parts = [floor(s) for s in shares]
    rest = amount - sum(parts)
    for i in sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))[:rest]:
        parts[i] += 1
    return parts


def build_order_money(lines: Sequence[LineInput], subtotal_discount_excl_tax: Amount = 0,
                      order_discount: Amount = 0, shipping_excl_tax: Amount = 0, payment_fee_excl_tax: Amount = 0,
                      order_tax: Amount = 0, order_total: Amount | None = None, rate: Amount = 1,
                      currency: str = BNG_BASE_CURRENCY, *, order_subtotal_excl_tax: Amount | None = None,
                      other_deductions: Amount = 0) -> OrderMoney:
    """BNG order amounts from the store's numbers (see the module's rules).

    All amounts are in the store's primary currency; `rate` is order-currency units per primary
    unit. `order_subtotal_excl_tax`, when given, reveals checkout-attribute charges (the part of
    the subtotal that is not on any line). `other_deductions` are amounts the store took off the
    total outside these fields (gift cards, reward points); they join the order-level discount.
    """
    if not lines:
        raise MappingError("The order has no items, and BNG needs at least one order line")
    if order_total is None:
        raise TypeError("order_total is required")
    currency = currency.strip().upper()
    precision = currency_precision(currency)
    rate_d = _rate(rate, currency)
    notes: list[str] = []

    def minor(amount: Decimal) -> int:
        return int((amount * rate_d).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP).scaleb(precision))

    def money(units: int) -> Decimal:
        return Decimal(units).scaleb(-precision).quantize(Decimal(1).scaleb(-precision))

    quantities, prices, discounts = [], [], []
    for n, line in enumerate(lines, 1):
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise TypeError(f"line {n} ({line.sku}): quantity must be an int")
        if quantity <= 0:
            raise MappingError(f"Order line {n} ({line.sku}) has quantity {quantity}; BNG needs a positive quantity")
        price = _non_negative(line.price_excl_tax, f"line {n} ({line.sku}) total")
        discount = _non_negative(line.discount_excl_tax, f"line {n} ({line.sku}) discount")
        to_decimal(line.unit_price_excl_tax, f"line {n} ({line.sku}) unit price")
        quantities.append(quantity)
        prices.append(price)
        discounts.append(discount)

    sub_discount = _non_negative(subtotal_discount_excl_tax, "subtotal discount")
    total_discount = _non_negative(order_discount, "order discount") + _non_negative(other_deductions,
                                                                                       "other deductions")
    shipping = _non_negative(shipping_excl_tax, "shipping amount")
    fee = _non_negative(payment_fee_excl_tax, "payment method fee")
    tax = _non_negative(order_tax, "tax amount")
    total = _non_negative(order_total, "order total")
    lines_sum = sum(prices, Decimal(0))
    tolerance = Decimal("0.01") * len(lines)

    charges = Decimal(0)
    if order_subtotal_excl_tax is not None:
        charges = to_decimal(order_subtotal_excl_tax, "order subtotal") - lines_sum
        if abs(charges) <= tolerance:  # the store's rounding of tax-inclusive prices, not a charge
            charges = Decimal(0)
        elif charges < 0:
            notes.append(f"the store's subtotal is {-charges} below the sum of its lines; the lines were used")
            charges = Decimal(0)

    expected = lines_sum + charges - sub_discount + shipping + fee + tax - total_discount
    drift = total - expected
    if abs(drift) > tolerance:
        raise MappingError(
            f"The order's numbers do not add up: items {lines_sum} + charges {charges} − subtotal discount "
            f"{sub_discount} + shipping {shipping} + payment fee {fee} + tax {tax} − discounts {total_discount} "
            f"= {expected}, but the order total is {total} (difference {drift}). Gift cards, reward points or "
            "a plugin may have changed the total; check the order in the web store")
    if drift:
        notes.append(f"the store's order total differs by {drift} from the sum of its parts (store rounding); "
                     "the difference was absorbed by the order lines")
    if fee or charges:
        parts = [f"payment method fee {fee}"] if fee else []
        parts += [f"checkout attribute charges {charges}"] if charges else []
        notes.append(" and ".join(parts) + " (store currency) included in BNG's shipping amount")

    total_units = minor(total)
    tax_units = minor(tax)
    shipping_units = minor(shipping + fee + charges)
    discount_units = minor(total_discount)
    lines_units = total_units - tax_units - shipping_units + discount_units
    if lines_units < 0:  # only with odd data (a discount larger than the goods): keep lines at zero
        discount_units -= lines_units
        lines_units = 0

    line_totals = allocate(lines_units, prices)
    line_taxes = allocate(tax_units, line_totals)
    result: list[LineMoney] = []
    for line, quantity, price, discount, line_total, line_tax in zip(
            lines, quantities, prices, discounts, line_totals, line_taxes, strict=True):
        unit = minor((price + discount) / quantity)
        line_discount = quantity * unit - line_total
        if line_discount < 0:
            unit = -(-line_total // quantity)  # ceil: the smallest unit price without a negative discount
            line_discount = quantity * unit - line_total
        result.append(LineMoney(line.sku, quantity, money(unit), money(line_discount), money(line_total),
                                money(line_tax)))

    return OrderMoney(currency=currency, rate=rate_d, lines=result, shipping_amount=money(shipping_units),
                      tax_amount=money(tax_units), discount_amount=money(discount_units), total=money(total_units),
                      notes=notes)


def _non_negative(value: Amount, what: str) -> Decimal:
    d = to_decimal(value, what)
    if d < 0:
        raise MappingError(f"The order's {what} is negative ({d})")
    return d


def lines_from_nop_order(order: Mapping[str, Any]) -> list[LineInput]:
    """LineInputs from a store OrderDto (`order_items`, SKU from `product.sku` or `product_sku`)."""
    result = []
    for item in order.get("order_items") or []:
        product = item.get("product") or {}
        sku = product.get("sku") or item.get("product_sku") or item.get("sku") or ""
        result.append(LineInput(sku=sku, quantity=item["quantity"],
                                unit_price_excl_tax=item.get("unit_price_excl_tax", 0),
                                price_excl_tax=item["price_excl_tax"],
                                discount_excl_tax=item.get("discount_amount_excl_tax", 0) or 0))
    return result


def order_money_from_nop(order: Mapping[str, Any], choice: CurrencyChoice,
                         other_deductions: Amount = 0) -> OrderMoney:
    """`build_order_money` fed from a store OrderDto (numbers parsed as Decimal, never float)."""
    return build_order_money(
        lines_from_nop_order(order),
        subtotal_discount_excl_tax=order.get("order_sub_total_discount_excl_tax") or 0,
        order_discount=order.get("order_discount") or 0,
        shipping_excl_tax=order.get("order_shipping_excl_tax") or 0,
        payment_fee_excl_tax=order.get("payment_method_additional_fee_excl_tax") or 0,
        order_tax=order.get("order_tax") or 0,
        order_total=order["order_total"],
        rate=choice.rate, currency=choice.code,
        order_subtotal_excl_tax=order.get("order_subtotal_excl_tax"),
        other_deductions=other_deductions)
