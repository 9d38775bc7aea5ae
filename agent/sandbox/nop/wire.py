"""How the store's API plugin writes and reads values on the wire.

The plugin serializes with Newtonsoft.Json from entities read out of SQL Server, which gives the
agent three habits to cope with, reproduced here:

- decimals come from `decimal(18,4)` columns and keep their scale, so money is written `43.5000`
  (a JSON number, never a string). The standard `json` module cannot write a number with a chosen
  scale, so `dumps` marks Decimals on the way in and turns the marks back into bare numbers.
- dates are UTC but of kind "Unspecified", so they are written without `Z`, with up to seven
  fractional digits and trailing zeros dropped: `2026-01-28T10:00:00.123`.
- query dates follow the plugin's `ApiTypeConverter`: a handful of ISO formats, anything else is
  silently ignored; a date without an offset is read in the server's local time zone. The double
  runs with UTC as its local zone, so such a date means UTC here (a real store may differ).

`filter_fields` mirrors the plugin's `fields=` trimming (`JTokenHelper`), including its habit of
dropping empty nested arrays and objects once a field list is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

FOUR_PLACES = Decimal("0.0001")
TWO_PLACES = Decimal("0.01")
ZERO = Decimal("0.0000")

_MARK = "\x00dec:"
_RAW = "\x00raw:"
_MARKED = re.compile(rb'"\\u0000(dec|raw):([^"]*)"')


class EncodedDict(dict):
    """A DTO that is serialized often and changes rarely (a product inside every order line).

    `dumps` writes its JSON once and splices the cached bytes into every reply that embeds it.
    It must not be mutated after first use; build a new one instead.
    """

    __slots__ = ("_encoded",)

    def encoded(self) -> bytes:
        try:
            return self._encoded
        except AttributeError:
            self._encoded = dumps(dict(self))
            return self._encoded


class _Raw:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def money(value: Any) -> Decimal:
    """A `decimal(18,4)` value: exact, four places."""
    if isinstance(value, Decimal):
        return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    return Decimal(str(value)).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)


def round_price(value: Decimal) -> Decimal:
    """nopCommerce's RoundPrice for a two-decimal currency, kept at the column's four places."""
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_EVEN).quantize(FOUR_PLACES)


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value:.4f}"
    if isinstance(value, _Raw):
        return f"{_RAW}{value.index}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _swap_encoded(value: Any, raws: list[bytes]) -> Any:
    """Replace EncodedDicts by placeholders, copying only the containers on the way to them."""
    kind = type(value)
    if kind is EncodedDict:
        raws.append(value.encoded())
        return _Raw(len(raws) - 1)
    if kind is dict:
        copy = None
        for key, child in value.items():
            if type(child) in (dict, list, EncodedDict):
                swapped = _swap_encoded(child, raws)
                if swapped is not child:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = swapped
        return value if copy is None else copy
    if kind is list:
        items = None
        for index, child in enumerate(value):
            if type(child) in (dict, list, EncodedDict):
                swapped = _swap_encoded(child, raws)
                if swapped is not child:
                    if items is None:
                        items = list(value)
                    items[index] = swapped
        return value if items is None else items
    return value


def dumps(obj: Any) -> bytes:
    """JSON bytes with every Decimal written as a number with four decimals."""
    raws: list[bytes] = []
    obj = _swap_encoded(obj, raws)
    text = json.dumps(obj, ensure_ascii=False, default=_mark, separators=(",", ":")).encode("utf-8")

    def unmark(found: re.Match[bytes]) -> bytes:
        kind, value = found.groups()
        return value if kind == b"dec" else raws[int(value)]

    return _MARKED.sub(unmark, text)


# -- dates -------------------------------------------------------------------------------------

def utcnow() -> datetime:
    """Naive UTC, the way nopCommerce stores every *Utc column."""
    return datetime.now(UTC).replace(tzinfo=None)


def _fraction(dt: datetime) -> str:
    if not dt.microsecond:
        return ""
    return "." + f"{dt.microsecond:06d}0".rstrip("0")


def nop_date(dt: datetime | None) -> str | None:
    """A stored UTC date as the plugin writes it: no offset, trimmed fraction."""
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(dt)


def utc_date(dt: datetime) -> str:
    """A date of kind Utc (the token response): same shape plus `Z`."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(dt) + "Z"


_QUERY_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?)?$"
)


def parse_query_date(value: str | None) -> datetime | None:
    """A query-string date per the plugin's accepted formats; None (no filter) when unparseable.

    The result is naive UTC. Offset-less values are taken as server-local time, which is UTC in
    this double. Fractions and offsets need seconds, as in the plugin's format list.
    """
    if not value:
        return None
    found = _QUERY_DATE.match(value.strip())
    if not found:
        return None
    g = found.groupdict()
    if g["f"] is not None and g["s"] is None:
        return None
    try:
        dt = datetime(int(g["y"]), int(g["mo"] or 1), int(g["d"] or 1), int(g["h"] or 0), int(g["mi"] or 0),
                      int(g["s"] or 0), int((g["f"] or "0").ljust(7, "0")[:6]))
    except ValueError:
        return None
    tz = g["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        dt -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return dt


def parse_body_date(value: Any) -> datetime | None:
    """A date sent in a JSON body (ISO 8601); raises ValueError when it is not one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a date")
    text = value.strip()
    match = re.match(r"^(.*?)(\.\d+)?(Z|[+-]\d{2}:\d{2})?$", text)
    if not match:
        raise ValueError("not a date")
    base, frac, tz = match.groups()
    dt = datetime.fromisoformat(base)
    if frac:
        dt = dt.replace(microsecond=int(frac[1:].ljust(6, "0")[:6]))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        dt -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return dt.replace(tzinfo=None)


# -- query numbers -----------------------------------------------------------------------------

def query_int(value: str | None, default: int) -> int:
    """`int` parameters: an unparseable value becomes 0, as in `ApiTypeConverter.ToInt`."""
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        return 0


def query_int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def query_ids(value: str | None) -> list[int] | None:
    """A comma list of ids; bad entries are skipped, an empty result means no filter."""
    if not value:
        return None
    ids: list[int] = []
    for part in value.split(","):
        try:
            number = int(part.strip())
        except ValueError:
            continue
        if number not in ids:
            ids.append(number)
    return ids or None


def query_enum(value: str | None, names: Iterable[str]) -> str | None:
    """An enum by name, case-insensitive; numbers and unknown names give None (no filter)."""
    if not value:
        return None
    wanted = value.strip().lower()
    for name in names:
        if name.lower() == wanted:
            return name
    return None


# -- fields= -----------------------------------------------------------------------------------

def _empty(value: Any) -> bool:
    return isinstance(value, (list, dict)) and not value


def _trim(value: Any, fields: set[str], level: int) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            if not (level > 3 or key.lower() in fields):
                continue
            if isinstance(child, (dict, list)) and child:
                child = _trim(child, fields, level + 1)
            if not _empty(child) or level in (1, 3):
                out[key] = child
        return out
    if isinstance(value, list):
        items = []
        for child in value:
            if isinstance(child, (dict, list)) and child:
                child = _trim(child, fields, level + 1)
            if not _empty(child):
                items.append(child)
        return items
    return value


def filter_fields(root: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Apply `fields=a,b`: only those top-level keys of each item; the root key always stays."""
    if not fields:
        return root
    wanted = {part.strip().lower() for part in fields.split(",") if part.strip()}
    wanted.update(key.lower() for key in root)
    return _trim(root, wanted, 1)
