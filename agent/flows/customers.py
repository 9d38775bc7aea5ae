"""Customers: the store's registered customers become BNG customers, and their changes follow.

The store's API has no "modified since" for customers, so the poll (`customers.poll`) reads the
registered customers and compares each with what was last sent (a fingerprint of e-mail, names,
company and addresses, kept in `customer_state`); a new or changed one gets a `customer.sync`
job, keyed by the store's id and the fingerprints (`nop-customer:<id>@<new>.<old>`), so a change
is new work while a customer that keeps failing stays one entry on the errors page.

Finding the BNG customer is the orders flow's way, shared (`bng_customers`): the cross-reference,
then BNG's `external_id`, then the e-mail, else a new customer. Before creating one, BNG's
customers are searched for a *likely duplicate* — the same person with another e-mail, a phone
customer who now shops online (`duplicates`). Such a customer is not merged and not created: a
review is opened with the evidence, and a person decides (`list_reviews`, `resolve_review`):
link to the BNG customer, create a new one anyway, or ignore the web customer.

What is sent when: a new BNG customer gets everything; a BNG customer found by e-mail or linked
by a person keeps what BNG's staff entered (only its `external_id` is set); after that, what the
customer changes in the store (name, e-mail, phone, billing and shipping address) is patched into
BNG, field by field, and nothing else.

Jobs (kind — dedupe key — payload):

- `customers.poll` — `poll:customers:<run>` — {"trigger", "full"}.
- `customer.sync` — `nop-customer:<id>@<fingerprint>.<previous fingerprint>` (`.webhook` from a
  store webhook, `@review:<review id>` after a person's decision) — {"customer": the store's
  CustomerDto, "decision"?: {"choice", "customer_no"}}.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent.connectors.nopcommerce.models import Customer
from agent.engine.errors import Quarantine
from agent.engine.queue import JobSpec
from agent.flows import bng_customers, duplicates
from agent.flows.base import Flow
from agent.flows.bng_customers import WebCustomer, display_name
from agent.flows.order_mapping import Lookups
from agent.mapping import normalize_address

if TYPE_CHECKING:
    from agent.engine.alerts import Alerts
    from agent.engine.queue import JobQueue
    from agent.engine.workers import JobContext
    from agent.flows.base import FlowContext
    from agent.store import Store

NAME = "customers"
POLL = "customers.poll"
SYNC = "customer.sync"
ENTITY = bng_customers.ENTITY
ADMINISTRATORS = 1              # nopCommerce's first role: the shop's staff, not its customers
REVIEW_ALERT = "review:customers"


# -- what is sent --------------------------------------------------------------------------------

def is_customer(customer: Customer, api_user: str = "") -> bool:
    """A registered shopper: not a guest, a system account, the staff, or the agent's own API user."""
    email = (customer.email or "").strip().casefold()
    return (bool(email) and not customer.deleted and not customer.is_system_account
            and ADMINISTRATORS not in customer.role_ids and email != api_user.strip().casefold())


def _address_fields(address: Any) -> dict[str, Any] | None:
    if address is None:
        return None
    data = address.model_dump() if hasattr(address, "model_dump") else dict(address)
    return {k: data.get(k) for k in ("first_name", "last_name", "company", "country_id", "state_province_id", "city",
                                     "address1", "address2", "zip_postal_code", "phone_number")}


