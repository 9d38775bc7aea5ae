from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import CurrencySettings
from agent.mapping import MappingError
from agent.mapping.money import (
    CurrencyChoice,
    LineInput,
    OrderMoney,
    allocate,
    build_order_money,
    choose_currency,
    convert,
    currency_precision,
    order_money_from_nop,
    round_money,
    to_bng_decimal,
    to_decimal,
)

D = Decimal
BNG_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]{1,4})?$")
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "JPY", "KWD"]
RATES = [D("1"), D("0.86"), D("1.32"), D("0.75"), D("110.45"), D("0.3071"), D("8.8")]


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(D(1).scaleb(-currency_precision(currency)), rounding=ROUND_HALF_UP)


def assert_bng_rules(money: OrderMoney) -> None:
    """BNG's validation rule, exactly (not within 0.01), plus the shape of every number."""
    step = D(1).scaleb(-currency_precision(money.currency))
    for line in money.lines:
        assert line.line_total == line.quantity * line.unit_price - line.discount_amount
        assert line.discount_amount >= 0 and line.line_total >= 0 and line.unit_price >= 0
        for value in (line.unit_price, line.discount_amount, line.line_total, line.tax_amount):
            assert value == value.quantize(step)
    assert money.total == sum((x.line_total for x in money.lines), D(0)) + money.shipping_amount \
        + money.tax_amount - money.discount_amount
    assert sum((x.tax_amount for x in money.lines), D(0)) == money.tax_amount
    payload = money.as_bng()
    for key in ("shipping_amount", "tax_amount", "discount_amount", "total", "exchange_rate"):
        assert BNG_DECIMAL.match(payload[key]), payload[key]
    for line in payload["lines"]:
        for key in ("quantity", "unit_price", "discount_amount", "tax_amount", "line_total"):
            assert BNG_DECIMAL.match(line[key]), line[key]
    # BNG's own check, on the strings it would receive
    lines_sum = sum((D(x["line_total"]) for x in payload["lines"]), D(0))
    assert D(payload["total"]) == lines_sum + D(payload["shipping_amount"]) + D(payload["tax_amount"]) \
        - D(payload["discount_amount"])


# -- helpers -------------------------------------------------------------------------------------

def test_to_bng_decimal():
    assert to_bng_decimal(D("1299.50")) == "1299.50"
    assert to_bng_decimal(D("1299.5")) == "1299.5"
    assert to_bng_decimal(D("1E+3")) == "1000"
    assert to_bng_decimal(D("0.00005")) == "0.0001"
    assert to_bng_decimal(D("1.23456")) == "1.2346"
    assert to_bng_decimal(D("-0.00")) == "0.00"
    assert to_bng_decimal(7) == "7"
    assert to_bng_decimal("43.5000") == "43.5000"
    with pytest.raises(TypeError):
        to_bng_decimal(1.5)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        to_decimal(0.1)
    with pytest.raises(TypeError):
        build_order_money([LineInput("A", 1, D(1), 1.0)], order_total=D(1))
    with pytest.raises(TypeError):
        build_order_money([LineInput("A", 1, D(1), D(1))], order_total=D(1), rate=0.86, currency="EUR")
    with pytest.raises(TypeError):
        build_order_money([LineInput("A", 1.0, D(1), D(1))], order_total=D(1))  # type: ignore[arg-type]
    with pytest.raises(MappingError):
        to_decimal("twelve")


def test_currency_precision_and_rounding():
    assert [currency_precision(c) for c in ("USD", "JPY", "KWD", "eur")] == [2, 0, 3, 2]
    assert round_money(D("2.345"), "USD") == D("2.35")  # half up, not banker's
    assert round_money(D("0.5"), "JPY") == D("1")
    assert convert(D("10.005"), D("110.45"), "JPY") == D("1105")
    assert convert(D("1"), D("0.3071"), "KWD") == D("0.307")
    with pytest.raises(MappingError):
        currency_precision("DOLLARS")


def test_allocate_largest_remainder_ties_to_earlier_line():
    assert allocate(10, [D(1), D(1), D(1)]) == [4, 3, 3]
    assert allocate(2, [D(1), D(1), D(1)]) == [1, 1, 0]
    assert allocate(100, [D("0.3333"), D("0.3333"), D("0.3334")]) == [33, 33, 34]
    assert allocate(5, [D(0), D(0)]) == [3, 2]
    assert allocate(-5, [D(1), D(1)]) == [-3, -2]
    assert allocate(0, [D(5)]) == [0]


