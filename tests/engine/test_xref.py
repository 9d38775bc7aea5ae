"""Exactly-once creates: the cross-reference, intents, and recovery from a reply that never came."""

from __future__ import annotations

import httpx
import pytest

from agent.engine.queue import JobQueue
from agent.engine.workers import WorkerPool
from agent.engine.xref import XRef, XRefConflict, create_once
from agent.sandbox.httpserver import JsonServer, Request, Response


class TinyErp(JsonServer):
    """Creates sales orders and finds them by external reference; does not deduplicate (like BNG)."""

    name = "tiny-erp"

    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[str, dict] = {}
        self.router.add("POST", "/orders", self._create)
        self.router.add("GET", "/orders", self._search)

    def _create(self, request: Request) -> Response:
        number = f"SO-{104000 + len(self.orders) + 1}"
        self.orders[number] = request.json()
        return Response(201, {"order_no": number})

    def _search(self, request: Request) -> Response:
        ref = request.arg("external_ref")
        found = [{"order_no": n, **o} for n, o in self.orders.items() if o.get("external_ref") == ref]
        return Response(200, {"items": found})


@pytest.fixture
def erp():
    with TinyErp() as server:
        yield server


def order_calls(client: httpx.Client, nop_id: int):
    ref = f"WEB-{nop_id}"

    def lookup() -> str | None:
        items = client.get("/orders", params={"external_ref": ref}).raise_for_status().json()["items"]
        return items[0]["order_no"] if items else None

    def create() -> str:
        return client.post("/orders", json={"external_ref": ref}).raise_for_status().json()["order_no"]

    return lookup, create


def test_a_dropped_reply_is_recovered_by_lookup_not_a_second_create(erp, store):
    xref = XRef(store)
    erp.faults.add(route="/orders", method="POST", drop_reply_rate=1.0, remaining=1)
    with httpx.Client(base_url=erp.url, timeout=5) as client:
        lookup, create = order_calls(client, 1234)
        with pytest.raises(httpx.TransportError):
            create_once(xref, "order", 1234, lookup, create)
        # The order exists in the ERP, but we never heard back: only the intent is recorded.
        assert len(erp.orders) == 1 and xref.get("order", 1234).state == "intent"
        key, outcome = create_once(xref, "order", 1234, lookup, create)
        assert (key, outcome) == ("SO-104001", "adopted")
        assert create_once(xref, "order", 1234, lookup, create) == ("SO-104001", "existing")
    assert len(erp.orders) == 1
    assert xref.by_bng("order", "SO-104001").nop_id == "1234"


def test_a_create_that_never_arrived_is_sent_again(erp, store):
    xref = XRef(store)
    erp.faults.add(route="/orders", method="POST", reset_rate=1.0, remaining=1)
    with httpx.Client(base_url=erp.url, timeout=5) as client:
        lookup, create = order_calls(client, 77)
        with pytest.raises(httpx.TransportError):
            create_once(xref, "order", 77, lookup, create)
        assert erp.orders == {}
        assert create_once(xref, "order", 77, lookup, create) == ("SO-104001", "created")
    assert len(erp.orders) == 1


def test_exactly_one_order_through_the_queue_and_workers(erp, store):
    """The whole path: a worker's create loses its reply, the job retries, adopts, and succeeds."""
    queue = JobQueue(store, retry_base=0.01, retry_max=0.02)
    xref = XRef(store)
    erp.faults.add(route="/orders", method="POST", drop_reply_rate=1.0, remaining=2)
    client = httpx.Client(base_url=erp.url, timeout=5)

    def create_order(ctx):
        lookup, create = order_calls(client, ctx.payload["id"])
        key, outcome = create_once(xref, "order", ctx.payload["id"], lookup, create)
        ctx.step(f"BNG order {key} ({outcome})", subject=f"bng-order:{key}")
        return {"bng_order": key, "outcome": outcome}

    pool = WorkerPool(queue, {"order.create": create_order}, workers=2, poll_interval=0.01).start()
    try:
        for nop_id in (1, 2, 3):
            queue.enqueue("order.create", f"nop-order:{nop_id}", {"id": nop_id})
        assert pool.wait_idle(10, include_retries=True)
    finally:
        pool.stop(5)
        client.close()
    assert sorted(o["external_ref"] for o in erp.orders.values()) == ["WEB-1", "WEB-2", "WEB-3"]
    jobs = [queue.find(key=f"nop-order:{i}")[0] for i in (1, 2, 3)]
    assert all(j.state == "succeeded" for j in jobs)
    assert sorted(j.result["outcome"] for j in jobs) == ["adopted", "adopted", "created"]


def test_existing_link_needs_no_calls(store):
    xref = XRef(store)
    xref.link("product", 55, "AP_MBP_13")

    def never():
        raise AssertionError("no call expected")

    assert create_once(xref, "product", 55, never, never) == ("AP_MBP_13", "existing")


def test_lookup_first_adopts_records_made_outside_the_agent(store):
    xref = XRef(store)
    assert create_once(xref, "customer", 9, lambda: "C-00042", lambda: "C-NEW", lookup_first=True) == \
        ("C-00042", "adopted")


def test_create_once_refuses_to_run_inside_a_transaction(store):
    with store.write(), pytest.raises(RuntimeError):
        create_once(XRef(store), "order", 1, lambda: None, lambda: "SO-1")


def test_xref_both_ways_and_conflicts(store):
    xref = XRef(store)
    assert xref.get("customer", 5) is None
    intent = xref.record_intent("customer", 5, {"email": "ann@example.com"})
    assert intent.state == "intent" and not intent.done
    assert [r.nop_id for r in xref.intents()] == ["5"]
    done = xref.complete("customer", 5, "C-00010")
    assert done.done and done.data == {"email": "ann@example.com"}
    assert xref.record_intent("customer", 5).state == "done"        # never downgraded
    assert xref.by_bng("customer", "C-00010").nop_id == "5"
    assert xref.bng_key("customer", 5) == "C-00010"
    with pytest.raises(XRefConflict) as err:
        xref.link("customer", 5, "C-99999")
    assert err.value.error_class == "conflict" and not err.value.retryable
    assert xref.link("customer", 5, "C-99999", replace=True).bng_key == "C-99999"
    assert xref.forget("customer", 5) and xref.get("customer", 5) is None
    assert xref.intents() == []
