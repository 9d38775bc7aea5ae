"""Stock ("inventory"): BNG is the master; the store shows what BNG has, less what the store sold
that BNG has not booked yet.

The store takes stock off a product itself the moment a shopper orders; BNG takes it off again when
that web order arrives there as a sales order (a `sale` in its inventory journal). Pushing BNG's
figure as it stands would therefore either count a web order twice (after it reached BNG) or not
at all (before). So for every product whose stock the store manages, the agent writes

    store stock = floor(sum of BNG `available` over the mapped locations) − web demand

where *web demand* is what the store's orders not yet created in BNG hold: the orders flow's
`order.create` jobs that have not created their order (pending, running, waiting to retry, dead,
quarantined), plus orders newer than the orders cursor that no job holds yet; cancelled orders
hold nothing (the store gave their stock back). Once a web order is booked in BNG, BNG's figure
and the demand drop together, and the target does not move: no write at all in the steady state.

The store's API only writes absolute quantities, and a checkout takes stock off with a
read-modify-write, so a write can race a checkout. Every SKU is therefore settled carefully (see
`SkuSettler`): demand is read before and after BNG's stock; the product is read again right before
the write, and the demand once more after it. When an order changed state meanwhile, or was placed
a moment ago (the store may not have taken its stock off yet), or its booking in BNG is in flight,
the SKU is not written on a guess: it is checked again a second later, and remembered as
unsettled (`stock_sku` table) so the next poll — after a restart too — checks it again.

What triggers a check: the journal (`/inventory/transactions`, cursor `inventory.after`), BNG's
change feed for reservations, which change `available` without a transaction (cursor
`inventory.stock_seq`), unsettled SKUs, new products (the products flow enqueues them), and the
full pass (first run, nightly reconciliation, or `full`), which measures the drift of every SKU,
reports it, and fixes the SKUs that drifted. Only SKUs whose figure differs are written.

Jobs (kind — dedupe key — payload):

- `inventory.poll` — `poll:inventory:<run>` — {"trigger", "full"}: reads the journal and the
  reservations since the cursors, measures drift on a full pass, and enqueues the checks in the
  transaction that moves both cursors.
- `inventory.sku` — `sku:<SKU>@<why>` — {"sku", "recheck", "deferred_since"}: one check of one
  SKU. `<why>` is `txn:<last transaction id>`, `full:<run>`, `recheck:<job>` or
  `product:<id>:<job>` (a product the products flow created or switched to managed stock): a
  later change of the same SKU is new work, not a duplicate of a check that succeeded.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent.connectors.errors import FullResyncRequired, NotFound, UnexpectedResponse
from agent.engine.cursors import Cursors
from agent.engine.queue import ACTIVE_STATES, JobSpec
from agent.flows.base import Flow

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.connectors.nopcommerce.models import Product
    from agent.engine.workers import JobContext
    from agent.flows.base import FlowContext

log = logging.getLogger(__name__)

NAME = "inventory"
POLL = "inventory.poll"
SKU_JOB = "inventory.sku"

# The orders flow's names: the job that books a web order in BNG, its cursor, its xref entity.
ORDER_CREATE = "order.create"
ORDER_KEY_PREFIX = "nop-order:"
ORDERS_CURSOR = "orders.since_id"
ORDER_ENTITY = "order"

TXN_CURSOR = "inventory.after"
SEQ_CURSOR = "inventory.stock_seq"

#: an order placed less than this ago may not have had its stock taken off by the store yet
SETTLE_SECONDS = 2.0
#: how soon an unsettled SKU is looked at again, and how often before the next poll takes over
RECHECK_SECONDS = 1.0
MAX_RECHECKS = 30
#: how long a SKU may wait for a quiet moment before its best figure is written anyway
MAX_DEFER_SECONDS = 30.0
ITEM_TTL = 300.0

MANAGE_STOCK = 1
_CANCELLED = ("Cancelled", 40)
_SETTLING_STATES = ("pending", "running", "retry_wait")
_DEMAND_STATES = ("pending", "running", "retry_wait", "dead", "quarantined")
_REGISTRY_LOCK = threading.Lock()


def owns_stock(settings: Settings) -> bool:
    return "stock" in {name.strip().lower() for name in settings.mapping.ownership.bng_owns}


# -- which store SKU is which BNG item -------------------------------------------------------------

def substitutions(settings: Settings) -> dict[str, str]:
    """Store SKU (case-folded) → BNG item number, for items renamed on one side."""
    return {str(k).strip().casefold(): str(v).strip() for k, v in settings.mapping.sku_substitutions.items()}


def item_for_sku(settings: Settings, sku: str) -> str:
    return substitutions(settings).get(sku.strip().casefold(), sku.strip())


def skus_for_item(settings: Settings, item_no: str) -> list[str]:
    """The store SKUs that sell this BNG item: the item number itself, and substituted ones."""
    found = [store for store, item in substitutions(settings).items() if item == item_no]
    return [item_no, *found]


# -- locations ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Locations:
    """Which BNG locations feed the store, and (optionally) which store warehouse each one fills."""

    counted: frozenset[str]             # empty: every location
    warehouses: dict[str, int]          # BNG location → store warehouse id
    order_location: str                 # where web orders ship from ("" = BNG's first location)

    @classmethod
    def from_settings(cls, settings: Settings) -> Locations:
        loc = settings.mapping.locations
        return cls(frozenset(code.strip() for code in loc.stock_locations if code.strip()),
                   {k.strip(): int(v) for k, v in loc.warehouses.items()}, loc.order_location.strip())

    def counts(self, location: str) -> bool:
        return not self.counted or location in self.counted

    def available(self, levels: Mapping[str, Decimal]) -> Decimal:
        return sum((qty for loc, qty in levels.items() if self.counts(loc)), Decimal(0))

    def by_warehouse(self, levels: Mapping[str, Decimal]) -> dict[int, Decimal]:
        totals: dict[int, Decimal] = {wid: Decimal(0) for wid in self.warehouses.values()}
        for loc, qty in levels.items():
            if self.counts(loc) and loc in self.warehouses:
                totals[self.warehouses[loc]] += qty
        return totals


def whole(quantity: Decimal) -> int:
    """The store keeps whole units: 37.5 kg available is 37 in the store (never rounded up)."""
    return math.floor(quantity)


# -- web demand ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Demand:
    """What the store's orders not yet booked in BNG hold, per store product."""

    by_product: dict[int, dict[int, int]]       # product id → {order id: quantity}
    unsure: frozenset[int]                      # orders whose booking is in flight or that are brand new

    def orders(self, product_id: int) -> dict[int, int]:
        return self.by_product.get(product_id, {})

    def quantity(self, product_id: int) -> int:
        return sum(self.orders(product_id).values())

    def unsure_for(self, product_id: int) -> set[int]:
        return set(self.orders(product_id)) & self.unsure