def fingerprint(customer: Customer) -> str:
    """What identifies this version of the customer for BNG (e-mail, names, company, addresses)."""
    billing = customer.billing_address or (customer.addresses[0] if customer.addresses else None)
    shipping = customer.shipping_address
    data = {"email": (customer.email or "").strip().casefold(), "first": customer.first_name,
            "last": customer.last_name, "company": customer.company, "bill": _address_fields(billing),
            "ship": _address_fields(shipping) if shipping is not None and shipping.id != (billing and billing.id)
            else None}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def web_customer(ctx: FlowContext, customer: Customer) -> WebCustomer:
    """The store customer as BNG should know them (addresses cleaned like an order's)."""
    billing = customer.billing_address or (customer.addresses[0] if customer.addresses else None)
    if billing is None:
        raise Quarantine(f"Store customer {customer.id} ({customer.email}) has no address yet, and BNG needs a "
                         "billing address; it is synced once the customer adds one")
    lookups = Lookups(ctx)
    countries, states = lookups.countries(), lookups.states()
    bill = normalize_address(billing.model_dump(), countries=countries, states=states, what="billing address").address
    ship_to = []
    shipping = customer.shipping_address
    if shipping is not None and shipping.id != billing.id:
        ship = normalize_address(shipping.model_dump(), countries=countries, states=states,
                                 what="shipping address").address
        if ship != bill:
            ship_to = [ship]
    email = (customer.email or "").strip()
    name = display_name(customer.first_name or billing.first_name, customer.last_name or billing.last_name,
                        customer.company or billing.company, email)
    return WebCustomer(email=email, name=name, bill_to=bill, nop_id=customer.id, phone=bill.get("phone"),
                       ship_to=ship_to, custom_fields=bng_customers.customer_fields(ctx, lookups.custom_fields()))


def synced_values(web: WebCustomer) -> dict[str, Any]:
    return {"name": web.name, "email": web.email, "phone": web.phone, "bill_to": web.bill_to, "ship_to": web.ship_to}


def as_person(web: WebCustomer) -> duplicates.Person:
    bill = web.bill_to
    return duplicates.Person(key=web.key, name=web.name, email=web.email, phone=web.phone, line1=bill.get("line1"),
                             postal_code=bill.get("postal_code"), city=bill.get("city"), country=bill.get("country"))


# -- state kept per store customer ----------------------------------------------------------------

def _state(store: Store, nop_id: int) -> dict[str, Any] | None:
    rows = store.query("SELECT fingerprint, customer_no, synced FROM customer_state WHERE nop_id = ?", (nop_id,))
    if not rows:
        return None
    row = rows[0]
    return {"fingerprint": row["fingerprint"], "customer_no": row["customer_no"],
            "synced": json.loads(row["synced"]) if row["synced"] else {}}


def _remember(store: Store, nop_id: int, fp: str, customer_no: str | None, synced: Mapping[str, Any],
              now: float) -> None:
    with store.write():
        store.execute(
            "INSERT INTO customer_state (nop_id, fingerprint, customer_no, synced, synced_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(nop_id) DO UPDATE SET fingerprint = ?2, customer_no = ?3, "
            "synced = ?4, synced_at = ?5",
            (nop_id, fp, customer_no, json.dumps(dict(synced), sort_keys=True, default=str), now))


# -- BNG's customers, for duplicate candidates --------------------------------------------------------

def customer_index(ctx: FlowContext) -> duplicates.CustomerIndex:
    """BNG's customers, indexed; kept in the agent's cache and topped up with what changed since."""
    entry = ctx.cache.get("customers:index")
    if entry is None:
        entry = ctx.cache["customers:index"] = {"index": duplicates.CustomerIndex(), "since": None}
    newest = entry["since"]
    for customer in ctx.bng.iter_customers(modified_since=newest):
        entry["index"].add(duplicates.Person.from_bng(customer))
        if customer.modified_at is not None and (newest is None or customer.modified_at > newest):
            newest = customer.modified_at
    entry["since"] = newest
    return entry["index"]


def _known_in_bng(ctx: FlowContext, web: WebCustomer) -> bool:
    """Would the shared lookup find this customer (by external id or e-mail) without creating one?"""
    return bool(ctx.bng.find_customers(external_id=web.key) or ctx.bng.find_customers(email=web.email))


# -- one customer ----------------------------------------------------------------------------------

