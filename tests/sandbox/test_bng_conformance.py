"""Every kind of BNG reply the double gives, checked against the contract (openapi.yaml).

The agent's BNG client and the double are both built from the contract; if the double drifted
(a renamed property, a float instead of a decimal string, a missing header) the agent could pass
every sandbox test and still fail against the real ERP. So each reply is validated with
jsonschema against the schema the contract declares for that operation and status (the Error
schema for statuses an operation does not list), checked for properties the contract does not
declare, and checked for the X-RateLimit-* headers every reply must carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agent.sandbox.bng import BngServer
from agent.sandbox.bng.samples import customer_body, order_body

CONTRACT = Path(__file__).resolve().parents[2] / "agent" / "sandbox" / "data" / "bng-openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
BASE = "urn:bng-openapi"
REGISTRY = Registry().with_resource(BASE, Resource.from_contents(SPEC, default_specification=DRAFT202012))
KEY = "sandbox-bng-key"
_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_utc_datetime(value: object) -> bool:
    """The contract's timestamps: ISO-8601 UTC with a trailing Z."""
    return not isinstance(value, str) or bool(_UTC_Z.match(value))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str) -> str:
    return "/" + "/".join(_escape(t) for t in tokens)


def _deref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = SPEC
        for token in schema["$ref"].lstrip("#/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def response_pointer(path: str, method: str, status: int) -> tuple[str, bool]:
    """JSON pointer (inside the contract) of the reply schema, and whether the operation lists
    that status; unlisted error statuses use the Error schema."""
    responses = SPEC["paths"][path][method]["responses"]
    declared = responses.get(str(status))
    if declared is None:
        assert status >= 400, f"{method.upper()} {path} answered {status}, which the contract does not list"
        return _pointer("components", "schemas", "Error"), False
    if "$ref" in declared:
        name = declared["$ref"].rsplit("/", 1)[-1]
        return _pointer("components", "responses", name, "content", "application/json", "schema"), True
    return _pointer("paths", path, method, "responses", str(status), "content", "application/json", "schema"), True


def _declared(schema: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], bool]:
    """Properties an object schema declares (through allOf) and whether it admits others."""
    schema = _deref(schema)
    props = dict(schema.get("properties", {}))
    open_ = schema.get("additionalProperties", False) is not False
    for part in schema.get("allOf", []):
        more, more_open = _declared(part)
        props.update(more)
        open_ = open_ or more_open
    return props, open_


def undeclared(schema: dict[str, Any], instance: Any, where: str = "$") -> list[str]:
    """Paths of properties in `instance` that the contract does not declare (typos, extras)."""
    schema = _deref(schema)
    if isinstance(instance, dict):
        props, open_ = _declared(schema)
        found = []
        for name, value in instance.items():
            if name in props:
                found += undeclared(props[name], value, f"{where}.{name}")
            elif not open_:
                found.append(f"{where}.{name}")
        return found
    if isinstance(instance, list):
        items = schema.get("items") or next((_deref(p).get("items") for p in schema.get("allOf", [])
                                             if _deref(p).get("items")), None)
        if items:
            return [x for i, value in enumerate(instance) for x in undeclared(items, value, f"{where}[{i}]")]
    return []