@dataclass
class _DemandMemory:
    """Per agent process: lines of uncaptured orders (they never change) and when each order was first seen."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    lines: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    first_seen: dict[int, float] = field(default_factory=dict)


class WebDemand:
    """Reads the web demand (module doc). Cheap enough to read several times per SKU: one short
    store call for the orders no job holds yet, one query of the local queue."""

    def __init__(self, ctx: FlowContext):
        self.ctx = ctx
        with _REGISTRY_LOCK:
            memory = ctx.cache.get("inventory:demand")
            if memory is None:
                memory = ctx.cache["inventory:demand"] = _DemandMemory()
        self.memory: _DemandMemory = memory

    def orders_cursor(self) -> int:
        """Where the orders flow has read up to (it never starts below `first_order_id`)."""
        first = int(self.ctx.settings.schedules.first_order_id)
        return max(int(Cursors(self.ctx.store).get(ORDERS_CURSOR, first)), first)

    def read(self) -> Demand:
        # The store is read before the queue: an order captured in between is then found in the
        # queue, never missed by both.
        uncaptured = self._uncaptured(self.orders_cursor())
        queued, in_flight, captured, booked = self._queued(list(uncaptured))
        by_product: dict[int, dict[int, int]] = {}
        unsure: set[int] = set(in_flight)
        waiting = {o: lines for o, lines in uncaptured.items() if o not in captured}
        for order_id, lines in [*queued.items(), *waiting.items()]:
            if order_id in booked:
                continue
            for product_id, quantity in lines:
                orders = by_product.setdefault(product_id, {})
                orders[order_id] = orders.get(order_id, 0) + quantity
        counted = {o for orders in by_product.values() for o in orders}
        unsure |= self._brand_new(counted)
        return Demand(by_product, frozenset(unsure & counted))

    def _brand_new(self, order_ids: set[int]) -> set[int]:
        """Orders first seen less than SETTLE_SECONDS ago: the store may still be taking their stock off."""
        now = time.monotonic()
        with self.memory.lock:
            seen = self.memory.first_seen
            for order_id in order_ids:
                seen.setdefault(order_id, now)
            for gone in [o for o in seen if o not in order_ids]:
                del seen[gone]
            return {o for o in order_ids if now - seen[o] < SETTLE_SECONDS}

    def _uncaptured(self, cursor: int) -> dict[int, tuple[tuple[int, int], ...]]:
        """Store orders newer than the orders cursor, not cancelled: order id → ((product id, qty), ...)."""
        nop = self.ctx.nop
        statuses = {o.id: o.order_status for o in nop.list_orders(since_id=cursor, fields="id,order_status")}
        live = [order_id for order_id, status in statuses.items() if status not in _CANCELLED]
        with self.memory.lock:
            unknown = [o for o in live if o not in self.memory.lines]
        if unknown:
            read: dict[int, tuple[tuple[int, int], ...]] = {}
            for order in nop.list_orders(since_id=min(unknown) - 1, fields="id,order_items"):
                read[order.id] = tuple((int(i.product_id or (i.product.id if i.product else 0)), int(i.quantity or 0))
                                       for i in order.order_items)
            with self.memory.lock:
                self.memory.lines.update(read)
        with self.memory.lock:
            for old in [o for o in self.memory.lines if o <= cursor]:
                del self.memory.lines[old]
            return {o: self.memory.lines[o] for o in live if o in self.memory.lines}

    def _queued(self, candidates: list[int]) -> tuple[dict[int, tuple[tuple[int, int], ...]], set[int], set[int],
                                                      set[int]]:
        """From the local queue, in one consistent read: (lines of orders whose create job has not
        created them, orders whose create is in flight, candidates some create job holds, orders
        already booked in BNG)."""
        store = self.ctx.store
        with store.db.atomic():
            rows = store.execute(
                "SELECT j.id, j.dedupe_key, j.state, json_extract(j.payload, '$.id'), "
                "json_extract(j.payload, '$.order_status'), json_extract(j.payload, '$.order_status_id'), "
                "json_extract(i.value, '$.product_id'), json_extract(i.value, '$.product.id'), "
                "json_extract(i.value, '$.quantity') "
                "FROM job j, json_each(j.payload, '$.order_items') i "
                "WHERE j.kind = ? AND j.state IN (SELECT value FROM json_each(?)) ORDER BY j.id",
                (ORDER_CREATE, _json_list(_DEMAND_STATES))).fetchall()
            keys = [ORDER_KEY_PREFIX + str(o) for o in candidates]
            captured_keys = {r[0] for r in store.execute(
                "SELECT DISTINCT dedupe_key FROM job WHERE kind = ? AND dedupe_key IN (SELECT value FROM json_each(?))",
                (ORDER_CREATE, _json_list(keys))).fetchall()} if keys else set()
            jobs: dict[int, tuple[int, str, bool]] = {}            # order id → (job id, state, cancelled)
            lines: dict[int, dict[int, list[tuple[int, int]]]] = {}
            for job_id, key, state, payload_id, status, status_id, product_id, nested_id, quantity in rows:
                order_id = _order_id(payload_id, key)
                if order_id is None:
                    continue
                jobs[order_id] = (job_id, state, status in _CANCELLED or status_id in _CANCELLED)
                lines.setdefault(order_id, {}).setdefault(job_id, []).append(
                    (int(product_id or nested_id or 0), int(quantity or 0)))
            links = dict(store.execute(
                "SELECT nop_id, state FROM xref WHERE entity = ? AND nop_id IN (SELECT value FROM json_each(?))",
                (ORDER_ENTITY, _json_list([str(o) for o in jobs]))).fetchall()) if jobs else {}
        queued: dict[int, tuple[tuple[int, int], ...]] = {}
        in_flight: set[int] = set()
        booked: set[int] = set()
        for order_id, (job_id, state, cancelled) in jobs.items():
            link = links.get(str(order_id))
            if link == "done":
                booked.add(order_id)            # created in BNG; the job is finishing other steps
                continue
            if cancelled:
                continue
            if link == "intent" and state in _SETTLING_STATES:
                in_flight.add(order_id)         # a create was sent; whether BNG has it is not known yet
            queued[order_id] = tuple(lines[order_id][job_id])
        captured = {int(k[len(ORDER_KEY_PREFIX):]) for k in captured_keys}
        return queued, in_flight, captured, booked


def _order_id(payload_id: Any, key: str) -> int | None:
    if isinstance(payload_id, int):
        return payload_id
    if key.startswith(ORDER_KEY_PREFIX) and key[len(ORDER_KEY_PREFIX):].isdigit():
        return int(key[len(ORDER_KEY_PREFIX):])
    return None


def _json_list(values: Iterable[Any]) -> str:
    import json

    return json.dumps(list(values))


# -- BNG's side ------------------------------------------------------------------------------------

def bng_levels(ctx: FlowContext, item_no: str) -> dict[str, Decimal]:
    """BNG `available` per location for one item (nothing for an item BNG keeps no stock of)."""
    return {level.location: level.available for level in ctx.bng.iter_inventory(item_no=item_no)}


def item_type(ctx: FlowContext, item_no: str) -> str | None:
    """BNG's item_type ("inventory", "service"), or None when BNG has no such item. Cached a while:
    an item does not change type often, and every SKU check would otherwise cost a BNG call."""
    types = ctx.cache.setdefault("inventory:item-types", {})
    entry = types.get(item_no)
    now = ctx.clock()
    if entry is not None and entry[0] > now:
        return entry[1]
    try:
        kind = ctx.bng.get_item(item_no).item_type
    except NotFound:
        kind = None
    types[item_no] = (now + (ITEM_TTL if kind else 30.0), kind)
    return kind


def remember_item_types(ctx: FlowContext, items: Iterable[Any]) -> None:
    types = ctx.cache.setdefault("inventory:item-types", {})
    until = ctx.clock() + ITEM_TTL
    for item in items:
        types[item.item_no] = (until, item.item_type)


# -- one SKU ---------------------------------------------------------------------------------------

@contextmanager
def sku_lock(ctx: FlowContext, sku: str) -> Iterator[None]:
    """One check of a SKU at a time in this agent: two writes of one product would race each other."""
    with _REGISTRY_LOCK:
        locks = ctx.cache.setdefault("inventory:sku-locks", {})
        lock = locks.setdefault(sku.casefold(), threading.Lock())
    with lock:
        yield


@dataclass
class Outcome:
    sku: str
    action: str                     # written, unchanged, deferred, skipped
    target: int | None = None
    before: int | None = None
    note: str = ""
    settled: bool = True

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"sku": self.sku, "action": self.action}
        for name in ("target", "before"):
            if getattr(self, name) is not None:
                result[name] = getattr(self, name)
        if self.note:
            result["note"] = self.note
        return result


class SkuSettler:
    """Brings one store product's stock to BNG's figure less web demand (module doc)."""

    def __init__(self, ctx: FlowContext, job: JobContext | None = None):
        self.ctx = ctx
        self.job = job
        self.demand = WebDemand(ctx)
        self.locations = Locations.from_settings(ctx.settings)

    def _step(self, message: str, level: str = "info", sku: str | None = None) -> None:
        if self.job is not None:
            self.job.step(message, level=level, subject=f"sku:{sku}" if sku else None)

    def settle(self, sku: str, deferred_since: float | None = None) -> Outcome:
        with sku_lock(self.ctx, sku):
            return self._settle(sku, deferred_since)

    def _settle(self, sku: str, deferred_since: float | None) -> Outcome:
        ctx = self.ctx
        skipped = self._not_ours(sku)
        if isinstance(skipped, Outcome):
            self._forget(sku)
            return skipped
        product, item_no = skipped
        per_warehouse = bool(product.use_multiple_warehouses)

        before = self.demand.read()
        levels = bng_levels(ctx, item_no)
        after = self.demand.read()
        orders = after.orders(product.id)
        unsure = before.unsure_for(product.id) | after.unsure_for(product.id)
        moved = before.orders(product.id) != orders
        available = self.locations.available(levels)
        quantity = sum(orders.values())
        now = ctx.clock()
        waited = now - deferred_since if deferred_since is not None else 0.0
        if (unsure or moved) and waited < MAX_DEFER_SECONDS:
            why = (f"web order(s) {_ids(unsure)} are being booked in BNG or were just placed" if unsure
                   else "a web order changed state while BNG's stock was read")
            self._record(sku, product.id, item_no, available, quantity, None, product.stock_quantity,
                         unsettled=True, note=why)
            return Outcome(sku, "deferred", note=why, settled=False, before=product.stock_quantity)

        if per_warehouse:
            outcome = self._write_warehouses(sku, product, levels, quantity)
        else:
            outcome = self._write_product(sku, product, whole(available) - quantity)
        raced = False
        if outcome.action == "written":
            # A checkout between our read of the product and the write may have been overwritten.
            check = self.demand.read()
            raced = check.orders(product.id) != orders or bool(check.unsure_for(product.id))
        if raced or unsure or moved:
            outcome.settled = False
            outcome.note = "written while web orders of this product were moving; it is checked again"
        self._record(sku, product.id, item_no, available, quantity, outcome.target, outcome.before,
                     unsettled=not outcome.settled, note=outcome.note or None,
                     written=outcome.action == "written")
        return outcome

    def _not_ours(self, sku: str) -> Outcome | tuple[Product, str]:
        """(the product, its BNG item) when BNG's figure applies to it, else why not."""
        product = self.ctx.nop.find_product_by_sku(sku)
        if product is None:
            return Outcome(sku, "skipped", note="the store has no product with this SKU")
        if product.manage_inventory_method_id != MANAGE_STOCK:
            return Outcome(sku, "skipped", note="the store does not manage this product's stock")
        item_no = item_for_sku(self.ctx.settings, sku)
        kind = item_type(self.ctx, item_no)
        if kind is None:
            return Outcome(sku, "skipped", note=f"BNG has no item {item_no}; the store keeps its own figure")
        if kind != "inventory":
            return Outcome(sku, "skipped", note=f"BNG item {item_no} is a {kind} item and carries no stock")
        if product.use_multiple_warehouses and not self.locations.warehouses:
            return Outcome(sku, "skipped", note="the product is stocked per warehouse in the store, but "
                           "mapping.locations.warehouses does not say which BNG location fills which warehouse")
        return product, item_no

    def _forget(self, sku: str) -> None:
        with self.ctx.store.write():
            self.ctx.store.execute("UPDATE stock_sku SET unsettled = 0 WHERE sku = ?", (sku,))

    def _write_product(self, sku: str, product: Product, target: int) -> Outcome:
        current = self.ctx.nop.get_product(product.id)     # read again right before writing
        before = current.stock_quantity
        if before == target:
            return Outcome(sku, "unchanged", target, before)
        self.ctx.nop.update_product(current, stock_quantity=target)
        self._step(f"stock of {sku} set to {target} (was {before})", sku=sku)
        return Outcome(sku, "written", target, before)

    def _write_warehouses(self, sku: str, product: Product, levels: Mapping[str, Decimal], demand: int) -> Outcome:
        """Per warehouse: BNG's figure of the locations that fill it, plus what the store holds
        reserved there (the store counts reservations off itself), less web demand at the
        warehouse web orders ship from."""
        nop = self.ctx.nop
        totals = self.locations.by_warehouse(levels)
        shipping_from = self._order_warehouse()
        current = {inv.warehouse_id: inv for inv in nop.product_inventories(product_id=product.id)}
        written, total_before, total_target = [], 0, 0
        for warehouse_id, quantity in sorted(totals.items()):
            inventory = current.get(warehouse_id)
            reserved = (inventory.reserved_quantity or 0) if inventory else 0
            target = whole(quantity) + reserved - (demand if warehouse_id == shipping_from else 0)
            before = (inventory.stock_quantity or 0) if inventory else 0
            total_before += before - reserved
            total_target += target - reserved
            if inventory is None:
                nop.create_product_inventory(product.id, warehouse_id, target)
            elif before != target:
                nop.update_product_inventory(inventory, target)
            else:
                continue
            written.append(f"warehouse {warehouse_id}: {target} (was {before})")
        if not written:
            return Outcome(sku, "unchanged", total_target, total_before)
        self._step(f"stock of {sku} set per warehouse: {'; '.join(written)}", sku=sku)
        return Outcome(sku, "written", total_target, total_before)

    def _order_warehouse(self) -> int | None:
        location = self.locations.order_location
        if not location:
            codes = self.ctx.cache.get("inventory:locations")
            if codes is None:
                codes = self.ctx.cache["inventory:locations"] = [loc.code for loc in self.ctx.bng.locations()]
            location = codes[0] if codes else ""
        return self.locations.warehouses.get(location) or next(iter(self.locations.warehouses.values()), None)

    def _record(self, sku: str, product_id: int, item_no: str, available: Decimal, demand: int, target: int | None,
                store_quantity: int | None, *, unsettled: bool, note: str | None, written: bool = False) -> None:
        now = self.ctx.clock()
        with self.ctx.store.write():
            self.ctx.store.execute(
                "INSERT INTO stock_sku (sku, product_id, item_no, bng_available, web_demand, target, store_quantity, "
                "unsettled, note, checked_at, written_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                "ON CONFLICT(sku) DO UPDATE SET product_id = ?2, item_no = ?3, bng_available = ?4, web_demand = ?5, "
                "target = COALESCE(?6, target), store_quantity = ?7, unsettled = ?8, note = ?9, checked_at = ?10, "
                "written_at = COALESCE(?11, written_at)",
                (sku, product_id, item_no, str(available), demand, target, store_quantity, int(unsettled), note, now,
                 now if written else None))


