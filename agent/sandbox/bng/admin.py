"""Back-office admin routes of the BNG double, under `/_sandbox/bng/` (never under /api/v1).

They mirror `BackOffice` for people and tools that drive a running sandbox from outside the
process (`curl`, the `bngsync sandbox` screen, a test in another process): ship an order, deliver
a shipment, receive a purchase, and so on. They need no API key, pass no rate limit and no fault
injection, and answer in the API's error shape. Bodies are JSON; numbers may be JSON numbers or
decimal strings (JSON numbers are read as exact decimals, never floats).

    GET   /_sandbox/bng/snapshot                          counters (orders per external_order_id...)
    GET   /_sandbox/bng/sales-orders?external_order_id=X  every order of one web order, unpaged
    POST  /_sandbox/bng/sales-orders/{no}/release         New/Open -> Released
    POST  /_sandbox/bng/sales-orders/{no}/ship            {lines?: [{line_no, quantity}], carrier?, tracking_number?}
    POST  /_sandbox/bng/sales-orders/{no}/cancel
    POST  /_sandbox/bng/sales-orders/{no}/status          {status}
    POST  /_sandbox/bng/sales-orders/{no}/payment         {payment_status?: "Paid"}
    POST  /_sandbox/bng/shipments/{no}/deliver            {delivered_at?}
    POST  /_sandbox/bng/inventory/purchase                {item_no, location, quantity, number?}
    POST  /_sandbox/bng/inventory/adjustment              {item_no, location, quantity (signed), number?}
    POST  /_sandbox/bng/inventory/transfer                {item_no, from_location, to_location, quantity, number?}
    POST  /_sandbox/bng/inventory/reserve                 {item_no, location, quantity (negative releases)}
    POST  /_sandbox/bng/items                             {item_no, description, unit_price, ..., stock?: {MAIN: "5"}}
    PATCH /_sandbox/bng/items/{item_no}                   {unit_price?, description?, active?, attributes?, ...}
    POST  /_sandbox/bng/changes/expire                    {through_seq?}: what the 30-day retention does
    POST  /_sandbox/bng/rate-limit                        {rate (null: off), burst?}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from agent.sandbox.bng.errors import detail, invalid
from agent.sandbox.bng.values import parse_datetime
from agent.sandbox.httpserver import Request, Response, Router

if TYPE_CHECKING:
    from agent.sandbox.bng.server import BngServer

ADMIN = "/_sandbox/bng"


def _json(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise invalid([detail("body", "not valid JSON")]) from None
    if not isinstance(body, dict):
        raise invalid([detail("body", "must be a JSON object")])
    return body


def _need(body: dict[str, Any], *names: str) -> list[Any]:
    missing = [detail(name, "required") for name in names if body.get(name) in (None, "")]
    if missing:
        raise invalid(missing)
    return [body[name] for name in names]


def add_admin_routes(router: Router, server: BngServer) -> None:
    """Register the admin routes of `server` (its `state` does the work)."""
    state = server.state

    def route(method: str, path: str) -> Callable[[Callable[[Request], Any]], None]:
        def register(fn: Callable[[Request], Any]) -> None:
            def handler(request: Request) -> Response:
                result = fn(request)
                return result if isinstance(result, Response) else Response(200, result)
            router.add(method, ADMIN + path, handler)
        return register

    def param(request: Request, name: str) -> str:
        return unquote(request.params[name])

    @route("GET", "/snapshot")
    def snapshot(request: Request) -> Any:
        return state.snapshot()

    @route("GET", "/sales-orders")
    def orders_for(request: Request) -> Any:
        """Every order of one external_order_id, unpaged (to count duplicates)."""
        external = request.arg("external_order_id")
        if external is None:
            raise invalid([detail("external_order_id", "required")])
        return {"items": state.orders_for(external)}

    @route("POST", "/sales-orders/{order_no}/release")
    def release(request: Request) -> Any:
        return state.release_order(param(request, "order_no"))

    @route("POST", "/sales-orders/{order_no}/ship")
    def ship(request: Request) -> Any:
        body = _json(request)
        lines = body.get("lines")
        if lines is not None:
            if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
                raise invalid([detail("lines", "must be an array of {line_no, quantity}")])
            if not all(isinstance(x.get("line_no"), int) and "quantity" in x for x in lines):
                raise invalid([detail("lines", "each line needs an integer line_no and a quantity")])
            lines = [(x["line_no"], x["quantity"]) for x in lines]
        shipment = state.ship_order(param(request, "order_no"), lines, carrier=body.get("carrier"),
                                    tracking_number=body.get("tracking_number"))
        return Response(201, shipment)

    @route("POST", "/sales-orders/{order_no}/cancel")
    def cancel(request: Request) -> Any:
        return state.cancel_order(param(request, "order_no"))

    @route("POST", "/sales-orders/{order_no}/status")
    def status(request: Request) -> Any:
        (new_status,) = _need(_json(request), "status")
        return state.set_order_status(param(request, "order_no"), new_status)

    @route("POST", "/sales-orders/{order_no}/payment")
    def payment(request: Request) -> Any:
        body = _json(request)
        return state.set_payment_status(param(request, "order_no"), body.get("payment_status", "Paid"))

    @route("POST", "/shipments/{shipment_no}/deliver")
    def deliver(request: Request) -> Any:
        body = _json(request)
        moment = parse_datetime(body["delivered_at"]) if body.get("delivered_at") else None
        if body.get("delivered_at") and moment is None:
            raise invalid([detail("delivered_at", "must be an RFC 3339 date-time")])
        return state.deliver_shipment(param(request, "shipment_no"), moment)

    @route("POST", "/inventory/purchase")
    def purchase(request: Request) -> Any:
        body = _json(request)
        item_no, location, qty = _need(body, "item_no", "location", "quantity")
        return Response(201, state.post_purchase(item_no, location, qty, body.get("number")))

    @route("POST", "/inventory/adjustment")
    def adjustment(request: Request) -> Any:
        body = _json(request)
        item_no, location, qty = _need(body, "item_no", "location", "quantity")
        return Response(201, state.post_adjustment(item_no, location, qty, body.get("number")))

    @route("POST", "/inventory/transfer")
    def transfer(request: Request) -> Any:
        body = _json(request)
        item_no, source, target, qty = _need(body, "item_no", "from_location", "to_location", "quantity")
        out, into = state.post_transfer(item_no, source, target, qty, body.get("number"))
        return Response(201, {"items": [out, into]})

    @route("POST", "/inventory/reserve")
    def reserve(request: Request) -> Any:
        item_no, location, qty = _need(_json(request), "item_no", "location", "quantity")
        return state.reserve_stock(item_no, location, qty)

    @route("POST", "/items")
    def add_item(request: Request) -> Any:
        body = _json(request)
        stock = body.pop("stock", None)
        return Response(201, state.add_item(body, stock))

    @route("PATCH", "/items/{item_no}")
    def update_item(request: Request) -> Any:
        return state.update_item(param(request, "item_no"), **_json(request))

    @route("POST", "/changes/expire")
    def expire(request: Request) -> Any:
        through = _json(request).get("through_seq")
        return {"dropped": state.expire_changes(None if through is None else int(through)),
                "pruned_through": state.changes.pruned_through}

    @route("POST", "/rate-limit")
    def rate_limit(request: Request) -> Any:
        body = _json(request)
        rate = body.get("rate")
        server.limiter.configure(None if rate is None else float(rate), body.get("burst"))
        return {"rate": server.limiter.rate, "burst": server.limiter.burst}