def test_choose_currency():
    customer = CurrencySettings()
    assert choose_currency(customer, "EUR", D("0.86")) == CurrencyChoice("EUR", D("0.86"))
    assert choose_currency(customer, None, None) == CurrencyChoice("USD", D(1))
    assert choose_currency(CurrencySettings(mode="primary"), "EUR", D("0.86")) == CurrencyChoice("USD", D(1))
    fixed = CurrencySettings(mode="fixed", code="EUR")
    assert choose_currency(fixed, "EUR", D("0.86")) == CurrencyChoice("EUR", D("0.86"))
    assert choose_currency(fixed, "USD", D(1), rates={"EUR": D("0.86")}).rate == D("0.86")
    assert choose_currency(CurrencySettings(mode="fixed", code="USD"), "GBP", D("0.75")).rate == D(1)
    with pytest.raises(MappingError, match="no exchange rate"):
        choose_currency(fixed, "GBP", D("0.75"))
    with pytest.raises(MappingError, match="must be above zero"):
        choose_currency(customer, "EUR", D(0))
    assert choose_currency(customer, "JPY", D("110.45")).exchange_rate == "110.45"


# -- the sample orders ---------------------------------------------------------------------------

@pytest.mark.parametrize("order_id", [1, 2, 3, 4, 5])
def test_sample_orders_in_usd(nop_sample, order_id):
    order = next(o for o in nop_sample["orders"] if o["expected_id"] == order_id)
    money = order_money_from_nop(order, choose_currency(CurrencySettings(), order["customer_currency_code"],
                                                        order["currency_rate"]))
    assert_bng_rules(money)
    assert money.total == order["order_total"]
    assert money.notes == []
    for line, item in zip(money.lines, order["order_items"], strict=True):
        assert line.sku == item["product_sku"]
        assert line.unit_price == item["unit_price_excl_tax"]
        assert line.line_total == item["price_excl_tax"]
        assert line.discount_amount == 0
    assert money.as_bng()["total"] == to_bng_decimal(rounded(D(order["order_total"]), "USD"))


@pytest.mark.parametrize("order_id", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("currency", "rate"), [("EUR", D("0.86")), ("JPY", D("110.45")), ("GBP", D("0.75")),
                                                ("KWD", D("0.3071"))])
def test_sample_orders_converted(nop_sample, order_id, currency, rate):
    order = next(o for o in nop_sample["orders"] if o["expected_id"] == order_id)
    money = order_money_from_nop(order, CurrencyChoice(currency, rate))
    assert_bng_rules(money)
    assert money.total == rounded(D(order["order_total"]) * rate, currency)


def test_sample_order_3_in_jpy(nop_sample):
    order = next(o for o in nop_sample["orders"] if o["expected_id"] == 3)  # 3 + 2.80 + 3 = 8.80
    money = order_money_from_nop(order, CurrencyChoice("JPY", D("110.45")))
    assert money.total == D("972")  # 8.80 × 110.45 = 971.96
    # 972 by 3 : 2.80 : 3 = 331.36 / 309.27 / 331.36; the spare yen goes to the earlier of the tied lines,
    # whose unit price (331.35 → 331) then rises to 332 rather than carry a negative discount
    assert [x.line_total for x in money.lines] == [D(332), D(309), D(331)]
    assert [x.unit_price for x in money.lines] == [D(332), D(309), D(331)]
    assert money.as_bng()["lines"][1] == {"item_no": "NIGHT_VSN", "quantity": "1", "unit_price": "309",
                                          "discount_amount": "0", "tax_amount": "0", "line_total": "309"}


# -- discounts, fees, tax ------------------------------------------------------------------------

def test_subtotal_discount_is_spread_over_the_lines():
    lines = [LineInput("A", 2, D("30"), D("60")), LineInput("B", 1, D("40"), D("40"))]
    money = build_order_money(lines, subtotal_discount_excl_tax=D("10"), order_total=D("90"))
    assert [(x.unit_price, x.discount_amount, x.line_total) for x in money.lines] == [
        (D("30.00"), D("6.00"), D("54.00")), (D("40.00"), D("4.00"), D("36.00"))]
    assert money.discount_amount == 0