class Conformance:
    """Validates replies and remembers which operations and statuses were seen."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, response: httpx.Response, path: str, method: str | None = None) -> Any:
        method = (method or response.request.method).lower()
        pointer, _ = response_pointer(path, method, response.status_code)
        body = response.json()
        validator = jsonschema.Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=REGISTRY,
                                                    format_checker=FORMATS)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method.upper()} {path} {response.status_code}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        extra = undeclared(_deref({"$ref": "#" + pointer}), body)
        assert not extra, f"{method.upper()} {path}: properties the contract does not declare: {extra}"
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert response.headers.get(header, "").isdigit(), f"{header} missing on {path}"
        if response.status_code >= 400:
            assert body["error"]["code"], body
        if response.status_code in (429, 503):
            assert int(response.headers["Retry-After"]) >= 1
        if response.status_code == 201:
            assert response.headers["Location"].startswith("/api/v1/")
        self.seen.add((path, method, response.status_code))
        return body


@pytest.fixture
def server() -> Iterator[BngServer]:
    with BngServer(rate=None) as s:
        yield s


@pytest.fixture
def client(server: BngServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as c:
        yield c


def test_every_operation_and_reply_kind_conforms(server: BngServer, client: httpx.Client) -> None:
    """A tour of the whole API: every path and method of the contract, success and errors."""
    c = Conformance()
    c.check(client.get("/health"), "/health")
    assert c.check(httpx.get(server.api_url + "/health"), "/health")["status"] == "ok"   # no key
    page = c.check(client.get("/items", params={"limit": 3}), "/items")
    assert page["next_cursor"]
    c.check(client.get("/items", params={"cursor": page["next_cursor"], "active": "true",
                                         "modified_since": "2026-01-01T00:00:00Z"}), "/items")
    c.check(client.get("/items/CF_BEAN_KG"), "/items/{item_no}")
    c.check(client.get("/items/NO_SUCH"), "/items/{item_no}")
    c.check(httpx.get(server.api_url + "/items"), "/items")                               # 401
    c.check(client.get("/inventory", params={"location": "MAIN", "limit": 500}), "/inventory")
    c.check(client.get("/inventory", params={"item_no": "CF_BEAN_KG"}), "/inventory")

    customer = c.check(client.post("/customers", json=customer_body()), "/customers")
    c.check(client.post("/customers", json=customer_body(email="not-an-address")), "/customers")   # 422
    c.check(client.get("/customers", params={"email": customer["email"].upper()}), "/customers")
    c.check(client.get("/customers", params={"external_id": "2"}), "/customers")
    url = f"/customers/{customer['customer_no']}"
    c.check(client.get(url), "/customers/{customer_no}")
    c.check(client.get("/customers/C999999"), "/customers/{customer_no}")
    c.check(client.patch(url, json={"phone": "1"}), "/customers/{customer_no}")                  # 412
    patched = c.check(client.patch(url, json={"phone": "1"}, headers={"If-Match": customer["row_version"]}),
                      "/customers/{customer_no}")
    c.check(client.patch(url, json={"email": 5}, headers={"If-Match": patched["row_version"]}),
            "/customers/{customer_no}")                                                           # 422
    c.check(client.patch("/customers/C999999", json={"phone": "1"}, headers={"If-Match": "x"}),
            "/customers/{customer_no}")                                                           # 404

    order = c.check(client.post("/sales-orders", json=order_body(
        lines=[("AP_MBP_13", "2", "1800.00"), ("CF_BEAN_KG", "1.5", "24.50"), ("VG_CR_025", "1", "25.00")],
        shipping_amount="7.50", tax_amount="150.25", exchange_rate="1.0000", comment="leave at door")),
        "/sales-orders")
    c.check(client.post("/sales-orders", json=order_body(lines=[("NOPE", "1", "1.00")])), "/sales-orders")
    server.state.ship_order(order["order_no"], [(1, 1)], carrier="UPS", tracking_number="1Z999")
    shipment = server.state.ship_order(order["order_no"], carrier="UPS")
    server.state.deliver_shipment(shipment["shipment_no"])
    order_url = f"/sales-orders/{order['order_no']}"
    shipped = c.check(client.get(order_url), "/sales-orders/{order_no}")
    assert len(shipped["shipments"]) == 2 and shipped["status"] == "Shipped"
    c.check(client.get("/sales-orders/SO-1"), "/sales-orders/{order_no}")
    c.check(client.get("/sales-orders", params={"external_order_id": "1001", "status": "Shipped",
                                                "modified_since": "2020-01-01T00:00:00Z"}), "/sales-orders")
    c.check(client.patch(order_url, json={"status": "Open"}, headers={"If-Match": shipped["row_version"]}),
            "/sales-orders/{order_no}")                                                           # 409
    c.check(client.patch(order_url, json={"status": "Invoiced"}, headers={"If-Match": "0x0"}),
            "/sales-orders/{order_no}")                                                           # 412
    c.check(client.patch(order_url, json={"payment_status": "Spent"}, headers={"If-Match": shipped["row_version"]}),
            "/sales-orders/{order_no}")                                                           # 422
    c.check(client.patch(order_url, json={"status": "Invoiced", "payment_status": "Paid",
                                          "custom_fields": {"GIFT_WRAP": True}},
                         headers={"If-Match": shipped["row_version"]}), "/sales-orders/{order_no}")
    c.check(client.patch("/sales-orders/SO-1", json={"status": "Open"}, headers={"If-Match": "x"}),
            "/sales-orders/{order_no}")                                                           # 404

    transactions = c.check(client.get("/inventory/transactions", params={"after": 0}), "/inventory/transactions")
    assert [t["type"] for t in transactions["items"]] == ["sale", "sale"]
    c.check(client.get("/inventory/transactions", params={"after": -1}), "/inventory/transactions")  # 422
    changes = c.check(client.get("/changes", params={"limit": 500}), "/changes")
    assert {e["entity"] for e in changes["items"]} == {"customer", "sales_order", "stock"}
    c.check(client.get("/changes", params={"entity": "stock"}), "/changes")
    server.state.expire_changes(through_seq=3)
    c.check(client.get("/changes", params={"after": 1}), "/changes")                             # 410

    c.check(client.get("/metadata/custom-fields"), "/metadata/custom-fields")
    c.check(client.get("/metadata/custom-fields", params={"entity": "sales_order"}), "/metadata/custom-fields")
    c.check(client.get("/metadata/dimensions"), "/metadata/dimensions")
    c.check(client.get("/metadata/locations"), "/metadata/locations")

    operations = {(path, method) for path, ops in SPEC["paths"].items() for method in ops if method != "parameters"}
    assert operations <= {(path, method) for path, method, _ in c.seen}
    statuses = {status for _, _, status in c.seen}
    assert {200, 201, 401, 404, 409, 410, 412, 422} <= statuses


def test_rate_limited_reply_conforms() -> None:
    with BngServer(rate=1, burst=2) as server, httpx.Client(
            base_url=server.api_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        replies = [client.get("/items", params={"limit": 1}) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 429]
        body = Conformance().check(replies[-1], "/items")
        assert body["error"]["code"] == "rate_limited"


def test_error_replies_outside_the_operations_conform(server: BngServer, client: httpx.Client) -> None:
    """Query-parameter 422s, unknown routes, a wrong company and injected faults: all Error bodies."""
    c = Conformance()
    bad = c.check(client.get("/items", params={"limit": 0, "active": "yes", "modified_since": "yesterday"}),
                  "/items")
    assert [d["field"] for d in bad["error"]["details"]] == ["limit", "modified_since", "active"]
    assert c.check(client.get("/no-such-thing"), "/items")["error"]["code"] == "not_found"
    for status, code in ((500, "internal"), (502, "internal"), (503, "maintenance"), (429, "rate_limited")):
        server.faults.add(route="/api/v1/items", error_rate=1.0, statuses=[status], retry_after=2, remaining=1)
        reply = client.get("/items")
        assert reply.status_code == status
        assert c.check(reply, "/items")["error"]["code"] == code
    with BngServer(rate=None, company="DEMO") as hosted:
        reply = httpx.get(hosted.api_url + "/items", headers={"Authorization": f"Bearer {KEY}"})
        assert reply.status_code == 403
        assert c.check(reply, "/items")["error"]["code"] == "forbidden"