def sync_customer(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    payload = job.payload
    decision = payload.get("decision")
    customer = Customer.model_validate(payload["customer"])
    if decision:                                    # a person decided: work with the customer as it is now
        customer = ctx.nop.get_customer(customer.id)
    job.add_subject(f"nop-customer:{customer.id}", f"email:{customer.email}")
    if not is_customer(customer, ctx.settings.nopcommerce.username):
        return {"action": "skipped", "note": "not a shopper's account (guest, staff or the agent's API user)"}
    web = web_customer(ctx, customer)
    fp = fingerprint(customer)
    values = synced_values(web)
    previous = _state(ctx.store, customer.id)
    known = ctx.xref.bng_key(ENTITY, web.key)

    if known:
        changes = {k: v for k, v in values.items() if previous is not None and previous["synced"].get(k) != v}
        if changes:
            ctx.bng.patch_customer(known, changes)
            job.step(f"BNG customer {known} updated: {', '.join(sorted(changes))}", subject=f"bng-customer:{known}")
        _remember(ctx.store, customer.id, fp, known, values, ctx.clock())
        return {"customer_no": known, "action": "updated" if changes else "unchanged", "fields": sorted(changes)}

    if decision is None:
        waiting = duplicates.open_review_for(ctx.store, web.key)
        if waiting is not None:
            return {"action": "waiting for a person's decision", "review": waiting.id}
        if not _known_in_bng(ctx, web):
            candidates = customer_index(ctx).candidates(as_person(web))
            if candidates:
                return _hold_for_review(ctx, job, customer, web, candidates)
        customer_no, outcome = bng_customers.find_or_create(ctx, web, job)
    elif decision["choice"] == "link":
        customer_no, outcome = _link(ctx, job, web, str(decision["customer_no"])), "linked by a person"
    else:
        customer_no, outcome = bng_customers.find_or_create(ctx, web, job)
    job.add_subject(f"bng-customer:{customer_no}")
    _remember(ctx.store, customer.id, fp, customer_no, values, ctx.clock())
    return {"customer_no": customer_no, "action": outcome}


def _hold_for_review(ctx: FlowContext, job: JobContext, customer: Customer, web: WebCustomer,
                     candidates: list[duplicates.Candidate]) -> dict[str, Any]:
    best = candidates[0]
    title = f"Store customer {web.name} <{web.email}> may be BNG customer {best.name} ({best.customer_no})"
    review_id = duplicates.open_review(ctx.store, web.key, title, customer.model_dump(mode="json"), candidates,
                                       ctx.clock())
    job.step(f"{title}: {'; '.join(best.evidence)}. Not created in BNG until a person decides (review {review_id})",
             level="warning", subject=f"bng-customer:{best.customer_no}")
    ctx.alerts.raise_alert(REVIEW_ALERT, "Possible duplicate customers to review",
                           f"{title}. Link them, create a new BNG customer, or ignore it.", kind="review",
                           data={"review": review_id})
    return {"action": "held for review", "review": review_id, "candidates": [c.as_dict() for c in candidates]}


def _link(ctx: FlowContext, job: JobContext, web: WebCustomer, customer_no: str) -> str:
    """Link the store customer to the BNG customer a person chose; BNG keeps its own data."""
    current = ctx.bng.get_customer(customer_no)
    external = (current.external_id or "").strip()
    if not external or external.startswith(bng_customers.GUEST_PREFIX):
        ctx.bng.patch_customer(customer_no, {"external_id": web.key}, row_version=current.row_version)
    ctx.xref.link(ENTITY, web.key, customer_no, {"email": web.email})
    job.step(f"store customer {web.key} linked to BNG customer {customer_no} by a person's decision",
             subject=f"bng-customer:{customer_no}")
    return customer_no


# -- the poll ------------------------------------------------------------------------------------

def poll(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    """Queue a sync of every registered customer that is new or changed since it was last sent."""
    full = bool((job.payload or {}).get("full"))
    known = {row["nop_id"]: row for row in ctx.store.query(
        "SELECT nop_id, fingerprint, customer_no, synced LIKE '%\"ignored\"%' AS ignored FROM customer_state")}
    specs: list[JobSpec] = []
    seen = 0
    for customer in ctx.nop.list_customers():
        if not is_customer(customer, ctx.settings.nopcommerce.username):
            continue
        seen += 1
        fp = fingerprint(customer)
        previous = known.get(customer.id)
        unchanged = previous is not None and previous["fingerprint"] == fp
        if unchanged and (previous["customer_no"] or previous["ignored"] or not full):
            continue
        version = f"{fp}.{previous['fingerprint'] if previous else 'new'}"
        specs.append(JobSpec(SYNC, f"nop-customer:{customer.id}@{version}",
                             {"customer": customer.model_dump(mode="json")}))
    if specs:
        ctx.queue.enqueue_many(specs, run_id=job.run_id)
    message = f"{len(specs)} new or changed customer(s)" if specs else "no customer changes in the store"
    return {"customers": seen, "enqueued": len(specs), "message": message}


def webhook_jobs(action: str, item: dict[str, Any]) -> list[JobSpec] | None:
    """`customers/create` and `customers/update` of a registered shopper → the sync a poll would make."""
    if action not in ("customers/create", "customers/update") or not isinstance(item, dict) or not item.get("id"):
        return None
    customer = Customer.model_validate(item)
    if not is_customer(customer):
        return None
    return [JobSpec(SYNC, f"nop-customer:{customer.id}@{fingerprint(customer)}.webhook",
                    {"customer": customer.model_dump(mode="json")})]


# -- what people decide --------------------------------------------------------------------------

def list_reviews(store: Store, state: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Likely duplicates waiting for a decision (state None: all), newest first, for the UI and CLI."""
    return [{"id": r.id, "customer_id": r.subject, "title": r.title, "customer": review_customer(r.record),
             "state": r.state, "choice": r.choice, "chosen": r.chosen, "candidates": r.candidates,
             "created_at": r.created_at, "resolved_at": r.resolved_at} for r in duplicates.reviews(store, state, limit)]


def review_customer(record: Mapping[str, Any]) -> dict[str, Any]:
    """The store customer of a review as a person compares it with BNG's: name, e-mail, phone, address.

    Read from the customer as it was when flagged (the review keeps it), so the evidence and what is
    shown beside it agree."""
    customer = Customer.model_validate(record)
    billing = customer.billing_address or (customer.addresses[0] if customer.addresses else None)
    email = (customer.email or "").strip()
    name = display_name(customer.first_name or (billing and billing.first_name),
                        customer.last_name or (billing and billing.last_name),
                        customer.company or (billing and billing.company), email)
    address = ""
    if billing is not None:
        town = " ".join(p for p in (billing.zip_postal_code, billing.city) if p)
        address = ", ".join(p for p in (billing.address1, billing.address2, town) if p)
    return {"id": customer.id, "name": name, "email": email, "phone": billing.phone_number if billing else None,
            "address": address}


def resolve_review(store: Store, queue: JobQueue, review_id: int, choice: str, customer_no: str | None = None,
                   now: float | None = None, alerts: Alerts | None = None) -> dict[str, Any]:
    """Apply a person's decision: "link" (to `customer_no`, else the best candidate), "create" a new
    BNG customer, or "ignore" the store customer (until it changes). Returns what was done. With
    `alerts`, the "customers to review" alert is closed once no review is left open."""
    if choice not in duplicates.CHOICES:
        raise ValueError(f"choice must be one of {', '.join(duplicates.CHOICES)}")
    review = duplicates.review(store, review_id)
    if review is None or review.state != "open":
        raise ValueError(f"review {review_id} is not open")
    chosen = None
    if choice == "link":
        chosen = customer_no or (review.candidates[0]["customer_no"] if review.candidates else None)
        if not chosen:
            raise ValueError("link needs the BNG customer number")
    now = time.time() if now is None else now
    if not duplicates.close_review(store, review_id, choice, chosen, now):
        raise ValueError(f"review {review_id} was decided meanwhile")
    if alerts is not None and not duplicates.reviews(store, "open", limit=1):
        alerts.resolve(REVIEW_ALERT, "every possible duplicate customer has been decided")
    customer = Customer.model_validate(review.record)
    if choice == "ignore":
        _remember(store, customer.id, fingerprint(customer), None, {"ignored": True}, now)
        return {"review": review_id, "choice": choice}
    result = queue.enqueue(SYNC, f"nop-customer:{customer.id}@review:{review_id}",
                           {"customer": review.record, "decision": {"choice": choice, "customer_no": chosen}})
    return {"review": review_id, "choice": choice, "customer_no": chosen, "job": result.job_id}


FLOW = Flow(name=NAME, poll_kind=POLL, handlers={POLL: poll, SYNC: sync_customer})
