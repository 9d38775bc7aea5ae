"""The BNG REST API v1 over HTTP, on top of `BngState`.

Routes, parameters, property names, status codes, headers and error bodies follow
`shared/bng-api/openapi.yaml` to the letter, because the agent's BNG client is built from the same
contract and the sandbox is where it proves itself. Around the API sit what the ERP's gateway
does (API key, company header, rate limit with X-RateLimit-* on every reply) and what only a test
double has: fault injection (from the base server) and the back-office admin routes under
`/_sandbox/bng/` (see `agent.sandbox.bng.admin`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from agent.sandbox.bng.admin import add_admin_routes
from agent.sandbox.bng.errors import STATUS_OF_CODE, detail, error_body, invalid
from agent.sandbox.bng.ratelimit import RateLimiter
from agent.sandbox.bng.state import BngState
from agent.sandbox.bng.validation import ORDER_STATUSES
from agent.sandbox.bng.values import canonical_since, decode_cursor, encode_cursor, parse_datetime
from agent.sandbox.httpserver import JsonServer, Request, Response

API = "/api/v1"
_INTEGER_RE = re.compile(r"^-?[0-9]{1,18}$")
_CODE_OF_STATUS = {status: code for code, status in STATUS_OF_CODE.items()}


class Query:
    """Reads query parameters by the contract's types; every bad one becomes a 422 detail."""

    def __init__(self, request: Request):
        self._request = request
        self._problems: list[dict[str, str]] = []

    def text(self, name: str) -> str | None:
        return self._request.arg(name)

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = self._request.arg(name)
        if raw is None:
            return default
        if not _INTEGER_RE.match(raw):
            self._problems.append(detail(name, "must be an integer"))
            return default
        value = int(raw)
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self._problems.append(detail(name, f"must be {bounds}"))
            return default
        return value

    def limit(self) -> int:
        return self.integer("limit", 100, 1, 500)

    def boolean(self, name: str) -> bool | None:
        raw = self._request.arg(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            self._problems.append(detail(name, "must be true or false"))
            return None
        return raw == "true"

    def since(self, name: str = "modified_since") -> str | None:
        raw = self._request.arg(name)
        if raw is None:
            return None
        moment = parse_datetime(raw)
        if moment is None:
            self._problems.append(detail(name, "must be an RFC 3339 date-time, e.g. 2026-11-27T09:30:00Z"))
            return None
        return canonical_since(moment)

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self._request.arg(name)
        if raw is not None and raw not in choices:
            self._problems.append(detail(name, f"must be one of {', '.join(choices)}"))
            return None
        return raw

    def cursor(self, kind: str) -> int:
        raw = self._request.arg("cursor")
        if raw is None:
            return 0
        key = decode_cursor(kind, raw)
        if key is None:
            self._problems.append(detail("cursor", "not a cursor of this list; start again without one"))
            return 0
        return key

    def check(self) -> None:
        if self._problems:
            raise invalid(self._problems, "invalid query parameters")


def _page(kind: str, docs: list[dict[str, Any]], next_key: int | None) -> Response:
    cursor = encode_cursor(kind, next_key) if next_key is not None else None
    return Response(200, {"items": docs, "next_cursor": cursor})


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise invalid([detail("body", "not valid JSON")]) from None


class BngServer(JsonServer):
    """The BNG double: `BngServer(port=0, ...).start()`, API at `server.url + "/api/v1"`."""

    name = "bng"

    def __init__(self, port: int = 0, seed: int | None = 0, data: dict[str, Any] | None = None,
                 api_key: str = "sandbox-bng-key", rate: float | None = 10.0, burst: int = 20,
                 company: str | None = None, state: BngState | None = None):
        super().__init__(port=port, seed=seed)
        self.state = state if state is not None else BngState(data)
        self.api_key = api_key
        self.company = company
        self.limiter = RateLimiter(rate, burst)
        self._add_routes()
        add_admin_routes(self.router, self)

    @property
    def api_url(self) -> str:
        return self.url + API

    # -- gateway: auth, company, rate limit ----------------------------------------------------
    @staticmethod
    def _key_of(request: Request) -> str | None:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def before(self, request: Request) -> Response | None:
        if not request.path.startswith(API + "/") and request.path != API:
            return None
        key = self._key_of(request)
        if request.path.rstrip("/") != API + "/health":
            if key != self.api_key:
                return Response(401, error_body("unauthorized", "missing or wrong API key: send"
                                                " Authorization: Bearer <api key>"),
                                {"WWW-Authenticate": 'Bearer realm="BNG"'})
            if self.company is not None and request.headers.get("bng-company") != self.company:
                return Response(403, error_body("forbidden", f"this key works for company {self.company}:"
                                                " send BNG-Company with that code"))
        retry_after = self.limiter.acquire(key or "")
        if retry_after is not None:
            return Response(429, error_body("rate_limited", "too many requests; retry after"
                                            f" {retry_after} s"), {"Retry-After": str(retry_after)})
        return None

    def after(self, request: Request, response: Response) -> None:
        if not request.path.startswith("/_sandbox/"):
            response.headers.update(self.limiter.headers(self._key_of(request) or ""))

    # -- error replies in the contract's shape -------------------------------------------------
    def not_found(self, request: Request) -> Response:
        return Response(404, error_body("not_found", f"no such resource: {request.method} {request.path}"))

    def method_not_allowed(self, request: Request) -> Response:
        return Response(405, error_body("not_found", f"{request.method} is not supported on {request.path}"))

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return Response(500, error_body("internal", "internal error"))

    def fault_response(self, request: Request, status: int, retry_after: int) -> Response:
        code = _CODE_OF_STATUS.get(status, "internal")
        message = {"rate_limited": "too many requests", "maintenance": "BNG is down for maintenance",
                   "internal": "internal error"}.get(code, code.replace("_", " "))
        headers = {"Retry-After": str(max(1, retry_after))} if status in (429, 503) else {}
        return Response(status, error_body(code, message), headers)

    # -- the API -------------------------------------------------------------------------------
    def _add_routes(self) -> None:
        add = self.router.add
        add("GET", API + "/health", self._health)
        add("GET", API + "/items", self._list_items)
        add("GET", API + "/items/{item_no}", self._get_item)
        add("GET", API + "/inventory", self._list_inventory)
        add("GET", API + "/inventory/transactions", self._list_transactions)
        add("GET", API + "/customers", self._list_customers)
        add("POST", API + "/customers", self._create_customer)
        add("GET", API + "/customers/{customer_no}", self._get_customer)
        add("PATCH", API + "/customers/{customer_no}", self._patch_customer)
        add("GET", API + "/sales-orders", self._list_orders)
        add("POST", API + "/sales-orders", self._create_order)
        add("GET", API + "/sales-orders/{order_no}", self._get_order)
        add("PATCH", API + "/sales-orders/{order_no}", self._patch_order)
        add("GET", API + "/changes", self._list_changes)
        add("GET", API + "/metadata/custom-fields", self._custom_fields)
        add("GET", API + "/metadata/dimensions", self._dimensions)
        add("GET", API + "/metadata/locations", self._locations)

    def _health(self, request: Request) -> Response:
        return Response(200, self.state.health(self.company))

    def _list_items(self, request: Request) -> Response:
        q = Query(request)
        after, limit, since, active = q.cursor("items"), q.limit(), q.since(), q.boolean("active")
        q.check()
        return _page("items", *self.state.list_items(after, limit, since, active))

    def _get_item(self, request: Request) -> Response:
        return Response(200, self.state.item(unquote(request.params["item_no"])))

    def _list_inventory(self, request: Request) -> Response:
        q = Query(request)
        after, limit = q.cursor("inventory"), q.limit()
        q.check()
        return _page("inventory", *self.state.list_stock(after, limit, q.text("item_no"), q.text("location")))

    def _list_transactions(self, request: Request) -> Response:
        q = Query(request)
        after, limit = q.integer("after", 0, 0), q.limit()
        q.check()
        items, last = self.state.list_transactions(after, limit, q.text("location"))
        return Response(200, {"items": items, "last_transaction_id": last})

    def _list_customers(self, request: Request) -> Response:
        q = Query(request)
        after, limit, since = q.cursor("customers"), q.limit(), q.since()
        q.check()
        return _page("customers", *self.state.list_customers(after, limit, q.text("external_id"),
                                                             q.text("email"), since))

    def _create_customer(self, request: Request) -> Response:
        doc = self.state.create_customer(_body(request))
        return Response(201, doc, {"Location": f"{API}/customers/{doc['customer_no']}"})

    def _get_customer(self, request: Request) -> Response:
        return Response(200, self.state.customer(unquote(request.params["customer_no"])))

    def _patch_customer(self, request: Request) -> Response:
        no = unquote(request.params["customer_no"])
        self.state.customer(no)   # 404 before 412 before 422
        return Response(200, self.state.patch_customer(no, _body(request), request.headers.get("if-match")))

    def _list_orders(self, request: Request) -> Response:
        q = Query(request)
        after, limit, since = q.cursor("sales-orders"), q.limit(), q.since()
        status = q.choice("status", ORDER_STATUSES)
        q.check()
        return _page("sales-orders", *self.state.list_orders(after, limit, q.text("external_order_id"),
                                                             since, status))

    def _create_order(self, request: Request) -> Response:
        doc = self.state.create_order(_body(request))
        return Response(201, doc, {"Location": f"{API}/sales-orders/{doc['order_no']}"})

    def _get_order(self, request: Request) -> Response:
        return Response(200, self.state.order(unquote(request.params["order_no"])))

    def _patch_order(self, request: Request) -> Response:
        no = unquote(request.params["order_no"])
        self.state.order(no)
        return Response(200, self.state.patch_order(no, _body(request), request.headers.get("if-match")))

    def _list_changes(self, request: Request) -> Response:
        q = Query(request)
        after, limit = q.integer("after", 0, 0), q.limit()
        entity = q.choice("entity", ("customer", "item", "sales_order", "stock"))
        q.check()
        items, last = self.state.list_changes(after, limit, entity)
        return Response(200, {"items": items, "last_seq": last})

    def _custom_fields(self, request: Request) -> Response:
        q = Query(request)
        entity = q.choice("entity", ("customer", "sales_order"))
        q.check()
        return Response(200, {"items": self.state.custom_field_definitions(entity)})

    def _dimensions(self, request: Request) -> Response:
        return Response(200, {"items": self.state.dimension_definitions()})

    def _locations(self, request: Request) -> Response:
        return Response(200, {"items": self.state.locations()})

