"""Store addresses → BNG's Address shape, cleaned the same way every time.

Why clean at all: BNG matches customers and ship-to addresses by text, and carriers and tax
engines downstream of BNG expect codes, not names. A shopper who types "new york" and one who
picks "New York" from the dropdown must end up as the same `region: "NY"`.

Case policy (applied field by field):
- US street lines are written USPS style (Publication 28): uppercase, standard suffix, directional
  and unit abbreviations ("123 north main street apt 4" → "123 N MAIN ST" / "APT 4"), through
  usaddress-scourgify; where it cannot parse a line (PO boxes, rural routes, "c/o" lines) a careful
  own cleanup keeps every word and only fixes spacing, punctuation and case.
- Street lines elsewhere, cities (US ones too: "Los Angeles") and person names are put in Title
  Case only when typed all in lower or all in upper case; mixed case is the shopper's choice and
  is kept ("McDonald", "de la").
- Company names keep their case (acronyms like "IBM" must survive); only spacing is fixed.
- Codes (state/province, country, postal code) are uppercase.

Every change is recorded in `changes` for the history, and every cut to BNG's length limits in
`warnings`, so nobody has to wonder why the ERP shows something other than the store.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pycountry

from agent.mapping.errors import MappingError

# BNG Address maxLength limits (openapi.yaml, components.schemas.Address)
MAX_LENGTHS: dict[str, int] = {"name": 100, "company": 100, "line1": 100, "line2": 100, "city": 60,
                               "region": 10, "postal_code": 20, "phone": 30}

LABELS: dict[str, str] = {"name": "name", "company": "company", "line1": "street", "line2": "street line 2",
                          "city": "city", "region": "state/province", "postal_code": "postal code",
                          "country": "country", "phone": "phone"}

# Countries whose addresses carry no postal code (the usual carrier list); everywhere else a
# missing postal code is a problem BNG would reject or a carrier would bounce.
_NO_POSTAL_CODE_LIST = ("AE AG AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GA GD GH GM GQ GY HK JM KE "
                        "KI KM KN KP LC ML MO MR MS MW NA NR NU QA RW SB SC SL SO SR ST SY TD TF TG TK TL TO TT "
                        "TV TZ UG VU YE ZW")
NO_POSTAL_CODE: frozenset[str] = frozenset(_NO_POSTAL_CODE_LIST.split())

# Countries where an address without a state/province is not deliverable.
REGION_REQUIRED: frozenset[str] = frozenset({"US", "CA"})

# Names people use that ISO does not list.
COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "united kingdom": "GB", "u.s.": "US", "u.s.a.": "US",
    "america": "US", "united states": "US", "holland": "NL", "the netherlands": "NL", "russia": "RU",
    "korea": "KR", "czechia": "CZ", "ivory coast": "CI", "turkey": "TR", "macedonia": "MK",
}

# US military "states" that ISO 3166-2 does not list but USPS uses.
_US_EXTRA_REGIONS = {"AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific"}


@dataclass
class AddressResult:
    """A BNG Address dict plus what was changed on the way (for the history)."""

    address: dict[str, str | None]
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ValidatedAddress:
    address: dict[str, str | None]
    changes: list[str] = field(default_factory=list)


class AddressValidator(Protocol):
    """An external address-validation service (e.g. a carrier's); may correct or refuse an address.

    Refusing means raising MappingError with the service's reason in plain words.
    """

    def validate(self, address: dict[str, str | None]) -> ValidatedAddress: ...


class NoValidation:
    """The default: addresses are only normalized here, not checked against a postal database."""

    def validate(self, address: dict[str, str | None]) -> ValidatedAddress:
        return ValidatedAddress(dict(address))


# -- small text helpers --------------------------------------------------------------------------

def clean_spaces(value: Any) -> str:
    """Trimmed text with runs of whitespace (tabs, non-breaking spaces, newlines) made one space."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def _fold(text: str) -> str:
    """Comparison key: no accents, no punctuation, casefolded ("Québec" == "quebec")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", stripped).casefold().split())


_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$", re.IGNORECASE)


def _title_word(word: str) -> str:
    if any(c.isdigit() for c in word):
        m = _ORDINAL.match(word)
        return m.group(1) + m.group(2).lower() if m else word.upper()  # "1st", but "221B"
    out = word[:1].upper() + word[1:].lower()
    if len(out) > 2 and out[1] == "'":  # O'Neil, D'Angelo — but "Katharine's" stays
        out = out[:2] + out[2].upper() + out[3:]
    return out


def smart_case(text: str) -> str:
    """Title Case for text typed all-lower or all-upper; mixed case is kept as typed."""
    text = clean_spaces(text)
    if not (text.islower() or text.isupper()):
        return text
    return " ".join("-".join(_title_word(part) for part in word.split("-")) for word in text.split(" "))


# -- countries and regions -----------------------------------------------------------------------

def _lookup_value(entry: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if entry.get(key):
            return entry[key]
    return None


def country_code(value: Any, countries: Mapping[int, Mapping[str, Any]] | None = None) -> str:
    """ISO 3166-1 alpha-2 for a store country id, an alpha-2/alpha-3 code or a country name."""
    if isinstance(value, int) and not isinstance(value, bool):
        entry = (countries or {}).get(value)
        if entry is None:
            raise MappingError(f"Country id {value} is not in the web store's country list")
        two = _lookup_value(entry, "two_letter_iso_code", "TwoLetterIsoCode")
        if two:
            return country_code(str(two))
        three = _lookup_value(entry, "three_letter_iso_code", "ThreeLetterIsoCode")
        return country_code(str(three or _lookup_value(entry, "name", "Name") or ""))
    text = clean_spaces(value)
    if not text:
        raise MappingError("The country is missing")
    found = None
    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3 and text.isalpha():
        found = pycountry.countries.get(alpha_3=text.upper())
    if found is None:
        alias = COUNTRY_ALIASES.get(text.casefold())
        if alias:
            return alias
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            found = _countries_by_name().get(_fold(text))
    if found is None:
        raise MappingError(f"Country '{text}' is not a country BNG can use (expected an ISO country name or code)")
    return found.alpha_2


@functools.cache
def _countries_by_name() -> dict[str, Any]:
    index: dict[str, Any] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(c, attr, None)
            if name:
                index.setdefault(_fold(name), c)
    return index


@functools.cache
def _regions(country: str) -> tuple[dict[str, str], dict[str, str]]:
    """(code suffix → code suffix, folded name → code suffix) for a country's subdivisions.

    Top-level subdivisions win name clashes (a French region over a department of the same name).
    """
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    subs = sorted(pycountry.subdivisions.get(country_code=country) or [],
                  key=lambda s: (s.parent_code is not None, s.code))
    for sub in subs:
        suffix = sub.code.split("-", 1)[1]
        codes[suffix.upper()] = suffix
        names.setdefault(_fold(sub.name), suffix)
    if country == "US":
        for code, name in _US_EXTRA_REGIONS.items():
            codes[code] = code
            names[_fold(name)] = code
    return codes, names


def region_code(country: str, *candidates: Any) -> str | None:
    """ISO 3166-2 subdivision code without the country prefix, from an abbreviation or a name.

    The first candidate that resolves wins ("California" → "CA", "ontario" → "ON", "US-NY" → "NY").
    None when no candidate resolves.
    """
    codes, names = _regions(country)
    for candidate in candidates:
        text = clean_spaces(candidate)
        if not text:
            continue
        upper = text.upper()
        if upper.startswith(country + "-"):
            upper = upper[len(country) + 1:]
        if upper in codes:
            return codes[upper]
        by_name = names.get(_fold(text))
        if by_name:
            return by_name
    return None


# -- postal codes --------------------------------------------------------------------------------

_US_ZIP = re.compile(r"^(\d{5})(?:[\s-]*(\d{4}))?$")
_CA_POSTAL = re.compile(r"^([A-Z]\d[A-Z])(\d[A-Z]\d)$")
_GB_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?|GIR)(\d[A-Z]{2})$")


def postal_code(country: str, value: Any) -> tuple[str, list[str]]:
    """The postal code in the country's standard format, plus warnings for odd but usable codes.

    US: ZIP "12345" or ZIP+4 "12345-6789"; Canada "A1A 1A1"; UK uppercase with one space before
    the last three characters; elsewhere trimmed. A US or Canadian code that cannot be one is a
    MappingError (carriers reject it); an unusual UK code is passed on with a warning.
    """
    text = clean_spaces(value)
    if country == "US":
        m = _US_ZIP.match(text)
        if not m:
            raise MappingError(f"ZIP code '{text}' is not a US ZIP code (5 digits, or ZIP+4 like 12345-6789)")
        return (f"{m.group(1)}-{m.group(2)}" if m.group(2) else m.group(1)), []
    compact = re.sub(r"[\s-]", "", text).upper()
    if country == "CA":
        m = _CA_POSTAL.match(compact)
        if not m:
            raise MappingError(f"Postal code '{text}' is not a Canadian postal code (like S7K 1J9)")
        return f"{m.group(1)} {m.group(2)}", []
    if country == "GB":
        m = _GB_POSTCODE.match(compact)
        if not m:
            return " ".join(text.upper().split()), [f"postal code '{text}' does not look like a UK postcode"]
        return f"{m.group(1)} {m.group(2)}", []
    return text, []


# -- US street lines -----------------------------------------------------------------------------

_PO_BOX = re.compile(r"^(?:p\.?\s*o\.?|post\s+office)\s*box\b\.?\s*", re.IGNORECASE)


def _usps_cleanup(line: str) -> str:
    """Fallback for lines scourgify cannot parse: keep every word, USPS spacing and case."""
    line = clean_spaces(line)
    line = _PO_BOX.sub("PO BOX ", line)
    line = re.sub(r"(?<=[A-Za-z])\.", "", line)  # "St." → "St"; "1.5" untouched
    line = re.sub(r"\s*,\s*", " ", line)
    return clean_spaces(line).upper()


def _digit_runs(*lines: str | None) -> list[str]:
    return sorted(re.findall(r"\d+", " ".join(x for x in lines if x)))


def usps_street(line1: str, line2: str, city: str, region: str, zip5: str) -> tuple[str, str]:
    """USPS Pub 28 street lines via scourgify, or the careful fallback when it cannot parse them.

    scourgify's answer is only taken when it kept every number of the input (house, unit, box
    numbers); a parser that drops one would send the parcel to the wrong door.
    """
    from scourgify import normalize_address_record  # its parser model is loaded on the first US address

    try:
        out = normalize_address_record({"address_line_1": line1, "address_line_2": line2 or None,
                                        "city": city, "state": region, "postal_code": zip5})
        new1, new2 = clean_spaces(out.get("address_line_1")), clean_spaces(out.get("address_line_2"))
        if new1 and _digit_runs(new1, new2) == _digit_runs(line1, line2):
            return new1, new2
    except Exception:  # scourgify raises several kinds of parse errors; all mean "clean it ourselves"
        pass
    return _usps_cleanup(line1), _usps_cleanup(line2)


# -- the whole address ---------------------------------------------------------------------------

def normalize_address(nop: Mapping[str, Any], *, countries: Mapping[int, Mapping[str, Any]] | None = None,
                      states: Mapping[int, Mapping[str, Any]] | None = None,
                      validator: AddressValidator | None = None, what: str = "address") -> AddressResult:
    """A nopCommerce AddressDto → BNG Address, with the changes and warnings for the history.

    `countries` (store country id → {two_letter_iso_code, three_letter_iso_code, name}) and
    `states` (state id → {name, abbreviation}) resolve the ids the store's API sends in place of
    names. `what` names the address in error messages ("shipping address").
    Missing street, city, country, or postal code (where the country uses them) → MappingError.
    """
    changes: list[str] = []
    warnings: list[str] = []

    # country
    country_text = clean_spaces(nop.get("country"))
    country_id = nop.get("country_id")
    country = None
    if country_id not in (None, 0, "0", ""):
        if countries and int(country_id) in countries:
            country = country_code(int(country_id), countries)
        elif not country_text:
            raise MappingError(f"The {what}'s country id {country_id} is not in the web store's country list")
    if country is None and country_text:
        country = country_code(country_text)
        if country != country_text:
            changes.append(f"country '{country_text}' → '{country}'")

    line1_in, line2_in = clean_spaces(nop.get("address1")), clean_spaces(nop.get("address2"))
    city_in, postal_in = clean_spaces(nop.get("city")), clean_spaces(nop.get("zip_postal_code"))
    missing = [label for label, present in (("street", line1_in), ("city", city_in)) if not present]
    if country is None:
        missing.append("country")
    elif not postal_in and country not in NO_POSTAL_CODE:
        missing.append("postal code")
    if missing:
        raise MappingError(f"The {what} has no {_join(missing)}; complete it in the web store")
    assert country is not None

    # state / province
    state = (states or {}).get(_int_or_none(nop.get("state_province_id"))) if states else None
    state_abbr = _lookup_value(state, "abbreviation", "Abbreviation") if state else None
    state_name = _lookup_value(state, "name", "Name") if state else None
    province = clean_spaces(nop.get("province"))
    region = region_code(country, state_abbr, state_name, province)
    typed = province or clean_spaces(state_name) or clean_spaces(state_abbr)
    if region is None and typed:
        if country in REGION_REQUIRED:
            raise MappingError(f"The {what}'s state/province '{typed}' is not a state or province of {country}")
        warnings.append(f"state/province '{typed}' is not an ISO subdivision of {country}; left out")
    elif region is None and country in REGION_REQUIRED:
        state_id = _int_or_none(nop.get("state_province_id"))
        if state_id and state is None:
            raise MappingError(f"The {what}'s state id {state_id} is not in the web store's state list")
        raise MappingError(f"The {what} has no state/province, which {country} addresses need")
    elif region and typed and region != typed:
        changes.append(f"state/province '{typed}' → '{region}'")

    postal, postal_warnings = postal_code(country, postal_in)
    warnings.extend(postal_warnings)

    # street lines and city
    if country == "US":
        line1, line2 = usps_street(line1_in, line2_in, city_in, region or "", postal[:5])
    else:
        line1, line2 = smart_case(line1_in), smart_case(line2_in)
    city = smart_case(city_in)
    first, last = smart_case(nop.get("first_name") or ""), smart_case(nop.get("last_name") or "")
    name = clean_spaces(f"{first} {last}")

    address: dict[str, str | None] = {
        "name": name or None,
        "company": clean_spaces(nop.get("company")) or None,
        "line1": line1,
        "line2": line2 or None,
        "city": city,
        "region": region,
        "postal_code": postal,
        "country": country,
        "phone": clean_spaces(nop.get("phone_number")) or None,
    }
    originals = {"name": f"{nop.get('first_name') or ''} {nop.get('last_name') or ''}".strip(),
                 "company": nop.get("company"), "line1": nop.get("address1"), "line2": nop.get("address2"),
                 "city": nop.get("city"), "postal_code": nop.get("zip_postal_code"),
                 "phone": nop.get("phone_number")}
    for key, original in originals.items():
        before = str(original or "").strip()
        after = address[key] or ""
        if before != after and (before or after):
            changes.append(f"{LABELS[key]} '{before}' → '{after}'")

    for key, limit in MAX_LENGTHS.items():
        value = address.get(key)
        if value and len(value) > limit:
            address[key] = value[:limit].rstrip()
            warnings.append(f"{LABELS[key]} cut to {limit} characters for BNG: '{value}' → '{address[key]}'")

    validated = (validator or NoValidation()).validate(address)
    changes.extend(validated.changes)
    final = validated.address
    if final.get("name") is None:
        final.pop("name", None)  # BNG's name is a plain string, not nullable: leave it out
    return AddressResult(final, changes, warnings)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
