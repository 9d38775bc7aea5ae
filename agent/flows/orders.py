"""Orders: a web order becomes a BNG sales order, exactly once; a store cancellation follows it.

Jobs (kind — dedupe key — payload):

- `orders.poll` — `poll:orders:<run>` — {"trigger", "full"}. Reads new orders by `since_id`
  (cursor `orders.since_id`, starting after `schedules.first_order_id`) and enqueues one
  `order.create` per order in the same transaction that moves the cursor, page by page, so a
  crash can neither skip an order nor lose one. Then it re-reads the cancelled orders of the last
  `open_order_window_days`: the store has no "modified since" for orders, so a cancellation can
  only be found by looking again.
- `order.create` — `nop-order:<id>` — the order as the store's API returned it (lines' embedded
  products trimmed), so a person can correct it on the errors page and retry. Webhooks
  (`orders/create`) produce the same job under the same key, so a webhook and a poll of one order
  coalesce into one job, and a repeat after success is a warning in the history, never a second
  BNG order. A retry may carry `{"sku_substitutions": {"OLD": "NEW"}}` as an override.
- `order.cancel` — `nop-order-cancel:<id>` — {"id"}. The store cancelled an order that is (or is
  about to be) in BNG: cancel it there too while nothing has shipped, else leave it to a person.

Why the create is shaped as it is: BNG does not deduplicate, so the POST is never repeated blindly
(`safe_to_retry=False`); `create_once` records the intent first, and an attempt whose reply was
lost is followed by a lookup by `external_order_id` before anything is sent again.

Notes on orders: the store's API has no order-note endpoint, so the BNG order number is recorded
in the agent's history instead (subjects `nop-order:<id> bng-order:<no> email:<e> sku:<sku>`):
`bngsync history 1234` shows the whole trail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent.connectors.errors import Conflict
from agent.engine.cursors import Cursors, commit_batch
from agent.engine.errors import Quarantine
from agent.engine.queue import ACTIVE_STATES, ERROR_STATES, JobSpec, merge
from agent.engine.xref import create_once
from agent.flows import bng_customers
from agent.flows.base import Flow, FlowContext
from agent.flows.order_mapping import (
    Lookups,
    build_sales_order,
    item_number,
    order_payload,
    ship_and_bill,
    store_sku,
    substitutions,
)
from agent.mapping import choose_currency
from agent.quality import OrderHistory, decide, detect_anomalies, summary, validate_order

if TYPE_CHECKING:
    from agent.engine.workers import JobContext

log = logging.getLogger(__name__)

POLL = "orders.poll"
CREATE = "order.create"
CANCEL = "order.cancel"
CURSOR = "orders.since_id"
ENTITY = "order"
BATCH = 200                      # orders committed with one cursor move
# BNG statuses in which nothing has left the warehouse yet: a store cancellation can follow.
CANCELLABLE = ("New", "Open", "OnHold", "Released")
SHIPPED = ("PartiallyShipped", "Shipped", "Invoiced", "Closed")


def order_key(order_id: int | str) -> str:
    return f"nop-order:{order_id}"


def cancel_key(order_id: int | str) -> str:
    return f"nop-order-cancel:{order_id}"


def is_cancelled(order: Mapping[str, Any]) -> bool:
    return str(order.get("order_status") or "").casefold() == "cancelled" or order.get("order_status_id") == 40


# -- polling ------------------------------------------------------------------------------------

def poll(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    """New orders since the cursor, then the cancellations of the open-order window."""
    first = ctx.settings.schedules.first_order_id
    since = max(int(Cursors(ctx.store).get(CURSOR, first)), first)
    new = last = 0
    batch: list[JobSpec] = []
    for order in ctx.nop.list_orders(since_id=since):
        batch.append(JobSpec(CREATE, order_key(order.id), order_payload(order)))
        last = order.id
        if len(batch) >= BATCH:
            new += _commit(ctx, job, batch, last)
            batch = []
    if batch:
        new += _commit(ctx, job, batch, last)
    missed = _rescan(ctx, job, first) if (job.payload or {}).get("full") else 0
    cancelled = recheck_cancellations(ctx, job)
    parts = [f"{new} new order{'s' if new != 1 else ''}"]
    if missed:
        parts.append(f"{missed} missed order{'s' if missed != 1 else ''} found again")
    if cancelled:
        parts.append(f"{cancelled} cancellation{'s' if cancelled != 1 else ''} to pass on")
    return {"new_orders": new, "missed": missed, "cancellations": cancelled, "message": ", ".join(parts)}


def _commit(ctx: FlowContext, job: JobContext, batch: list[JobSpec], last_id: int) -> int:
    results = commit_batch(ctx.queue, batch, CURSOR, last_id, run_id=job.run_id)
    return sum(1 for r in results if r.outcome != "duplicate")


def _known_keys(ctx: FlowContext, keys: Iterable[str]) -> set[str]:
    """Which of the dedupe keys already have a job (in any state)."""
    keys = list(keys)
    if not keys:
        return set()
    rows = ctx.store.query("SELECT DISTINCT dedupe_key AS k FROM job WHERE dedupe_key IN "
                           "(SELECT value FROM json_each(?))", (json.dumps(keys),))
    return {r["k"] for r in rows}


def _rescan(ctx: FlowContext, job: JobContext, first: int) -> int:
    """A full run (the nightly reconciliation) looks at every order id again and queues the orders
    that have no job at all, e.g. after a person moved the cursor past them. Only ids are listed;
    just the missing orders are read in full."""
    found = 0
    page: list[int] = []

    def flush() -> int:
        known = _known_keys(ctx, (order_key(i) for i in page))
        linked = {r["nop_id"] for r in ctx.store.query(
            "SELECT nop_id FROM xref WHERE entity = ? AND nop_id IN (SELECT value FROM json_each(?))",
            (ENTITY, json.dumps([str(i) for i in page])))}
        missing = [i for i in page if order_key(i) not in known and str(i) not in linked]
        specs = [JobSpec(CREATE, order_key(i), order_payload(ctx.nop.get_order(i))) for i in missing]
        if specs:
            ctx.queue.enqueue_many(specs, run_id=job.run_id)
        return len(specs)

    for order in ctx.nop.list_orders(since_id=first, fields="id"):
        page.append(order.id)
        if len(page) >= BATCH:
            found += flush()
            page = []
    if page:
        found += flush()
    return found


def recheck_cancellations(ctx: FlowContext, job: JobContext) -> int:
    """Queue an `order.cancel` for each order the store cancelled within the open-order window that
    is in BNG or on its way there, once per order."""
    days = ctx.settings.schedules.open_order_window_days
    since = datetime.fromtimestamp(ctx.clock(), UTC) - timedelta(days=days)
    ids = [o.id for o in ctx.nop.list_orders(status="Cancelled", created_at_min=since,
                                             fields="id,order_status,created_on_utc")]
    if not ids:
        return 0
    linked = {int(r["nop_id"]) for r in ctx.store.query(
        "SELECT nop_id FROM xref WHERE entity = ? AND nop_id IN (SELECT value FROM json_each(?))",
        (ENTITY, json.dumps([str(i) for i in ids])))}
    waiting = {r["k"] for r in ctx.store.query(
        "SELECT DISTINCT dedupe_key AS k FROM job WHERE kind = ? AND state IN (SELECT value FROM json_each(?)) "
        "AND dedupe_key IN (SELECT value FROM json_each(?))",
        (CREATE, json.dumps([*ACTIVE_STATES, *ERROR_STATES]), json.dumps([order_key(i) for i in ids])))}
    candidates = [i for i in ids if i in linked or order_key(i) in waiting]
    known = _known_keys(ctx, (cancel_key(i) for i in candidates))
    specs = [JobSpec(CANCEL, cancel_key(i), {"id": i}, priority=50) for i in candidates if cancel_key(i) not in known]
    if specs:
        ctx.queue.enqueue_many(specs, run_id=job.run_id)
    return len(specs)


# -- creating the BNG order -----------------------------------------------------------------------

def create(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    order = job.payload
    order_id = int(order["id"])
    job.add_subject(order_key(order_id))
    record = ctx.xref.get(ENTITY, order_id)
    if record is not None and record.done:
        job.add_subject(f"bng-order:{record.bng_key}")
        job.step(f"order {order_id} is already in BNG as {record.bng_key}; nothing was sent again", "warning")
        if is_cancelled(order):
            cancel_in_bng(ctx, job, order_id, str(record.bng_key))
        return {"order_no": record.bng_key, "outcome": "existing"}
    if is_cancelled(order):
        order_no = _settle_doubt(ctx, job, order_id)
        if order_no:
            return cancel_in_bng(ctx, job, order_id, order_no)
        job.step(f"order {order_id} was cancelled in the store before it reached BNG; it is not sent")
        return {"outcome": "cancelled in the store"}
    if order_id <= ctx.settings.schedules.first_order_id:
        job.step(f"order {order_id} is older than the first order to sync ({ctx.settings.schedules.first_order_id})")
        return {"outcome": "before the first order to sync"}

    lookups = Lookups(ctx)
    mapping = ctx.settings.mapping
    subs = substitutions(mapping, order)
    items = _items(job, lookups, order, subs)
    countries, states = lookups.countries(), lookups.states()
    hold = _quality(ctx, job, order, countries, items, subs)

    bill, ship = ship_and_bill(order, countries, states, lookups.normalize)
    currency = choose_currency(mapping.currency, order.get("customer_currency_code"), order.get("currency_rate"),
                               rates=lookups.currency_rates() if mapping.currency.mode == "fixed" else None,
                               primary_code=mapping.currency.code).code
    custom_fields = lookups.custom_fields()
    customer_no, email = bng_customers.customer_for_order(ctx, order, bill.address, ship.address, currency,
                                                          custom_fields, job)
    if email:
        job.add_subject(f"email:{email}")
    draft = build_sales_order(order, customer_no=customer_no, mapping=mapping, items=items, countries=countries,
                              states=states, custom_field_defs=custom_fields, dimension_defs=lookups.dimensions(),
                              subs=subs, rates=lookups.currency_rates() if mapping.currency.mode == "fixed" else None,
                              hold=hold, addresses=(bill, ship))
    job.add_subject(*(f"sku:{sku}" for sku in draft.skus))

    data = {"customer_no": customer_no, "email": email, "lines": draft.line_items}
    in_doubt = record is not None               # an earlier attempt's create may have happened
    with ctx.store.write():                     # one commit: the order's facts for the quality checks, and
        OrderHistory(ctx.store, countries=countries).record(order)   # the intent that must precede the POST
        if not in_doubt:
            ctx.xref.record_intent(ENTITY, order_id, data)
    order_no, outcome = create_once(
        ctx.xref, ENTITY, order_id, lookup=lambda: _find_in_bng(ctx, job, order_id) if in_doubt else None,
        create=lambda: ctx.bng.create_sales_order(draft.payload, safe_to_retry=False).order_no, data=data)
    job.add_subject(f"bng-order:{order_no}")
    what = "created" if outcome == "created" else "found in BNG (an earlier attempt had created it)"
    job.step(f"web order {order.get('custom_order_number') or order_id} → BNG sales order {order_no} {what}: "
             f"customer {customer_no}, {draft.payload['currency']} {draft.payload['total']}, "
             f"status {draft.payload['status']}" + "".join(f"; {note}" for note in draft.notes),
             data={"notes": draft.notes} if draft.notes else None)
    if hold:
        ctx.alerts.anomaly("order-hold", "Orders on hold in BNG",
                           f"BNG order {order_no} (web order {order_id}) was created On hold: check it, then "
                           "release it")
    if is_cancelled(order):                     # the store cancelled it while this job was waiting
        cancel_in_bng(ctx, job, order_id, order_no)
    return {"order_no": order_no, "outcome": outcome, "customer_no": customer_no,
            "status": draft.payload["status"], "total": draft.payload["total"]}


def _items(job: JobContext, lookups: Lookups, order: Mapping[str, Any],
           subs: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The BNG item of every line; a line BNG has no item for stops the order (quarantine)."""
    numbers = [item_number(item, subs) for item in order.get("order_items") or []]
    found, missing = lookups.items(n for n in numbers if n)
    if missing:
        job.add_subject(*(f"sku:{sku}" for sku in missing))
        reasons = "; ".join(f"SKU {sku} is not an item in BNG" for sku in missing)
        raise Quarantine(f"{reasons}. Add the item in BNG, or retry the order with a SKU substitution "
                         f"(e.g. {{\"sku_substitutions\": {{\"{missing[0]}\": \"<BNG item no>\"}}}})",
                         error_class="not_found")
    return found


