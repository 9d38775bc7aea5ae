"""Likely duplicate customers: one person entered twice — by the shop's staff on the phone, by the
shopper on the web, with another e-mail, a typo, a phone number written differently.

A web customer is compared with BNG's customers on what identifies a person:

- e-mail, normalized: case and spaces, a "+tag", and the dots Gmail ignores;
- phone, as E.164 (a national number is read in the address's country): "020 7946 0001" in
  London is "+442079460001";
- name, accent- and case-free, without titles, in either order ("Holmes, Arthur"), compared
  with rapidfuzz; first and last names are also compared on their own, because a family shares
  a surname, an address and often a landline, and is not one customer;
- address: street, postal code and city (abbreviations such as "St"/"Street" unified), with
  rapidfuzz, in the same country.

A pair is a likely duplicate on strong evidence only (see `judge`); it is never merged by the
agent: the customers flow opens a *review* with the evidence, and a person chooses to link the
web customer to the BNG customer, create a new one, or ignore it. Candidates are looked up
through an index on e-mail, phone, postal code and surname, so a web customer is scored against
a handful of BNG customers, not all of them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from agent.store import Store

KIND = "customer_duplicate"
TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "herr", "frau", "mme", "mlle", "m"})
NICKNAMES = {
    "bob": "robert", "rob": "robert", "bobby": "robert", "bill": "william", "will": "william", "liz": "elizabeth",
    "beth": "elizabeth", "betty": "elizabeth", "kate": "katherine", "katie": "katherine", "kathy": "katherine",
    "jim": "james", "jimmy": "james", "mike": "michael", "mick": "michael", "tom": "thomas", "tony": "anthony",
    "dave": "david", "dan": "daniel", "danny": "daniel", "chris": "christopher", "matt": "matthew",
    "nick": "nicholas", "alex": "alexander", "sam": "samuel", "ben": "benjamin", "joe": "joseph", "steve": "steven",
    "sue": "susan", "jen": "jennifer", "jenny": "jennifer", "maggie": "margaret", "peggy": "margaret",
    "andy": "andrew", "pat": "patricia", "rick": "richard", "dick": "richard", "ed": "edward", "ted": "edward",
}
STREET_WORDS = {
    "street": "st", "str": "st", "strasse": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr",
    "boulevard": "blvd", "lane": "ln", "place": "pl", "court": "ct", "square": "sq", "terrace": "ter",
    "highway": "hwy", "suite": "ste", "apartment": "apt", "north": "n", "south": "s", "east": "e", "west": "w",
}
GMAIL = frozenset({"gmail.com", "googlemail.com"})


# -- normalizing -------------------------------------------------------------------------------------

def fold(text: str | None) -> str:
    """Lower case, accents off, punctuation to spaces, spaces squeezed."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def normalize_email(email: str | None) -> str | None:
    """The mailbox an address delivers to: "Jane.Doe+shop@GMail.com" → "janedoe@gmail.com"."""
    text = (email or "").strip().casefold()
    if "@" not in text:
        return None
    local, _, domain = text.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local and domain else None


