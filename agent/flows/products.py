"""Products: BNG is the master of the catalog; new and changed items become store products.

A BNG item is the store product with the same SKU (ignoring case; renamed items through
`mapping.sku_substitutions`). The poll reads items changed since the last one (`modified_since`,
cursor `products.modified_since`; the first run and the nightly reconciliation read them all) and
enqueues one `product.sync` job per item and change.

Who owns which field is the merchant's choice (`mapping.ownership.bng_owns`). By default BNG owns
the SKU, name, price, weight, published flag, stock and the industry attributes; the store owns
descriptions, pictures, SEO and tags, which are never written (a new product gets BNG's long
description once, as a start). The store's API wipes a product's tags on every update that does
not send them, so every update sends the product's current tags along (the client does it).
Only fields whose value differs are sent; a product already right costs no write.

BNG's industry attributes ("Warranty months": 36, "Material": "Cotton", "Lithium battery":
false) become specification attributes with one option per value (created when missing), so
shoppers can filter by them. Attributes the store has itself (not BNG's) are left alone; one BNG
dropped from an item is removed from the product.

Service items (gift cards, downloads, fees) are products whose stock the store does not manage.
A product that starts managing stock gets its first figure from the stock flow at once.

Jobs (kind — dedupe key — payload):

- `products.poll` — `poll:products:<run>` — {"trigger", "full"}.
- `product.sync` — `item:<item_no>@<modified_at>` (`@full:<run>` on a full pass) — {"item": the
  BNG item}: one version of one item; an older version arriving after a newer one is skipped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent.connectors.bng.models import Item
from agent.connectors.errors import BadRequest, NotFound, ValidationFailed
from agent.connectors.http import zulu
from agent.engine.cursors import Cursors
from agent.engine.queue import JobSpec
from agent.flows import stock
from agent.flows.base import Flow

if TYPE_CHECKING:
    from agent.connectors.nopcommerce.models import Product, ProductSpecificationAttribute, SpecificationAttribute
    from agent.engine.workers import JobContext
    from agent.flows.base import FlowContext

NAME = "products"
POLL = "products.poll"
SYNC = "product.sync"
CURSOR = "products.modified_since"
ENTITY = "product"

MANAGE_STOCK, DONT_MANAGE_STOCK = 1, 0
OPTION, CUSTOM_TEXT = 0, 10
CATALOG_TTL = 60.0
_LOCK = threading.Lock()


def owned_fields(ctx: FlowContext) -> set[str]:
    return {name.strip().lower() for name in ctx.settings.mapping.ownership.bng_owns}


# -- field rules ---------------------------------------------------------------------------------

def option_text(value: Any) -> str:
    """An attribute value as shoppers read it: Yes/No for flags, 12 rather than 12.0."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def stock_method(item: Item, product: Product | None) -> int | None:
    """How the store should manage the product's stock: not at all for service items, by itself
    for stocked ones. Products stocked by attribute combination are the store's business."""
    current = product.manage_inventory_method_id if product is not None else None
    if current == 2:
        return None
    return DONT_MANAGE_STOCK if item.item_type == "service" else MANAGE_STOCK


def field_changes(item: Item, product: Product, owned: set[str], currency: str) -> dict[str, Any]:
    """The store fields BNG owns whose value differs from BNG's, as the update to send. A price in
    another currency than the store's is not a store price: it is left alone."""
    wanted: dict[str, Any] = {}
    if item.currency.upper() != currency.upper():
        owned = owned - {"price"}
    if "sku" in owned and product.sku != item.item_no and (product.sku or "").casefold() == item.item_no.casefold():
        wanted["sku"] = item.item_no
    if "name" in owned and item.description.strip() and product.name != item.description.strip():
        wanted["name"] = item.description.strip()
    if "price" in owned and (product.price is None or Decimal(product.price) != item.unit_price):
        wanted["price"] = item.unit_price
    if "weight" in owned and item.weight is not None and (product.weight is None
                                                          or Decimal(product.weight) != item.weight):
        wanted["weight"] = item.weight
    if "published" in owned and product.published is not item.active:
        wanted["published"] = item.active
    if "gtin" in owned and item.gtin and product.gtin != item.gtin:
        wanted["gtin"] = item.gtin
    if "description" in owned and item.long_description and product.full_description != item.long_description:
        wanted["full_description"] = item.long_description
    method = stock_method(item, product)
    if "stock" in owned and method is not None and product.manage_inventory_method_id != method:
        wanted["manage_inventory_method_id"] = method
    return wanted