def _ids(order_ids: Iterable[int]) -> str:
    ids = sorted(order_ids)
    return ", ".join(str(i) for i in ids[:5]) + (f" (+{len(ids) - 5})" if len(ids) > 5 else "")


def unsettled_skus(ctx: FlowContext) -> list[str]:
    return [row["sku"] for row in ctx.store.query("SELECT sku FROM stock_sku WHERE unsettled = 1 ORDER BY sku")]


def _busy(ctx: FlowContext, sku: str, except_job: int | None = None) -> bool:
    """Is another check of this SKU queued or running?"""
    prefix = f"sku:{sku}@"
    return bool(ctx.store.scalar(
        "SELECT 1 FROM job WHERE kind = ?1 AND state IN (SELECT value FROM json_each(?2)) "
        "AND substr(dedupe_key, 1, length(?3)) = ?3 AND id != ?4 LIMIT 1",
        (SKU_JOB, _json_list(ACTIVE_STATES), prefix, except_job or 0)))


def _waiting(ctx: FlowContext) -> set[str]:
    """SKUs (case-folded) with a check that has not started yet."""
    rows = ctx.store.execute("SELECT dedupe_key FROM job WHERE kind = ? AND state = 'pending'", (SKU_JOB,)).fetchall()
    return {key[len("sku:"):].rsplit("@", 1)[0].casefold() for (key,) in rows}


