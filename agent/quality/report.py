"""Flags, the action each check takes, and how several flags become one decision.

A flag is what a person reads in the history, the errors window and an alert, so its `reason`
is one plain sentence that names the record and the numbers behind the suspicion; `data` holds
the same numbers for machines (JSON-safe: Decimals as strings).

Actions, weakest first:
- note: the order syncs as usual and the flag is kept with it;
- hold: the order is created in BNG with status OnHold, so nobody ships it before a person looks;
- quarantine: nothing is written; the order waits in the errors window until it is fixed.

Defaults are conservative: only what BNG would refuse anyway, or what would write wrong data
(a malformed e-mail, a negative price, an unknown currency, an incomplete address, an item BNG
does not have, a missing required field) is quarantined; every suspicion learned from history is
a note, because a legitimate order must never be stopped by a statistic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agent.config import QualitySettings

Action = Literal["note", "hold", "quarantine"]
Decision = Literal["ok", "note", "hold", "quarantine"]

# check name → default action. Validation checks first, then the anomaly checks.
DEFAULT_ACTIONS: dict[str, Action] = {
    "email": "quarantine",            # malformed or missing e-mail: BNG cannot create the customer
    "phone": "note",                  # a phone that is no phone at all ("n/a", "0"); sent as typed
    "address": "quarantine",          # no street, city, country, or postal code where one is used
    "custom_field": "quarantine",     # a BNG custom field marked required has no value
    "currency": "quarantine",         # not an ISO 4217 currency
    "bad_quantity": "quarantine",     # zero, negative or fractional quantity
    "negative_price": "quarantine",   # negative unit price or total
    "unknown_sku": "quarantine",      # BNG has no item with the SKU: it would refuse the line
    "zero_price": "note",             # a free line: often a gift, sometimes a pricing mistake
    "price_vs_list": "note",
    "quantity_spike": "note",
    "total_spike": "note",
    "burst": "note",
    "new_ship_country": "note",
}

STRENGTH: dict[str, int] = {"ok": 0, "note": 1, "hold": 2, "quarantine": 3}

_LABELS: dict[str, str] = {"note": "Noted", "hold": "On hold", "quarantine": "Quarantined"}


@dataclass(frozen=True)
class Flag:
    """One problem or suspicion about one record."""

    check: str
    action: Action
    reason: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def action_for(check: str, settings: QualitySettings | None) -> Action:
    """The configured action of a check, else its default."""
    if settings is not None and check in settings.actions:
        return settings.actions[check]
    return DEFAULT_ACTIONS[check]


def flag(check: str, reason: str, subject: str, settings: QualitySettings | None,
         **data: Any) -> Flag:
    """A Flag with the check's configured action and JSON-safe data."""
    return Flag(check, action_for(check, settings), reason, subject, {k: _plain(v) for k, v in data.items()})


def decide(flags: Iterable[Flag]) -> Decision:
    """The strongest action among the flags; "ok" when there are none."""
    decision: Decision = "ok"
    for f in flags:
        if STRENGTH[f.action] > STRENGTH[decision]:
            decision = f.action
    return decision


def summary(flags: Iterable[Flag]) -> str:
    """One line per flag, strongest first, each starting with what happens to the order."""
    ordered = sorted(flags, key=lambda f: -STRENGTH[f.action])
    if not ordered:
        return "No problems found."
    return "\n".join(f"{_LABELS[f.action]}: {f.reason}" for f in ordered)


# -- numbers in reasons ---------------------------------------------------------------------------

def to_decimal(value: Any) -> Decimal | None:
    """Money or a quantity as the API sent it (Decimal, float, int or text) → Decimal; None if absent.

    Floats go through `str` so 43.5 stays 43.5 rather than its binary neighbour.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def money(value: Decimal | float) -> str:
    """1234.5 → '1,234.50'."""
    return f"{Decimal(str(value)):,.2f}"


def number(value: Decimal | float) -> str:
    """A quantity without trailing zeros: 3 → '3', 2.50 → '2.5', 1200 → '1,200'."""
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.normalize():,f}"


def times(ratio: float) -> str:
    """How many times: 166.7 → '167×', 4.26 → '4.3×'."""
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def capital(text: str) -> str:
    """The text with a capital first letter and the rest untouched ("order ab-7" → "Order ab-7")."""
    return text[:1].upper() + text[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value