def test_order_total_discount_stays_on_the_order():
    lines = [LineInput("A", 1, D("100"), D("100"))]
    money = build_order_money(lines, order_discount=D("25"), shipping_excl_tax=D("10"), order_tax=D("5"),
                              order_total=D("90"))
    assert (money.discount_amount, money.shipping_amount, money.tax_amount, money.total) == (
        D("25.00"), D("10.00"), D("5.00"), D("90.00"))
    assert money.lines[0].line_total == D("100.00")
    assert_bng_rules(money)


def test_item_discount_shows_as_line_discount():
    # 3 × 20.00 with 5.00 off the line: the store's unit price is already discounted (18.3333)
    lines = [LineInput("A", 3, D("18.3333"), D("55.00"), D("5.00"))]
    money = build_order_money(lines, order_total=D("55"))
    line = money.lines[0]
    assert (line.unit_price, line.discount_amount, line.line_total) == (D("20.00"), D("5.00"), D("55.00"))


def test_discount_on_part_of_the_quantity():
    # maximum discounted quantity 1: 1 × 8.00 + 2 × 10.00 = 28.00, line discount 2.00
    money = build_order_money([LineInput("A", 3, D("8"), D("28"), D("2"))], order_total=D("28"))
    assert (money.lines[0].unit_price, money.lines[0].discount_amount) == (D("10.00"), D("2.00"))


def test_fee_and_checkout_charges_join_shipping():
    lines = [LineInput("A", 1, D("50"), D("50"))]
    money = build_order_money(lines, shipping_excl_tax=D("5"), payment_fee_excl_tax=D("1.50"),
                              order_total=D("66.50"), order_subtotal_excl_tax=D("60"))
    assert money.shipping_amount == D("16.50")
    assert money.notes == ["payment method fee 1.50 and checkout attribute charges 10 (store currency) "
                           "included in BNG's shipping amount"]
    assert_bng_rules(money)


def test_tiny_subtotal_gap_is_store_rounding_not_a_charge():
    lines = [LineInput("A", 3, D("9.0909"), D("27.2727"))]  # 30.00 incl. 10 % tax
    money = build_order_money(lines, order_tax=D("2.7273"), order_total=D("30"),
                              order_subtotal_excl_tax=D("27.2730"))
    assert money.shipping_amount == 0 and money.total == D("30.00") and money.notes == []
    assert_bng_rules(money)


def test_tax_is_spread_by_line_total():
    lines = [LineInput("A", 1, D("10"), D("10")), LineInput("B", 1, D("20"), D("20")),
             LineInput("C", 1, D("0"), D("0"))]
    money = build_order_money(lines, order_tax=D("2.00"), order_total=D("32"))
    assert [x.tax_amount for x in money.lines] == [D("0.67"), D("1.33"), D("0.00")]


def test_rounding_never_makes_a_negative_discount():
    # 3 for 10.00 (3.3333 each): 3 × 3.33 = 9.99 < 10.00, so the unit price goes up a cent
    money = build_order_money([LineInput("A", 3, D("3.3333"), D("10.00"))], order_total=D("10"))
    line = money.lines[0]
    assert (line.unit_price, line.discount_amount, line.line_total) == (D("3.34"), D("0.02"), D("10.00"))


def test_store_rounding_drift_is_noted_then_refused():
    lines = [LineInput("A", 1, D("10"), D("10")), LineInput("B", 1, D("10"), D("10"))]
    money = build_order_money(lines, order_total=D("20.015"))
    assert money.total == D("20.02") and "differs by 0.015" in money.notes[0]
    assert_bng_rules(money)
    with pytest.raises(MappingError, match=r"do not add up.*difference -5"):
        build_order_money(lines, order_total=D("15"))


def test_gift_cards_as_other_deductions():
    lines = [LineInput("A", 1, D("50"), D("50"))]
    money = build_order_money(lines, order_total=D("25"), other_deductions=D("25"))
    assert (money.discount_amount, money.total) == (D("25.00"), D("25.00"))


def test_bad_orders():
    with pytest.raises(MappingError, match="no items"):
        build_order_money([], order_total=D(0))
    with pytest.raises(MappingError, match="quantity 0"):
        build_order_money([LineInput("A", 0, D(1), D(0))], order_total=D(0))
    with pytest.raises(MappingError, match="negative"):
        build_order_money([LineInput("A", 1, D(1), D(-1))], order_total=D(-1))


