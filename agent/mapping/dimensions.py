"""Financial dimensions (cost center, channel, department) for a BNG sales order.

Accounting wants every web order booked to the right cost center and channel, and BNG refuses an
order without its required dimensions. The merchant keeps an ordered rule table
(`DimensionRule`): for each dimension the first rule whose conditions all hold decides. A rule
without conditions is the catch-all, so it belongs last.

Conditions (a list means "any of"; text compares without regard to case):
- store_id, country (ship-to ISO alpha-2, or billing when nothing ships), currency (the
  currency the order is sent in), customer_role (any of the customer's roles, by name or system
  name), customer_type, payment_method (system name, e.g. "Payments.CheckMoneyOrder"),
  shipping_method (as the shopper saw it, e.g. "Ground");
- category: some line's BNG item category is the value or lies under it ("Computers" matches
  "Computers/Notebooks");
- total_min / total_max: the order total in the store's primary currency, inclusive bounds.

The value `@item.department` takes the department of the order's BNG items. When the lines
disagree, the line with the highest line total decides (ties: the earlier line), since that is
where most of the revenue is booked. Lines whose item has no department are not counted; if none
has one, the rule is passed over and the next rule for the dimension gets its turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.config import DimensionRule
from agent.mapping.errors import MappingError
from agent.mapping.money import to_decimal

CONDITIONS = ("store_id", "country", "currency", "customer_role", "customer_type", "payment_method",
              "shipping_method", "category", "total_min", "total_max")
ITEM_DEPARTMENT = "@item.department"


@dataclass(frozen=True)
class LineContext:
    """One order line as the rules see it: its BNG item's department and category."""

    sku: str
    line_total: Decimal = Decimal(0)
    department: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class OrderContext:
    """The facts about an order that dimension rules may test."""

    store_id: int | None = None
    country: str | None = None
    currency: str | None = None
    customer_roles: tuple[str, ...] = ()
    customer_type: str | None = None
    payment_method: str | None = None
    shipping_method: str | None = None
    total: Decimal | None = None
    lines: tuple[LineContext, ...] = ()


def context_from_nop_order(order: Mapping[str, Any], *, country: str | None,
                           items: Mapping[str, Mapping[str, Any]] | None = None,
                           customer_roles: Iterable[str] = (), customer_type: str | None = None,
                           currency: str | None = None) -> OrderContext:
    """An OrderContext from a store OrderDto plus the BNG items by SKU (for department/category).

    `country` is the resolved ship-to country (billing when nothing ships); `currency` the one the
    order goes to BNG in (defaults to the shopper's currency).
    """
    items = items or {}
    lines = []
    for item in order.get("order_items") or []:
        sku = (item.get("product") or {}).get("sku") or item.get("product_sku") or ""
        bng = items.get(sku) or {}
        lines.append(LineContext(sku=sku, line_total=to_decimal(item.get("price_excl_tax", 0), "line total"),
                                 department=bng.get("department"), category=bng.get("category")))
    total = order.get("order_total")
    return OrderContext(store_id=order.get("store_id"), country=country,
                        currency=currency or order.get("customer_currency_code"),
                        customer_roles=tuple(customer_roles), customer_type=customer_type,
                        payment_method=order.get("payment_method_system_name"),
                        shipping_method=order.get("shipping_method"),
                        total=None if total is None else to_decimal(total, "order total"), lines=tuple(lines))


# -- conditions ----------------------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _fold(value: Any) -> str:
    return str(value).strip().casefold()


def _bound(value: Any, rule_no: int, name: str) -> Decimal:
    try:
        # a bound typed in the TOML file may be a float; its text form is what the merchant wrote
        return Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"Dimension rule {rule_no}: {name} '{value}' is not a number") from None


