"""`/_sandbox/nop/...`: steering the store double over HTTP (no auth), for people and scripts.

    GET  /_sandbox/nop/state                        counts, switches, shopper and webhook status
    POST /_sandbox/nop/orders                       {"count": n, ...place_order overrides} -> ids, labels
    POST /_sandbox/nop/orders/{id}/{action}         action: cancel | mark_paid | ship | deliver
    GET  /_sandbox/nop/labels                       {"labels": {"<order id>": [...]}}
    POST /_sandbox/nop/tokens/revoke                every issued token now gets 401
    POST /_sandbox/nop/permissions                  {"deny": [...], "allow": [...] | "all", "api_role_member": bool}
    POST /_sandbox/nop/switches                     {"order_put_item_lookup_defect", "customer_list_includes_guests",
                                                     "stock_race_window", "token_lifetime_seconds", "bad_data_rate"}
    POST /_sandbox/nop/shoppers                     {"rate": orders per second}; rate 0 stops them
    POST /_sandbox/nop/webhooks                     {"url", "duplicate_rate", "delay_rate", "reorder_rate",
                                                     "max_delay", "flush": seconds}
    GET  /_sandbox/nop/customers/{id}/attributes    custom customer attributes (never in the API)
    GET  /_sandbox/nop/products/{id}/stock_history  the StockQuantityHistory rows of a product
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agent.sandbox.httpserver import Request, Response, Router
from agent.sandbox.nop import checkout
from agent.sandbox.nop.replies import reply
from agent.sandbox.nop.wire import nop_date

if TYPE_CHECKING:
    from agent.sandbox.nop.server import NopServer

_ACTIONS = {"cancel": "cancel_order", "mark_paid": "mark_paid", "ship": "ship_order", "deliver": "deliver_order"}


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    value = json.loads(request.body.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


class AdminRoutes:
    def __init__(self, server: NopServer):
        self.server = server
        self.state = server.state

    def register(self, router: Router) -> None:
        base = "/_sandbox/nop"
        router.add("GET", f"{base}/state", self.get_state)
        router.add("POST", f"{base}/orders", self.place_orders)
        router.add("POST", f"{base}/orders/{{order_id}}/{{action}}", self.order_action)
        router.add("GET", f"{base}/labels", self.get_labels)
        router.add("POST", f"{base}/tokens/revoke", self.revoke_tokens)
        router.add("POST", f"{base}/permissions", self.set_permissions)
        router.add("POST", f"{base}/switches", self.set_switches)
        router.add("POST", f"{base}/shoppers", self.set_shoppers)
        router.add("POST", f"{base}/webhooks", self.set_webhooks)
        router.add("GET", f"{base}/customers/{{customer_id}}/attributes", self.customer_attributes)
        router.add("GET", f"{base}/products/{{product_id}}/stock_history", self.stock_history)

    def get_state(self, request: Request) -> Response:
        state, server = self.state, self.server
        return reply({**state.snapshot(), "switches": {
            "order_put_item_lookup_defect": state.order_put_item_lookup_defect,
            "customer_list_includes_guests": state.customer_list_includes_guests,
            "stock_race_window": state.stock_race_window,
            "token_lifetime_seconds": state.token_lifetime.total_seconds(),
            "denied_permissions": sorted(state.denied_permissions), "api_role_member": state.api_role_member,
            "bad_data_rate": server.shoppers.bad_data_rate},
            "shoppers_running": server.shoppers.running, "shopper_failures": server.shoppers.failures,
            "webhooks": {"url": server.webhooks.url, "pending": server.webhooks.pending,
                         "sent": len(server.webhooks.records)}})

    def place_orders(self, request: Request) -> Response:
        try:
            body = _body(request)
            count = int(body.pop("count", 1))
            orders = self.server.shoppers.place_orders(count, **body)
        except (ValueError, TypeError, KeyError, checkout.PlaceOrderError) as exc:
            return reply({"error": str(exc)}, 400)
        ids = [o["id"] for o in orders]
        labels = self.server.shoppers.labels
        return reply({"orders": ids, "labels": {str(i): labels.get(i, []) for i in ids}})

    def order_action(self, request: Request) -> Response:
        method = _ACTIONS.get(request.params["action"])
        if method is None:
            return reply({"error": f"unknown action; one of {sorted(_ACTIONS)}"}, 404)
        try:
            order = getattr(self.server.shoppers, method)(int(request.params["order_id"]))
        except (KeyError, ValueError):
            return reply({"error": "order not found"}, 404)
        except checkout.OrderActionError as exc:
            return reply({"error": str(exc)}, 409)
        return reply({"order": order})

    def get_labels(self, request: Request) -> Response:
        with self.state.lock:                       # shoppers add labels under the store lock
            labels = {str(k): list(v) for k, v in self.server.shoppers.labels.items()}
        return reply({"labels": labels})

    def revoke_tokens(self, request: Request) -> Response:
        self.state.revoke_tokens()
        return reply({})

    def set_permissions(self, request: Request) -> Response:
        try:
            body = _body(request)
            allow = body.get("allow")
            if allow == "all":
                self.state.allow()
            else:
                for name in allow or []:
                    self.state.allow(name)
            for name in body.get("deny") or []:
                self.state.deny(name)
            if "api_role_member" in body:
                self.state.api_role_member = bool(body["api_role_member"])
        except ValueError as exc:
            return reply({"error": str(exc)}, 400)
        return self.get_state(request)

    def set_switches(self, request: Request) -> Response:
        try:
            body = _body(request)
        except ValueError as exc:
            return reply({"error": str(exc)}, 400)
        state = self.state
        if "order_put_item_lookup_defect" in body:
            state.order_put_item_lookup_defect = bool(body["order_put_item_lookup_defect"])
        if "customer_list_includes_guests" in body:
            state.customer_list_includes_guests = bool(body["customer_list_includes_guests"])
        if "stock_race_window" in body:
            state.stock_race_window = float(body["stock_race_window"])
        if "token_lifetime_seconds" in body:
            state.token_lifetime = timedelta(seconds=float(body["token_lifetime_seconds"]))
        if "bad_data_rate" in body:
            self.server.shoppers.bad_data_rate = float(body["bad_data_rate"])
        return self.get_state(request)

    def set_shoppers(self, request: Request) -> Response:
        rate = float(_body(request).get("rate", 0))
        if rate > 0:
            self.server.shoppers.start(rate)
        else:
            self.server.shoppers.stop()
        return self.get_state(request)

    def set_webhooks(self, request: Request) -> Response:
        body = _body(request)
        sender = self.server.webhooks
        for key in ("duplicate_rate", "delay_rate", "reorder_rate", "max_delay"):
            if key in body:
                setattr(sender, key, float(body[key]))
        if body.get("url"):
            sender.start(str(body["url"]))
        drained = sender.flush(float(body["flush"])) if "flush" in body else None
        return reply({"url": sender.url, "pending": sender.pending, "drained": drained})

    def customer_attributes(self, request: Request) -> Response:
        try:
            customer_id = int(request.params["customer_id"])
            values = self.state.customer_attribute_values(customer_id)
        except (KeyError, ValueError):
            return reply({"error": "customer not found"}, 404)
        xml = self.state.customers[customer_id].custom_customer_attributes_xml
        return reply({"attributes": values, "xml": xml})

    def stock_history(self, request: Request) -> Response:
        try:
            product_id = int(request.params["product_id"])
        except ValueError:
            return reply({"error": "product not found"}, 404)
        with self.state.lock:
            rows = [{"quantity_adjustment": h.quantity_adjustment, "stock_quantity": h.stock_quantity,
                     "message": h.message, "created_on_utc": nop_date(h.created_on_utc)}
                    for h in self.state.stock_history if h.product_id == product_id]
        return reply({"stock_quantity_history": rows})
