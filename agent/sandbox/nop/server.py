"""The nopCommerce double: the community API plugin for nopCommerce 4.90 ([AK] fork) over real HTTP.

`NopServer` answers `POST /token` (also `/api/token`), `GET /token/check` and the `/api/...`
routes of `api_orders`, `api_catalog` and `api_customers`, with the plugin's authentication:
every `/api` call needs `Authorization: Bearer <token>` — missing, malformed, expired or revoked
tokens get 401 with an empty body and a `WWW-Authenticate` challenge; a customer outside the
"Api Users" role, or lacking the action's ACL permission, gets 403 with an empty body. Fault
injection (`/_sandbox/faults`) is applied around every request by `JsonServer`.

Alongside: `.state` (the store), `.shoppers` (simulated customers placing orders) and `.webhooks`
(the plugin's webhook sender, started when `webhook_url` is given), steerable from Python or
through `/_sandbox/nop/...` (see `admin.py`).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.sandbox import NOP_PASSWORD, NOP_USERNAME, WEBHOOK_SECRET
from agent.sandbox.httpserver import JsonServer, Request, Response
from agent.sandbox.nop import auth
from agent.sandbox.nop.admin import AdminRoutes
from agent.sandbox.nop.api_catalog import CatalogApi
from agent.sandbox.nop.api_customers import CustomersApi
from agent.sandbox.nop.api_orders import OrdersApi
from agent.sandbox.nop.model import Customer, new_guid
from agent.sandbox.nop.replies import INTERNAL_ERROR, JSON_TYPE, reply
from agent.sandbox.nop.seed import seed as seed_store
from agent.sandbox.nop.shoppers import ShopperSimulator
from agent.sandbox.nop.state import ROLE_API_USERS, ROLE_GUESTS, ROLE_REGISTERED, NopState
from agent.sandbox.nop.webhooks import WebhookSender
from agent.sandbox.nop.wire import dumps, utc_date

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "data" / "nop-sample-data.json"
_TEXT = "text/plain; charset=utf-8"
_NOT_FOUND_PAGE = (b"<!DOCTYPE html><html><head><title>Your store. Page not found</title></head>"
                   b"<body><h1>Page not found</h1><p>The page you requested was not found.</p></body></html>")


def load_sample_data() -> dict[str, Any]:
    return json.loads(SAMPLE_DATA.read_text(encoding="utf-8"))


def _permission(method: str, path: str) -> str | None:
    """The ACL permission an API action checks (named as in `state.PERMISSIONS`)."""
    if path.startswith("/api/orders"):
        return "orders"
    if path.startswith("/api/customers"):
        return "customers"
    if path.startswith("/api/products") and method == "GET":
        return "public_store"
    if path.startswith(("/api/products", "/api/product_warehouse_inventories", "/api/specificationattributes",
                        "/api/productspecificationattributes", "/api/warehouses")):
        return "catalog"
    return None


class NopServer(JsonServer):
    name = "nop"

    def __init__(self, port: int = 0, seed: int | None = 0, data: dict[str, Any] | None = None,
                 username: str = NOP_USERNAME, password: str = NOP_PASSWORD, webhook_url: str | None = None,
                 webhook_secret: str = WEBHOOK_SECRET, host: str = "127.0.0.1", bad_data_rate: float = 0.05,
                 webhook_duplicate_rate: float = 0.0, webhook_delay_rate: float = 0.0,
                 webhook_reorder_rate: float = 0.0, webhook_max_delay: float = 1.0,
                 order_put_item_lookup_defect: bool = True, customer_list_includes_guests: bool = False):
        super().__init__(port=port, seed=seed, host=host)
        data = data if data is not None else load_sample_data()
        self.state = NopState(currencies=data["currencies"])
        seed_store(self.state, data, username, password)
        self.state.order_put_item_lookup_defect = order_put_item_lookup_defect
        self.state.customer_list_includes_guests = customer_list_includes_guests
        self.shoppers = ShopperSimulator(self.state, seed=seed, bad_data_rate=bad_data_rate)
        self.webhooks = WebhookSender(self.state, url=webhook_url, secret=webhook_secret, seed=seed,
                                      duplicate_rate=webhook_duplicate_rate, delay_rate=webhook_delay_rate,
                                      reorder_rate=webhook_reorder_rate, max_delay=webhook_max_delay)
        self.router.add("POST", "/token", self._post_token)
        self.router.add("POST", "/api/token", self._post_token)
        self.router.add("GET", "/token/check", self._check_token)
        OrdersApi(self.state).register(self.router)
        CatalogApi(self.state).register(self.router)
        CustomersApi(self.state).register(self.router)
        AdminRoutes(self).register(self.router)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> NopServer:
        super().start()
        if self.webhooks.url:
            self.webhooks.start()
        return self

    def stop(self) -> None:
        self.shoppers.stop()
        self.webhooks.stop()
        super().stop()

    # -- hooks ----------------------------------------------------------------------------------
    def not_found(self, request: Request) -> Response:
        return Response(404, _NOT_FOUND_PAGE, {"Content-Type": "text/html; charset=utf-8"})

    def method_not_allowed(self, request: Request) -> Response:
        return Response(405, b"", {})

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return Response(500, dumps(INTERNAL_ERROR), {"Content-Type": JSON_TYPE})

    def before(self, request: Request) -> Response | None:
        if not request.path.startswith("/api/") or request.path.rstrip("/") == "/api/token":
            return None
        customer, refusal = self._authenticate(request)
        if customer is None:
            return refusal if refusal.status == 401 else Response(403, b"", {})
        state = self.state
        in_role = ROLE_API_USERS in customer.role_ids and (customer.id != state.api_customer_id
                                                             or state.api_role_member)
        if not in_role or _permission(request.method, request.path) in state.denied_permissions:
            return Response(403, b"", {})
        request.nop_customer_id = customer.id  # type: ignore[attr-defined]
        return None

    def _authenticate(self, request: Request) -> tuple[Customer | None, Response]:
        """The customer behind the bearer token; else None and the refusal (401, or 404 for a gone customer)."""
        token = auth.bearer(request.headers.get("authorization"))
        if token is None:
            return None, Response(401, b"", {"WWW-Authenticate": "Bearer"})
        check = auth.verify(token)
        if check.customer_id is None:
            return None, Response(401, b"", {"WWW-Authenticate": f"Bearer {check.error}"})
        with self.state.lock:
            if token not in self.state.issued_tokens:
                stamp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(self.state.revoked_at or time.time()))
                challenge = f'Bearer error="invalid_token", error_description="The token expired at \'{stamp}\'"'
                return None, Response(401, b"", {"WWW-Authenticate": challenge})
            customer = self.state.customers.get(check.customer_id)
        if customer is None or customer.deleted:
            return None, Response(404, b"", {})
        return customer, Response(200, b"", {})

    # -- tokens ---------------------------------------------------------------------------------
    def _post_token(self, request: Request) -> Response:
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        state = self.state
        with state.lock:
            if body.get("guest"):
                now = state.clock()
                customer = state.add_customer(Customer(
                    id=state.next_id("customer"), customer_guid=new_guid(), email=None, username=None,
                    role_ids=[ROLE_GUESTS, ROLE_API_USERS], created_on_utc=now, last_activity_date_utc=now))
            else:
                username, password = body.get("username"), body.get("password")
                if not username:
                    return Response(400, b"Missing username", {"Content-Type": _TEXT})
                if not password:
                    return Response(400, b"Missing password", {"Content-Type": _TEXT})
                customer = state.find_customer_by_email(str(username))
                if (customer is None or customer.password != password or not customer.active
                        or ROLE_REGISTERED not in customer.role_ids):
                    return Response(403, b"Wrong username or password", {"Content-Type": _TEXT})
            return self._token_response(customer)

    def _token_response(self, customer: Customer) -> Response:
        state = self.state
        created = datetime.now(UTC)
        expires = created + state.token_lifetime
        token = auth.issue(customer.id, customer.customer_guid, customer.email, created.timestamp(),
                           expires.timestamp())
        state.issued_tokens.add(token)
        customer.last_login_date_utc = created.replace(tzinfo=None)
        state.counters["tokens_issued"] += 1
        return reply({"access_token": token, "token_type": "Bearer",
                      "created_at_utc": utc_date(created.replace(tzinfo=None)),
                      "expires_at_utc": utc_date(expires.replace(tzinfo=None)), "username": customer.email,
                      "customer_id": customer.id, "customer_guid": customer.customer_guid})

    def _check_token(self, request: Request) -> Response:
        """200 for a good token, 401 for a bad one, 404 when its customer is gone."""
        return self._authenticate(request)[1]