def new_product_fields(item: Item, owned: set[str]) -> dict[str, Any]:
    """A new store product for a BNG item: published as BNG says, stock managed unless a service
    item (its figure comes from the stock flow right after), BNG's long description as a start."""
    fields: dict[str, Any] = {"published": item.active, "visible_individually": True,
                              "order_minimum_quantity": 1, "order_maximum_quantity": 10000,
                              "is_ship_enabled": item.item_type != "service", "stock_quantity": 0,
                              "manage_inventory_method_id": stock_method(item, None),
                              "low_stock_activity_id": 1, "display_stock_availability": True}
    if item.weight is not None:
        fields["weight"] = item.weight
    if item.gtin:
        fields["gtin"] = item.gtin
    if item.long_description:
        fields["full_description"] = item.long_description
    return fields


# -- specification attributes ------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One specification value on a product: the attribute's name and the value shown."""

    attribute: str
    value: str


class SpecCatalog:
    """The store's specification attributes and options, by name; new ones are created here,
    under one lock, so two products needing the same new option do not create it twice."""

    def __init__(self, ctx: FlowContext):
        self.ctx = ctx

    def _attributes(self, refresh: bool = False) -> dict[str, SpecificationAttribute]:
        entry = self.ctx.cache.get("products:spec-catalog")
        now = self.ctx.clock()
        if refresh or entry is None or entry[0] <= now:
            attributes = {(a.name or "").strip().casefold(): a for a in self.ctx.nop.spec_attributes()}
            entry = self.ctx.cache["products:spec-catalog"] = (now + CATALOG_TTL, attributes)
        return entry[1]

    def _remember(self, attribute: SpecificationAttribute) -> None:
        self._attributes()[(attribute.name or "").strip().casefold()] = attribute

    def describe(self, mapping: ProductSpecificationAttribute) -> Spec | None:
        """What a product's mapping shows (None when its option is unknown even after a re-read)."""
        for refresh in (False, True):
            for attribute in self._attributes(refresh).values():
                for option in attribute.options:
                    if option.id == mapping.specification_attribute_option_id:
                        shown = mapping.custom_value if mapping.attribute_type_id == CUSTOM_TEXT else option.name
                        return Spec((attribute.name or "").strip(), (shown or "").strip())
        return None

    def option_for(self, spec: Spec) -> tuple[int, str | None]:
        """(option id, custom text or None) to show `spec`, creating what is missing.

        Where the store's API cannot add an option to an existing attribute, the value is shown
        as the attribute's custom text instead (still on the product page, just not filterable).
        """
        key = spec.attribute.casefold()
        with _LOCK:
            for refresh in (False, True):
                attribute = self._attributes(refresh).get(key)
                if attribute is not None and (found := _option(attribute, spec.value)) is not None:
                    return found, None
            nop = self.ctx.nop
            if attribute is None:
                created = nop.create_spec_attribute(spec.attribute, [spec.value])
                self._remember(created)
                found = _option(created, spec.value)
                if found is None:
                    raise NotFound(system="nopcommerce", message=f"the web store created the specification "
                                   f"attribute '{spec.attribute}' without its option '{spec.value}'")
                return found, None
            options = [{"id": o.id, "name": o.name, "display_order": o.display_order} for o in attribute.options]
            try:
                updated = nop.update_spec_attribute(attribute.id, specification_attribute_options=[
                    *options, {"name": spec.value, "display_order": len(options) + 1}])
            except (BadRequest, NotFound, ValidationFailed):
                updated = None
            if updated is not None and (found := _option(updated, spec.value)) is not None:
                self._remember(updated)
                return found, None
            if not attribute.options:
                raise NotFound(system="nopcommerce", message=f"the specification attribute '{spec.attribute}' has "
                               "no option, and the web store's API cannot add one")
            return attribute.options[0].id, spec.value


