"""Shipments and statuses: what happens to a web order in BNG comes back to the store.

Jobs (kind — dedupe key — payload):

- `shipments.poll` — `poll:shipments:<run>` — {"trigger", "full"}. Reads BNG's change feed for
  sales orders after the cursor `shipments.changes_seq` and enqueues one `order.progress` per
  changed web order (the latest change of each), committed together with the cursor. When BNG
  answers 410 (the cursor is older than the feed keeps), every open web order — open in the store
  within the open-order window and linked to a BNG order — is read again, and the feed continues
  from the oldest position BNG still has. A `full` run does that re-read as well.
- `order.progress` — `bng-order:<order_no>:<seq>` — {"order_no", "seq", "fields"}. The change's
  sequence number is in the key because one order changes many times (released, shipped,
  delivered, paid) and each change is new work; the handler always reads the order's current
  state, so an older job running late does no harm.

What one `order.progress` does, in this order:
1. each BNG shipment not yet in the store becomes a store shipment with its tracking number and
   the shipped lines mapped back to the store's order items (BNG lines were built from the
   store's items; the cross-reference kept which items each line stands for). Each is created
   once: the link is kept in the cross-reference (entity "shipment"), the intent is recorded before
   the create, and a create whose reply was lost is looked up in the store (by the BNG shipment
   number in the shipment's admin comment) before it is sent again;
2. the store order's shipping status (PartiallyShipped, Shipped, Delivered), order status (the
   store's own rules, or Cancelled when BNG cancelled it) and payment status (once BNG says Paid)
   in one update — the store's API plugin does not move any status itself.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent.connectors.errors import FullResyncRequired, NotFound
from agent.engine.cursors import Cursors, commit_batch
from agent.engine.queue import JobSpec
from agent.flows.base import Flow, FlowContext
from agent.flows.order_mapping import item_number, substitutions
from agent.mapping import NopOrderState, payment_status_to_nop, shipping_update_from_bng
from agent.mapping.errors import MappingError

if TYPE_CHECKING:
    from agent.connectors.bng.models import SalesOrder, Shipment
    from agent.connectors.nopcommerce.models import Order
    from agent.engine.workers import JobContext

POLL = "shipments.poll"
PROGRESS = "order.progress"
CURSOR = "shipments.changes_seq"
ENTITY = "shipment"
BATCH = 500
# A change of these fields of a web order matters to the store.
WATCHED = frozenset({"status", "payment_status", "shipments"})
# Payment only moves forward from BNG: it never takes back what the store already recorded.
PAYMENT_RANK = {"Pending": 0, "Authorized": 1, "Paid": 2, "PartiallyRefunded": 3, "Refunded": 4, "Voided": 4}

_LOCKS = [threading.Lock() for _ in range(64)]


def _lock_for(order_no: str) -> threading.Lock:
    """Two progress jobs of one order (two polls' worth of changes) must not both create a shipment."""
    return _LOCKS[zlib.crc32(order_no.encode("utf-8")) % len(_LOCKS)]


def progress_key(order_no: str, seq: int | str) -> str:
    return f"bng-order:{order_no}:{seq}"


# -- polling ------------------------------------------------------------------------------------

def poll(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    cursors = Cursors(ctx.store)
    position = int(cursors.get(CURSOR, 0))
    reread = 0
    if (job.payload or {}).get("full"):
        reread = _reread_open_orders(ctx, job, f"full-{position}")
    try:
        changed = _read_feed(ctx, job, position)
    except FullResyncRequired as exc:
        resume = _resume_position(ctx, exc, position)
        job.step(f"BNG's change list no longer reaches back to {position}: every open web order is read again, "
                 f"then the list is followed from {resume}", "warning")
        reread += _reread_open_orders(ctx, job, f"resync-{resume}", cursor=resume)
        changed = _read_feed(ctx, job, resume)
    message = f"{changed} web order{'s' if changed != 1 else ''} changed in BNG"
    if reread:
        message += f", {reread} read again"
    return {"changed": changed, "reread": reread, "message": message}


def _read_feed(ctx: FlowContext, job: JobContext, after: int) -> int:
    """Queue the latest change of each web order after `after`, moving the cursor with the jobs."""
    feed = ctx.bng.iter_changes(after=after, entity="sales_order")
    pending: dict[str, JobSpec] = {}
    queued = 0
    for change in feed:
        if change.change == "created" or (change.fields and not WATCHED.intersection(change.fields)):
            continue
        if ctx.xref.by_bng("order", change.key) is None:
            continue                            # an order BNG got elsewhere (phone, EDI): not ours
        pending[change.key] = JobSpec(PROGRESS, progress_key(change.key, change.seq),
                                      {"order_no": change.key, "seq": change.seq, "fields": change.fields})
        if len(pending) >= BATCH:
            commit_batch(ctx.queue, list(pending.values()), CURSOR, feed.position, run_id=job.run_id)
            queued += len(pending)
            pending = {}
    commit_batch(ctx.queue, list(pending.values()), CURSOR, feed.last_seq, run_id=job.run_id)
    return queued + len(pending)


def _reread_open_orders(ctx: FlowContext, job: JobContext, tag: str, cursor: int | None = None) -> int:
    """One `order.progress` for every linked web order the store still has open (Pending or
    Processing, placed within the open-order window); with `cursor`, moved in the same commit."""
    days = ctx.settings.schedules.open_order_window_days
    since = datetime.fromtimestamp(ctx.clock(), UTC) - timedelta(days=days)
    ids = [o.id for status in ("Pending", "Processing")
           for o in ctx.nop.list_orders(status=status, created_at_min=since, fields="id,order_status")]
    rows = ctx.store.query("SELECT bng_key FROM xref WHERE entity = 'order' AND state = 'done' "
                           "AND nop_id IN (SELECT value FROM json_each(?))", (json.dumps([str(i) for i in ids]),))
    specs = [JobSpec(PROGRESS, progress_key(r["bng_key"], tag), {"order_no": r["bng_key"], "seq": tag})
             for r in rows]
    if cursor is not None:
        commit_batch(ctx.queue, specs, CURSOR, cursor, run_id=job.run_id)
    elif specs:
        ctx.queue.enqueue_many(specs, run_id=job.run_id)
    return len(specs)


_HINT = re.compile(r"after=(\d+)")


def _resume_position(ctx: FlowContext, exc: FullResyncRequired, cursor: int) -> int:
    """The oldest position BNG's feed still answers: its own hint when it gives one, else found by
    probing (410 below the position, an answer from it on)."""
    def answers(after: int) -> bool:
        try:
            next(iter(ctx.bng.iter_changes(after=after, entity="sales_order")), None)
            return True
        except FullResyncRequired:
            return False

    text = " ".join([exc.server_message, *(issue for _, issue in exc.details)])
    hints = [int(h) for h in _HINT.findall(text)]
    if hints and answers(max(hints)):
        return max(hints)
    low, high = cursor, max(cursor * 2, 1024)
    while not answers(high):
        low, high = high, high * 2
    while high - low > 1:                       # low never answers, high does
        middle = (low + high) // 2
        low, high = (low, middle) if answers(middle) else (middle, high)
    return high


# -- one order's progress ---------------------------------------------------------------------

def progress(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    order_no = str(job.payload["order_no"])
    job.add_subject(f"bng-order:{order_no}")
    link = ctx.xref.by_bng("order", order_no)
    if link is None:
        return {"outcome": "not a web order"}
    order_id = int(link.nop_id)
    job.add_subject(f"nop-order:{order_id}")
    with _lock_for(order_no):
        bng_order = ctx.bng.get_sales_order(order_no)
        try:
            store_order = ctx.nop.get_order(order_id)
        except NotFound:
            job.step(f"web order {order_id} no longer exists in the store; BNG order {order_no} is left as it is",
                     "warning")
            return {"outcome": "deleted in the store"}
        created = push_shipments(ctx, job, bng_order, store_order, link.data or {})
        changes = push_statuses(ctx, job, bng_order, store_order)
    return {"order_id": order_id, "shipments_created": created, **changes}


def push_shipments(ctx: FlowContext, job: JobContext, bng_order: SalesOrder, store_order: Order,
                   link_data: Mapping[str, Any]) -> int:
    """Create the store shipments BNG has and the store lacks; returns how many were created."""
    if not bng_order.shipments:
        return 0
    if (store_order.shipping_status or "") == "ShippingNotRequired":
        job.step(f"BNG shipped order {store_order.id}, which needs no shipping in the store: no store shipment")
        return 0
    allocations = allocate_shipments(bng_order, store_order, link_data, ctx)
    created = 0
    for shipment in sorted(bng_order.shipments, key=lambda s: (s.shipped_at, s.shipment_no)):
        if ctx.xref.by_bng(ENTITY, shipment.shipment_no) is not None:
            continue
        items = [(item_id, qty) for item_id, qty in allocations.get(shipment.shipment_no, []) if qty > 0]
        if not items:
            job.step(f"BNG shipment {shipment.shipment_no} has no quantity the store's items can take", "warning")
            continue
        created += create_store_shipment(ctx, job, store_order.id, shipment, items)
    return created


def allocate_shipments(bng_order: SalesOrder, store_order: Order, link_data: Mapping[str, Any],
                       ctx: FlowContext | None = None) -> dict[str, list[tuple[int, int]]]:
    """BNG shipment number → [(store order item id, quantity)].

    Each BNG line stands for one or more store items (kept when the order was created); a line's
    shipped quantity fills those items in order, shipment after shipment, so the split is the same
    every time it is worked out.
    """
    line_items = _line_items(bng_order, store_order, link_data, ctx)
    left: dict[int, Decimal] = {}
    for items in line_items.values():
        for item_id, quantity in items:
            left[item_id] = left.get(item_id, Decimal(0)) + Decimal(quantity)
    result: dict[str, list[tuple[int, int]]] = {}
    for shipment in sorted(bng_order.shipments, key=lambda s: (s.shipped_at, s.shipment_no)):
        booked: dict[int, Decimal] = {}
        for line in shipment.lines:
            amount = Decimal(line.quantity)
            for item_id, _ in line_items.get(line.line_no, []):
                take = min(amount, left.get(item_id, Decimal(0)))
                if take > 0:
                    booked[item_id] = booked.get(item_id, Decimal(0)) + take
                    left[item_id] -= take
                    amount -= take
        result[shipment.shipment_no] = [(item_id, int(qty)) for item_id, qty in booked.items()]
    return result


def _line_items(bng_order: SalesOrder, store_order: Order, link_data: Mapping[str, Any],
                ctx: FlowContext | None) -> dict[int, list[tuple[int, int]]]:
    """BNG line_no → the store items it stands for: from the link, else matched by item number."""
    numbers = sorted(line.line_no for line in bng_order.lines if line.line_no is not None)
    kept = link_data.get("lines")
    if isinstance(kept, list) and len(kept) == len(numbers):
        return {no: [(int(i), int(q)) for i, q in items] for no, items in zip(numbers, kept, strict=True)}
    subs = substitutions(ctx.settings.mapping, {}) if ctx is not None else {}
    by_item: dict[str, list[tuple[int, int]]] = {}
    for item in store_order.order_items:
        key = item_number(item.model_dump(mode="json"), subs)
        by_item.setdefault(key, []).append((item.id, int(item.quantity or 0)))
    result: dict[int, list[tuple[int, int]]] = {}
    for line in bng_order.lines:
        if line.line_no is not None:
            result[line.line_no] = by_item.pop(line.item_no, [])
    return result


def create_store_shipment(ctx: FlowContext, job: JobContext, order_id: int, shipment: Shipment,
                          items: list[tuple[int, int]]) -> int:
    """Create one store shipment exactly once; returns 1 when this call made (or adopted) it."""
    number = shipment.shipment_no
    intent = f"bng:{number}"
    data = {"order_id": order_id, "tracking_number": shipment.tracking_number}
    if ctx.xref.get(ENTITY, intent) is not None:    # an earlier attempt's reply was lost: look first
        existing = next((s for s in ctx.nop.list_shipments(order_id) if number in (s.admin_comment or "")), None)
        if existing is not None:
            _link_shipment(ctx, existing.id, number, intent, data)
            job.step(f"BNG shipment {number} was already in the store as shipment {existing.id}",
                     subject=f"nop-shipment:{existing.id}")
            return 1
    else:
        ctx.xref.record_intent(ENTITY, intent, data)
    comment = f"BNG shipment {number}" + (f" ({shipment.carrier})" if shipment.carrier else "")
    created = ctx.nop.create_shipment(order_id, shipment.tracking_number, items, shipment.shipped_at,
                                      admin_comment=comment, safe_to_retry=False)
    _link_shipment(ctx, created.id, number, intent, data)
    tracking = f", tracking {shipment.tracking_number}" if shipment.tracking_number else ""
    job.step(f"BNG shipment {number} → store shipment {created.id} ({sum(q for _, q in items)} unit(s){tracking})",
             subject=f"nop-shipment:{created.id}")
    return 1


def _link_shipment(ctx: FlowContext, nop_id: int, number: str, intent: str, data: dict[str, Any]) -> None:
    with ctx.store.write():
        ctx.xref.link(ENTITY, nop_id, number, data)
        ctx.xref.forget(ENTITY, intent)


def push_statuses(ctx: FlowContext, job: JobContext, bng_order: SalesOrder, store_order: Order) -> dict[str, Any]:
    """Set the store order's statuses that follow from BNG's, in one update (or none)."""
    mapping = ctx.settings.mapping.status
    current = NopOrderState(store_order.order_status, store_order.payment_status, store_order.shipping_status)
    update = shipping_update_from_bng(bng_order.model_dump(mode="json"), current, mapping=mapping)
    payment = _payment(bng_order.payment_status, store_order.payment_status, mapping, job)
    if not update.changed and payment is None:
        return {"changed": False}
    ctx.nop.update_order_status(store_order, order_status=update.order_status, payment_status=payment,
                                shipping_status=update.shipping_status)
    reasons = list(update.reasons)
    if payment:
        reasons.append(f"{bng_order.order_no} is {bng_order.payment_status} in BNG → payment status {payment}")
    if update.order_status == "Cancelled":
        reasons.append("the store's API sets the status only: the stock of the cancelled order comes back to the "
                       "store with the next stock sync from BNG")
    for reason in reasons:
        job.step(reason)
    return {"changed": True, "order_status": update.order_status, "shipping_status": update.shipping_status,
            "payment_status": payment}


def _payment(bng_status: str | None, store_status: str | None, mapping: Any, job: JobContext) -> str | None:
    """The store payment status BNG's implies, when it is a step forward for the store."""
    if not bng_status:
        return None
    try:
        target = payment_status_to_nop(bng_status, mapping)
    except MappingError as exc:
        job.step(f"payment status not passed on: {exc}", "warning")
        return None
    if PAYMENT_RANK.get(target, -1) > PAYMENT_RANK.get(store_status or "Pending", 0):
        return target
    return None


FLOW = Flow(name="shipments", poll_kind=POLL, handlers={POLL: poll, PROGRESS: progress})
