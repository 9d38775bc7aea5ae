"""The store's data and switches, shared by the API, the shoppers and the admin routes.

One re-entrant lock guards every table. Tables are dicts indexed by id, so lookups stay cheap as a
benchmark piles up orders. Besides the data, the state holds what tests need to steer the double:

- auth: `revoke_tokens()` makes every issued token fail with 401 (as if expired), `token_lifetime`
  shortens new tokens, `deny(permission)` makes the API user lack an ACL permission (403, empty
  body), `api_role_member = False` drops it from the "Api Users" role.
- plugin behaviour: the order PUT's product lookup by order-item id, a defect of the real plugin,
  is on by default (`order_put_item_lookup_defect`); `customer_list_includes_guests` lists guests
  in `/api/customers` as the 4.90 fork's query does (off by default, as the reference describes).
- the stock race: `adjust_inventory` is a read-modify-write like `ProductService.AdjustInventoryAsync`;
  with `stock_race_window > 0` or a `stock_race_hook` the lock is released between the read and the
  write, so a concurrent write (an ERP stock PUT, another checkout) is lost as on a real store.

Changes are announced to listeners (the webhook sender) as (action, kind, id), e.g.
("orders/create", "order", 12).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from agent.sandbox.nop.directory import Directory, build_directory
from agent.sandbox.nop.model import (
    Address,
    ChoiceAttribute,
    Customer,
    Order,
    OrderItem,
    Product,
    ProductSpecification,
    Shipment,
    SpecificationAttribute,
    SpecificationOption,
    StockHistoryEntry,
    Warehouse,
    WarehouseInventory,
)
from agent.sandbox.nop.wire import utcnow

Listener = Callable[[str, str, int], None]

# ACL permissions the API checks, by the names this double uses for them
PERMISSIONS = ("orders", "catalog", "customers", "public_store")

ROLE_ADMINISTRATORS, ROLE_FORUM_MODERATORS, ROLE_REGISTERED, ROLE_GUESTS, ROLE_VENDORS, ROLE_API_USERS = range(1, 7)


class NopState:
    """All tables of one store, thread-safe through `lock`."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, currencies: list[dict[str, Any]] | None = None):
        self.lock = threading.RLock()
        self.clock = clock
        self.directory: Directory = build_directory(currencies or [])
        self.roles: dict[int, tuple[str, str]] = {}             # id -> (name, system name)
        self.addresses: dict[int, Address] = {}
        self.customers: dict[int, Customer] = {}
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self.order_ids: list[int] = []                         # ascending, for since_id cursors
        self.order_items: dict[int, OrderItem] = {}
        self.shipments: dict[int, Shipment] = {}
        self.warehouses: dict[int, Warehouse] = {}
        self.inventories: dict[int, WarehouseInventory] = {}
        self.specification_attributes: dict[int, SpecificationAttribute] = {}
        self.specification_options: dict[int, SpecificationOption] = {}
        self.product_specifications: dict[int, ProductSpecification] = {}
        self.checkout_attributes: dict[int, ChoiceAttribute] = {}
        self.customer_attributes: dict[int, ChoiceAttribute] = {}
        self.stock_history: list[StockHistoryEntry] = []
        self._next_ids: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self.product_dto_cache: dict[int, dict[str, Any]] = {}
        self.counters: Counter[str] = Counter()
        # auth
        self.api_customer_id = 1
        self.token_lifetime = timedelta(days=365)
        self.issued_tokens: set[str] = set()                    # tokens not revoked
        self.revoked_at: float | None = None
        self.denied_permissions: set[str] = set()
        self.api_role_member = True
        # behaviour switches
        self.order_put_item_lookup_defect = True
        self.customer_list_includes_guests = False
        self.stock_race_window = 0.0
        self.stock_race_hook: Callable[[int, int], None] | None = None

    # -- ids and events ----------------------------------------------------------------------
    def next_id(self, table: str) -> int:
        with self.lock:
            number = self._next_ids.get(table, 0) + 1
            self._next_ids[table] = number
            return number

    def subscribe(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit(self, action: str, kind: str, entity_id: int) -> None:
        """Tell listeners about a change; called with the lock held so they see a consistent state."""
        self.counters[action] += 1
        for listener in list(self._listeners):
            listener(action, kind, entity_id)

    # -- addresses and customers -----------------------------------------------------------------
    def add_address(self, **fields: Any) -> Address:
        with self.lock:
            address = Address(id=self.next_id("address"), created_on_utc=fields.pop("created_on_utc", self.clock()),
                              **fields)
            self.addresses[address.id] = address
            return address

    def clone_address(self, address_id: int, created: datetime | None = None) -> Address:
        with self.lock:
            copy = self.addresses[address_id].clone(self.next_id("address"), created or self.clock())
            self.addresses[copy.id] = copy
            return copy

    def add_customer(self, customer: Customer, announce: bool = True) -> Customer:
        with self.lock:
            self.customers[customer.id] = customer
            if announce:
                self.emit("customers/create", "customer", customer.id)
            return customer

    def is_guest(self, customer: Customer) -> bool:
        return ROLE_GUESTS in customer.role_ids and ROLE_REGISTERED not in customer.role_ids

    def find_customer_by_email(self, email: str) -> Customer | None:
        wanted = email.strip().lower()
        with self.lock:
            return next((c for c in self.customers.values()
                         if not c.deleted and c.email and c.email.lower() == wanted), None)

    def customer_attribute_values(self, customer_id: int) -> dict[str, str]:
        """Custom customer attributes by name (the API never shows them; the store's admin does)."""
        with self.lock:
            customer = self.customers[customer_id]
            xml = customer.custom_customer_attributes_xml
            if not xml:
                return {}
            values: dict[str, str] = {}
            for node in ElementTree.fromstring(xml).iter("CustomerAttribute"):
                attribute = self.customer_attributes.get(int(node.get("ID", "0")))
                raw = node.findtext("CustomerAttributeValue/Value") or ""
                if attribute is None:
                    continue
                chosen = attribute.value(int(raw)) if raw.isdigit() else None
                values[attribute.name] = chosen.name if chosen else raw
            return values

    # -- products and stock ------------------------------------------------------------------------
    def add_product(self, product: Product, announce: bool = True) -> Product:
        with self.lock:
            self.products[product.id] = product
            if announce:
                self.emit("products/create", "product", product.id)
            return product

    def product_changed(self, product_id: int) -> None:
        self.product_dto_cache.pop(product_id, None)

    def product_by_sku(self, sku: str) -> Product | None:
        with self.lock:
            return next((p for p in self.products.values() if p.sku == sku and not p.deleted), None)

    def adjust_inventory(self, product_id: int, quantity_to_change: int, message: str) -> None:
        """`ProductService.AdjustInventoryAsync` for a product that manages its own stock.

        Read, compute, write. Atomic unless a race window or hook is set: then the lock is let go
        between the read and the write (callers must not hold it), as on a real store.
        """
        racy = self.stock_race_window > 0 or self.stock_race_hook is not None
        with self.lock:
            product = self.products[product_id]
            if not product.manages_stock or product.fields["use_multiple_warehouses"]:
                return
            read = product.fields["stock_quantity"]
            if not racy:
                self._write_stock(product, read + quantity_to_change, quantity_to_change, message)
                return
        if self.stock_race_hook is not None:
            self.stock_race_hook(product_id, read)
        if self.stock_race_window > 0:
            time.sleep(self.stock_race_window)
        with self.lock:
            self._write_stock(self.products[product_id], read + quantity_to_change, quantity_to_change, message)

    def _write_stock(self, product: Product, new_quantity: int, change: int, message: str) -> None:
        with self.lock:
            product.fields["stock_quantity"] = new_quantity
            self.stock_history.append(StockHistoryEntry(product.id, change, new_quantity, message, self.clock()))
            self._apply_low_stock_activity(product, new_quantity)
            self.product_changed(product.id)
            self.counters["stock_adjustments"] += 1
            self.emit("products/update", "product", product.id)

    def _apply_low_stock_activity(self, product: Product, total: int) -> None:
        reached = total <= product.fields["min_stock_quantity"]
        activity = product.fields["low_stock_activity_id"]
        if activity == 1:
            product.fields["disable_buy_button"] = reached
            product.fields["disable_wishlist_button"] = reached
        elif activity == 2 and reached:
            product.fields["published"] = False

    # -- orders ------------------------------------------------------------------------------------
    def add_order(self, order: Order) -> Order:
        with self.lock:
            if self.order_ids and order.id < self.order_ids[-1]:
                raise ValueError("orders must be added in id order")
            self.orders[order.id] = order
            self.order_ids.append(order.id)
            for item in order.items:
                self.order_items[item.id] = item
            return order

    def add_note(self, order: Order, text: str) -> None:
        order.notes.append((self.clock(), text))

    def orders_after(self, since_id: int) -> Iterator[Order]:
        """Orders with id > since_id in id order, without scanning the older ones."""
        start = bisect.bisect_right(self.order_ids, since_id)
        for index in range(start, len(self.order_ids)):
            yield self.orders[self.order_ids[index]]

    def shipments_of(self, order_id: int) -> list[Shipment]:
        with self.lock:
            return [s for s in self.shipments.values() if s.order_id == order_id]

    # -- catalog extras ------------------------------------------------------------------------------
    def add_specification_attribute(self, name: str, display_order: int,
                                    options: list[tuple[str, int, str | None]]) -> SpecificationAttribute:
        with self.lock:
            attribute = SpecificationAttribute(self.next_id("specification_attribute"), name, display_order)
            for option_name, option_order, rgb in options:
                option = SpecificationOption(self.next_id("specification_option"), attribute.id, option_name,
                                             option_order, rgb)
                attribute.options.append(option)
                self.specification_options[option.id] = option
            self.specification_attributes[attribute.id] = attribute
            return attribute

    # -- auth switches ---------------------------------------------------------------------------------
    def revoke_tokens(self) -> None:
        """Every token issued so far now fails with 401, as if it had expired just now."""
        with self.lock:
            self.issued_tokens.clear()
            self.revoked_at = time.time()

    def deny(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}; one of {PERMISSIONS}")
        with self.lock:
            self.denied_permissions.add(permission)

    def allow(self, permission: str | None = None) -> None:
        """Grant one permission back, or all of them (and the API role) when None."""
        with self.lock:
            if permission is None:
                self.denied_permissions.clear()
                self.api_role_member = True
            else:
                self.denied_permissions.discard(permission)

    def snapshot(self) -> dict[str, Any]:
        """Counts for the admin route and for benchmarks."""
        with self.lock:
            return {
                "orders": sum(1 for o in self.orders.values() if not o.deleted),
                "customers": sum(1 for c in self.customers.values() if not c.deleted),
                "products": sum(1 for p in self.products.values() if not p.deleted),
                "shipments": len(self.shipments),
                "events": dict(self.counters),
            }
