"""Client of BNG's REST API v1 (the contract is `shared/bng-api/openapi.yaml`).

The parts of the contract that shape this client:
- Bearer API key; hosted (SaaS) installs also need `BNG-Company`.
- Lists page with an opaque `cursor`; the change feed and the inventory journal page with
  `after=` and report `last_seq` / `last_transaction_id` (`Feed` exposes them as `position`).
- Decimals are strings both ways, at most 4 decimals.
- Updates are optimistic: PATCH sends `If-Match: <row_version>`; on 412 the record is read once
  more and the PATCH repeated once, then `Stale` is raised.
- BNG does not deduplicate: creates are sent once unless the caller says repeating is safe, and
  a lost reply raises `OutcomeUnknown` (look up by external id before trying again).
- 410 on `/changes` means the position is older than the feed keeps: `FullResyncRequired`.
- 422 lists one `(field, issue)` per problem in `ValidationFailed.details`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from agent import __version__, logs, secrets
from agent.config import AgentSettings, BngSettings
from agent.connectors.bng.models import (
    Change,
    Customer,
    CustomerCreate,
    CustomFieldDefinition,
    DimensionDefinition,
    Health,
    InventoryTransaction,
    Item,
    Location,
    SalesOrder,
    SalesOrderCreate,
    StockLevel,
)
from agent.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    Forbidden,
    NotFound,
    Stale,
    Timeout,
    Unauthorized,
    UnexpectedResponse,
)
from agent.connectors.http import ConnectionCheck, HttpClient, loads, timeout_from_seconds
from agent.connectors.resilience import NO_RETRY, SYSTEM_CLOCK, CircuitBreaker, Clock, RetryPolicy, TokenBucket

SYSTEM = "bng"
MAX_LIMIT = 500
# The client-side bucket: 95 % of BNG's rate, and its burst less two tokens (see `from_settings`).
LIMIT_MARGIN = 0.95
BURST_SLACK = 2
M = TypeVar("M", bound=BaseModel)


def bng_error_parser(response: httpx.Response) -> tuple[str, list[tuple[str, str]]]:
    """`{"error": {"code", "message", "details": [{"field", "issue"}]}}` -> (message, [(field, issue)])."""
    try:
        body = loads(response.content) if response.content else None
    except ValueError:
        return response.text[:200].strip(), []
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        details = [(str(d.get("field", "")), str(d.get("issue", ""))) for d in error.get("details") or []
                   if isinstance(d, dict)]
        return str(error.get("message") or ""), details
    if isinstance(error, str):
        return error, []
    return "", []


class _ApiKeyAuth:
    """A static key: nothing to renew, so a 401 is final (and says the key is wrong)."""

    def __init__(self, api_key: str):
        self._header = f"Bearer {api_key}"

    def apply(self, headers: dict[str, str]) -> object:
        headers["Authorization"] = self._header
        return None

    def renew(self, used: object) -> bool:
        return False


class Feed(Generic[M]):
    """An `after=` feed as an iterator, remembering how far it got.

    `position` is the seq (or transaction id) of the last record handed out; once the feed is
    exhausted it is the server's `last_seq` / `last_transaction_id`. Save it only after the
    records up to it are processed, and pass it as `after` next time.
    """

    def __init__(self, fetch: Callable[[int], tuple[list[M], int]], after: int, key: Callable[[M], int]):
        self.after = after
        self.position = after
        self._fetch = fetch
        self._key = key
        self._pages = self._run()

    def __iter__(self) -> Feed[M]:
        return self

    def __next__(self) -> M:
        return next(self._pages)

    def _run(self) -> Iterator[M]:
        while True:
            cursor = self.position
            items, last = self._fetch(cursor)
            for item in items:
                self.position = max(self.position, self._key(item))
                yield item
            self.position = max(self.position, last)
            if not items or self.position <= cursor:
                return


class ChangeFeed(Feed[Change]):
    @property
    def last_seq(self) -> int:
        return self.position


class TransactionFeed(Feed[InventoryTransaction]):
    @property
    def last_transaction_id(self) -> int:
        return self.position


class BngClient:
    """BNG, the ERP. One instance per agent; thread-safe."""

    system = SYSTEM

    def __init__(self, http: HttpClient, *, page_size: int = 100):
        self.http = http
        self.page_size = max(1, min(MAX_LIMIT, page_size))

    @classmethod
    def from_settings(cls, settings: BngSettings, agent: AgentSettings, api_key: str | None = None, *,
                      transport: httpx.BaseTransport | None = None, clock: Clock = SYSTEM_CLOCK,
                      rng: random.Random | None = None, retry: RetryPolicy | None = None) -> BngClient:
        """Build the client with its own pool, limiter and breaker; the key comes from the keyring if not given.

        The client-side bucket runs at 95 % of BNG's rate, with BNG's burst less two tokens: requests
        leave evenly spaced but arrive bunched (connection set-up, scheduling), and the spare tokens
        absorb that, so the agent stays under the limit instead of collecting 429s at its edge, or
        draining BNG's bucket to "none remaining", which holds every request back until it has
        refilled. (90 % of both left a tenth of the limit unused: 89.6 % of it in the orders
        benchmark; 94 % now, still without a 429.)
        """
        if api_key is None:
            api_key = secrets.get("bng") or ""
        logs.register_secret(api_key)
        headers = {"Accept": "application/json", "User-Agent": f"bngsync/{__version__}"}
        if settings.company:
            headers["BNG-Company"] = settings.company
        breaker = CircuitBreaker(SYSTEM, agent.breaker_failures, agent.breaker_cooldown_seconds,
                                 agent.breaker_max_cooldown_seconds, clock=clock)
        limiter = TokenBucket(settings.requests_per_second * LIMIT_MARGIN,
                              max(1, settings.burst - BURST_SLACK), clock=clock)
        http = HttpClient(SYSTEM, settings.url, timeout=timeout_from_seconds(settings.timeout_seconds),
                          headers=headers, verify=settings.verify_tls, transport=transport, retry=retry,
                          limiter=limiter, breaker=breaker, clock=clock, rng=rng, error_parser=bng_error_parser,
                          auth=_ApiKeyAuth(api_key), decimals="string", decimal_places=4,
                          max_connections=agent.workers + 2)
        return cls(http, page_size=settings.page_size)

    @property
    def breaker(self) -> CircuitBreaker:
        return self.http.breaker

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> BngClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        data = self.http.get(path, params=params)
        if not isinstance(data, dict):
            raise UnexpectedResponse(system=SYSTEM, method="GET", path=path)
        return data

    def _pages(self, path: str, model: type[M], params: Mapping[str, Any]) -> Iterator[M]:
        """Follow `next_cursor` until BNG says there is no more."""
        cursor: str | None = None
        while True:
            data = self._get(path, {**params, "limit": self.page_size, "cursor": cursor})
            for row in data.get("items") or []:
                yield model.model_validate(row)
            cursor = data.get("next_cursor")
            if not cursor:
                return

    def _list(self, path: str, model: type[M], params: Mapping[str, Any] | None = None) -> list[M]:
        return [model.model_validate(row) for row in self._get(path, params).get("items") or []]

    def _create(self, path: str, payload: Any, model: type[M], safe_to_retry: bool) -> M:
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(exclude_none=True)
        data = self.http.send_json("POST", path, json=payload, safe_to_retry=safe_to_retry)
        return model.model_validate(data)

    def _patch(self, path: str, changes: Mapping[str, Any], row_version: str | None, model: type[M]) -> M:
        """PATCH with If-Match; on 412 read the record once more and try once more, then raise `Stale`.

        A PATCH is safe to repeat: one whose reply was lost comes back as 412 (the version moved),
        and re-applying the same status or fields after the re-read changes nothing.
        """
        if not changes:
            raise ValueError("a PATCH needs at least one change")
        version = row_version or self._row_version(path)
        for attempt in (1, 2):
            try:
                data = self.http.send_json("PATCH", path, json=dict(changes), headers={"If-Match": version},
                                           safe_to_retry=True)
                return model.model_validate(data)
            except Stale as exc:
                if attempt == 2:
                    raise Stale(system=SYSTEM, method="PATCH", path=path, status=412,
                                server_message=exc.server_message) from None
                version = self._row_version(path)
        raise AssertionError("unreachable")

    def _row_version(self, path: str) -> str:
        version = self._get(path).get("row_version")
        if not version:
            raise UnexpectedResponse(system=SYSTEM, method="GET", path=path,
                                     message="BNG returned the record without a row_version")
        return str(version)

    # -- health and metadata -----------------------------------------------------------------------
    def health(self) -> Health:
        return Health.model_validate(self._get("/health"))

    def custom_fields(self, entity: str | None = None) -> list[CustomFieldDefinition]:
        return self._list("/metadata/custom-fields", CustomFieldDefinition, {"entity": entity})

    def dimensions(self) -> list[DimensionDefinition]:
        return self._list("/metadata/dimensions", DimensionDefinition)

    def locations(self) -> list[Location]:
        return self._list("/metadata/locations", Location)

    # -- items and stock ---------------------------------------------------------------------------
    def iter_items(self, modified_since: datetime | None = None, active: bool | None = None) -> Iterator[Item]:
        """Items, all pages; `modified_since` is inclusive."""
        return self._pages("/items", Item, {"modified_since": modified_since, "active": active})

    def get_item(self, item_no: str) -> Item:
        return Item.model_validate(self._get(f"/items/{quote(item_no, safe='')}"))

    def iter_inventory(self, item_no: str | None = None, location: str | None = None) -> Iterator[StockLevel]:
        return self._pages("/inventory", StockLevel, {"item_no": item_no, "location": location})

    def iter_transactions(self, after: int = 0, location: str | None = None) -> TransactionFeed:
        """Inventory transactions with id > after, oldest first; `.last_transaction_id` tells how far it got."""
        def fetch(cursor: int) -> tuple[list[InventoryTransaction], int]:
            data = self._get("/inventory/transactions",
                             {"after": cursor, "limit": self.page_size, "location": location})
            items = [InventoryTransaction.model_validate(r) for r in data.get("items") or []]
            return items, int(data.get("last_transaction_id", cursor))
        return TransactionFeed(fetch, after, lambda t: t.transaction_id)

    # -- change feed -------------------------------------------------------------------------------
    def iter_changes(self, after: int = 0, entity: str | None = None) -> ChangeFeed:
        """Changes with seq > after, oldest first; `.last_seq` tells how far it got.

        Raises `FullResyncRequired` when `after` is older than BNG keeps (30 days).
        """
        def fetch(cursor: int) -> tuple[list[Change], int]:
            data = self._get("/changes", {"after": cursor, "limit": self.page_size, "entity": entity})
            items = [Change.model_validate(r) for r in data.get("items") or []]
            return items, int(data.get("last_seq", cursor))
        return ChangeFeed(fetch, after, lambda c: c.seq)

    # -- customers ---------------------------------------------------------------------------------
    def find_customers(self, external_id: str | None = None, email: str | None = None) -> list[Customer]:
        """Customers by the store's customer id and/or e-mail (BNG matches e-mail ignoring case)."""
        return list(self._pages("/customers", Customer, {"external_id": external_id, "email": email}))

    def iter_customers(self, modified_since: datetime | None = None) -> Iterator[Customer]:
        return self._pages("/customers", Customer, {"modified_since": modified_since})

    def get_customer(self, customer_no: str) -> Customer:
        return Customer.model_validate(self._get(f"/customers/{quote(customer_no, safe='')}"))

    def create_customer(self, payload: CustomerCreate | Mapping[str, Any], safe_to_retry: bool = False) -> Customer:
        """Create a customer. Not deduplicated by BNG: on `OutcomeUnknown`, look up by external_id first."""
        return self._create("/customers", payload, Customer, safe_to_retry)

    def patch_customer(self, customer_no: str, changes: Mapping[str, Any],
                       row_version: str | None = None) -> Customer:
        return self._patch(f"/customers/{quote(customer_no, safe='')}", changes, row_version, Customer)

    # -- sales orders ------------------------------------------------------------------------------
    def find_sales_orders(self, external_order_id: str) -> list[SalesOrder]:
        return list(self._pages("/sales-orders", SalesOrder, {"external_order_id": external_order_id}))

    def iter_sales_orders(self, modified_since: datetime | None = None,
                          status: str | None = None) -> Iterator[SalesOrder]:
        return self._pages("/sales-orders", SalesOrder, {"modified_since": modified_since, "status": status})

    def get_sales_order(self, order_no: str) -> SalesOrder:
        return SalesOrder.model_validate(self._get(f"/sales-orders/{quote(order_no, safe='')}"))

    def create_sales_order(self, payload: SalesOrderCreate | Mapping[str, Any],
                           safe_to_retry: bool = False) -> SalesOrder:
        """Create a sales order. Not deduplicated by BNG: on `OutcomeUnknown`, look up by external_order_id first."""
        return self._create("/sales-orders", payload, SalesOrder, safe_to_retry)

    def patch_sales_order(self, order_no: str, changes: Mapping[str, Any],
                          row_version: str | None = None) -> SalesOrder:
        """Change status, payment status, custom fields or comment (409 `Conflict` for a move BNG forbids)."""
        return self._patch(f"/sales-orders/{quote(order_no, safe='')}", changes, row_version, SalesOrder)

    # -- diagnostics -------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        """Reach /health, then read the locations with the key; say in plain words what is wrong."""
        url = self.http.base_url
        try:
            raw = self.http.get("/health", use_breaker=False, retry=NO_RETRY, authenticate=False)
            if not isinstance(raw, dict) or "version" not in raw:
                raise UnexpectedResponse(system=SYSTEM, path="/health")
            health = Health.model_validate(raw)
        except ConnectorError as exc:
            return self._explain(exc, url, before_key=True)
        try:
            self.http.get("/metadata/locations", use_breaker=False, retry=NO_RETRY)
        except ConnectorError as exc:
            return self._explain(exc, url, before_key=False)
        company = f", company {health.company}" if health.company else ""
        state = "" if health.status == "ok" else f" BNG reports its state as '{health.status}'."
        return ConnectionCheck(True, "ok", f"Connected to BNG {health.version} at {url}{company}.{state}")

    def _explain(self, exc: ConnectorError, url: str, before_key: bool) -> ConnectionCheck:
        if isinstance(exc, ConnectionFailed):
            text = {
                "dns": f"The server name in {url} could not be found. Check the BNG URL for typos.",
                "tls": f"The secure connection to {url} failed (certificate problem). Check BNG's certificate "
                       "or the URL.",
                "refused": f"Nothing accepts connections at {url}. Check the URL and port, and that the BNG API "
                           "service is running.",
            }.get(exc.kind, f"Could not reach BNG at {url}: {exc}")
            return ConnectionCheck(False, exc.kind if exc.kind in ("dns", "tls", "refused") else "connection", text)
        if isinstance(exc, Timeout):
            return ConnectionCheck(False, "timeout", f"BNG at {url} did not answer in time.")
        if isinstance(exc, Unauthorized):
            return ConnectionCheck(False, "auth", "BNG did not accept the API key. Check the key (`bngsync secrets "
                                   "set bng`) and, for hosted BNG, the company code.")
        if isinstance(exc, Forbidden):
            return ConnectionCheck(False, "forbidden", "BNG accepted the API key but it lacks the rights this "
                                   "agent needs (items, stock, customers, sales orders). Ask the BNG administrator.")
        if isinstance(exc, NotFound | UnexpectedResponse) and before_key:
            return ConnectionCheck(False, "wrong_url", f"{url} does not look like the BNG API. The URL is the API "
                                   "root and ends in /api/v1, e.g. http://localhost:8420/api/v1.")
        return ConnectionCheck(False, "other", f"BNG at {url} reported a problem: {exc}")
