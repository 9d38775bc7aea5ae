"""`BngState`, its back-office API and value formats, without HTTP (fast and exact)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agent.sandbox.bng import BngError, BngState
from agent.sandbox.bng.ratelimit import RateLimiter
from agent.sandbox.bng.samples import order_body
from agent.sandbox.bng.values import (
    canonical_since,
    decode_cursor,
    encode_cursor,
    money,
    parse_datetime,
    quantity,
    timestamp,
)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_value_formats() -> None:
    assert money(Decimal("1299.5")) == "1299.5000"
    assert money(Decimal("-0.00001")) == "0.0000"
    assert quantity(Decimal("37.50")) == "37.5"
    assert quantity(Decimal("34.0000")) == "34"
    assert quantity(Decimal("1E+1")) == "10"
    assert quantity(Decimal("-2.25")) == "-2.25"
    moment = parse_datetime("2026-11-27T10:30:00.1234567+01:00")
    assert moment is not None and timestamp(moment) == "2026-11-27T09:30:00.123Z"
    assert canonical_since(moment) == "2026-11-27T09:30:00.124Z"   # rounded up: stays inclusive
    for bad in ("2026-11-27", "2026-11-27T09:30:00", "yesterday", "2026-13-01T00:00:00Z"):
        assert parse_datetime(bad) is None
    assert decode_cursor("items", encode_cursor("items", 42)) == 42
    assert decode_cursor("customers", encode_cursor("items", 42)) is None
    assert decode_cursor("items", "%%%") is None


def test_token_bucket_refills_at_the_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("k") == 1                       # half a second to the next token: 1 s
    assert limiter.headers("k") == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0",
                                    "X-RateLimit-Reset": "2"}
    assert limiter.acquire("other") is None                # per API key
    now[0] += 0.5
    assert limiter.acquire("k") is None
    now[0] += 60
    assert limiter.headers("k")["X-RateLimit-Remaining"] == "3"   # never above the burst
    assert RateLimiter(rate=None).acquire("k") is None


def test_change_feed_retention_by_age_gives_410() -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    state = BngState(clock=clock)
    state.create_order(order_body())
    first_batch = state.changes.last
    clock.now += timedelta(days=20)
    state.set_item_price("AP_MBP_13", "1700")
    clock.now += timedelta(days=15)                        # the first batch is now 35 days old
    with pytest.raises(BngError) as gone:
        state.list_changes(after=0)
    assert gone.value.status == 410
    items, last = state.list_changes(after=first_batch)
    assert [e["entity"] for e in items] == ["item"] and last == first_batch + 1
    state.change_retention = None
    clock.now += timedelta(days=400)
    assert len(state.list_changes(after=first_batch)[0]) == 1


def test_timestamps_never_go_back_and_modified_since_is_exactly_inclusive() -> None:
    clock = FakeClock(datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC))
    state = BngState(clock=clock)
    item = state.update_item("AN_USB_HB", description="USB hub")
    assert item["modified_at"] == "2026-12-01T08:00:00.123Z"
    clock.now -= timedelta(hours=1)                         # the machine's clock steps back
    assert state.update_item("AN_USB_HB", description="USB-C hub")["modified_at"] == item["modified_at"]
    at = datetime(2026, 12, 1, 8, 0, 0, 123000, tzinfo=UTC)
    assert [i["item_no"] for i in state.list_items(modified_since=canonical_since(at))[0]] == ["AN_USB_HB"]
    later = canonical_since(at + timedelta(microseconds=400))
    assert state.list_items(modified_since=later)[0] == []


def test_back_office_order_operations() -> None:
    state = BngState()
    order = state.create_order(order_body(lines=[("AP_MBP_13", "2", "1800.00")]))
    no = order["order_no"]
    assert state.release_order(no)["status"] == "Released"
    with pytest.raises(BngError) as bad_line:
        state.ship_order(no, [(9, 1)])
    assert bad_line.value.details == [{"field": "lines[0].line_no", "issue": f"order {no} has no line 9"}]
    with pytest.raises(BngError):
        state.ship_order(no, [(1, "2.5")])                  # more than ordered
    assert state.order(no)["status"] == "Released"          # a failed shipment changes nothing
    state.ship_order(no, [(1, 1), (1, 1)])
    assert state.order(no)["status"] == "Shipped"
    with pytest.raises(BngError) as late:
        state.cancel_order(no)
    assert late.value.code == "conflict"
    held = state.create_order(order_body(status="OnHold"))["order_no"]
    with pytest.raises(BngError) as on_hold:
        state.ship_order(held)
    assert on_hold.value.status == 409
    assert state.mark_paid(held)["payment_status"] == "Paid"
    assert state.set_order_status(held, "Open")["status"] == "Open"


def test_back_office_stock_and_item_operations() -> None:
    state = BngState()
    with pytest.raises(BngError):
        state.post_transfer("CF_BEAN_KG", "MAIN", "MAIN", 1)
    with pytest.raises(BngError):
        state.post_purchase("CF_BEAN_KG", "EAST", 1)
    with pytest.raises(BngError):
        state.post_purchase("CF_BEAN_KG", "MAIN", 1.5)     # floats are refused: decimals only
    with pytest.raises(BngError):
        state.reserve_stock("CF_BEAN_KG", "MAIN", -1)        # nothing is allocated yet
    state.post_adjustment("CF_BEAN_KG", "MAIN", Decimal("-0.25"))
    assert state.stock_level("CF_BEAN_KG", "MAIN")["on_hand"] == "37.25"
    assert state.set_item_attribute("CF_BEAN_KG", "Roast", "Dark")["attributes"]["Roast"] == "Dark"
    assert "Roast" not in state.set_item_attribute("CF_BEAN_KG", "Roast", None)["attributes"]
    with pytest.raises(BngError):
        state.update_item("CF_BEAN_KG", colour="brown")
    with pytest.raises(BngError) as exists:
        state.add_item({"item_no": "CF_BEAN_KG", "description": "again", "unit_price": "1"})
    assert exists.value.code == "conflict"
    seq = state.changes.last
    state.update_item("CF_BEAN_KG", unit_price="24.5")       # the same price: nothing changes
    assert state.changes.last == seq


def test_concurrent_writers_get_unique_numbers_and_a_strict_feed() -> None:
    state = BngState()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(40):
                state.create_order(order_body(external_order_id=f"{worker}-{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = [o["order_no"] for o in state.list_orders(limit=500)[0]]
    assert len(numbers) == len(set(numbers)) == 320
    seqs = [e["seq"] for e in state.list_changes(limit=500)[0]]
    assert seqs == list(range(1, 501))
    assert state.stock_level("AP_MBP_13", "MAIN")["on_hand"] == quantity(
        Decimal(BngState().stock_level("AP_MBP_13", "MAIN")["on_hand"]) - 320)