def _quality(ctx: FlowContext, job: JobContext, order: Mapping[str, Any], countries: Mapping[int, Any],
             items: Mapping[str, Mapping[str, Any]], subs: Mapping[str, str]) -> bool:
    """Run the data-quality checks; quarantine or hold as configured. Returns True for a hold."""
    settings = ctx.settings.quality
    flags = validate_order(order, countries=countries, settings=settings)
    prices = {}
    for item in order.get("order_items") or []:
        bng = items.get(item_number(item, subs))
        if bng is not None and bng.get("unit_price") is not None:
            prices[store_sku(item)] = Decimal(str(bng["unit_price"]))
    flags += detect_anomalies(order, OrderHistory(ctx.store, countries=countries), list_prices=prices,
                              settings=settings, now=ctx.clock())
    decision = decide(flags)
    if decision == "quarantine":
        raise Quarantine(summary(f for f in flags if f.action == "quarantine").replace("Quarantined: ", ""))
    for flag in flags:
        if flag.action in ("note", "hold"):
            job.step(("On hold: " if flag.action == "hold" else "Noted: ") + flag.reason, "warning",
                     data=flag.to_dict())
    return decision == "hold"


def _find_in_bng(ctx: FlowContext, job: JobContext, order_id: int) -> str | None:
    """The BNG order an earlier attempt may have created (its reply was lost): by external_order_id."""
    found = ctx.bng.find_sales_orders(str(order_id))
    if not found:
        return None
    if len(found) > 1:
        numbers = ", ".join(o.order_no for o in found)
        job.step(f"BNG holds {len(found)} orders for web order {order_id} ({numbers}); the first is kept, "
                 "cancel the others in BNG", "warning")
    return sorted(found, key=lambda o: o.order_no)[0].order_no


