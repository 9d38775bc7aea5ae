from __future__ import annotations

import pytest

from agent.mapping import MappingError
from agent.mapping.address import (
    NoValidation,
    ValidatedAddress,
    country_code,
    normalize_address,
    postal_code,
    region_code,
    smart_case,
    usps_street,
)
from tests.mapping.conftest import COUNTRIES, STATES


def norm(address, **kw):
    return normalize_address(address, countries=COUNTRIES, states=STATES, **kw)


def us(**overrides):
    base = {"first_name": "John", "last_name": "Smith", "country": "USA", "province": "NY", "city": "New York",
            "address1": "21 West 52nd Street", "address2": "", "zip_postal_code": "10021"}
    return {**base, **overrides}


# -- the sample customers ------------------------------------------------------------------------

def test_steve_gates_los_angeles(sample_addresses):
    result = norm(sample_addresses["Steve"])
    assert result.address == {"name": "Steve Gates", "company": "Steve Company", "line1": "750 BEL AIR RD",
                               "line2": None, "city": "Los Angeles", "region": "CA", "postal_code": "90077",
                               "country": "US", "phone": "87654321"}
    assert "street '750 Bel Air Rd.' → '750 BEL AIR RD'" in result.changes
    assert "state/province 'California' → 'CA'" in result.changes
    assert result.warnings == []


def test_victoria_saskatoon(sample_addresses):
    result = norm(sample_addresses["Victoria"])
    a = result.address
    assert (a["line1"], a["city"], a["region"], a["postal_code"], a["country"]) == (
        "201 1st Avenue South", "Saskatoon", "SK", "S7K 1J9", "CA")


def test_arthur_london(sample_addresses):
    a = norm(sample_addresses["Arthur"]).address
    assert (a["line1"], a["city"], a["region"], a["postal_code"], a["country"]) == (
        "221B Baker Street", "London", None, "NW1 6XE", "GB")


def test_james_st_andrews(sample_addresses):
    a = norm(sample_addresses["James"]).address
    assert (a["line1"], a["city"], a["postal_code"], a["country"]) == (
        "St Katharine's West 16", "St Andrews", "KY16 9AX", "GB")


def test_brenda_suite_moves_to_line2(sample_addresses):
    a = norm(sample_addresses["Brenda"]).address
    assert (a["line1"], a["line2"], a["region"], a["postal_code"]) == ("1249 TONGASS AVE", "STE B", "AK", "99901")


def test_names_when_the_api_fills_them():
    result = normalize_address({"first_name": "Victoria", "last_name": "Terces", "country": "Canada",
                                "province": "Saskatchewan", "city": "Saskatoon", "address1": "201 1st Avenue South",
                                "zip_postal_code": "S7K 1J9"})
    assert result.address["region"] == "SK" and result.address["country"] == "CA"


# -- messy input ---------------------------------------------------------------------------------

def test_messy_us_address():
    result = normalize_address(us(address1="123 north main street apt 4", province="new york", city="new york",
                                  zip_postal_code=" 10001 1234 ", first_name="JOHN", last_name="o'neil"))
    a = result.address
    assert (a["line1"], a["line2"], a["city"], a["region"], a["postal_code"], a["name"]) == (
        "123 N MAIN ST", "APT 4", "New York", "NY", "10001-1234", "John O'Neil")
    assert "street '123 north main street apt 4' → '123 N MAIN ST'" in result.changes
    assert "state/province 'new york' → 'NY'" in result.changes


@pytest.mark.parametrize(("state", "code"), [("california", "CA"), ("CALIFORNIA", "CA"), ("ca", "CA"),
                                             ("US-CA", "CA"), ("  New   York ", "NY"), ("District of Columbia", "DC"),
                                             ("AE", "AE")])
def test_us_states(state, code):
    assert normalize_address(us(province=state, zip_postal_code="90077")).address["region"] == code


@pytest.mark.parametrize(("country", "state", "code"), [("CA", "ontario", "ON"), ("CA", "Saskatchewan", "SK"),
                                                        ("CA", "quebec", "QC"), ("CA", "Québec", "QC"),
                                                        ("AU", "victoria", "VIC"), ("GB", "Scotland", "SCT")])
def test_regions_elsewhere(country, state, code):
    assert region_code(country, state) == code


def test_extra_spaces_are_collapsed():
    a = normalize_address(us(address1="  123   main   street  ", city="  new   york ")).address
    assert (a["line1"], a["city"]) == ("123 MAIN ST", "New York")


@pytest.mark.parametrize(("line", "expected"), [("PO BOX 123", "PO BOX 123"), ("p.o. box 77", "PO BOX 77"),
                                                ("P O Box 12", "PO BOX 12"), ("Post Office Box 5", "PO BOX 5"),
                                                ("po box  9", "PO BOX 9")])
def test_po_boxes_use_the_fallback(line, expected):
    assert normalize_address(us(address1=line)).address["line1"] == expected


def test_fallback_keeps_every_word():
    assert usps_street("c/o John Smith, 123 Main St.", "", "Springfield", "IL", "62701") == (
        "C/O JOHN SMITH 123 MAIN ST", "")


def test_unit_already_on_line2_is_kept():
    a = normalize_address(us(address1="500 West 120th Street", address2="Suite 12")).address
    assert (a["line1"], a["line2"]) == ("500 W 120TH ST", "STE 12")