def _check(name: str, expected: Any, ctx: OrderContext, rule_no: int) -> tuple[bool, str]:
    """(holds, a short explanation) for one condition."""
    wanted = _as_list(expected)
    shown = " or ".join(str(w) for w in wanted) if len(wanted) <= 5 else f"one of {len(wanted)} values"
    if name in ("total_min", "total_max"):
        bound = _bound(expected, rule_no, name)
        if ctx.total is None:
            return False, "the order total is unknown"
        holds = ctx.total >= bound if name == "total_min" else ctx.total <= bound
        sign = "≥" if name == "total_min" else "≤"
        return holds, f"total {ctx.total} {sign} {bound}" if holds else f"total {ctx.total} is not {sign} {bound}"
    if name == "customer_role":
        have = {_fold(r) for r in ctx.customer_roles}
        holds = any(_fold(w) in have for w in wanted)
        roles = ", ".join(ctx.customer_roles) or "none"
        return holds, f"customer roles {roles} {'include' if holds else 'lack'} {shown}"
    if name == "category":
        cats = [line.category for line in ctx.lines if line.category]
        holds = any(_fold(c) == _fold(w) or _fold(c).startswith(_fold(w) + "/") for c in cats for w in wanted)
        listed = ", ".join(dict.fromkeys(cats)) or "none"
        return holds, f"categories {listed} {'match' if holds else 'do not match'} {shown}"
    actual = getattr(ctx, name)
    holds = actual is not None and any(_fold(actual) == _fold(w) for w in wanted)
    label = name.replace("_", " ")
    return holds, f"{label} is {actual if actual is not None else 'unknown'}" + ("" if holds else f", not {shown}")


def _show_condition(name: str, value: Any) -> str:
    """'country US', 'country any of AT, BE, BG, HR, CY, CZ … (27 in all)'."""
    if not isinstance(value, list | tuple | set | frozenset):
        return f"{name} {value}"
    values = [str(v) for v in value]
    shown = ", ".join(values[:6]) + (f" … ({len(values)} in all)" if len(values) > 6 else "")
    return f"{name} any of {shown}"


def _validate_rule(rule: DimensionRule, rule_no: int) -> None:
    unknown = [k for k in rule.when if k not in CONDITIONS]
    if unknown:
        raise MappingError(f"Dimension rule {rule_no} ({rule.dimension}) has the unknown condition "
                           f"{', '.join(repr(u) for u in unknown)}; conditions are {', '.join(CONDITIONS)}")
    if rule.value.startswith("@") and rule.value != ITEM_DEPARTMENT:
        raise MappingError(f"Dimension rule {rule_no} ({rule.dimension}) takes its value from '{rule.value}', "
                           f"but only {ITEM_DEPARTMENT} is supported")


def rule_matches(rule: DimensionRule, ctx: OrderContext, rule_no: int = 0) -> tuple[bool, list[str]]:
    """Whether every condition of the rule holds, with one explanation per condition."""
    _validate_rule(rule, rule_no)
    reasons = []
    holds = True
    for name, expected in rule.when.items():
        ok, why = _check(name, expected, ctx, rule_no)
        reasons.append(why)
        holds = holds and ok
    return holds, reasons


def item_department(ctx: OrderContext) -> tuple[str | None, str]:
    """The department of the order's items (the largest line's when they differ), and why."""
    with_dept = [(i, line) for i, line in enumerate(ctx.lines) if line.department]
    if not with_dept:
        return None, "no item of the order has a department"
    departments = {line.department for _, line in with_dept}
    if len(departments) == 1:
        return with_dept[0][1].department, "the department of every item"
    _, best = max(with_dept, key=lambda pair: (pair[1].line_total, -pair[0]))
    return best.department, f"the department of the largest line ({best.sku}, {best.line_total})"


def _value(rule: DimensionRule, ctx: OrderContext) -> tuple[str | None, str]:
    if rule.value == ITEM_DEPARTMENT:
        return item_department(ctx)
    return rule.value, ""


# -- resolution ----------------------------------------------------------------------------------