# -- cancelling ---------------------------------------------------------------------------------

def cancel(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    """The store cancelled order `id`: cancel its BNG order, or stop its transfer to BNG."""
    order_id = int(job.payload["id"])
    job.add_subject(order_key(order_id))
    order_no = ctx.xref.bng_key(ENTITY, order_id) or _settle_doubt(ctx, job, order_id)
    if order_no:
        return cancel_in_bng(ctx, job, order_id, order_no)
    waiting = ctx.queue.find(kind=CREATE, key=order_key(order_id), limit=1)
    if waiting and waiting[0].state in ACTIVE_STATES:
        fresh = order_payload(ctx.nop.get_order(order_id))
        ctx.queue.enqueue(CREATE, order_key(order_id), fresh, run_id=job.run_id)
        job.step(f"order {order_id} is not in BNG yet; its waiting transfer now knows it is cancelled")
        return {"outcome": "not in BNG yet"}
    if waiting and waiting[0].state in ERROR_STATES:
        ctx.queue.discard(waiting[0].id, "the order was cancelled in the store: nothing to send to BNG")
        job.step(f"order {order_id} was cancelled in the store: its held transfer to BNG is no longer needed")
        return {"outcome": "transfer discarded"}
    job.step(f"order {order_id} never reached BNG: nothing to cancel there")
    return {"outcome": "not in BNG"}


def _settle_doubt(ctx: FlowContext, job: JobContext, order_id: int) -> str | None:
    """For an order about to be left out of BNG: did an earlier create whose reply was lost happen
    after all? Adopt its BNG order if so, else drop the doubt. None when nothing is in BNG."""
    record = ctx.xref.get(ENTITY, order_id)
    if record is None or record.done:
        return record.bng_key if record is not None else None
    found = _find_in_bng(ctx, job, order_id)
    if found:
        ctx.xref.complete(ENTITY, order_id, found)
        return found
    ctx.xref.forget(ENTITY, order_id)
    return None


def cancel_in_bng(ctx: FlowContext, job: JobContext, order_id: int, order_no: str) -> dict[str, Any]:
    """Cancel BNG order `order_no` unless goods have left; then a person has to decide."""
    job.add_subject(f"bng-order:{order_no}")
    current = ctx.bng.get_sales_order(order_no)
    if current.status == "Cancelled":
        job.step(f"BNG order {order_no} is already cancelled")
        return {"order_no": order_no, "outcome": "already cancelled"}
    if current.status in CANCELLABLE:
        try:
            ctx.bng.patch_sales_order(order_no, {"status": "Cancelled"}, row_version=current.row_version)
        except Conflict:
            current = ctx.bng.get_sales_order(order_no)
            if current.status not in SHIPPED:
                raise
        else:
            job.step(f"web order {order_id} was cancelled in the store → BNG order {order_no} cancelled "
                     f"(it was {current.status})")
            return {"order_no": order_no, "outcome": "cancelled"}
    raise Quarantine(f"Web order {order_id} was cancelled in the store, but BNG order {order_no} is already "
                     f"{current.status}: goods have left the warehouse, so the agent did not cancel it. Arrange a "
                     "return or refund in BNG, then discard this entry.", error_class="conflict")


# -- webhooks -----------------------------------------------------------------------------------

def webhook_jobs(action: str, item: dict[str, Any]) -> list[JobSpec] | None:
    """`orders/create` → the same `order.create` a poll makes (same key: they coalesce);
    `orders/update` of a cancelled order → `order.cancel`."""
    if not isinstance(item, dict) or item.get("id") in (None, ""):
        return None
    order_id = int(item["id"])
    if action == "orders/create":
        return [JobSpec(CREATE, order_key(order_id), order_payload(item))]
    if action == "orders/update" and is_cancelled(item):
        return [JobSpec(CANCEL, cancel_key(order_id), {"id": order_id}, priority=50)]
    return None


# -- for the stock flow ---------------------------------------------------------------------------

def pending_demand(ctx_or_store: Any) -> dict[str, int]:
    """Store SKU → units ordered in the store that BNG has not booked yet.

    These are the `order.create` jobs not yet succeeded (pending, running, retry_wait — and dead or
    quarantined ones, which still hold stock in the store), skipping orders the store cancelled
    (their stock went back). Quantities are summed per store SKU (`order_items[].product.sku`, or
    the attribute combination's SKU); the stock flow subtracts them from BNG's available stock.
    """
    store = getattr(ctx_or_store, "store", ctx_or_store)
    rows = store.execute("SELECT payload, override FROM job WHERE kind = ? AND state IN "
                         "('pending', 'running', 'retry_wait', 'dead', 'quarantined')", (CREATE,)).fetchall()
    demand: dict[str, int] = {}
    for raw_payload, raw_override in rows:
        order = merge(json.loads(raw_payload or "{}"), json.loads(raw_override) if raw_override else None)
        if not isinstance(order, dict) or is_cancelled(order):
            continue
        for item in order.get("order_items") or []:
            sku = store_sku(item)
            try:
                quantity = int(item.get("quantity") or 0)
            except (TypeError, ValueError):
                continue
            if sku and quantity > 0:
                demand[sku] = demand.get(sku, 0) + quantity
    return demand


FLOW = Flow(name="orders", poll_kind=POLL, handlers={POLL: poll, CREATE: create, CANCEL: cancel})
