"""Finding or creating the BNG customer behind a web shopper, exactly once.

Used by the orders flow (every order needs a `customer_no`) and by the customers flow (registered
customers synced on their own), so both link a shopper to the same BNG record the same way:

1. the cross-reference (`xref` entity "customer") — a repeat customer costs no BNG call at all;
2. a BNG customer whose `external_id` is the shopper's (set by an earlier sync or by hand);
3. a BNG customer with the same e-mail, ignoring case (BNG matches e-mail that way). Back-office
   staff often entered the shopper by phone before they ever ordered online (the sample company's
   Arthur Holmes); such a match gets the store's customer id written into its `external_id`, so
   the next lookup is step 2 even on another machine;
4. otherwise a new BNG customer, created once (`create_once`: BNG does not deduplicate, and a
   create whose reply was lost is looked up by `external_id` before it is ever sent again).

Guests — shoppers without an account — get a new store customer id at every checkout, so the id
identifies nothing. A guest is identified by e-mail instead: cross-reference key and BNG
`external_id` are `guest:<e-mail in lower case>`. A guest whose e-mail belongs to a BNG customer
(a registered shopper, or a back-office customer) is booked to that customer, without touching its
`external_id`; a shopper who first bought as a guest and later registers takes the guest's BNG
record over (its `external_id` becomes the account's id). So one person is one BNG customer,
however they shop — the duplicate "guest and account" customers merchants complain about do not
arise.

Two orders of the same new shopper may be worked on at once; a lock per shopper (striped, per
process) makes the second wait for the first's create instead of creating a twin.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.connectors.errors import NotFound
from agent.engine.xref import create_once
from agent.mapping import MappingError, build_custom_fields
from agent.mapping.address import clean_spaces

if TYPE_CHECKING:
    from agent.connectors.bng.models import Customer as BngCustomer
    from agent.engine.workers import JobContext
    from agent.flows.base import FlowContext

ENTITY = "customer"
GUEST_PREFIX = "guest:"
NAME_LIMIT = 100

_LOCKS = [threading.Lock() for _ in range(64)]


def _lock_for(key: str) -> threading.Lock:
    return _LOCKS[zlib.crc32(key.encode("utf-8")) % len(_LOCKS)]


@dataclass
class WebCustomer:
    """A shopper as BNG should know them. `nop_id` is None for a guest."""

    email: str
    name: str
    bill_to: dict[str, Any]
    nop_id: int | None = None
    phone: str | None = None
    ship_to: list[dict[str, Any]] = field(default_factory=list)
    currency: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def guest(self) -> bool:
        return self.nop_id is None

    @property
    def key(self) -> str:
        """The cross-reference key and the BNG `external_id`: the account id, or guest:<e-mail>."""
        return guest_key(self.email) if self.nop_id is None else str(self.nop_id)

    def create_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "email": self.email, "external_id": self.key,
                                "bill_to": self.bill_to}
        if self.phone:
            body["phone"] = self.phone
        if self.ship_to:
            body["ship_to"] = self.ship_to
        if self.currency:
            body["currency"] = self.currency
        if self.custom_fields:
            body["custom_fields"] = self.custom_fields
        return body


def guest_key(email: str) -> str:
    return GUEST_PREFIX + email.strip().lower()


def display_name(first: str | None, last: str | None, company: str | None, email: str) -> str:
    """What BNG shows as the customer's name: the person, else the company, else the e-mail."""
    name = clean_spaces(f"{first or ''} {last or ''}") or clean_spaces(company) or email
    return name[:NAME_LIMIT].rstrip()


