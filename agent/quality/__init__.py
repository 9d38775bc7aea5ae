"""Data quality: catch bad or suspicious orders before they reach BNG, and say why.

`validate_order` finds what BNG would refuse or store wrongly (e-mail, address, currency,
quantities, prices, required fields); `detect_anomalies` finds what is valid but unlike this
shop's usual, learned from `OrderHistory` in the local store. Both return `Flag`s whose `reason`
a person reads; `decide` turns them into what happens to the order (ok, note, hold, quarantine).
"""

from agent.quality.anomalies import detect_anomalies
from agent.quality.checks import normalize_phone, validate_order
from agent.quality.history import OrderHistory
from agent.quality.report import DEFAULT_ACTIONS, Flag, decide, summary

__all__ = ["DEFAULT_ACTIONS", "Flag", "OrderHistory", "decide", "detect_anomalies", "normalize_phone",
           "summary", "validate_order"]