def e164(phone: str | None, country: str | None) -> str | None:
    """The phone number in E.164, read in `country` when written nationally (None if not a number)."""
    text = (phone or "").strip()
    if len(re.sub(r"\D", "", text)) < 6:
        return None
    try:
        number = phonenumbers.parse(text, (country or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_name(name: str | None) -> tuple[str, str]:
    """(first names, last name) of a display name: "Holmes, Arthur" and "Dr. Arthur Holmes" alike."""
    raw = name or ""
    if "," in raw:
        last, _, first = raw.partition(",")
        raw = f"{first} {last}"
    words = [w for w in fold(raw).split() if w not in TITLES]
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def street_key(line: str | None) -> str:
    return " ".join(STREET_WORDS.get(word, word) for word in fold(line).split())


def postal_key(postal: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", (postal or "").casefold())


# -- people and their comparison --------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """The identifying parts of a customer, whichever system it comes from."""

    key: str                                # BNG customer_no, or the store's customer id
    name: str
    email: str | None = None
    phone: str | None = None
    line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None              # ISO 3166-1 alpha-2

    @classmethod
    def from_bng(cls, customer: Any) -> Person:
        """A BNG customer (model or dict)."""
        data = customer.model_dump() if hasattr(customer, "model_dump") else dict(customer)
        bill = data.get("bill_to") or {}
        return cls(key=str(data.get("customer_no") or ""), name=str(data.get("name") or bill.get("name") or ""),
                   email=data.get("email"), phone=data.get("phone") or bill.get("phone"), line1=bill.get("line1"),
                   postal_code=bill.get("postal_code"), city=bill.get("city"), country=bill.get("country"))

    @property
    def normalized_email(self) -> str | None:
        return normalize_email(self.email)

    @property
    def phone_e164(self) -> str | None:
        return e164(self.phone, self.country)

    @property
    def names(self) -> tuple[str, str]:
        return split_name(self.name)

    @property
    def address(self) -> str:
        return " ".join(part for part in (street_key(self.line1), postal_key(self.postal_code), fold(self.city))
                        if part)


@dataclass(frozen=True)
class Candidate:
    """A BNG customer that may be the same person, with why."""

    customer_no: str
    score: float                            # 0..1, for ranking and for people
    evidence: tuple[str, ...]
    name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"customer_no": self.customer_no, "name": self.name, "score": round(self.score, 3),
                "evidence": list(self.evidence)}


def _given(name: str) -> str:
    first = name.split()[0] if name else ""
    return NICKNAMES.get(first, first)


def first_names_agree(a: str, b: str) -> str | None:
    """How two first names agree: "same", "initial" (J. and John), "nickname" (Bob and Robert), or None."""
    from rapidfuzz import fuzz  # loaded on the first comparison (see `judge`)

    if not a or not b:
        return "initial" if (a or b) else None
    if fuzz.ratio(a, b) >= 85 or fuzz.ratio(_given(a), _given(b)) >= 85:
        return "same" if fuzz.ratio(a, b) >= 85 else "nickname"
    first_a, first_b = a.split()[0], b.split()[0]
    if (len(first_a) == 1 or len(first_b) == 1) and first_a[0] == first_b[0]:
        return "initial"
    return None


def judge(web: Person, bng: Person) -> Candidate | None:
    """A candidate when the evidence says "likely the same person", else None.

    Likely means one of: the same mailbox; the same surname and first name with the same phone,
    a similar address or the same postal code; a surname with a typo, the same first name, and
    the same phone or a similar address in the same postal code; the same surname with an initial
    and both the same phone and a similar address; or nearly the same full name at a similar
    address.
    A shared surname, address or landline alone (a family) is not enough.
    """
    # rapidfuzz is imported here, not at the top: an agent that has compared no customers yet
    # (a fresh start, or a store without the customers flow) does without its 3-4 MB.
    from rapidfuzz import fuzz

    evidence: list[str] = []
    same_mail = bool(web.normalized_email) and web.normalized_email == bng.normalized_email
    if same_mail:
        evidence.append(f"same mailbox ({bng.email})")
    same_phone = bool(web.phone_e164) and web.phone_e164 == bng.phone_e164
    if same_phone:
        evidence.append(f"same phone {bng.phone_e164}")
    (web_first, web_last), (bng_first, bng_last) = web.names, bng.names
    full = fuzz.token_sort_ratio(f"{web_first} {web_last}", f"{bng_first} {bng_last}")
    last = fuzz.ratio(web_last, bng_last) if web_last and bng_last else 0.0
    first = first_names_agree(web_first, bng_first)
    if full >= 60:
        evidence.append(f"names {full:.0f}% alike ({bng.name})")
    same_country = not web.country or not bng.country or web.country.upper() == bng.country.upper()
    address = fuzz.token_sort_ratio(web.address, bng.address) if web.address and bng.address and same_country else 0.0
    same_postal = same_country and bool(postal_key(web.postal_code)) and \
        postal_key(web.postal_code) == postal_key(bng.postal_code)
    if address >= 60:
        evidence.append(f"addresses {address:.0f}% alike ({bng.line1}, {bng.postal_code} {bng.city})")
    elif same_postal:
        evidence.append(f"same postal code {bng.postal_code}")
    surname = last >= 85
    given = first in ("same", "nickname")
    likely = (same_mail
              or (surname and given and (same_phone or address >= 80 or same_postal))
              or (last >= 75 and given and (same_phone or address >= 80) and (same_postal or address >= 80))
              or (surname and first == "initial" and same_phone and address >= 80)
              or (full >= 92 and (address >= 70 or same_phone)))
    if not likely:
        return None
    score = max(1.0 if same_mail else 0.0,
                0.45 * full / 100 + 0.35 * address / 100 + (0.2 if same_phone else 0.0))
    return Candidate(bng.key, min(score, 1.0), tuple(evidence), bng.name)


class CustomerIndex:
    """BNG's customers, indexed for finding candidates quickly (e-mail, phone, postal code, surname)."""

    def __init__(self, people: Iterable[Person] = ()):
        self.people: dict[str, Person] = {}
        self._keys: dict[str, set[str]] = {}
        for person in people:
            self.add(person)

    @staticmethod
    def _blocks(person: Person) -> set[str]:
        blocks = {f"mail:{person.normalized_email}", f"phone:{person.phone_e164}",
                  f"post:{(person.country or '').upper()}:{postal_key(person.postal_code)}",
                  f"last:{person.names[1]}"}
        return {b for b in blocks if not b.endswith((":", ":None"))}

    def add(self, person: Person) -> None:
        old = self.people.get(person.key)
        if old is not None:
            for block in self._blocks(old):
                self._keys.get(block, set()).discard(old.key)
        self.people[person.key] = person
        for block in self._blocks(person):
            self._keys.setdefault(block, set()).add(person.key)

    def candidates(self, web: Person, exclude: Iterable[str] = ()) -> list[Candidate]:
        """Likely duplicates of `web`, best first."""
        skip = set(exclude)
        keys = set().union(*(self._keys.get(b, set()) for b in self._blocks(web))) - skip
        found = [c for c in (judge(web, self.people[k]) for k in sorted(keys)) if c is not None]
        return sorted(found, key=lambda c: (-c.score, c.customer_no))


# -- reviews: a person's decision about a likely duplicate ----------------------------------------

CHOICES = ("link", "create", "ignore")


@dataclass
class Review:
    id: int
    subject: str                            # the store's customer id
    title: str
    record: dict[str, Any]                  # the store customer as it was when flagged
    candidates: list[dict[str, Any]]
    state: str                              # open, resolved
    choice: str | None = None
    chosen: str | None = None               # the BNG customer linked to
    created_at: float = 0.0
    resolved_at: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Review:
        return cls(id=row["id"], subject=row["subject"], title=row["title"], record=json.loads(row["record"]),
                   candidates=json.loads(row["candidates"]), state=row["state"], choice=row["choice"],
                   chosen=row["chosen"], created_at=row["created_at"], resolved_at=row["resolved_at"])


def open_review(store: Store, subject: str, title: str, record: Mapping[str, Any], candidates: list[Candidate],
                now: float) -> int:
    """Open (or refresh) the review of one store customer; returns its id."""
    data = json.dumps([c.as_dict() for c in candidates])
    with store.write():
        row = store.execute("SELECT id FROM review WHERE kind = ? AND subject = ? AND state = 'open'",
                            (KIND, subject)).fetchone()
        if row is not None:
            store.execute("UPDATE review SET title = ?, record = ?, candidates = ?, updated_at = ? WHERE id = ?",
                          (title, json.dumps(record, default=str), data, now, row[0]))
            return int(row[0])
        cursor = store.execute(
            "INSERT INTO review (kind, subject, title, record, candidates, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'open', ?, ?)", (KIND, subject, title, json.dumps(record, default=str), data,
                                                      now, now))
        return int(cursor.lastrowid)


def reviews(store: Store, state: str | None = "open", limit: int = 200) -> list[Review]:
    rows = store.query("SELECT * FROM review WHERE kind = ? AND (? IS NULL OR state = ?) ORDER BY id DESC LIMIT ?",
                       (KIND, state, state, limit))
    return [Review.from_row(r) for r in rows]


def review(store: Store, review_id: int) -> Review | None:
    rows = store.query("SELECT * FROM review WHERE id = ? AND kind = ?", (review_id, KIND))
    return Review.from_row(rows[0]) if rows else None


def open_review_for(store: Store, subject: str) -> Review | None:
    rows = store.query("SELECT * FROM review WHERE kind = ? AND subject = ? AND state = 'open'", (KIND, subject))
    return Review.from_row(rows[0]) if rows else None


def close_review(store: Store, review_id: int, choice: str, chosen: str | None, now: float) -> bool:
    with store.write():
        return store.execute("UPDATE review SET state = 'resolved', choice = ?, chosen = ?, resolved_at = ?, "
                             "updated_at = ? WHERE id = ? AND state = 'open'",
                             (choice, chosen, now, now, review_id)).rowcount == 1
