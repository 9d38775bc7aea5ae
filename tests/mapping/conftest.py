"""Sample data for the mapping tests: the packaged copies of the shared reference data.

Numbers are read as Decimal (never float), the way the connectors must read them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "agent" / "sandbox" / "data"

# The store's API sends ids; these lookups stand in for /api/countries and /api/stateprovinces.
COUNTRIES = {
    1: {"two_letter_iso_code": "US", "three_letter_iso_code": "USA", "name": "United States of America"},
    2: {"two_letter_iso_code": "CA", "three_letter_iso_code": "CAN", "name": "Canada"},
    3: {"two_letter_iso_code": "GB", "three_letter_iso_code": "GBR", "name": "United Kingdom"},
    4: {"ThreeLetterIsoCode": "DEU", "name": "Germany"},  # the plugin's odd key spelling
}
STATES = {
    10: {"name": "California", "abbreviation": "CA"},
    11: {"name": "Alaska", "abbreviation": "AK"},
    12: {"name": "Saskatchewan", "abbreviation": "SK"},
    13: {"name": "New York", "abbreviation": "NY"},
}
COUNTRY_BY_ISO3 = {"USA": 1, "CAN": 2, "GBR": 3}
STATE_BY_NAME = {v["name"]: k for k, v in STATES.items()}


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"), parse_float=Decimal)


@pytest.fixture(scope="session")
def nop_sample() -> dict:
    return _load("nop-sample-data.json")


@pytest.fixture(scope="session")
def bng_sample() -> dict:
    return _load("bng-sample-data.json")


@pytest.fixture(scope="session")
def sample_addresses(nop_sample) -> dict[str, dict]:
    """The sample customers' addresses as the store's API sends them (ids, names left empty)."""
    result = {}
    for customer in nop_sample["sample_customers"]:
        a = customer["billing_and_shipping_address"]
        result[a["first_name"]] = {
            "first_name": a["first_name"], "last_name": a["last_name"], "email": a["email"],
            "company": a["company"], "country_id": COUNTRY_BY_ISO3[a["country_three_letter_iso_code"]],
            "country": None, "state_province_id": STATE_BY_NAME.get(a["state_province"]), "province": None,
            "city": a["city"], "address1": a["address1"], "address2": a["address2"],
            "zip_postal_code": a["zip_postal_code"], "phone_number": a["phone_number"],
        }
    return result
