"""Webhooks in the community plugin's format (its 3.x / 4.10 WebHooks branch), delivered at least once.

nopCommerce itself sends no webhooks; stores that have them run the plugin's ASP.NET WebHooks
sender, which POSTs an envelope

    {"Id": "<work item id>", "Attempt": 1, "Properties": {},
     "Notifications": [{"Action": "orders/create", "Item": <OrderDto>}], "WebHookId": "<registration id>"}

signed with `ms-signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>`.
A retry resends the same Id with Attempt + 1 (so the signature changes with it).

Delivery runs on one background thread from a time-ordered queue. To exercise a receiver the way
a real sender does, it can also misbehave on purpose: send a notification twice
(`duplicate_rate`), send it late (`delay_rate`, up to `max_delay` seconds), or hold it back until
the next one has gone out (`reorder_rate`). Failed posts (connection error or non-2xx) are
retried after `retry_delays`. `flush(timeout)` waits until everything queued has been delivered
or given up.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.sandbox.nop.dto import customer_dto, order_dto, product_dto
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import dumps

log = logging.getLogger(__name__)

EVENTS = ("orders/create", "orders/update", "customers/create", "customers/update", "products/create",
          "products/update")


def sign(body: bytes, secret: str) -> str:
    """The `ms-signature` header value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    work_id: str = field(compare=False)
    action: str = field(compare=False)
    item: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)
    retries_left: int = field(default=0, compare=False)


@dataclass
class DeliveryRecord:
    """One POST as it went out (for tests and the admin route)."""

    work_id: str
    action: str
    attempt: int
    status: int | None
    error: str | None = None


class WebhookSender:
    def __init__(self, state: NopState, url: str | None = None, secret: str = "", seed: int | None = 0,
                 duplicate_rate: float = 0.0, delay_rate: float = 0.0, max_delay: float = 1.0,
                 reorder_rate: float = 0.0, events: tuple[str, ...] | None = None,
                 retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0), timeout: float = 5.0):
        self.state = state
        self.url = url
        self.secret = secret
        self.webhook_id = uuid.UUID(int=random.Random(f"registration:{seed}").getrandbits(128)).hex
        self.duplicate_rate = duplicate_rate
        self.delay_rate = delay_rate
        self.max_delay = max_delay
        self.reorder_rate = reorder_rate
        self.events = set(events or EVENTS)
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.records: list[DeliveryRecord] = []
        self._rng = random.Random(seed)
        self._queue: list[_Delivery] = []
        self._held: list[_Delivery] = []          # waiting for the next notification to overtake them
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._subscribed = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, url: str | None = None) -> None:
        """Subscribe to the store's changes and start delivering to `url` (or the configured one)."""
        if url:
            self.url = url
        if not self.url:
            raise ValueError("no webhook url")
        if not self._subscribed:
            self.state.subscribe(self._on_event)
            self._subscribed = True
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="nop-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._subscribed:
            self.state.unsubscribe(self._on_event)
            self._subscribed = False
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Release held notifications and wait until nothing is queued or in flight; True if drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for held in self._held:
                held.due = time.monotonic()
                heapq.heappush(self._queue, held)
            self._held.clear()
            self._cond.notify_all()
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._held) + (1 if self._busy else 0)

    # -- enqueueing (called by the state with its lock held) ----------------------------------------
    def _on_event(self, action: str, kind: str, entity_id: int) -> None:
        if action not in self.events:
            return
        item = self._item(kind, entity_id)
        if item is None:
            return
        self.notify(action, item)

    def _item(self, kind: str, entity_id: int) -> dict[str, Any] | None:
        state = self.state
        if kind == "order" and entity_id in state.orders:
            return order_dto(state, state.orders[entity_id])
        if kind == "customer" and entity_id in state.customers:
            return customer_dto(state, state.customers[entity_id])
        if kind == "product" and entity_id in state.products:
            return product_dto(state, state.products[entity_id])
        return None

    def notify(self, action: str, item: dict[str, Any]) -> None:
        """Queue one notification, applying the configured misbehaviour."""
        now = time.monotonic()
        with self._cond:
            work_id = uuid.UUID(int=self._rng.getrandbits(128)).hex
            delivery = _Delivery(now, next(self._seq), work_id, action, item, 1, len(self.retry_delays))
            roll = self._rng.random()
            if roll < self.reorder_rate:
                self._held.append(delivery)
                self._cond.notify_all()
                return
            if roll < self.reorder_rate + self.delay_rate:
                delivery.due = now + self._rng.uniform(self.max_delay / 2, self.max_delay)
            self._push(delivery)
            for held in self._held:                    # the new one goes first, the held ones right after
                held.due = delivery.due
                held.seq = next(self._seq)
                self._push(held)
            self._held.clear()
            if self._rng.random() < self.duplicate_rate:
                twin = _Delivery(delivery.due + 0.001, next(self._seq), work_id, action, item, 2, 0)
                self._push(twin)
            self._cond.notify_all()

    def _push(self, delivery: _Delivery) -> None:
        heapq.heappush(self._queue, delivery)

    # -- delivering ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                with self._cond:
                    while not self._stopping:
                        self._release_held_if_stale()
                        now = time.monotonic()
                        if self._queue and self._queue[0].due <= now:
                            break
                        waits = [self._queue[0].due - now] if self._queue else [1.0]
                        waits += [held.due + self.max_delay - now for held in self._held]
                        self._cond.wait(max(min(waits), 0.001))
                    if self._stopping:
                        return
                    delivery = heapq.heappop(self._queue)
                    self._busy = True
                try:
                    self._post(client, delivery)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()

    def _release_held_if_stale(self) -> None:
        """A held notification goes out on its own once no other came along for `max_delay`."""
        now = time.monotonic()
        for held in list(self._held):
            if now - held.due >= self.max_delay:
                self._held.remove(held)
                held.due = now
                self._push(held)

    def envelope(self, delivery_id: str, attempt: int, action: str, item: dict[str, Any]) -> bytes:
        return dumps({"Id": delivery_id, "Attempt": attempt, "Properties": {},
                      "Notifications": [{"Action": action, "Item": item}], "WebHookId": self.webhook_id})

    def _post(self, client: httpx.Client, delivery: _Delivery) -> None:
        body = self.envelope(delivery.work_id, delivery.attempt, delivery.action, delivery.item)
        headers = {"Content-Type": "application/json; charset=utf-8", "ms-signature": sign(body, self.secret),
                   "User-Agent": "Microsoft.AspNet.WebHooks"}
        status, problem = None, None
        try:
            response = client.post(self.url or "", content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self.records.append(DeliveryRecord(delivery.work_id, delivery.action, delivery.attempt, status, problem))
            self.state.counters["webhooks_sent"] += 1
            failed = problem is not None or not (200 <= (status or 0) < 300)
            if failed and delivery.retries_left > 0:
                used = len(self.retry_delays) - delivery.retries_left
                retry = _Delivery(time.monotonic() + self.retry_delays[used], next(self._seq), delivery.work_id,
                                  delivery.action, delivery.item, delivery.attempt + 1, delivery.retries_left - 1)
                self._push(retry)
            elif failed:
                log.warning("webhook %s %s gave up after %s attempts", delivery.action, delivery.work_id,
                            delivery.attempt)