def sku_job(sku: str, version: str, **payload: Any) -> JobSpec:
    """The check of one SKU. The key carries what prompted it (a journal position, a product, a
    reconciliation run): a later change of the same SKU is new work, not a duplicate."""
    return JobSpec(SKU_JOB, f"sku:{sku}@{version}", {"sku": sku, **payload})


def handle_sku(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    if not owns_stock(ctx.settings):
        return {"message": "the store owns stock (mapping.ownership.bng_owns has no 'stock'): nothing written"}
    payload = job.payload
    sku = str(payload["sku"])
    job.add_subject(f"sku:{sku}")
    deferred_since = payload.get("deferred_since")
    outcome = SkuSettler(ctx, job).settle(sku, deferred_since)
    result = outcome.as_result()
    if not outcome.settled:
        rechecks = int(payload.get("recheck", 0)) + 1
        if rechecks > MAX_RECHECKS:
            job.step(f"{sku} is still busy after {MAX_RECHECKS} checks; the next stock poll looks at it again",
                     level="warning")
        elif not _busy(ctx, sku, job.id):
            # A deferral keeps counting from its first one (a SKU never waits forever for a quiet
            # moment); after a write the next check starts afresh.
            since = (deferred_since or ctx.clock()) if outcome.action == "deferred" else None
            ctx.queue.enqueue(SKU_JOB, f"sku:{sku}@recheck:{job.id}",
                              {"sku": sku, "recheck": rechecks, "deferred_since": since},
                              due_at=ctx.clock() + RECHECK_SECONDS, run_id=job.run_id)
            result["recheck"] = rechecks
    return result


# -- the poll ------------------------------------------------------------------------------------

@dataclass
class Drift:
    """What a full pass found before fixing anything."""

    checked: int = 0
    drifted: dict[str, int] = field(default_factory=dict)       # SKU → store figure − target
    busy: list[str] = field(default_factory=list)               # could not be measured: orders in flight

    @property
    def units(self) -> int:
        return sum(abs(d) for d in self.drifted.values())

    def summary(self) -> str:
        if not self.drifted:
            text = f"stock of all {self.checked} SKU(s) matched BNG"
        else:
            worst = sorted(self.drifted.items(), key=lambda kv: -abs(kv[1]))[:5]
            text = (f"{len(self.drifted)} of {self.checked} SKU(s) had drifted by {self.units} unit(s) in total "
                    f"(largest: {', '.join(f'{s} {d:+d}' for s, d in worst)})")
        if self.busy:
            text += f"; {len(self.busy)} SKU(s) with orders in flight are checked one by one"
        return text


def measure_drift(ctx: FlowContext) -> tuple[Drift, list[str]]:
    """Compare every managed product with its target at once (the nightly check): (drift, SKUs to fix)."""
    settings = ctx.settings
    locations = Locations.from_settings(settings)
    demand = WebDemand(ctx)
    items = list(ctx.bng.iter_items())
    remember_item_types(ctx, items)
    stocked = {item.item_no.casefold(): item.item_no for item in items if item.item_type == "inventory"}
    products = [p for p in ctx.nop.list_products(fields="id,sku,stock_quantity,manage_inventory_method_id,"
                                                        "use_multiple_warehouses", limit=250)
                if p.sku and p.manage_inventory_method_id == MANAGE_STOCK]
    before = demand.read()
    levels: dict[str, dict[str, Decimal]] = {}
    for level in ctx.bng.iter_inventory():
        levels.setdefault(level.item_no, {})[level.location] = level.available
    after = demand.read()
    drift = Drift()
    fix: list[str] = []
    for product in products:
        sku = product.sku or ""
        item_no = stocked.get(item_for_sku(settings, sku).casefold())
        if item_no is None:
            continue
        drift.checked += 1
        if product.use_multiple_warehouses:
            fix.append(sku)                 # per-warehouse figures are compared by the SKU check
            continue
        if before.orders(product.id) != after.orders(product.id) or after.unsure_for(product.id):
            drift.busy.append(sku)
            fix.append(sku)
            continue
        target = whole(locations.available(levels.get(item_no, {}))) - after.quantity(product.id)
        if product.stock_quantity != target:
            drift.drifted[sku] = (product.stock_quantity or 0) - target
            fix.append(sku)
    return drift, fix


def _allocation_changes(ctx: FlowContext, after: int) -> tuple[set[str], int]:
    """Items whose reservations changed (BNG's change feed): (item numbers, new position)."""
    feed = ctx.bng.iter_changes(after=after, entity="stock")
    items = {change.key.rsplit("@", 1)[0] for change in feed if "allocated" in change.fields}
    return items, feed.last_seq


def feed_end(has_newer: Callable[[int], bool]) -> int:
    """Where an `after=` feed ends, without reading it all: the smallest `after` with nothing newer,
    found by doubling, then halving (a few dozen calls even for millions of entries). The first
    run needs only this position: its full pass covers everything before it."""
    if not has_newer(0):
        return 0
    low, high = 0, 1024
    while has_newer(high):
        if high > 2**62:
            raise UnexpectedResponse(system="bng", message="BNG's feed never ends: it reports entries after "
                                     f"every position asked for (up to {high})")
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if has_newer(middle) else (low, middle)
    return high


def _journal_has_newer(ctx: FlowContext, after: int) -> bool:
    return next(iter(ctx.bng.iter_transactions(after=after)), None) is not None


def _stock_changes_newer(ctx: FlowContext, after: int) -> bool:
    try:
        return next(iter(ctx.bng.iter_changes(after=after, entity="stock")), None) is not None
    except FullResyncRequired:
        return True                         # older than the feed keeps: the end is further on


def poll(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    """Find the SKUs whose stock may have to change and enqueue one check each (see module doc)."""
    settings = ctx.settings
    if not owns_stock(settings):
        return {"message": "the store owns stock (mapping.ownership.bng_owns has no 'stock'): nothing to do"}
    cursors = Cursors(ctx.store, ctx.queue, ctx.clock)
    locations = Locations.from_settings(settings)
    txn_after = cursors.get(TXN_CURSOR)
    seq_after = cursors.get(SEQ_CURSOR)
    first = txn_after is None
    full = first or bool(job.payload.get("full"))

    touched: set[str] = set()
    if first:
        last_txn = feed_end(lambda after: _journal_has_newer(ctx, after))
    else:
        journal = ctx.bng.iter_transactions(after=int(txn_after))
        touched = {t.item_no for t in journal if locations.counts(t.location)}
        last_txn = journal.last_transaction_id
    try:
        if seq_after is None:
            raise FullResyncRequired("no position in BNG's change feed yet")
        reserved, last_seq = _allocation_changes(ctx, int(seq_after))
        touched |= reserved
    except FullResyncRequired:
        last_seq = feed_end(lambda after: _stock_changes_newer(ctx, after))
        if not first:
            full = True
            job.step("BNG's change feed no longer reaches back to the last position: every SKU is compared",
                     level="warning")

    drift: Drift | None = None
    if full:
        drift, skus = measure_drift(ctx)
        version = f"full:{job.run_id or job.id}"
    else:
        skus = []
        version = f"txn:{last_txn}"
    sold = ctx.nop.sku_map()                # the store's SKUs (cached a minute): BNG-only items need no check
    skus += [sku for item_no in sorted(touched) for sku in skus_for_item(settings, item_no)
             if sku.casefold() in sold]
    pending_checks = [sku for sku in unsettled_skus(ctx) if not _busy(ctx, sku)]
    skus += pending_checks
    # A check still waiting in the queue reads everything afresh when it runs: no second one.
    waiting = _waiting(ctx)
    specs = [sku_job(sku, version) for sku in dict.fromkeys(skus) if sku.casefold() not in waiting]
    with ctx.store.write():
        ctx.queue.enqueue_many(specs, run_id=job.run_id, in_tx=True)
        cursors.advance(TXN_CURSOR, last_txn)
        cursors.advance(SEQ_CURSOR, last_seq)

    result: dict[str, Any] = {"checks": len(specs), "transactions_to": last_txn, "unsettled": len(pending_checks)}
    if drift is not None:
        result.update(checked=drift.checked, drifted=len(drift.drifted), drift_units=drift.units)
        result["message"] = ("first stock alignment: " if first else "reconciliation: ") + drift.summary()
        job.step(result["message"], level="info" if not drift.drifted or first else "warning",
                 data={"drifted": drift.drifted})
        if not first and drift.units > settings.alerts.drift_threshold:
            ctx.alerts.anomaly("stock-drift", "Store stock had drifted from BNG",
                               f"The reconciliation found {drift.summary()}; the figures are being corrected. "
                               "Frequent drift means something else writes the store's stock (an import, "
                               "a person, another app).", data={"drifted": drift.drifted, "units": drift.units})
    else:
        result["message"] = f"{len(specs)} SKU(s) to check" if specs else "no stock changes in BNG"
    return result


FLOW = Flow(name=NAME, poll_kind=POLL, handlers={POLL: poll, SKU_JOB: handle_sku})