def _option(attribute: SpecificationAttribute, value: str) -> int | None:
    wanted = value.casefold()
    return next((o.id for o in attribute.options if (o.name or "").strip().casefold() == wanted), None)


def sync_specs(ctx: FlowContext, product: Product, item: Item, previous: set[str],
               job: JobContext | None = None) -> list[str]:
    """Make the product show BNG's attributes; returns the attribute names now BNG's on it.

    Mappings of attributes BNG does not have (and never had on this item) are the store's own.
    """
    catalog = SpecCatalog(ctx)
    wanted = {name.strip().casefold(): Spec(name.strip(), option_text(value))
              for name, value in item.attributes.items() if name.strip() and option_text(value)}
    ours = wanted.keys() | {name.casefold() for name in previous}
    kept: set[str] = set()
    changes: list[str] = []
    for mapping in product.product_specification_attributes or []:
        shown = catalog.describe(mapping)
        if shown is None or shown.attribute.casefold() not in ours:
            continue
        key = shown.attribute.casefold()
        target = wanted.get(key)
        if target is not None and key not in kept and shown.value.casefold() == target.value.casefold():
            kept.add(key)
            continue
        ctx.nop.delete_product_spec_attribute(mapping.id)
        changes.append(f"removed {shown.attribute}: {shown.value}")
    for order, (key, spec) in enumerate(sorted(wanted.items()), start=1):
        if key in kept:
            continue
        option_id, custom = catalog.option_for(spec)
        ctx.nop.create_product_spec_attribute(
            product.id, option_id, custom_value=custom, attribute_type="CustomText" if custom else "Option",
            allow_filtering=custom is None, show_on_product_page=True, display_order=order)
        changes.append(f"{spec.attribute}: {spec.value}")
    if changes and job is not None:
        job.step(f"attributes of {item.item_no}: {'; '.join(changes)}", subject=f"sku:{item.item_no}")
    return sorted(spec.attribute for spec in wanted.values())


# -- one item ------------------------------------------------------------------------------------

def store_product(ctx: FlowContext, item_no: str) -> Product | None:
    """The store product selling this BNG item (its own SKU first, then a substituted one)."""
    for sku in stock.skus_for_item(ctx.settings, item_no):
        product = ctx.nop.find_product_by_sku(sku)
        if product is not None:
            return product
    return None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _newer_applied(ctx: FlowContext, product_id: int, item: Item) -> bool:
    """Was a later version of the item already applied? (Two changes may be worked on out of order.)"""
    record = ctx.xref.get(ENTITY, product_id)
    applied = (record.data or {}).get("modified_at") if record is not None else None
    return bool(applied) and _instant(applied) > item.modified_at