# -- case policy ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("ST ANDREWS", "St Andrews"), ("new york", "New York"),
                                                ("McDonald", "McDonald"), ("o'neil", "O'Neil"),
                                                ("221b baker street", "221B Baker Street"),
                                                ("201 1ST AVENUE SOUTH", "201 1st Avenue South"),
                                                ("saint-jean-sur-richelieu", "Saint-Jean-Sur-Richelieu"),
                                                ("van der Berg", "van der Berg")])
def test_smart_case(text, expected):
    assert smart_case(text) == expected


def test_company_case_is_kept():
    a = normalize_address(us(company="  ACME   LLC ")).address
    assert a["company"] == "ACME LLC"


# -- countries and postal codes ------------------------------------------------------------------

@pytest.mark.parametrize(("value", "code"), [("USA", "US"), ("us", "US"), ("United States of America", "US"),
                                             ("united states", "US"), ("GBR", "GB"), ("UK", "GB"),
                                             ("United Kingdom", "GB"), ("Canada", "CA"), ("de", "DE"),
                                             ("Germany", "DE"), (1, "US"), (4, "DE"), ("Cote d'Ivoire", "CI")])
def test_country_codes(value, code):
    assert country_code(value, COUNTRIES) == code


@pytest.mark.parametrize("value", ["Atlantis", "", "XX", 999])
def test_unknown_country(value):
    with pytest.raises(MappingError):
        country_code(value, COUNTRIES)


@pytest.mark.parametrize(("country", "raw", "expected"), [
    ("US", "90077", "90077"), ("US", "900771234", "90077-1234"), ("US", "90077 - 1234", "90077-1234"),
    ("CA", "s7k1j9", "S7K 1J9"), ("CA", "S7K-1J9", "S7K 1J9"), ("GB", "nw16xe", "NW1 6XE"),
    ("GB", " ky16  9ax", "KY16 9AX"), ("GB", "ec1a1bb", "EC1A 1BB"), ("DE", " 10115 ", "10115"),
    ("NL", "1012  AB", "1012 AB")])
def test_postal_codes(country, raw, expected):
    assert postal_code(country, raw) == (expected, [])


@pytest.mark.parametrize(("country", "raw"), [("US", "9007"), ("US", "ABCDE"), ("CA", "12345"), ("CA", "S7K1J")])
def test_bad_postal_codes(country, raw):
    with pytest.raises(MappingError):
        postal_code(country, raw)


def test_odd_uk_postcode_is_a_warning():
    code, warnings = postal_code("GB", "bfpo 123")
    assert code == "BFPO 123" and "does not look like a UK postcode" in warnings[0]


# -- missing and too long ------------------------------------------------------------------------

def test_missing_parts_are_named():
    with pytest.raises(MappingError, match="The shipping address has no street, city and postal code"):
        normalize_address(us(address1="", city=" ", zip_postal_code=None), what="shipping address")
    with pytest.raises(MappingError, match="no country"):
        normalize_address(us(country=None))


def test_postal_code_only_where_the_country_uses_them():
    a = normalize_address({"country": "HK", "city": "Hong Kong", "address1": "1 Queen's Road Central"}).address
    assert a["postal_code"] == "" and a["country"] == "HK"
    with pytest.raises(MappingError, match="postal code"):
        normalize_address({"country": "DE", "city": "Berlin", "address1": "Unter den Linden 1"})


def test_us_and_canada_need_a_known_state():
    with pytest.raises(MappingError, match="has no state/province"):
        normalize_address(us(province=None))
    with pytest.raises(MappingError, match="'Narnia' is not a state or province of US"):
        normalize_address(us(province="Narnia"))


def test_unknown_region_elsewhere_is_left_out_with_a_warning():
    result = normalize_address({"country": "DE", "province": "Mittelerde", "city": "Berlin",
                                "address1": "Unter den Linden 1", "zip_postal_code": "10117"})
    assert result.address["region"] is None and "Mittelerde" in result.warnings[0]


def test_country_id_not_in_lookup():
    with pytest.raises(MappingError, match="country id 77"):
        norm(us(country=None, country_id=77))


def test_long_values_are_cut_with_a_warning():
    city = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Upon Something Long"
    result = normalize_address({"country": "GB", "city": city, "address1": "1 Station Road",
                                "zip_postal_code": "LL61 5UJ", "phone_number": "0" * 40})
    assert len(result.address["city"]) <= 60 and len(result.address["phone"]) == 30
    assert any(w.startswith("city cut to 60 characters") for w in result.warnings)
    assert any(w.startswith("phone cut to 30") for w in result.warnings)


def test_without_a_name_the_key_is_left_out():
    a = normalize_address(us(first_name=None, last_name="")).address
    assert "name" not in a


# -- external validation -------------------------------------------------------------------------

class FixesZip:
    def validate(self, address):
        return ValidatedAddress({**address, "postal_code": "10019-6018"}, ["postal code completed by the service"])


class Refuses:
    def validate(self, address):
        raise MappingError("the address service says the building does not exist")


def test_validator_protocol():
    assert NoValidation().validate({"line1": "x"}).address == {"line1": "x"}
    result = normalize_address(us(), validator=FixesZip())
    assert result.address["postal_code"] == "10019-6018"
    assert "postal code completed by the service" in result.changes
    with pytest.raises(MappingError, match="does not exist"):
        normalize_address(us(), validator=Refuses())


def test_state_id_not_in_lookup():
    with pytest.raises(MappingError, match="state id 99 is not in the web store's state list"):
        norm(us(province=None, state_province_id=99))