def customer_fields(ctx: FlowContext, definitions: list[Mapping[str, Any]],
                    attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """BNG custom fields of a customer from the merchant's rules (entity "customer").

    The store's API does not expose custom customer attributes, so from an order they are
    unknown (`attributes` None) and rules reading them send nothing.
    """
    return build_custom_fields(ctx.settings.mapping.custom_fields, definitions, entity="customer",
                               customer_attributes=attributes or {}).values


# -- the lookup chain ---------------------------------------------------------------------------

def find_or_create(ctx: FlowContext, customer: WebCustomer, job: JobContext | None = None) -> tuple[str, str]:
    """(BNG customer_no, how it was found: existing, linked, matched, adopted or created)."""
    key = customer.key
    known = ctx.xref.bng_key(ENTITY, key)
    if known:
        return known, "existing"
    with _lock_for(key):
        record = ctx.xref.get(ENTITY, key)
        if record is not None and record.done and record.bng_key:
            return record.bng_key, "existing"
        if record is None:                      # no create of ours is in doubt: look around first
            found = _find(ctx, customer, job)
            if found is not None:
                return found
        customer_no, outcome = create_once(
            ctx.xref, ENTITY, key, lookup=lambda: _by_external_id(ctx, key),
            create=lambda: ctx.bng.create_customer(customer.create_body(), safe_to_retry=False).customer_no,
            data={"email": customer.email})
    _step(job, f"BNG customer {customer_no} {'created' if outcome == 'created' else 'found again'} for "
               f"{_who(customer)}", customer_no, customer.email)
    return customer_no, outcome


def _by_external_id(ctx: FlowContext, external_id: str) -> str | None:
    found = ctx.bng.find_customers(external_id=external_id)
    return found[0].customer_no if found else None


def _find(ctx: FlowContext, customer: WebCustomer, job: JobContext | None) -> tuple[str, str] | None:
    """Steps 2 and 3: by external_id, then by e-mail (linking the match)."""
    key = customer.key
    by_id = ctx.bng.find_customers(external_id=key)
    if by_id:
        ctx.xref.link(ENTITY, key, by_id[0].customer_no, {"email": customer.email})
        _step(job, f"BNG customer {by_id[0].customer_no} already carries the store's id {key}",
              by_id[0].customer_no, customer.email)
        return by_id[0].customer_no, "linked"
    by_email = ctx.bng.find_customers(email=customer.email) if customer.email else []
    if not by_email:
        return None
    match = _best_match(by_email, customer)
    current = (match.external_id or "").strip()
    claim = not customer.guest and (not current or current.startswith(GUEST_PREFIX))
    if claim:
        ctx.bng.patch_customer(match.customer_no, {"external_id": key}, row_version=match.row_version)
        _step(job, f"BNG customer {match.customer_no} has the e-mail {customer.email}: linked to the store's "
                   f"customer {key} (its external_id is now {key})", match.customer_no, customer.email)
    elif current and current != key and not current.startswith(GUEST_PREFIX) and not customer.guest:
        _step(job, f"BNG customer {match.customer_no} has the e-mail {customer.email} but belongs to the store's "
                   f"customer {current}; the orders of customer {key} are booked to it as well",
              match.customer_no, customer.email, level="warning")
    else:
        _step(job, f"BNG customer {match.customer_no} has the e-mail {customer.email}: the {_who(customer)}'s "
                   "orders are booked to it", match.customer_no, customer.email)
    ctx.xref.link(ENTITY, key, match.customer_no, {"email": customer.email})
    return match.customer_no, "matched"


def _best_match(candidates: list[BngCustomer], customer: WebCustomer) -> BngCustomer:
    """Prefer a customer nobody claimed yet, then one claimed by a guest, then the oldest."""
    def rank(c: BngCustomer) -> tuple[int, str]:
        ext = (c.external_id or "").strip()
        return (0 if not ext else 1 if ext.startswith(GUEST_PREFIX) else 2, c.customer_no)
    return min(candidates, key=rank)


def _who(customer: WebCustomer) -> str:
    return f"guest {customer.email}" if customer.guest else f"store customer {customer.nop_id}"


def _step(job: JobContext | None, message: str, customer_no: str, email: str, level: str = "info") -> None:
    if job is not None:
        job.step(message, level=level, subject=f"bng-customer:{customer_no} email:{email}")


# -- from an order ------------------------------------------------------------------------------

def web_customer_from_order(ctx: FlowContext, order: Mapping[str, Any], bill_to: dict[str, Any],
                            ship_to: dict[str, Any] | None, currency: str | None,
                            custom_field_defs: list[Mapping[str, Any]]) -> WebCustomer:
    """The shopper of an order. Registered or guest is told by the store's customer record (guests
    have no e-mail on their account); that record is read only for a shopper not linked yet."""
    billing = order.get("billing_address") or {}
    billing_email = clean_spaces(billing.get("email"))
    customer_id = order.get("customer_id")
    account = None
    if customer_id:
        try:
            account = ctx.nop.get_customer(int(customer_id))
        except NotFound:
            account = None                       # deleted since: book the order like a guest's
    email = clean_spaces(account.email) if account is not None and account.email else ""
    registered = bool(email)
    email = email or billing_email
    if not email:
        raise MappingError(f"Order {order.get('id')} has no e-mail address (neither the customer account nor the "
                           "billing address has one), and BNG needs one to find or create the customer")
    first = (account.first_name if registered and account and account.first_name else billing.get("first_name"))
    last = (account.last_name if registered and account and account.last_name else billing.get("last_name"))
    company = billing.get("company") or (account.company if account else None)
    return WebCustomer(
        email=email, name=display_name(first, last, company, email), bill_to=bill_to,
        nop_id=int(customer_id) if registered else None, phone=bill_to.get("phone"),
        ship_to=[ship_to] if ship_to and ship_to != bill_to else [], currency=currency,
        custom_fields=customer_fields(ctx, custom_field_defs))


def customer_for_order(ctx: FlowContext, order: Mapping[str, Any], bill_to: dict[str, Any],
                       ship_to: dict[str, Any] | None, currency: str | None,
                       custom_field_defs: list[Mapping[str, Any]], job: JobContext | None = None) -> tuple[str, str]:
    """The BNG customer_no for an order's shopper, and the shopper's e-mail (for the history).

    A linked registered shopper is answered from the cross-reference alone: no store call, no
    BNG call. A known guest costs nothing either once their e-mail is linked.
    """
    customer_id = order.get("customer_id")
    billing_email = clean_spaces((order.get("billing_address") or {}).get("email"))
    if customer_id:
        known = ctx.xref.get(ENTITY, str(customer_id))
        if known is not None and known.done and known.bng_key:
            return known.bng_key, str((known.data or {}).get("email") or billing_email)
    shopper = web_customer_from_order(ctx, order, bill_to, ship_to, currency, custom_field_defs)
    customer_no, _ = find_or_create(ctx, shopper, job)
    return customer_no, shopper.email