def sync_item(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    item = Item.model_validate(job.payload["item"])
    job.add_subject(f"sku:{item.item_no}")
    owned = owned_fields(ctx)
    with stock.sku_lock(ctx, "product:" + item.item_no):
        product = store_product(ctx, item.item_no)
        if product is None:
            if not item.active:
                return {"sku": item.item_no, "action": "skipped", "note": "inactive in BNG and not in the store"}
            product = ctx.nop.create_product(item.description.strip() or item.item_no, item.item_no, item.unit_price,
                                             **new_product_fields(item, owned))
            job.step(f"product {item.item_no} created in the store (id {product.id})", subject=f"sku:{item.item_no}")
            action, changed, stock_from = "created", ["created"], None
        else:
            if _newer_applied(ctx, product.id, item):
                return {"sku": item.item_no, "action": "skipped", "note": "a newer change was applied already"}
            stock_from = product.manage_inventory_method_id
            currency = ctx.settings.mapping.currency.code
            changes = field_changes(item, product, owned, currency)
            if item.currency.upper() != currency.upper():
                job.step(f"{item.item_no}: BNG's price is in {item.currency}, the store sells in {currency}; "
                         "the price is not synced", level="warning")
            if changes:
                product = ctx.nop.update_product(product, **changes)
                job.step(f"product {item.item_no}: " + ", ".join(_describe(k, v) for k, v in changes.items()),
                         subject=f"sku:{item.item_no}")
            action, changed = ("updated" if changes else "unchanged"), sorted(changes)
        record = ctx.xref.get(ENTITY, product.id)
        previous = set((record.data or {}).get("attributes") or []) if record is not None else set()
        attributes = sorted(previous)
        if "attributes" in owned:
            attributes = sync_specs(ctx, product, item, previous, job)
        ctx.xref.link(ENTITY, product.id, item.item_no, {"modified_at": zulu(item.modified_at),
                                                         "attributes": attributes}, replace=True)
        if "stock" in owned and product.manage_inventory_method_id == MANAGE_STOCK and stock_from != MANAGE_STOCK:
            # A product that starts managing stock gets BNG's figure now, not at BNG's next movement.
            ctx.queue.enqueue(stock.SKU_JOB, f"sku:{product.sku or item.item_no}@product:{product.id}:{job.id}",
                              {"sku": product.sku or item.item_no}, run_id=job.run_id)
    return {"sku": item.item_no, "action": action, "product_id": product.id, "fields": changed}


def _describe(key: str, value: Any) -> str:
    if key == "manage_inventory_method_id":
        return "stock managed by the store" if value == MANAGE_STOCK else "stock not managed (service item)"
    if key == "full_description":
        return "description"
    return f"{key} {value}"


# -- the poll ------------------------------------------------------------------------------------

def poll(ctx: FlowContext, job: JobContext) -> dict[str, Any]:
    """Enqueue a sync of every item changed since the last poll (all of them on a full pass)."""
    cursors = Cursors(ctx.store, ctx.queue, ctx.clock)
    since = cursors.get(CURSOR)
    full = since is None or bool(job.payload.get("full"))
    previous = None if since is None else _instant(str(since))
    items = list(ctx.bng.iter_items(modified_since=None if full else previous))
    stock.remember_item_types(ctx, items)
    newest = previous
    specs: list[JobSpec] = []
    for item in items:
        stamp = zulu(item.modified_at)
        if newest is None or item.modified_at > newest:
            newest = item.modified_at
        version = f"full:{job.run_id or job.id}" if full else stamp
        specs.append(JobSpec(SYNC, f"item:{item.item_no}@{version}", {"item": item.model_dump(mode="json")}))
    if not full:
        # `modified_since` is inclusive: the items of the last poll's newest instant come back.
        done = _already_synced(ctx, [s.key for s in specs])
        specs = [s for s in specs if s.key not in done]
    if newest is not None:
        cursors.commit_batch(specs, CURSOR, zulu(newest), run_id=job.run_id)
    message = f"{len(specs)} item(s) to sync" if specs else "no item changes in BNG"
    return {"items": len(items), "enqueued": len(specs), "full": full, "message": message}


def _already_synced(ctx: FlowContext, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    rows = ctx.store.query("SELECT dedupe_key FROM job WHERE kind = ? AND state = 'succeeded' "
                           "AND dedupe_key IN (SELECT value FROM json_each(?))", (SYNC, stock._json_list(keys)))
    return {row["dedupe_key"] for row in rows}


FLOW = Flow(name=NAME, poll_kind=POLL, handlers={POLL: poll, SYNC: sync_item})
