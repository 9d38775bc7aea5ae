"""Client of nopCommerce's community API plugin (`Nop.Plugin.Api`, forks for 4.80/4.90).

What the plugin makes us do, and where it is handled:
- Token from `POST /token` (JSON body), kept in the keyring as `nopcommerce-token` so a restart
  does not log in again; a 401 renews it once per request (`_TokenAuth`).
- Lists page with `limit` (1..250) and `since_id` (Id > since_id, ordered by Id): stable while
  new records arrive, so the generators here page by `since_id`, never by `page`.
- Status filters take enum *names*; ids are silently ignored (every order comes back), so names
  are always sent. Dates without an offset are read as the server's local time: we send Z.
- `PUT /api/orders/{id}` fails without both address ids and clears `shipping_method` when it is
  not sent; it can also 500 on a busy store (a plugin defect) -> `PluginDefect`, not a loop.
- `PUT /api/products/{id}` wipes the product's tags unless `tags` is sent: always sent.
- Errors come as `{"errors": {"field": ["message", ...]}}`: turned into typed errors with details.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from agent import __version__, logs, secrets
from agent.config import AgentSettings, NopCommerceSettings
from agent.connectors.errors import (
    BadRequest,
    ConnectionFailed,
    ConnectorError,
    Forbidden,
    NotFound,
    PluginDefect,
    ServerError,
    Timeout,
    Unauthorized,
    UnexpectedResponse,
)
from agent.connectors.http import (
    ConnectionCheck,
    HttpClient,
    decode,
    loads,
    timeout_from_seconds,
    zulu,
)
from agent.connectors.nopcommerce.enums import OrderStatus, PaymentStatus, ShippingStatus, require_name
from agent.connectors.nopcommerce.models import (
    Country,
    Currency,
    Customer,
    Order,
    Product,
    ProductSpecificationAttribute,
    ProductWarehouseInventory,
    Shipment,
    SpecificationAttribute,
    StateProvince,
    TokenInfo,
    Warehouse,
)
from agent.connectors.resilience import NO_RETRY, SYSTEM_CLOCK, CircuitBreaker, Clock, RetryPolicy, TokenBucket

log = logging.getLogger(__name__)

SYSTEM = "nopcommerce"
MAX_LIMIT = 250
ROLE_HINT = ('the API user must be in the "Api Users" customer role, and that role needs the permissions '
             "for orders, catalog and customers (Configuration > Access control list)")
M = TypeVar("M", bound=BaseModel)


def nop_error_parser(response: httpx.Response) -> tuple[str, list[tuple[str, str]]]:
    """`{"errors": {"field": ["msg", ...]}}` -> (message, [(field, msg), ...]); plain text bodies too."""
    try:
        body = loads(response.content) if response.content else None
    except ValueError:
        text = response.text.strip()
        return ("" if text.startswith("<") else text[:200]), []     # an HTML error page says nothing useful
    if isinstance(body, str):
        return body, []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, dict):
            details: list[tuple[str, str]] = []
            for field, messages in errors.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    details.append((str(field), str(message)))
            if details == [("internal_server_error", "please, contact the store owner")]:
                return "internal server error", []
            return "", details
        if isinstance(errors, list):
            return "", [("", str(e)) for e in errors]
        for key in ("error_description", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key], []
    return "", []


def _shipping_option_error(exc: ConnectorError) -> bool:
    fields = {field for field, _ in exc.details}
    return bool(fields & {"shipping_option", "shipping_option_name", "shipping_rate_computation_method_system_name"})


def _limit(value: int | None, default: int) -> int:
    return max(1, min(MAX_LIMIT, value or default))


def _with_id(fields: str | Iterable[str] | None) -> str | None:
    """`fields=` must keep `id`: the pager needs it as its cursor."""
    if fields is None:
        return None
    names = [f.strip() for f in (fields.split(",") if isinstance(fields, str) else fields) if f.strip()]
    if "id" not in names:
        names.insert(0, "id")
    return ",".join(names)


class _TokenAuth:
    """The bearer token: from the keyring, else `POST /token`; renewed once when the store says 401."""

    def __init__(self, client: NopCommerceClient):
        self._client = client
        self._token: str | None = None
        self._renew_at: datetime | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def apply(self, headers: dict[str, str]) -> object:
        with self._lock:
            if self._token is None and not self._loaded:
                self._loaded = True
                self._token = self._client._stored_token()
            if self._token is None or (self._renew_at is not None and datetime.now(UTC) >= self._renew_at):
                self._fetch()
            token = self._token
        headers["Authorization"] = f"Bearer {token}"
        return token

    def renew(self, used: object) -> bool:
        with self._lock:
            if self._token is not None and self._token != used:
                return True                 # another worker renewed it meanwhile
            self._fetch()
            return True

    def forget(self) -> None:
        with self._lock:
            self._token = None
            self._renew_at = None

    def _fetch(self) -> None:
        # inside another request: that request's outcome is what the breaker records
        self.use(self._client.request_token(use_breaker=False))

    def use(self, info: TokenInfo) -> None:
        """Adopt a fresh token; renew it ahead of its expiry (5 minutes, or a tenth of a short lifetime)."""
        self._token = info.access_token
        self._renew_at = None
        if info.expires_at_utc is not None:
            lifetime = info.expires_at_utc - (info.created_at_utc or datetime.now(UTC))
            self._renew_at = info.expires_at_utc - min(timedelta(minutes=5), max(lifetime, timedelta(0)) / 10)
        self._loaded = True
        self._client._store_token(info.access_token)


class NopCommerceClient:
    """The web store, through the community API plugin. One instance per agent; thread-safe."""

    system = SYSTEM

    def __init__(self, http: HttpClient, username: str, password: str, *, page_size: int = 100,
                 store_id: int | None = None, token_store: bool = True):
        self.http = http
        self.username = username
        self._password = password
        logs.register_secret(password)
        self.page_size = _limit(page_size, 100)
        self.store_id = store_id
        self._token_store = token_store
        self._auth = _TokenAuth(self)
        http.auth = self._auth
        self._cache_lock = threading.Lock()         # countries and states
        self._sku_lock = threading.Lock()
        self._countries: list[Country] | None = None
        self._states: list[StateProvince] | None = None
        self._sku_ids: dict[str, int] = {}
        self._sku_built_at: float | None = None
        self.sku_map_max_age = 60.0

    @classmethod
    def from_settings(cls, settings: NopCommerceSettings, agent: AgentSettings, password: str | None = None, *,
                      transport: httpx.BaseTransport | None = None, clock: Clock = SYSTEM_CLOCK,
                      rng: random.Random | None = None, retry: RetryPolicy | None = None) -> NopCommerceClient:
        """Build the client with its own pool, limiter and breaker; the password comes from the keyring if not given."""
        if password is None:
            password = secrets.get("nopcommerce") or ""
        breaker = CircuitBreaker(SYSTEM, agent.breaker_failures, agent.breaker_cooldown_seconds,
                                 agent.breaker_max_cooldown_seconds, clock=clock)
        rate = settings.requests_per_second
        limiter = TokenBucket(rate, burst=max(1, round(rate)), clock=clock)
        http = HttpClient(SYSTEM, settings.url, timeout=timeout_from_seconds(settings.timeout_seconds),
                          headers={"Accept": "application/json", "User-Agent": f"bngsync/{__version__}"},
                          verify=settings.verify_tls, transport=transport, retry=retry, limiter=limiter,
                          breaker=breaker, clock=clock, rng=rng, error_parser=nop_error_parser,
                          decimals="number", max_connections=agent.workers + 2)
        return cls(http, settings.username, password, page_size=settings.page_size, store_id=settings.store_id)

    @property
    def breaker(self) -> CircuitBreaker:
        return self.http.breaker

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> NopCommerceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- token ---------------------------------------------------------------------------------
    def request_token(self, use_breaker: bool = True) -> TokenInfo:
        """Log in as the API user. Bad credentials become `Unauthorized` with a plain sentence."""
        body = {"guest": False, "username": self.username, "password": self._password, "remember_me": False}
        try:
            response = self.http.request("POST", "/token", json=body, safe_to_retry=True, authenticate=False,
                                         use_breaker=use_breaker)
        except (Unauthorized, Forbidden, BadRequest) as exc:
            raise Unauthorized(
                system=SYSTEM, method="POST", path="/token", status=exc.status, server_message=exc.server_message,
                message=f"the web store refused the API user's e-mail or password ({self.username})") from None
        except NotFound:
            raise NotFound(system=SYSTEM, method="POST", path="/token", status=404,
                           message="the web store has no API login (/token): is the API plugin installed "
                                   "and enabled?") from None
        data = decode(response, SYSTEM)
        if not isinstance(data, dict) or not data.get("access_token"):
            message = data.get("error_description") if isinstance(data, dict) else None
            if message:
                raise Unauthorized(system=SYSTEM, method="POST", path="/token", server_message=str(message))
            raise UnexpectedResponse(system=SYSTEM, method="POST", path="/token",
                                     message="the web store's /token did not return an access token")
        info = TokenInfo.model_validate(data)
        logs.register_secret(info.access_token)
        return info

    def _stored_token(self) -> str | None:
        if not self._token_store:
            return None
        try:
            return secrets.get("nopcommerce-token", required=False)
        except secrets.SecretError:
            return None

    def _store_token(self, token: str) -> None:
        logs.register_secret(token)
        if not self._token_store:
            return
        try:
            secrets.set("nopcommerce-token", token)
        except secrets.SecretError as exc:
            log.warning("the store's access token is kept in memory only: %s", exc)

    # -- plumbing --------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.get(path, params=params)

    def _write(self, method: str, path: str, root: str, body: Mapping[str, Any], *,
               safe_to_retry: bool | None = None) -> Any:
        return self.http.send_json(method, path, json={root: dict(body)}, safe_to_retry=safe_to_retry)

    @staticmethod
    def _rows(data: Any, root: str) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get(root, []), list):
            raise UnexpectedResponse(system=SYSTEM, message=f"the web store's reply has no '{root}' list")
        return data.get(root) or []

    def _one(self, data: Any, root: str, model: type[M], what: str) -> M:
        rows = self._rows(data, root)
        if not rows:
            raise NotFound(system=SYSTEM, message=f"the web store returned no {what}")
        return model.model_validate(rows[0])

    def _pages(self, path: str, root: str, model: type[M], params: Mapping[str, Any], *, since_id: int = 0,
               limit: int | None = None) -> Iterator[M]:
        """Every record once, oldest id first, paging by `since_id` (stable while records are added)."""
        size = _limit(limit, self.page_size)
        cursor = since_id
        while True:
            data = self._get(path, {**params, "limit": size, "since_id": cursor})
            rows = self._rows(data, root)
            ids = [row.get("id") for row in rows if isinstance(row.get("id"), int)]
            for row in rows:
                yield model.model_validate(row)
            if len(rows) < size or not ids:
                return
            if max(ids) <= cursor:
                raise UnexpectedResponse(system=SYSTEM, message=f"the web store's {root} list does not advance "
                                         "by id; paging stopped to avoid a loop")
            cursor = max(ids)

    @staticmethod
    def _status_params(status: Any, payment_status: Any, shipping_status: Any) -> dict[str, str]:
        params: dict[str, str] = {}
        if status is not None:
            params["status"] = require_name(OrderStatus, status)
        if payment_status is not None:
            params["payment_status"] = require_name(PaymentStatus, payment_status)
        if shipping_status is not None:
            params["shipping_status"] = require_name(ShippingStatus, shipping_status)
        return params

    # -- orders ----------------------------------------------------------------------------------
    def list_orders(self, since_id: int = 0, status: Any = None, created_at_min: datetime | None = None, *,
                    created_at_max: datetime | None = None, payment_status: Any = None,
                    shipping_status: Any = None, customer_id: int | None = None,
                    fields: str | Iterable[str] | None = None, limit: int | None = None) -> Iterator[Order]:
        """Orders with id > since_id, oldest first. `fields` trims the (large) order DTOs."""
        params: dict[str, Any] = self._status_params(status, payment_status, shipping_status)
        params.update({"created_at_min": created_at_min, "created_at_max": created_at_max,
                       "customer_id": customer_id, "fields": _with_id(fields)})
        return self._pages("/api/orders", "orders", Order, params, since_id=since_id, limit=limit)

    def count_orders(self, status: Any = None, created_at_min: datetime | None = None, *,
                     created_at_max: datetime | None = None, payment_status: Any = None,
                     shipping_status: Any = None, customer_id: int | None = None) -> int:
        """How many orders match (the 4.90 plugin ignores since_id here, so it is not offered)."""
        params: dict[str, Any] = self._status_params(status, payment_status, shipping_status)
        params.update({"created_at_min": created_at_min, "created_at_max": created_at_max,
                       "customer_id": customer_id})
        return int(self._get("/api/orders/count", params).get("count", 0))

    def get_order(self, order_id: int, fields: str | Iterable[str] | None = None) -> Order:
        data = self._get(f"/api/orders/{int(order_id)}", {"fields": _with_id(fields)})
        return self._one(data, "orders", Order, f"order {order_id}")

    def update_order_status(self, order: Order | int, order_status: Any = None, payment_status: Any = None,
                            shipping_status: Any = None) -> Order:
        """Set statuses on an order, sending what the plugin needs to not break it.

        Both address ids (the shipping one falls back to the billing one) and the current
        shipping method always go along. Note the plugin writes statuses directly: no stock
        return on cancel, no e-mails, no order note.
        """
        changes: dict[str, str] = {}
        if order_status is not None:
            changes["order_status"] = require_name(OrderStatus, order_status)
        if payment_status is not None:
            changes["payment_status"] = require_name(PaymentStatus, payment_status)
        if shipping_status is not None:
            changes["shipping_status"] = require_name(ShippingStatus, shipping_status)
        if not changes:
            raise ValueError("update_order_status needs at least one status to set")
        current = order if isinstance(order, Order) else None
        if current is None or current.billing_address is None or current.billing_address.id is None \
                or "shipping_method" not in current.model_fields_set:
            current = self.get_order(order.id if isinstance(order, Order) else int(order))
        billing = current.billing_address
        if billing is None or billing.id is None:
            raise UnexpectedResponse(system=SYSTEM, message=f"order {current.id} has no billing address in the "
                                     "web store's reply, which its API needs for any update")
        shipping_id = current.shipping_address.id if current.shipping_address and current.shipping_address.id \
            else billing.id
        body = {"billing_address": {"id": billing.id}, "shipping_address": {"id": shipping_id},
                "shipping_method": current.shipping_method, **changes}
        try:
            try:
                data = self._write("PUT", f"/api/orders/{current.id}", "order", body)
            except BadRequest as exc:
                if not (current.pick_up_in_store and body["shipping_method"] and _shipping_option_error(exc)):
                    raise
                # The plugin re-validates a sent shipping method against the order's rate method,
                # which fails for in-store pickup; not sending it clears it. Keeping the status
                # update working matters more than the method's display name.
                log.warning("order %s is picked up in store: the store's API plugin cannot keep its shipping "
                            "method name (%r) on an update, so it is cleared", current.id, body["shipping_method"])
                body["shipping_method"] = None
                data = self._write("PUT", f"/api/orders/{current.id}", "order", body)
        except ServerError as exc:
            if exc.status == 500:
                raise PluginDefect(system=SYSTEM, method="PUT", path=f"/api/orders/{current.id}", status=500,
                                   server_message=exc.server_message) from None
            raise
        return self._one(data, "orders", Order, f"order {current.id}")

    # -- shipments -------------------------------------------------------------------------------
    def list_shipments(self, order_id: int) -> list[Shipment]:
        path = f"/api/orders/{int(order_id)}/shipments"
        return [s.model_copy(update={"order_id": s.order_id or int(order_id)})
                for s in self._pages(path, "shipments", Shipment, {})]

    def create_shipment(self, order_id: int, tracking_number: str | None,
                        items: Iterable[tuple[int, int]], shipped_at: datetime | None = None, *,
                        admin_comment: str | None = None, safe_to_retry: bool = False) -> Shipment:
        """Record a shipment of `(order_item_id, quantity)` pairs.

        A create: a lost reply raises `OutcomeUnknown`; check `list_shipments` before repeating.
        The plugin stores the shipment only; the order's shipping status is set separately.
        """
        body: dict[str, Any] = {"tracking_number": tracking_number,
                                "shipment_items": [{"order_item_id": int(i), "quantity": int(q)} for i, q in items]}
        if shipped_at is not None:
            body["shipped_date_utc"] = zulu(shipped_at)
        if admin_comment is not None:
            body["admin_comment"] = admin_comment
        data = self._write("POST", f"/api/orders/{int(order_id)}/shipments", "shipment", body,
                           safe_to_retry=safe_to_retry)
        shipment = self._one(data, "shipments", Shipment, "shipment")
        return shipment.model_copy(update={"order_id": shipment.order_id or int(order_id)})

    # -- customers -------------------------------------------------------------------------------
    def list_customers(self, since_id: int = 0, created_at_min: datetime | None = None, *,
                       fields: str | Iterable[str] | None = None, limit: int | None = None) -> Iterator[Customer]:
        params = {"created_at_min": created_at_min, "fields": _with_id(fields)}
        return self._pages("/api/customers", "customers", Customer, params, since_id=since_id, limit=limit)

    def get_customer(self, customer_id: int) -> Customer:
        return self._one(self._get(f"/api/customers/{int(customer_id)}"), "customers", Customer,
                         f"customer {customer_id}")

    def search_customers(self, email: str) -> list[Customer]:
        """Registered customers with exactly this e-mail (any case)."""
        wanted = email.strip().casefold()
        data = self._get("/api/customers/search", {"query": f"email:{email.strip()}", "limit": MAX_LIMIT})
        found = [Customer.model_validate(row) for row in self._rows(data, "customers")]
        return [c for c in found if (c.email or "").strip().casefold() == wanted]

    # -- products --------------------------------------------------------------------------------
    def list_products(self, since_id: int = 0, updated_at_min: datetime | None = None, *,
                      published_status: str | None = None, ids: Iterable[int] | None = None,
                      fields: str | Iterable[str] | None = None, limit: int | None = None) -> Iterator[Product]:
        params = {"updated_at_min": updated_at_min, "published_status": published_status,
                  "ids": ",".join(str(i) for i in ids) if ids is not None else None, "fields": _with_id(fields)}
        return self._pages("/api/products", "products", Product, params, since_id=since_id, limit=limit)

    def count_products(self, updated_at_min: datetime | None = None) -> int:
        return int(self._get("/api/products/count", {"updated_at_min": updated_at_min}).get("count", 0))

    def get_product(self, product_id: int, fields: str | Iterable[str] | None = None) -> Product:
        data = self._get(f"/api/products/{int(product_id)}", {"fields": _with_id(fields)})
        return self._one(data, "products", Product, f"product {product_id}")

    def sku_map(self, refresh: bool = False) -> dict[str, int]:
        """SKU -> product id for the whole catalog (the API has no SKU filter), cached for a minute."""
        with self._sku_lock:
            now = self.http.clock.monotonic()
            if refresh or self._sku_built_at is None or now - self._sku_built_at > self.sku_map_max_age:
                mapping: dict[str, int] = {}
                for product in self.list_products(fields="id,sku", limit=MAX_LIMIT):
                    if product.sku:
                        mapping.setdefault(product.sku.strip().casefold(), product.id)
                self._sku_ids = mapping
                self._sku_built_at = now
            return dict(self._sku_ids)

    def find_product_by_sku(self, sku: str) -> Product | None:
        """The product with this SKU (case-insensitive, like the store's own lookup), or None."""
        key = sku.strip().casefold()
        for refresh in (False, True):
            product_id = self.sku_map(refresh=refresh).get(key)
            if product_id is None:
                if refresh or self._sku_built_at is None:
                    return None
                continue
            try:
                product = self.get_product(product_id)
            except NotFound:
                continue
            if (product.sku or "").strip().casefold() == key:
                return product
        return None

    def _remember_sku(self, product: Product) -> None:
        if product.sku:
            with self._sku_lock:
                self._sku_ids[product.sku.strip().casefold()] = product.id

    def update_product(self, product: Product | int, **fields: Any) -> Product:
        """Change some product fields; the current `tags` always go along (else the plugin wipes them)."""
        if not fields:
            raise ValueError("update_product needs at least one field")
        current = product if isinstance(product, Product) and product.tags is not None else None
        if current is None:
            current = self.get_product(product.id if isinstance(product, Product) else int(product))
        body = dict(fields)
        body.setdefault("tags", list(current.tags or []))
        data = self._write("PUT", f"/api/products/{current.id}", "product", body)
        updated = self._one(data, "products", Product, f"product {current.id}")
        self._remember_sku(updated)
        return updated

    def create_product(self, name: str, sku: str, price: Decimal, *, safe_to_retry: bool = False,
                       **fields: Any) -> Product:
        """Create a product. A lost reply raises `OutcomeUnknown`: look it up by SKU before repeating."""
        body = {"name": name, "sku": sku, "price": price, **fields}
        body.setdefault("tags", [])
        data = self._write("POST", "/api/products", "product", body, safe_to_retry=safe_to_retry)
        created = self._one(data, "products", Product, "product")
        self._remember_sku(created)
        return created

    # -- warehouses and per-warehouse stock --------------------------------------------------------
    def warehouses(self) -> list[Warehouse]:
        return list(self._pages("/api/warehouses", "warehouses", Warehouse, {}))

    def product_inventories(self, product_id: int | None = None,
                            warehouse_id: int | None = None) -> list[ProductWarehouseInventory]:
        params = {"product_id": product_id, "warehouse_id": warehouse_id}
        return list(self._pages("/api/product_warehouse_inventories", "product_warehouse_inventories",
                                ProductWarehouseInventory, params))

    def update_product_inventory(self, inventory: ProductWarehouseInventory | int,
                                 stock_quantity: int) -> ProductWarehouseInventory:
        inventory_id = inventory.id if isinstance(inventory, ProductWarehouseInventory) else int(inventory)
        data = self._write("PUT", f"/api/product_warehouse_inventories/{inventory_id}",
                           "product_warehouse_inventory", {"stock_quantity": int(stock_quantity)})
        return self._one(data, "product_warehouse_inventories", ProductWarehouseInventory, "stock record")

    def create_product_inventory(self, product_id: int, warehouse_id: int, stock_quantity: int,
                                 reserved_quantity: int = 0) -> ProductWarehouseInventory:
        body = {"product_id": int(product_id), "warehouse_id": int(warehouse_id),
                "stock_quantity": int(stock_quantity), "reserved_quantity": int(reserved_quantity)}
        data = self._write("POST", "/api/product_warehouse_inventories", "product_warehouse_inventory", body)
        return self._one(data, "product_warehouse_inventories", ProductWarehouseInventory, "stock record")

    # -- specification attributes ----------------------------------------------------------------
    def spec_attributes(self) -> list[SpecificationAttribute]:
        return list(self._pages("/api/specificationattributes", "specification_attributes",
                                SpecificationAttribute, {}))

    def get_spec_attribute(self, attribute_id: int) -> SpecificationAttribute:
        return self._one(self._get(f"/api/specificationattributes/{int(attribute_id)}"),
                         "specification_attributes", SpecificationAttribute, f"specification attribute {attribute_id}")

    def create_spec_attribute(self, name: str, options: Iterable[str] = (),
                              display_order: int = 0) -> SpecificationAttribute:
        body = {"name": name, "display_order": display_order,
                "specification_attribute_options": [{"name": o, "display_order": i}
                                                    for i, o in enumerate(options, start=1)]}
        data = self._write("POST", "/api/specificationattributes", "specification_attribute", body)
        return self._one(data, "specification_attributes", SpecificationAttribute, "specification attribute")

    def update_spec_attribute(self, attribute_id: int, **fields: Any) -> SpecificationAttribute:
        """Change a specification attribute; add options by sending `specification_attribute_options`."""
        data = self._write("PUT", f"/api/specificationattributes/{int(attribute_id)}", "specification_attribute",
                           fields)
        return self._one(data, "specification_attributes", SpecificationAttribute, "specification attribute")

    def delete_spec_attribute(self, attribute_id: int) -> None:
        self.http.request("DELETE", f"/api/specificationattributes/{int(attribute_id)}")

    def product_spec_attributes(self, product_id: int | None = None,
                                option_id: int | None = None) -> list[ProductSpecificationAttribute]:
        params = {"product_id": product_id, "specification_attribute_option_id": option_id}
        return list(self._pages("/api/productspecificationattributes", "product_specification_attributes",
                                ProductSpecificationAttribute, params))

    def create_product_spec_attribute(self, product_id: int, option_id: int | None = None, *,
                                      custom_value: str | None = None, attribute_type: Any = "Option",
                                      allow_filtering: bool = True, show_on_product_page: bool = True,
                                      display_order: int = 0) -> ProductSpecificationAttribute:
        from agent.connectors.nopcommerce.enums import SpecificationAttributeType
        body: dict[str, Any] = {"product_id": int(product_id),
                                "attribute_type": require_name(SpecificationAttributeType, attribute_type),
                                "allow_filtering": allow_filtering, "show_on_product_page": show_on_product_page,
                                "display_order": display_order}
        if option_id is not None:
            body["specification_attribute_option_id"] = int(option_id)
        if custom_value is not None:
            body["custom_value"] = custom_value
        data = self._write("POST", "/api/productspecificationattributes", "product_specification_attribute", body)
        return self._one(data, "product_specification_attributes", ProductSpecificationAttribute,
                         "product specification attribute")

    def update_product_spec_attribute(self, mapping_id: int, **fields: Any) -> ProductSpecificationAttribute:
        data = self._write("PUT", f"/api/productspecificationattributes/{int(mapping_id)}",
                           "product_specification_attribute", fields)
        return self._one(data, "product_specification_attributes", ProductSpecificationAttribute,
                         "product specification attribute")

    def delete_product_spec_attribute(self, mapping_id: int) -> None:
        self.http.request("DELETE", f"/api/productspecificationattributes/{int(mapping_id)}")

    # -- directory (cached: it changes about never) -----------------------------------------------
    def countries(self, refresh: bool = False) -> list[Country]:
        with self._cache_lock:
            if self._countries is None or refresh:
                data = self._get("/api/countries")
                self._countries = [Country.model_validate(r) for r in self._rows(data, "countries")]
            return list(self._countries)

    def country(self, country_id: int | None) -> Country | None:
        if not country_id:
            return None
        return next((c for c in self.countries() if c.id == country_id), None)

    def state_provinces(self, refresh: bool = False) -> list[StateProvince]:
        with self._cache_lock:
            if self._states is None or refresh:
                data = self._get("/api/stateprovinces")
                self._states = [StateProvince.model_validate(r) for r in self._rows(data, "state_provinces")]
            return list(self._states)

    def state_province(self, state_id: int | None) -> StateProvince | None:
        if not state_id:
            return None
        return next((s for s in self.state_provinces() if s.id == state_id), None)

    def currencies(self) -> list[Currency]:
        data = self._get("/api/currencies", {"storeId": self.store_id or None})
        return [Currency.model_validate(r) for r in self._rows(data, "currencies")]

    def primary_currency(self) -> Currency:
        return self._one(self._get("/api/currencies/primary"), "currencies", Currency, "primary currency")

    # -- diagnostics -------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        """Log in and read one small thing; say in plain words what is wrong if that fails."""
        url = self.http.base_url
        try:
            self._auth.forget()
            info = self._login_for_check()
            self._auth_set(info)
            count = self.http.send_json("GET", "/api/orders/count", params={"status": "Pending"},
                                        use_breaker=False, retry=NO_RETRY)
        except ConnectorError as exc:
            return self._explain(exc, url)
        total = count.get("count") if isinstance(count, dict) else None
        return ConnectionCheck(True, "ok", f"Connected to the web store at {url} as {self.username}"
                               + (f" ({total} orders)" if total is not None else "") + ".")

    def _login_for_check(self) -> TokenInfo:
        """One plain login attempt: no retries, no breaker, errors as they come (for `_explain`)."""
        body = {"guest": False, "username": self.username, "password": self._password, "remember_me": False}
        response = self.http.request("POST", "/token", json=body, safe_to_retry=True, authenticate=False,
                                     use_breaker=False, retry=NO_RETRY)
        data = decode(response, SYSTEM)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise UnexpectedResponse(system=SYSTEM, method="POST", path="/token")
        info = TokenInfo.model_validate(data)
        logs.register_secret(info.access_token)
        return info

    def _auth_set(self, info: TokenInfo) -> None:
        with self._auth._lock:
            self._auth.use(info)

    def _site_answers(self) -> bool:
        """Does the store root answer at all (then a 404 on the API means the plugin is missing)?"""
        status = self.http.probe("/")
        return status is not None and status < 400

    def _explain(self, exc: ConnectorError, url: str) -> ConnectionCheck:
        if isinstance(exc, ConnectionFailed):
            text = {
                "dns": f"The server name in {url} could not be found. Check the store URL for typos.",
                "tls": f"The secure connection to {url} failed (certificate problem). Check that the store's "
                       "certificate is valid, or that the URL is right.",
                "refused": f"Nothing accepts connections at {url}. Check the URL and port, and that the store "
                           "is running.",
            }.get(exc.kind, f"Could not reach the web store at {url}: {exc}")
            return ConnectionCheck(False, exc.kind if exc.kind in ("dns", "tls", "refused") else "connection", text)
        if isinstance(exc, Timeout):
            return ConnectionCheck(False, "timeout", f"The web store at {url} did not answer in time.")
        if isinstance(exc, NotFound):
            if self._site_answers():
                where = "/token" if exc.path.endswith("/token") else "/api"
                return ConnectionCheck(False, "plugin_missing",
                                       f"The store at {url} answers, but has no {where}: the nopCommerce API plugin "
                                       "is missing or not enabled. Install the API plugin and restart the store.")
            return ConnectionCheck(False, "wrong_url", f"Nothing at {url} looks like a nopCommerce store. Check "
                                   "the URL: it is the store's root address, e.g. https://shop.example.com.")
        if isinstance(exc, UnexpectedResponse):
            return ConnectionCheck(False, "wrong_url", f"The address {url} answers, but not like a nopCommerce "
                                   f"store with the API plugin ({exc}). Check the URL.")
        if isinstance(exc, Unauthorized | Forbidden | BadRequest):
            if exc.path.endswith("/token"):
                return ConnectionCheck(False, "auth", f"The store refused the login of {self.username}: check the "
                                       f"e-mail and password. Also, {ROLE_HINT}.")
            return ConnectionCheck(False, "auth" if isinstance(exc, Unauthorized) else "forbidden",
                                   f"The store accepted the login but refused API access. {ROLE_HINT[0].upper()}"
                                   f"{ROLE_HINT[1:]}.")
        return ConnectionCheck(False, "other", f"The web store at {url} reported a problem: {exc}")