# -- properties ----------------------------------------------------------------------------------

def amounts(max_units: int) -> st.SearchStrategy[Decimal]:
    """Store amounts: four decimals, like the store's decimal(18,4) columns."""
    return st.integers(0, max_units * 10_000).map(lambda n: D(n).scaleb(-4))


@st.composite
def store_orders(draw):
    lines, prices = [], []
    for _ in range(draw(st.integers(1, 8))):
        quantity = draw(st.integers(1, 60))
        gross_unit = draw(amounts(3000))
        gross = gross_unit * quantity
        discount = draw(st.integers(0, int(gross * 10_000)).map(lambda n: D(n).scaleb(-4)))
        price = gross - discount
        lines.append(LineInput(f"SKU{len(lines)}", quantity, (price / quantity).quantize(D("0.0001")), price,
                               discount))
        prices.append(price)
    goods = sum(prices, D(0))
    sub_discount = draw(st.integers(0, int(goods * 10_000)).map(lambda n: D(n).scaleb(-4)))
    shipping, fee, tax = draw(amounts(80)), draw(amounts(10)), draw(amounts(400))
    charges = draw(st.one_of(st.just(D(0)), st.integers(1, 20).map(D)))  # checkout attribute prices
    before_discount = goods + charges - sub_discount + shipping + fee + tax
    order_discount = draw(st.integers(0, int(before_discount * 10_000)).map(lambda n: D(n).scaleb(-4)))
    return {"lines": lines, "subtotal_discount_excl_tax": sub_discount, "order_discount": order_discount,
            "shipping_excl_tax": shipping, "payment_fee_excl_tax": fee, "order_tax": tax,
            "order_total": before_discount - order_discount, "order_subtotal_excl_tax": goods + charges}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=store_orders(), currency=st.sampled_from(CURRENCIES), rate=st.sampled_from(RATES))
def test_bng_rules_hold_exactly(order, currency, rate):
    money = build_order_money(**order, rate=rate, currency=currency)
    assert_bng_rules(money)
    # the total is the store's total converted; tax, shipping and discount each converted once
    assert money.total == rounded(order["order_total"] * rate, currency)
    assert money.tax_amount == rounded(order["order_tax"] * rate, currency)
    charges = order["order_subtotal_excl_tax"] - sum((x.price_excl_tax for x in order["lines"]), D(0))
    assert money.shipping_amount == rounded(
        (order["shipping_excl_tax"] + order["payment_fee_excl_tax"] + charges) * rate, currency)
    assert money.discount_amount >= rounded(order["order_discount"] * rate, currency)
    assert not [n for n in money.notes if "differs" in n]  # self-consistent input: nothing to report
    # unit prices stay within a few minor units of the store's undiscounted unit price, converted
    # (half a unit of rounding plus at most the few units of remainder a line can receive)
    step = D(1).scaleb(-currency_precision(currency))
    for line, source in zip(money.lines, order["lines"], strict=True):
        gross_unit = (source.price_excl_tax + source.discount_excl_tax) / source.quantity * rate
        assert abs(line.unit_price - gross_unit) <= 4 * step


@settings(max_examples=200, deadline=None)
@given(cents=st.lists(st.tuples(st.integers(1, 20), st.integers(0, 500_000)), min_size=1, max_size=6),
       shipping=st.integers(0, 5000), tax=st.integers(0, 20_000))
def test_no_phantom_discounts_in_the_primary_currency(cents, shipping, tax):
    lines = [LineInput(f"S{i}", q, D(c).scaleb(-2), D(c * q).scaleb(-2)) for i, (q, c) in enumerate(cents)]
    total = sum((x.price_excl_tax for x in lines), D(0)) + D(shipping).scaleb(-2) + D(tax).scaleb(-2)
    money = build_order_money(lines, shipping_excl_tax=D(shipping).scaleb(-2), order_tax=D(tax).scaleb(-2),
                              order_total=total)
    assert all(x.discount_amount == 0 for x in money.lines)
    assert [x.line_total for x in money.lines] == [x.price_excl_tax for x in lines]
    assert money.total == total and money.notes == []
