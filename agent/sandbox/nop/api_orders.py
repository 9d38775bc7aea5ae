"""`/api/orders` and the [AK] fork's `/api/orders/{orderId}/shipments`, quirks included.

- list: limit/page errors both under the key "page"; `since_id`, strict `created_at_min/max`,
  statuses by name (case-insensitive; numbers and unknown names are ignored), ordered by id.
- count: the same filters except `since_id`, which the 4.90 fork does not pass on.
- PUT: see `update_order` — partial merge, statuses written as given with no order processing,
  `shipping_method` cleared unless sent, 500 without both address ids, and the plugin's product
  lookup by order-item id (500 once item ids pass the highest product id).
- shipments: inserting or editing one never moves the order's shipping status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.sandbox.httpserver import Request, Response, Router
from agent.sandbox.nop.checkout import FIXED_RATE_METHOD
from agent.sandbox.nop.dto import order_dto, shipment_dto
from agent.sandbox.nop.model import ORDER_STATUS, PAYMENT_STATUS, SHIPPING_STATUS, Order, Shipment, ShipmentItem
from agent.sandbox.nop.replies import (
    Query,
    body_root,
    check_paging,
    error,
    errors,
    internal_error,
    listing,
    page_of,
    positive_route_id,
    reply,
    route_id,
)
from agent.sandbox.nop.schema import ORDER_SPECS, FieldSpec, invalid_keys, merge, type_errors
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import money, parse_body_date, parse_query_date, query_enum, query_ids

_SHIPMENT_SPECS = {
    "tracking_number": FieldSpec("tracking_number", "str", column_nullable=True),
    "admin_comment": FieldSpec("admin_comment", "str", column_nullable=True),
    "weight": FieldSpec("weight", "dec", dto_nullable=False),
    "created_on_utc": FieldSpec("created_on_utc", "date", dto_nullable=False),
    "shipped_date_utc": FieldSpec("shipped_date_utc", "date", column_nullable=True),
    "delivery_date_utc": FieldSpec("delivery_date_utc", "date", column_nullable=True),
    "ready_for_pickup_date_utc": FieldSpec("ready_for_pickup_date_utc", "date", column_nullable=True),
}
_SHIPMENT_ITEM_SPECS = {
    "quantity": FieldSpec("quantity", "int", dto_nullable=False),
    "order_item_id": FieldSpec("order_item_id", "int", dto_nullable=False),
    "warehouse_id": FieldSpec("warehouse_id", "int", dto_nullable=False),
}


class OrdersApi:
    def __init__(self, state: NopState):
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", "/api/orders", self.list_orders)
        router.add("GET", "/api/orders/count", self.count_orders)
        router.add("GET", "/api/orders/customer/{customer_id}", self.orders_of_customer)
        router.add("GET", "/api/orders/{order_id}/shipments", self.list_shipments)
        router.add("POST", "/api/orders/{order_id}/shipments", self.create_shipment)
        router.add("GET", "/api/orders/{order_id}/shipments/{shipment_id}", self.get_shipment)
        router.add("PUT", "/api/orders/{order_id}/shipments/{shipment_id}", self.update_shipment)
        router.add("DELETE", "/api/orders/{order_id}/shipments/{shipment_id}", self.delete_shipment)
        router.add("GET", "/api/orders/{id}", self.get_order)
        router.add("PUT", "/api/orders/{id}", self.update_order)

    # -- reading -------------------------------------------------------------------------------
    def _filtered(self, query: Query, with_since_id: bool) -> Iterator[Order]:
        created_min = parse_query_date(query.get("created_at_min"))
        created_max = parse_query_date(query.get("created_at_max"))
        status = query_enum(query.get("status"), ORDER_STATUS)
        payment = query_enum(query.get("payment_status"), PAYMENT_STATUS)
        shipping = query_enum(query.get("shipping_status"), SHIPPING_STATUS)
        customer_id = query.int_or_none("customer_id")
        ids = query_ids(query.get("ids"))
        since_id = query.int("since_id", 0) if with_since_id else 0
        wanted_ids = set(ids) if ids else None
        for order in self.state.orders_after(since_id):
            f = order.fields
            if f["deleted"]:
                continue
            if wanted_ids is not None and order.id not in wanted_ids:
                continue
            if customer_id is not None and f["customer_id"] != customer_id:
                continue
            if status and f["order_status_id"] != ORDER_STATUS[status]:
                continue
            if payment and f["payment_status_id"] != PAYMENT_STATUS[payment]:
                continue
            if shipping and f["shipping_status_id"] != SHIPPING_STATUS[shipping]:
                continue
            if created_min is not None and not f["created_on_utc"] > created_min:
                continue
            if created_max is not None and not f["created_on_utc"] < created_max:
                continue
            yield order

    def list_orders(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, ("page", "Invalid limit parameter"), ("page", "Invalid page parameter"),
                     page_first=True)
        with self.state.lock:
            orders = page_of(self._filtered(query, with_since_id=True), limit, page)
            items = [order_dto(self.state, order) for order in orders]
        return listing("orders", items, query.fields)

    def count_orders(self, request: Request) -> Response:
        query = Query(request)
        with self.state.lock:
            count = sum(1 for _ in self._filtered(query, with_since_id=False))
        return reply({"count": count})

    def orders_of_customer(self, request: Request) -> Response:
        customer_id = route_id(request, "customer_id")
        with self.state.lock:
            orders = [o for o in self.state.orders.values() if not o.deleted and o.customer_id == customer_id]
            items = [order_dto(self.state, order) for order in orders[:250]]
        return reply({"orders": items})

    def _order(self, order_id: int) -> Order:
        order = self.state.orders.get(order_id)
        if order is None or order.deleted:
            raise error(404, "order", "not found")
        return order

    def get_order(self, request: Request) -> Response:
        order_id = positive_route_id(request)
        query = Query(request)
        with self.state.lock:
            item = order_dto(self.state, self._order(order_id))
        return listing("orders", [item], query.fields)

    # -- updating ------------------------------------------------------------------------------
    def update_order(self, request: Request) -> Response:
        """The plugin's UpdateOrder, step by step (reference §3a "Updates the sync agent would make")."""
        body = body_root(request, "order")
        order_id = route_id(request)
        if order_id <= 0:
            raise errors(422, {"id": ["invalid id"]})
        bad = invalid_keys(ORDER_SPECS, body) + [key for key in ("billing_address", "shipping_address")
                                                 if not _address_ref_ok(body.get(key))]
        if bad:
            raise errors(422, type_errors(bad))
        if "customer_id" in body and not (body["customer_id"] or 0) > 0:
            raise errors(422, {"CustomerId": ["The specified condition was not met for 'Customer Id'."]})
        state = self.state
        with state.lock:
            order = self._order(order_id)
            customer = state.customers.get(order.customer_id)
            shipping_required = False
            for item in order.items:
                # the plugin looks the product up by the order-item id (kept as a switchable defect)
                product_id = item.id if state.order_put_item_lookup_defect else item.product_id
                product = state.products.get(product_id)
                if product is None:
                    raise internal_error()
                shipping_required |= not product.fields["is_free_shipping"]
            fields = dict(order.fields)
            sent_method = body.get("shipping_method")
            if shipping_required:
                sent_rate = body.get("shipping_rate_computation_method_system_name")
                if sent_rate or sent_method:
                    rate = sent_rate or fields["shipping_rate_computation_method_system_name"]
                    if not rate:
                        raise errors(400, {"shipping_rate_computation_method_system_name": [
                            "Please provide shipping_rate_computation_method_system_name"]})
                    if not sent_method:
                        raise errors(400, {"shipping_option_name": ["Please provide shipping_option_name"]})
                    if rate != FIXED_RATE_METHOD:
                        raise errors(400, {"shipping_option": [
                            "Shipping rate computation method could not be loaded"]})
                fields["shipping_method"] = None if sent_method is None else str(sent_method)
            merge(ORDER_SPECS, fields, body)
            billing, shipping = body.get("billing_address"), body.get("shipping_address")
            if not isinstance(billing, dict) or "id" not in billing or not isinstance(shipping, dict) \
                    or "id" not in shipping:
                raise internal_error()                     # NullReferenceException in the plugin
            order.fields = fields
            order.billing_address_id = int(float(billing["id"]))
            order.shipping_address_id = int(float(shipping["id"]))
            if customer is not None:
                customer.billing_address_id = order.billing_address_id
                customer.shipping_address_id = order.shipping_address_id
                state.emit("customers/update", "customer", customer.id)
            state.counters["order_puts"] += 1
            state.emit("orders/update", "order", order.id)
            dto = order_dto(state, order)
        dto["shipping_method"] = sent_method
        return reply({"orders": [dto]})

    # -- shipments -----------------------------------------------------------------------------
    def list_shipments(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, ("limit", "Invalid limit parameter"), ("page", "Invalid request parameters"))
        since_id = query.int("since_id", 0)
        with self.state.lock:
            self._order(route_id(request, "order_id"))
            shipments = [s for s in self.state.shipments_of(route_id(request, "order_id")) if s.id > since_id]
            items = [shipment_dto(self.state, s) for s in page_of(sorted(shipments, key=lambda s: s.id), limit, page)]
        return listing("shipments", items, query.fields)

    def get_shipment(self, request: Request) -> Response:
        with self.state.lock:
            self._order(route_id(request, "order_id"))
            shipment = self.state.shipments.get(route_id(request, "shipment_id"))
            if shipment is None:
                raise error(404, "shipment", "not found")
            item = shipment_dto(self.state, shipment)
        return listing("shipments", [item], Query(request).fields)

    def create_shipment(self, request: Request) -> Response:
        body = body_root(request, "shipment")
        items = body.get("shipment_items") or []
        bad = invalid_keys(_SHIPMENT_SPECS, body)
        if not isinstance(items, list) or any(not isinstance(i, dict) or invalid_keys(_SHIPMENT_ITEM_SPECS, i)
                                              for i in items):
            bad.append("shipment_items")
        if bad:
            raise errors(422, type_errors(bad))
        state = self.state
        with state.lock:
            order = self._order(route_id(request, "order_id"))
            shipment = Shipment(id=state.next_id("shipment"), order_id=order.id, created_on_utc=state.clock())
            _merge_shipment(shipment, body)
            for raw in items:
                shipment.items.append(ShipmentItem(id=state.next_id("shipment_item"),
                                                   order_item_id=int(raw.get("order_item_id") or 0),
                                                   quantity=int(raw.get("quantity") or 0),
                                                   warehouse_id=int(raw.get("warehouse_id") or 0)))
            state.shipments[shipment.id] = shipment
            state.counters["shipments_created"] += 1
            dto = shipment_dto(state, shipment)
        return reply({"shipments": [dto]})

    def update_shipment(self, request: Request) -> Response:
        body = body_root(request, "shipment")
        bad = invalid_keys(_SHIPMENT_SPECS, body)
        if bad:
            raise errors(422, type_errors(bad))
        with self.state.lock:
            order = self._order(route_id(request, "order_id"))
            shipment = self.state.shipments.get(route_id(request, "shipment_id"))
            if shipment is None or shipment.order_id != order.id:
                raise error(404, "shipment", "not found")
            created = shipment.created_on_utc
            _merge_shipment(shipment, body)
            shipment.created_on_utc = created
            dto = shipment_dto(self.state, shipment, with_items=False)   # the plugin's plain ToDto()
        return reply({"shipments": [dto]})

    def delete_shipment(self, request: Request) -> Response:
        with self.state.lock:
            self._order(route_id(request, "order_id"))
            shipment = self.state.shipments.pop(route_id(request, "shipment_id"), None)
            if shipment is None:
                raise internal_error()                     # the plugin deletes a null shipment
        return reply({})


def _address_ref_ok(value: Any) -> bool:
    """The address object's `id`, when sent, must be an int (TypeValidator on the nested DTO)."""
    if not isinstance(value, dict) or "id" not in value:
        return True
    raw = value["id"]
    if isinstance(raw, bool):
        return False
    try:
        return float(raw).is_integer()
    except (TypeError, ValueError):
        return False


def _merge_shipment(shipment: Shipment, body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key == "weight":
            shipment.total_weight = money(value)
        elif key in ("tracking_number", "admin_comment"):
            setattr(shipment, key, None if value is None else str(value))
        elif key in ("created_on_utc", "shipped_date_utc", "delivery_date_utc", "ready_for_pickup_date_utc"):
            setattr(shipment, key, parse_body_date(value))
