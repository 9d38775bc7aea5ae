"""Value formats of the BNG API: decimal strings, UTC timestamps and opaque list cursors.

BNG never sends floats: money and quantities travel as decimal strings with at most 4 fraction
digits, and the double keeps them as `Decimal` so that 0.1 + 0.2 is 0.3 here as in the ERP.
Timestamps are rendered in one fixed-width form (millisecond precision, trailing Z) so that the
stored strings compare chronologically; `modified_since` filters rely on that.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DECIMAL_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,4})?$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?P<frac>\.\d+)?(?P<tz>[Zz]|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FOUR_PLACES = Decimal("0.0001")


# -- decimals ------------------------------------------------------------------------------------
def parse_decimal(value: object) -> Decimal | None:
    """The Decimal of a contract decimal string, or None when `value` is not one (floats included)."""
    if not isinstance(value, str) or not DECIMAL_RE.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        return None


def money(value: Decimal) -> str:
    """Money as BNG renders it: always four fraction digits ("1299.5000")."""
    text = format(value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP), "f")
    return "0.0000" if text == "-0.0000" else text


def quantity(value: Decimal) -> str:
    """A quantity without trailing zeros ("34", "37.5"), at most four fraction digits."""
    value = value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- timestamps ----------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """The canonical fixed-width form: 2026-11-01T08:00:00.000Z (UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_datetime(text: object) -> datetime | None:
    """An RFC 3339 date-time (offset required), or None. Fractions beyond microseconds are cut."""
    if not isinstance(text, str):
        return None
    found = _DATETIME_RE.match(text)
    if not found:
        return None
    frac = found.group("frac") or ""
    tz = found.group("tz")
    core = text[: found.start("frac")] if frac else text[: found.start("tz")]
    tz = "+00:00" if tz in ("Z", "z") else tz
    try:
        return datetime.fromisoformat(core.replace("t", "T").replace(" ", "T") + frac[:7] + tz)
    except ValueError:
        return None


def parse_date(text: object) -> bool:
    """True for an ISO calendar date (2026-11-27), as a `date` custom field holds."""
    if not isinstance(text, str) or not _DATE_RE.match(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def canonical_since(moment: datetime) -> str:
    """`modified_since` as a canonical string; rounded *up* to the millisecond so that comparing
    it with stored (millisecond) timestamps keeps the filter exactly inclusive."""
    moment = moment.astimezone(UTC)
    if moment.microsecond % 1000:
        moment = truncate_ms(moment) + timedelta(milliseconds=1)
    return timestamp(moment)


def normalize_timestamp(text: str) -> str:
    """A seed timestamp in any RFC 3339 form, re-rendered canonically."""
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"bad timestamp in sample data: {text!r}")
    return timestamp(moment)


def seconds_until(deadline: float, now: float) -> int:
    """Whole seconds to wait, never less than one (what Retry-After carries)."""
    return max(1, math.ceil(deadline - now))


# -- cursors -------------------------------------------------------------------------------------
def encode_cursor(kind: str, key: int) -> str:
    """An opaque cursor naming the list and the stable key of the last record handed out."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int | None:
    """The key inside a cursor made by `encode_cursor(kind, ...)`, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    name, _, key = raw.partition(":")
    if name != kind or not key.isdigit():
        return None
    return int(key)
