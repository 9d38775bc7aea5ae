"""Webhooks from the nopCommerce double, received by a tiny HTTP server: format, signature, at-least-once."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.sandbox import WEBHOOK_SECRET
from agent.sandbox.nop import NopServer
from tests.conftest import wait_until


class Receiver:
    """Records every POST; answers with the queued statuses first, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/nop"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def envelopes(self) -> list[dict]:
        return [json.loads(body) for _headers, body, _at in self.received]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _server(receiver: Receiver, **options) -> NopServer:
    server = NopServer(seed=3, webhook_url=receiver.url, **options)
    server.webhooks.events = {"orders/create", "orders/update"}
    return server


def test_envelope_format_and_signature(receiver):
    with _server(receiver) as nop:
        order = nop.shoppers.place_order(lines=[("LV_511_JN", 1)], anomalies=[], payment_status="Pending")
        assert nop.webhooks.flush(5)
        nop.shoppers.mark_paid(order["id"])
        assert nop.webhooks.flush(5)
    assert len(receiver.received) == 2
    headers, body, _at = receiver.received[0]
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["ms-signature"], expected)
    envelope = json.loads(body)
    assert list(envelope) == ["Id", "Attempt", "Properties", "Notifications", "WebHookId"]
    assert envelope["Attempt"] == 1 and envelope["Properties"] == {}
    notification = envelope["Notifications"][0]
    assert notification["Action"] == "orders/create" and notification["Item"]["id"] == order["id"]
    assert notification["Item"]["payment_status"] == "Pending"
    assert re.search(rb'"order_total":\d+\.\d{4}[,}]', body) and b'"price_excl_tax":43.5000' in body
    assert not notification["Item"]["created_on_utc"].endswith("Z")
    update = receiver.envelopes()[1]["Notifications"][0]
    assert update["Action"] == "orders/update" and update["Item"]["payment_status"] == "Paid"
    assert receiver.envelopes()[1]["WebHookId"] == envelope["WebHookId"] != envelope["Id"]


def test_duplicates_resend_the_same_id_with_the_next_attempt(receiver):
    with _server(receiver, webhook_duplicate_rate=1.0) as nop:
        nop.shoppers.place_orders(3, anomalies=[])
        assert nop.webhooks.flush(5)
    envelopes = receiver.envelopes()
    assert len(envelopes) == 6
    by_id: dict[str, list[int]] = {}
    for envelope in envelopes:
        by_id.setdefault(envelope["Id"], []).append(envelope["Attempt"])
    assert sorted(by_id.values()) == [[1, 2]] * 3
    for headers, body, _at in receiver.received:       # each copy is signed for its own body
        assert headers["ms-signature"] == "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body,
                                                                hashlib.sha256).hexdigest()


def test_failed_delivery_is_retried(receiver):
    receiver.statuses = [500, 503]
    with _server(receiver) as nop:
        nop.webhooks.retry_delays = (0.05, 0.05, 0.05)
        nop.shoppers.place_order(anomalies=[])
        wait_until(lambda: len(receiver.received) >= 3, timeout=5, message="three attempts")
        assert nop.webhooks.flush(5)
    attempts = [e["Attempt"] for e in receiver.envelopes()]
    assert attempts == [1, 2, 3] and len({e["Id"] for e in receiver.envelopes()}) == 1
    assert [r.status for r in nop.webhooks.records] == [500, 503, 200]


def test_late_and_out_of_order_deliveries(receiver):
    with _server(receiver, webhook_reorder_rate=0.5, webhook_max_delay=0.3) as nop:
        placed = [o["id"] for o in nop.shoppers.place_orders(12, anomalies=[])]
        assert nop.webhooks.flush(5)
    delivered = [e["Notifications"][0]["Item"]["id"] for e in receiver.envelopes()]
    assert sorted(delivered) == placed and delivered != placed


def test_delayed_deliveries_arrive_after_the_event(receiver):
    with _server(receiver, webhook_delay_rate=1.0, webhook_max_delay=0.4) as nop:
        started = time.monotonic()
        nop.shoppers.place_order(anomalies=[])
        wait_until(lambda: receiver.received, timeout=5, message="a late webhook")
        assert receiver.received[0][2] - started >= 0.15
