from __future__ import annotations

from decimal import Decimal

import pytest

from agent.config import DimensionRule, MappingSettings
from agent.mapping import MappingError
from agent.mapping.dimensions import (
    LineContext,
    OrderContext,
    context_from_nop_order,
    explain,
    item_department,
    resolve_dimensions,
)

DEFAULT_RULES = MappingSettings().dimensions
D = Decimal


@pytest.fixture
def definitions(bng_sample) -> list[dict]:
    return bng_sample["dimensions"]


@pytest.fixture
def bng_items(bng_sample) -> dict[str, dict]:
    return {item["item_no"]: item for item in bng_sample["items"]}


def order_context(nop_sample, bng_items, order_id, country):
    order = next(o for o in nop_sample["orders"] if o["expected_id"] == order_id)
    return context_from_nop_order({**order, "store_id": 1}, country=country, items=bng_items,
                                  customer_roles=["Registered"])


@pytest.mark.parametrize(("order_id", "country", "expected"), [
    (1, "US", {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE", "DEPARTMENT": "ELEC"}),  # camera 1300 > gift card 25
    (2, "GB", {"COSTCENTER": "WEB-ROW", "CHANNEL": "ONLINE", "DEPARTMENT": "JEWEL"}),
    (3, "GB", {"COSTCENTER": "WEB-ROW", "CHANNEL": "ONLINE", "DEPARTMENT": "DIGITAL"}),
    (4, "US", {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE", "DEPARTMENT": "BOOKS"}),
    (5, "CA", {"COSTCENTER": "WEB-CA", "CHANNEL": "ONLINE", "DEPARTMENT": "APPAREL"}),
])
def test_sample_orders_with_default_rules(nop_sample, bng_items, definitions, order_id, country, expected):
    ctx = order_context(nop_sample, bng_items, order_id, country)
    assert resolve_dimensions(DEFAULT_RULES, ctx, definitions) == expected


@pytest.mark.parametrize(("country", "center"), [("DE", "WEB-EU"), ("fr", "WEB-EU"), ("JP", "WEB-ROW"),
                                                 ("GB", "WEB-ROW"), (None, "WEB-ROW")])
def test_cost_center_by_country(country, center, definitions):
    assert resolve_dimensions(DEFAULT_RULES, OrderContext(country=country), definitions)["COSTCENTER"] == center


def test_department_of_the_largest_line_ties_to_the_earlier():
    lines = (LineContext("A", D("10"), "BOOKS"), LineContext("B", D("50"), "ELEC"), LineContext("C", D("50"), "GIFT"),
             LineContext("D", D("99"), None))
    assert item_department(OrderContext(lines=lines))[0] == "ELEC"
    assert item_department(OrderContext(lines=lines[:1]))[0] == "BOOKS"


def test_no_department_passes_to_the_next_rule(definitions):
    ctx = OrderContext(country="US", lines=(LineContext("X", D(5)),))
    assert "DEPARTMENT" not in resolve_dimensions(DEFAULT_RULES, ctx, definitions)  # optional in BNG
    rules = [*DEFAULT_RULES, DimensionRule(dimension="DEPARTMENT", value="GIFT")]
    assert resolve_dimensions(rules, ctx, definitions)["DEPARTMENT"] == "GIFT"


def test_conditions():
    ctx = OrderContext(store_id=2, country="US", currency="EUR", customer_roles=("Registered", "Wholesalers"),
                       customer_type="Wholesale", payment_method="Payments.CheckMoneyOrder",
                       shipping_method="Ground", total=D("250.00"),
                       lines=(LineContext("A", D(250), "ELEC", "Computers/Notebooks"),))

    def first(when):
        return resolve_dimensions([DimensionRule(dimension="CHANNEL", value="B2B", when=when),
                                   DimensionRule(dimension="CHANNEL", value="ONLINE")], ctx)["CHANNEL"]

    assert first({"store_id": 2}) == "B2B"
    assert first({"store_id": [1, 3]}) == "ONLINE"
    assert first({"currency": "eur"}) == "B2B"
    assert first({"customer_role": "wholesalers"}) == "B2B"
    assert first({"customer_role": ["Administrators"]}) == "ONLINE"
    assert first({"customer_type": ["Wholesale", "Education"]}) == "B2B"
    assert first({"payment_method": "Payments.CheckMoneyOrder", "shipping_method": "Ground"}) == "B2B"
    assert first({"payment_method": "Payments.CheckMoneyOrder", "shipping_method": "Next Day Air"}) == "ONLINE"
    assert first({"category": "Computers"}) == "B2B"
    assert first({"category": "Computers/Notebooks"}) == "B2B"
    assert first({"category": "Comp"}) == "ONLINE"
    assert first({"total_min": 250, "total_max": "250.00"}) == "B2B"
    assert first({"total_min": 250.01}) == "ONLINE"
    assert first({"total_max": 100}) == "ONLINE"
    assert resolve_dimensions([DimensionRule(dimension="CHANNEL", value="B2B", when={"total_min": 1})],
                              OrderContext()) == {}


def test_unknown_condition_or_template():
    with pytest.raises(MappingError, match="rule 1 \\(CHANNEL\\) has the unknown condition 'contry'"):
        resolve_dimensions([DimensionRule(dimension="CHANNEL", value="ONLINE", when={"contry": "US"})],
                           OrderContext())
    with pytest.raises(MappingError, match=r"only @item\.department"):
        resolve_dimensions([DimensionRule(dimension="CHANNEL", value="@item.color")], OrderContext())


def test_checked_against_bng(definitions):
    with pytest.raises(MappingError, match="no value 'WEB-MARS' in BNG \\(BNG allows WEB-US, WEB-CA"):
        resolve_dimensions([DimensionRule(dimension="COSTCENTER", value="WEB-MARS")], OrderContext(), definitions)
    with pytest.raises(MappingError, match="'PROJECT', which is not a BNG dimension"):
        resolve_dimensions([*DEFAULT_RULES, DimensionRule(dimension="PROJECT", value="P1")], OrderContext(),
                           definitions)
    with pytest.raises(MappingError, match="requires the dimension COSTCENTER on sales orders"):
        resolve_dimensions([DimensionRule(dimension="CHANNEL", value="ONLINE")], OrderContext(), definitions)
    # BNG's spelling wins
    rules = [DimensionRule(dimension="costcenter", value="web-us"), DimensionRule(dimension="CHANNEL", value="online")]
    assert resolve_dimensions(rules, OrderContext(), definitions) == {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE"}


def test_explain(nop_sample, bng_items, definitions):
    story = explain(DEFAULT_RULES, order_context(nop_sample, bng_items, 5, "CA"), definitions)
    assert story[0] == "COSTCENTER: rule 1 (country US → WEB-US) does not match: country is CA, not US"
    assert story[1] == "COSTCENTER: rule 2 (country CA → WEB-CA) matches → WEB-CA (country is CA)"
    assert story[2] == ("COSTCENTER: rule 3 (country any of AT, BE, BG, HR, CY, CZ … (27 in all) → WEB-EU) "
                        "not considered: rule 2 already set COSTCENTER")
    assert story[4] == "CHANNEL: rule 5 (always → ONLINE) matches → ONLINE"
    assert story[5] == ("DEPARTMENT: rule 6 (always → @item.department) matches → APPAREL "
                        "(the department of every item)")
    assert story[-1] == "result: COSTCENTER = WEB-CA, CHANNEL = ONLINE, DEPARTMENT = APPAREL"


def test_explain_reports_problems_instead_of_raising(definitions):
    story = explain([DimensionRule(dimension="CHANNEL", value="ONLINE")], OrderContext(), definitions)
    assert story[-1].startswith("problem: BNG requires the dimension COSTCENTER")
    assert explain([DimensionRule(dimension="X", value="Y", when={"bad": 1})], OrderContext())[0].startswith(
        "problem: Dimension rule 1")
    assert explain([], OrderContext()) == ["result: no dimensions"]


def test_context_from_nop_order(nop_sample, bng_items):
    ctx = order_context(nop_sample, bng_items, 1, "US")
    assert ctx.store_id == 1 and ctx.currency == "USD" and ctx.total == 1855
    assert ctx.payment_method == "Payments.CheckMoneyOrder" and ctx.shipping_method == "Ground"
    assert [(x.sku, x.department, x.category) for x in ctx.lines] == [
        ("APPLE_CAM", "ELEC", bng_items["APPLE_CAM"]["category"]),
        ("LT_MIR_DC", "ELEC", bng_items["LT_MIR_DC"]["category"]),
        ("VG_CR_025", "GIFT", bng_items["VG_CR_025"]["category"])]
