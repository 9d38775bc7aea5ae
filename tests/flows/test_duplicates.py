"""Duplicate detection on a seeded data set: precision and recall of at least 90 %.

The set (seeded, so every run is the same): 80 BNG customers; 120 web customers, of which 50 are
one of them entered again — another e-mail, a typo or an accent less in the name, the names
swapped ("Holmes, Arthur"), a nickname, the phone written nationally or internationally, the
street abbreviated, the postal code in other case or spacing — and 70 are not: new people, and
the hard ones: namesakes in other towns, family members at the same address and landline,
neighbours in the same street.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from agent.flows.duplicates import (
    CustomerIndex,
    Person,
    e164,
    first_names_agree,
    judge,
    normalize_email,
    split_name,
)

FIRST = ["Arthur", "Brenda", "Carlos", "Diana", "Elena", "François", "Greta", "Hiroshi", "Ingrid", "José", "Karin",
         "Lukas", "Marta", "Nadia", "Oliver", "Priya", "Quentin", "Rosa", "Stefan", "Tomás", "Ulrike", "Victor",
         "Wendy", "Xavier", "Yusuf", "Zoë", "Robert", "William", "Elizabeth", "Michael", "Katherine", "James"]
LAST = ["Holmes", "Lindgren", "García", "Müller", "Okafor", "Nakamura", "Dubois", "Rossi", "Kowalski", "Jensen",
        "O'Brien", "Novák", "Fischer", "Silva", "Martin", "Schneider", "Andersson", "Papadopoulos", "Nguyen",
        "Kaplan", "Moreau", "Ivanova", "Bauer", "Costa", "Svensson", "Horvat", "Byrne", "Lambert", "Weber", "Ferrari"]
PLACES = [  # city, country, postal codes, phone prefix (national), streets
    ("London", "GB", ["NW1 6XE", "SW1A 1AA", "EC1A 1BB", "W1D 3QF"], "020 7946 ", ["Baker Street", "Fleet Street",
                                                                                  "Abbey Road", "Portobello Road"]),
    ("New York", "US", ["10027", "10001", "10013", "11201"], "(212) 555-", ["West 120th Street", "Broadway",
                                                                          "Lexington Avenue", "Bleecker Street"]),
    ("Berlin", "DE", ["10115", "10245", "10999", "12043"], "030 ", ["Torstrasse", "Oranienstrasse",
                                                                   "Karl-Marx-Allee", "Bergmannstrasse"]),
    ("Toronto", "CA", ["M5V 2T6", "M4C 1B5", "M6J 1H7", "M5T 2L7"], "(416) 555-", ["Queen Street West",
                                                                                 "Danforth Avenue", "King Street",
                                                                                 "Spadina Avenue"]),
    ("Lyon", "FR", ["69001", "69002", "69003", "69007"], "04 72 ", ["Rue de la République", "Avenue Jean Jaurès",
                                                                     "Rue Mercière", "Cours Gambetta"]),
]
SHORT = {"Street": "St", "Avenue": "Ave", "Road": "Rd", "Strasse": "Str.", "West": "W"}
NICK = {"Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Michael": "Mike", "Katherine": "Kate",
        "James": "Jim"}


@dataclass
class Case:
    web: Person
    truth: str | None                   # the BNG customer it duplicates, or None
    how: str


def _phone(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(4 if prefix.endswith("-") else 6))


def _person(rng: random.Random, key: str, first: str, last: str, place: tuple, number: int | None = None,
            phone: str | None = None) -> Person:
    city, country, postals, prefix, streets = place
    street = f"{number or rng.randint(1, 400)} {rng.choice(streets)}"
    email = f"{fold_ascii(first)}.{fold_ascii(last)}{rng.randint(1, 99)}@{rng.choice(['mail.example', 'web.example'])}"
    return Person(key, f"{first} {last}", email, phone or _phone(rng, prefix), street, rng.choice(postals), city,
                  country)


def fold_ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum() and c.isascii()).lower()


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:] if rng.random() < 0.5 else word[:i] + word[i + 1:]


def _variant(rng: random.Random, base: Person, key: str) -> tuple[Person, str]:
    """The same person, entered again on the web."""
    first, last = base.name.split(" ", 1)
    changes = []
    name = base.name
    roll = rng.random()
    if roll < 0.2:
        name, changes = f"{last}, {first}", ["names swapped"]
    elif roll < 0.4:
        name, changes = f"{first} {_typo(rng, last)}", ["typo in surname"]
    elif roll < 0.55 and first in NICK:
        name, changes = f"{NICK[first]} {last}", ["nickname"]
    elif roll < 0.7:
        name, changes = fold_ascii(first).capitalize() + " " + last.upper(), ["case and accents"]
    email = f"{fold_ascii(first)}{rng.randint(100, 999)}@{rng.choice(['gmail.com', 'shop.example'])}"
    if rng.random() < 0.25:
        email, changes = base.email.upper() if base.email else email, [*changes, "same e-mail in capitals"]
    phone = base.phone
    digits = e164(base.phone, base.country)
    if rng.random() < 0.5 and digits:
        phone, changes = digits, [*changes, "phone written internationally"]
    elif rng.random() < 0.2:
        phone, changes = None, [*changes, "no phone"]
    line1 = base.line1 or ""
    for word, short in SHORT.items():
        if word in line1 and rng.random() < 0.7:
            line1, changes = line1.replace(word, short), [*changes, "street abbreviated"]
    postal = base.postal_code or ""
    if rng.random() < 0.5:
        postal, changes = postal.replace(" ", "").lower(), [*changes, "postal code spacing"]
    if rng.random() < 0.15 and phone:
        line1, postal, changes = "PO Box 12", postal, [*changes, "different (business) address"]
    return replace(base, key=key, name=name, email=email, phone=phone, line1=line1, postal_code=postal), \
        ", ".join(changes) or "another e-mail only"


def build_set(seed: int = 2026) -> tuple[list[Person], list[Case]]:
    rng = random.Random(seed)
    names = [(f, last) for f in FIRST for last in LAST]
    rng.shuffle(names)
    bng = [_person(rng, f"C{i:06d}", first, last, rng.choice(PLACES)) for i, (first, last) in
           enumerate(names[:80], start=1)]
    fresh = iter(names[80:])
    cases: list[Case] = []
    for n, base in enumerate(rng.sample(bng, 50)):
        web, how = _variant(rng, base, f"w{n}")
        cases.append(Case(web, base.key, how))
    for n in range(70):
        key = f"n{n}"
        kind = n % 5
        if kind in (0, 1):                                  # somebody new
            first, last = next(fresh)
            cases.append(Case(_person(rng, key, first, last, rng.choice(PLACES)), None, "new person"))
        elif kind == 2:                                     # a namesake elsewhere
            base = rng.choice(bng)
            first, last = base.name.split(" ", 1)
            place = rng.choice([p for p in PLACES if p[0] != base.city])
            cases.append(Case(_person(rng, key, first, last, place), None, "namesake in another town"))
        elif kind == 3:                                     # family: same surname, address and landline
            base = rng.choice(bng)
            first, last = base.name.split(" ", 1)
            other = rng.choice([f for f in FIRST if f[0] != first[0] and NICK.get(f) != first])
            member = replace(base, key=key, name=f"{other} {last}",
                             email=f"{fold_ascii(other)}.{fold_ascii(last)}@home.example")
            cases.append(Case(member, None, "family member, same address and phone"))
        else:                                               # a neighbour in the same street
            base = rng.choice(bng)
            first, last = next(fresh)
            street = (base.line1 or "1 Main").split(" ", 1)[1]
            neighbour = replace(base, key=key, name=f"{first} {last}", email=f"{fold_ascii(last)}@home.example",
                                phone=_phone(rng, next(p for p in PLACES if p[0] == base.city)[3]),
                                line1=f"{rng.randint(401, 999)} {street}")
            cases.append(Case(neighbour, None, "neighbour in the same street"))
    return bng, cases


def test_precision_and_recall_on_the_seeded_set():
    bng, cases = build_set()
    index = CustomerIndex(bng)
    true_pos = false_pos = false_neg = 0
    misses = []
    for case in cases:
        found = index.candidates(case.web)
        best = found[0].customer_no if found else None
        if best is not None and best == case.truth:
            true_pos += 1
        elif best != case.truth:
            if best is not None:
                false_pos += 1
            if case.truth is not None:
                false_neg += 1
            misses.append((case.how, case.web.name, case.truth, best, found[0].evidence if found else ()))
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(f"\nduplicates: precision {precision:.1%}, recall {recall:.1%} "
          f"({true_pos} found, {false_pos} wrong, {false_neg} missed of {len(cases)} web customers)")
    for miss in misses:
        print("  ", miss)
    assert sum(1 for c in cases if c.truth) == 50 and len(bng) == 80
    assert precision >= 0.9 and recall >= 0.9


def test_normalizing_the_evidence():
    assert normalize_email(" Jane.Doe+shop@GMail.com ") == "janedoe@gmail.com"
    assert normalize_email("Arthur_Holmes@nopCommerce.com") == "arthur_holmes@nopcommerce.com"
    assert normalize_email("not an address") is None
    assert e164("020 7946 0001", "GB") == e164("+44 20 7946 0001", "US") == "+442079460001"
    assert e164("(212) 555-0100", "US") == "+12125550100"
    assert e164("12", "US") is None
    assert split_name("Holmes, Arthur") == split_name("Dr. Arthur HOLMES") == ("arthur", "holmes")
    assert first_names_agree("bob", "robert") == "nickname"
    assert first_names_agree("j", "john") == "initial"
    assert first_names_agree("mary", "john") is None


def test_a_family_is_not_one_customer_but_a_phone_customer_typing_differently_is():
    arthur = Person("C000001", "Arthur Holmes", "Arthur_Holmes@nopCommerce.com", "+44 20 7946 0001",
                    "221B Baker Street", "NW1 6XE", "London", "GB")
    martha = Person("7", "Martha Holmes", "martha@home.example", "020 7946 0001", "221B Baker St", "nw16xe",
                    "London", "GB")
    assert judge(martha, arthur) is None
    again = Person("8", "Holmes, Artur", "artie@gmail.com", "020 7946 0001", "221b Baker St.", "NW1 6XE",
                   "London", "GB")
    found = judge(again, arthur)
    assert found is not None and found.customer_no == "C000001"
    assert "same phone +442079460001" in found.evidence
