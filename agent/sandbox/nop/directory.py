"""Countries, states/provinces and currencies as a fresh nopCommerce 4.90 store has them.

Countries are installed from nopCommerce's ISO 3166 list, alphabetically, so the United States is
not id 1 (it lands near the end, around 235); addresses carry only `country_id` and
`state_province_id`, which the agent resolves through `/api/countries` and `/api/stateprovinces`.
State ids are numbered per country in install order: the 50 US states and DC, then the Canadian
provinces and territories, then the Australian states — so California is 5 as in the reference.
Currencies follow the installer (USD primary at rate 1, EUR 0.86, GBP 0.75, CAD 1.32, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pycountry

from agent.sandbox.nop.wire import money, utcnow

# nopCommerce's names where they differ from ISO short names
_NOP_COUNTRY_NAMES = {"US": "United States of America"}
_EU_VAT = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
           "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
_STATE_COUNTRIES = ("US", "CA", "AU")
_STATE_TYPES = {"State", "District", "Province", "Territory"}

# display locale / custom formatting per installed currency (InstallRequiredData.InstallCurrenciesAsync)
_CURRENCY_LOCALES = {"USD": "en-US", "AUD": "en-AU", "GBP": "en-GB", "CAD": "en-CA", "CNY": "zh-CN", "EUR": "",
                     "HKD": "zh-HK", "JPY": "ja-JP", "RUB": "ru-RU", "SEK": "sv-SE", "INR": "en-IN"}
_CURRENCY_SYMBOLS = {"USD": "$", "AUD": "$", "CAD": "$", "GBP": "£", "EUR": "€", "CNY": "¥", "HKD": "HK$",
                     "JPY": "¥", "RUB": "₽", "SEK": "kr", "INR": "₹"}
_ROUNDING_IDS = {"Rounding001": 0, "Rounding1": 60}
# the shoppers pay in these, so the store has them published (the installer publishes USD only)
PUBLISHED_CURRENCIES = {"USD", "EUR", "GBP", "CAD"}


@dataclass(slots=True)
class Country:
    id: int
    name: str
    two_letter_iso_code: str
    three_letter_iso_code: str
    numeric_iso_code: int
    subject_to_vat: bool
    allows_billing: bool = True
    allows_shipping: bool = True


@dataclass(slots=True)
class StateProvince:
    id: int
    country_id: int
    name: str
    abbreviation: str
    published: bool = True
    display_order: int = 0


@dataclass(slots=True)
class Currency:
    id: int
    name: str
    currency_code: str
    rate: Decimal
    display_locale: str
    custom_formatting: str
    published: bool
    display_order: int
    rounding_type_id: int
    created_on_utc: Any = None
    updated_on_utc: Any = None


@dataclass
class Directory:
    countries: dict[int, Country] = field(default_factory=dict)
    states: dict[int, StateProvince] = field(default_factory=dict)
    currencies: dict[int, Currency] = field(default_factory=dict)
    _by_iso: dict[str, Country] = field(default_factory=dict)
    _states_by_country: dict[int, list[StateProvince]] = field(default_factory=dict)

    def country(self, iso: str) -> Country:
        """By two- or three-letter ISO code."""
        return self._by_iso[iso.upper()]

    def state(self, country_iso: str, name_or_abbreviation: str) -> StateProvince | None:
        country = self.country(country_iso)
        wanted = name_or_abbreviation.strip().lower()
        for state in self._states_by_country.get(country.id, []):
            if wanted in (state.name.lower(), state.abbreviation.lower()):
                return state
        return None

    def states_of(self, country_iso: str) -> list[StateProvince]:
        return list(self._states_by_country.get(self.country(country_iso).id, []))

    def currency(self, code: str) -> Currency:
        for currency in self.currencies.values():
            if currency.currency_code == code:
                return currency
        raise KeyError(code)

    @property
    def primary_currency(self) -> Currency:
        return self.currency("USD")


def format_price(amount: Decimal, currency_code: str) -> str:
    """A price as nopCommerce's PriceFormatter shows it in the customer's currency ("$10.00", "€8.60")."""
    symbol = _CURRENCY_SYMBOLS.get(currency_code, currency_code + " ")
    places = 0 if currency_code == "JPY" else 2
    return f"{symbol}{amount:,.{places}f}"


def build_directory(currencies: list[dict[str, Any]]) -> Directory:
    """The directory of a fresh store; `currencies` is the sample data's currency list."""
    directory = Directory()
    named = sorted(pycountry.countries, key=lambda c: _NOP_COUNTRY_NAMES.get(c.alpha_2, c.name))
    for number, iso in enumerate(named, start=1):
        country = Country(id=number, name=_NOP_COUNTRY_NAMES.get(iso.alpha_2, iso.name),
                          two_letter_iso_code=iso.alpha_2, three_letter_iso_code=iso.alpha_3,
                          numeric_iso_code=int(iso.numeric), subject_to_vat=iso.alpha_2 in _EU_VAT)
        directory.countries[number] = country
        directory._by_iso[iso.alpha_2] = country
        directory._by_iso[iso.alpha_3] = country
    next_state = 1
    for iso in _STATE_COUNTRIES:
        country = directory._by_iso[iso]
        subdivisions = [s for s in pycountry.subdivisions.get(country_code=iso) if s.type in _STATE_TYPES]
        for order, sub in enumerate(sorted(subdivisions, key=lambda s: s.name), start=1):
            state = StateProvince(id=next_state, country_id=country.id, name=sub.name,
                                  abbreviation=sub.code.split("-", 1)[1], display_order=order)
            directory.states[state.id] = state
            directory._states_by_country.setdefault(country.id, []).append(state)
            next_state += 1
    installed = utcnow()
    for number, raw in enumerate(currencies, start=1):
        code = raw["currency_code"]
        directory.currencies[number] = Currency(
            id=number, name=raw["name"], currency_code=code, rate=money(raw["rate"]),
            display_locale=_CURRENCY_LOCALES.get(code, ""), custom_formatting="€0.00" if code == "EUR" else "",
            published=code in PUBLISHED_CURRENCIES, display_order=number,
            rounding_type_id=_ROUNDING_IDS.get(raw.get("rounding_type", "Rounding001"), 0),
            created_on_utc=installed, updated_on_utc=installed)
    return directory