def _decide(rules: Sequence[DimensionRule], ctx: OrderContext) -> tuple[dict[str, str], list[str]]:
    """Dimension values (first matching rule per dimension) and the story of how they were found."""
    chosen: dict[str, str] = {}
    decided_by: dict[str, int] = {}
    story: list[str] = []
    for rule_no, rule in enumerate(rules, 1):
        dim = rule.dimension.strip().upper()
        conditions = ", ".join(_show_condition(k, v) for k, v in rule.when.items()) or "always"
        head = f"{dim}: rule {rule_no} ({conditions} → {rule.value})"
        if dim in chosen:
            _validate_rule(rule, rule_no)
            story.append(f"{head} not considered: rule {decided_by[dim]} already set {dim}")
            continue
        holds, reasons = rule_matches(rule, ctx, rule_no)
        if not holds:
            story.append(f"{head} does not match: " + "; ".join(r for r in reasons))
            continue
        value, why = _value(rule, ctx)
        if value is None:
            story.append(f"{head} matches but gives no value ({why}); the next rule decides")
            continue
        chosen[dim] = value
        decided_by[dim] = rule_no
        because = "; ".join(reasons + ([why] if why else []))
        story.append(f"{head} matches → {value}" + (f" ({because})" if because else ""))
    return chosen, story


def validate_dimensions(values: Mapping[str, str], definitions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The values with BNG's own spelling; unknown codes/values or a missing required one → MappingError."""
    by_code = {_fold(d["code"]): d for d in definitions}
    result: dict[str, str] = {}
    for dim, value in values.items():
        definition = by_code.get(_fold(dim))
        if definition is None:
            raise MappingError(f"The dimension rules set '{dim}', which is not a BNG dimension (BNG has "
                               f"{', '.join(d['code'] for d in definitions) or 'none'}); fix the rules under "
                               "Mappings → Dimensions")
        codes = [v["code"] for v in definition.get("values") or []]
        match = next((c for c in codes if _fold(c) == _fold(value)), None)
        if match is None:
            raise MappingError(f"Dimension {definition['code']} has no value '{value}' in BNG (BNG allows "
                               f"{', '.join(codes) or 'none'}); add it in BNG or fix the rules under "
                               "Mappings → Dimensions")
        result[definition["code"]] = match
    missing = [d["code"] for d in definitions if d.get("required_on_sales_orders") and d["code"] not in result]
    if missing:
        raise MappingError(f"BNG requires the dimension{'s' if len(missing) > 1 else ''} {', '.join(missing)} on "
                           "sales orders, but no rule gave this order a value; add a catch-all rule under "
                           "Mappings → Dimensions")
    return result


def resolve_dimensions(rules: Sequence[DimensionRule], ctx: OrderContext,
                       definitions: Sequence[Mapping[str, Any]] | None = None) -> dict[str, str]:
    """Dimension code → value code for the order; checked against BNG's definitions when given."""
    chosen, _ = _decide(rules, ctx)
    return validate_dimensions(chosen, definitions) if definitions is not None else chosen


def explain(rules: Sequence[DimensionRule], ctx: OrderContext,
            definitions: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """Rule by rule, which one matched per dimension and why (the UI's "test on order" preview).

    Problems that would stop the order are the last line instead of an exception, so the preview
    always shows the whole story.
    """
    try:
        chosen, story = _decide(rules, ctx)
    except MappingError as exc:
        return [f"problem: {exc.reason}"]
    if definitions is not None:
        try:
            final = validate_dimensions(chosen, definitions)
            story.append("result: " + (", ".join(f"{k} = {v}" for k, v in final.items()) or "no dimensions"))
        except MappingError as exc:
            story.append(f"problem: {exc.reason}")
    else:
        story.append("result: " + (", ".join(f"{k} = {v}" for k, v in chosen.items()) or "no dimensions"))
    return story
