"""Made-up shoppers and their addresses, tidy or typed the way real customers type them.

A storefront takes the country and state from drop-downs (so those are always ids) but everything
else is free text: street lines in any case with the apartment squeezed in, doubled spaces, the
state written into the city field ("los angeles, california", "new york ny"), postcodes without
their space, phones in every format. `messy_address` applies a few of those at a time.
Invalid e-mail addresses are produced only on request (they are labelled bad data by the caller).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
               "José", "Zoë", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofía", "Chen", "Aiko", "Priya", "Omar",
               "Fatima", "Lars", "Ingrid", "François", "Chloé", "Jürgen", "Siobhan", "Seán")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
              "Nguyen", "O'Brien", "Müller", "van der Berg", "Kowalski", "Dubois", "Rossi", "Tanaka", "Patel", "Kim",
              "MacDonald", "St. John", "Lefèvre", "Hernández", "Andersson")
STREETS = ("Main Street", "Oak Avenue", "Elm Street", "Maple Drive", "Pine Road", "Cedar Lane", "2nd Avenue",
           "Park Boulevard", "Washington Street", "Lake View Road")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Supplies", "Stark Industries", "Wayne Enterprises",
             "Riverside School District", "Blue Harbor Cafe")
DOMAINS = ("example.com", "mail.example.org", "example.net", "shop-test.example")
INVALID_EMAILS = ("{a}.{b}@@{d}", "{a} at {d}", "{a}.{b}@{host}", "{a}@{host}..com", "{a}.{b}.{d}", "@{d}",
                  "{a}@-{d}", "{a} {b}@{d}")


@dataclass(frozen=True)
class Place:
    country: str            # ISO alpha-2
    city: str
    state: str | None       # abbreviation, for countries the store has states for
    state_name: str | None
    postcode: str
    tax_rate: Decimal
    currency: str


PLACES = (
    Place("US", "New York", "NY", "New York", "10001", Decimal("8.875"), "USD"),
    Place("US", "Los Angeles", "CA", "California", "90012", Decimal("7.25"), "USD"),
    Place("US", "Chicago", "IL", "Illinois", "60606", Decimal("10.25"), "USD"),
    Place("US", "Houston", "TX", "Texas", "77002", Decimal("8.25"), "USD"),
    Place("US", "Seattle", "WA", "Washington", "98101", Decimal("10.1"), "USD"),
    Place("US", "Boston", "MA", "Massachusetts", "02108", Decimal("6.25"), "USD"),
    Place("US", "Miami", "FL", "Florida", "33130", Decimal("7"), "USD"),
    Place("US", "Portland", "OR", "Oregon", "97204", Decimal("0"), "USD"),
    Place("US", "Anchorage", "AK", "Alaska", "99501", Decimal("0"), "USD"),
    Place("US", "Denver", "CO", "Colorado", "80202", Decimal("8.81"), "USD"),
    Place("CA", "Toronto", "ON", "Ontario", "M5V 2T6", Decimal("13"), "CAD"),
    Place("CA", "Vancouver", "BC", "British Columbia", "V6B 1A1", Decimal("12"), "CAD"),
    Place("CA", "Montréal", "QC", "Quebec", "H2Y 1C6", Decimal("14.975"), "CAD"),
    Place("CA", "Saskatoon", "SK", "Saskatchewan", "S7K 1J9", Decimal("11"), "CAD"),
    Place("GB", "London", None, None, "SW1A 1AA", Decimal("20"), "GBP"),
    Place("GB", "Manchester", None, None, "M1 1AE", Decimal("20"), "GBP"),
    Place("GB", "Edinburgh", None, None, "EH1 1YZ", Decimal("20"), "GBP"),
    Place("DE", "Berlin", None, None, "10115", Decimal("19"), "EUR"),
    Place("DE", "München", None, None, "80331", Decimal("19"), "EUR"),
    Place("FR", "Paris", None, None, "75001", Decimal("20"), "EUR"),
    Place("NL", "Amsterdam", None, None, "1012 AB", Decimal("21"), "EUR"),
)
_WEIGHTS = {"US": 6.0, "CA": 1.5, "GB": 1.0, "DE": 0.6, "FR": 0.5, "NL": 0.4}


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    company: str | None
    phone: str
    place: Place
    address1: str
    address2: str | None
    city: str
    postcode: str


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def pick_place(rng: random.Random, country: str | None = None) -> Place:
    candidates = [p for p in PLACES if country is None or p.country == country.upper()]
    if not candidates:
        raise ValueError(f"no shopper places in {country!r}")
    return rng.choices(candidates, weights=[_WEIGHTS.get(p.country, 1.0) for p in candidates])[0]


def email_for(rng: random.Random, first: str, last: str) -> str:
    local = ascii_fold(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
    return f"{local}{rng.randint(1, 9999)}@{rng.choice(DOMAINS)}"


def invalid_email(rng: random.Random, first: str, last: str) -> str:
    a, b = ascii_fold(first).lower(), ascii_fold(last).lower().replace(" ", "")
    domain = rng.choice(DOMAINS)
    return rng.choice(INVALID_EMAILS).format(a=a, b=b, d=domain, host=domain.split(".")[0])


def phone_for(rng: random.Random, place: Place) -> str:
    digits = f"{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
    if place.country in ("US", "CA"):
        area, exchange, line = digits[:3], digits[3:6], digits[6:]
        return rng.choice((f"({area}) {exchange}-{line}", f"+1 {area} {exchange} {line}", f"{area}.{exchange}.{line}",
                           digits, f"1-{area}-{exchange}-{line}"))
    prefix = {"GB": "+44", "DE": "+49", "FR": "+33", "NL": "+31"}.get(place.country, "+1")
    return rng.choice((f"{prefix} {digits[:4]} {digits[4:]}", f"0{digits[:4]} {digits[4:]}", f"{prefix}{digits}"))


def make_person(rng: random.Random, country: str | None = None) -> Person:
    place = pick_place(rng, country)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    number = rng.randint(1, 9899)
    address2 = f"Apt {rng.randint(1, 40)}" if rng.random() < 0.3 else None
    return Person(first_name=first, last_name=last, email=email_for(rng, first, last),
                  company=rng.choice(COMPANIES) if rng.random() < 0.2 else None, phone=phone_for(rng, place),
                  place=place, address1=f"{number} {rng.choice(STREETS)}", address2=address2, city=place.city,
                  postcode=place.postcode)


def messy_address(rng: random.Random, person: Person) -> list[str]:
    """Mess up a few free-text fields the way shoppers type them; returns what was done."""
    done: list[str] = []
    tricks = ["street_lowercase_apt", "double_spaces", "city_case", "state_in_city", "postcode", "name_case"]
    for trick in rng.sample(tricks, rng.randint(1, 3)):
        if trick == "street_lowercase_apt":
            number, _, street = person.address1.partition(" ")
            direction = rng.choice(("north ", "n. ", "south ", ""))
            apt = f" apt {rng.randint(1, 40)}" if person.address2 is None else f" {person.address2.lower()}"
            person.address1 = f"{number} {direction}{street.lower()}{apt}"
            person.address2 = None
        elif trick == "double_spaces":
            person.address1 = "  " + person.address1.replace(" ", "  ", 2) + " "
        elif trick == "city_case":
            person.city = rng.choice((person.city.lower(), person.city.upper(), f" {person.city} "))
        elif trick == "state_in_city" and person.place.state:
            state = rng.choice((person.place.state_name.lower() if person.place.state_name else "",
                                person.place.state, person.place.state.lower(), person.place.state_name or ""))
            person.city = rng.choice((f"{person.city.lower()}, {state}", f"{person.city} {state}"))
        elif trick == "postcode":
            code = person.postcode
            person.postcode = (code.lower().replace(" ", "") if not code.isdigit()
                               else rng.choice((f"{code}-{rng.randint(1000, 9999)}", f" {code}", f"{code} ")))
        elif trick == "name_case":
            person.first_name, person.last_name = rng.choice(
                ((person.first_name.lower(), person.last_name.lower()),
                 (person.first_name.upper(), person.last_name.upper()),
                 (f" {person.first_name}", f"{person.last_name}  ")))
        else:
            continue
        done.append(trick)
    return done
