"""The naive baseline: the plain sequential script a merchant would write on a Friday afternoon.

Per web order it looks up the customer in BNG by e-mail (and creates one if there is none), looks
up the order in BNG by its external id (so a rerun does not post it twice), and posts it. One
order after the other, one request at a time, no local state, no rate limiter: a 429 is waited
out by its Retry-After and the call repeated. The BNG sales order it posts is built with the
agent's own mapping functions, so the comparison is about calls and orchestration, not about how
an order is translated. Reading the directory and BNG's item list happens once at the start and is
counted apart from the per-order calls.

    .venv/bin/python -m benchmarks.baseline --nop URL --bng URL   (credentials of the sandbox)
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.common import ROOT  # noqa: F401  (puts the project on sys.path when run as a script)


@dataclass
class BaselineRun:
    orders: int = 0
    skipped: int = 0
    seconds: float = 0.0
    startup_calls: int = 0
    calls: Counter = field(default_factory=Counter)     # per-order calls by "system method"
    status: Counter = field(default_factory=Counter)    # BNG replies by status

    @property
    def bng_calls(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("bng"))


class Baseline:
    """One pass over the store's orders since `since_id`, sequentially."""

    def __init__(self, urls: dict[str, str], timeout: float = 30.0):
        self.urls = urls
        self.nop = httpx.Client(base_url=urls["nop"], timeout=timeout)
        self.bng = httpx.Client(base_url=urls["bng"], timeout=timeout,
                                headers={"Authorization": f"Bearer {urls['bng_api_key']}"})
        self.run = BaselineRun()
        self._counting = False

    def close(self) -> None:
        self.nop.close()
        self.bng.close()

    # -- plain HTTP with the one concession: wait out a 429 -------------------------------------
    def _call(self, system: str, method: str, path: str, **kwargs: Any) -> Any:
        client = self.bng if system == "bng" else self.nop
        while True:
            response = client.request(method, path, **kwargs)
            if self._counting:
                self.run.calls[f"{system} {method}"] += 1
            else:
                self.run.startup_calls += 1
            if system == "bng":
                self.run.status[response.status_code] += 1
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return response.json()

    # -- the script --------------------------------------------------------------------------
    def login(self) -> None:
        """The store's API token for the API user."""
        token = self._call("nop", "POST", "/token", json={"guest": False, "username": self.urls["nop_username"],
                                                          "password": self.urls["nop_password"],
                                                          "remember_me": False})["access_token"]
        self.nop.headers["Authorization"] = f"Bearer {token}"

    def prepare(self) -> None:
        """Log in and read what every order needs: countries, states, BNG items and definitions."""
        self.login()
        self.countries = {c["id"]: c for c in self._call("nop", "GET", "/api/countries")["countries"]}
        self.states = {s["id"]: s for s in self._call("nop", "GET", "/api/stateprovinces")["state_provinces"]}
        self.items: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = self._call("bng", "GET", "/items", params={"limit": 500, **({"cursor": cursor} if cursor else {})})
            self.items.update({i["item_no"]: i for i in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.custom_fields = self._call("bng", "GET", "/metadata/custom-fields")["items"]
        self.dimensions = self._call("bng", "GET", "/metadata/dimensions")["items"]
        from agent import config as config_mod

        self.mapping = config_mod.parse({"nopcommerce": {"url": self.urls["nop"], "username": "x"},
                                         "bng": {"url": self.urls["bng"]}}).mapping

    def sync(self, since_id: int = 0) -> BaselineRun:
        self._counting = True
        started = time.perf_counter()
        while True:
            orders = self._call("nop", "GET", "/api/orders", params={"since_id": since_id, "limit": 250})["orders"]
            for order in orders:
                self.sync_order(order)
                since_id = max(since_id, order["id"])
            if len(orders) < 250:
                break
        self.run.seconds = time.perf_counter() - started
        return self.run

    def sync_order(self, raw: dict[str, Any]) -> None:
        from agent.flows.order_mapping import build_sales_order, item_number, order_payload, ship_and_bill

        order = order_payload(raw)
        bill, ship = ship_and_bill(order, self.countries, self.states)
        email = (order.get("billing_address") or {}).get("email") or ""
        found = self._call("bng", "GET", "/customers", params={"email": email})["items"]
        if found:
            customer_no = found[0]["customer_no"]
        else:
            name = f"{bill.address.get('first_name') or ''} {bill.address.get('last_name') or ''}".strip() or email
            created = self._call("bng", "POST", "/customers", json={
                "name": name[:100], "email": email, "external_id": str(order.get("customer_id") or email),
                "bill_to": bill.address})
            customer_no = created["customer_no"]
        if self._call("bng", "GET", "/sales-orders", params={"external_order_id": str(order["id"])})["items"]:
            self.run.skipped += 1
            return
        items = {n: self.items[n] for n in (item_number(i, {}) for i in order.get("order_items") or [])}
        draft = build_sales_order(order, customer_no=customer_no, mapping=self.mapping, items=items,
                                  countries=self.countries, states=self.states,
                                  custom_field_defs=self.custom_fields, dimension_defs=self.dimensions, subs={},
                                  addresses=(bill, ship))
        self._call("bng", "POST", "/sales-orders", content=_dumps(draft.payload),
                   headers={"Content-Type": "application/json"})
        self.run.orders += 1


def _dumps(payload: dict[str, Any]) -> bytes:
    """BNG takes decimals as strings (the contract), as the agent sends them."""
    from agent.connectors.http import dumps

    return dumps(payload, "string", 4)


def run_baseline(urls: dict[str, str], since_id: int = 0) -> BaselineRun:
    baseline = Baseline(urls)
    try:
        baseline.prepare()
        return baseline.sync(since_id)
    finally:
        baseline.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nop", required=True)
    parser.add_argument("--bng", required=True)
    parser.add_argument("--nop-username", default="api@shop.example.com")
    parser.add_argument("--nop-password", default="sandbox-password")
    parser.add_argument("--bng-api-key", default="sandbox-bng-key")
    args = parser.parse_args()
    run = run_baseline({"nop": args.nop, "bng": args.bng, "nop_username": args.nop_username,
                        "nop_password": args.nop_password, "bng_api_key": args.bng_api_key})
    print(json.dumps({"orders": run.orders, "skipped": run.skipped, "seconds": round(run.seconds, 2),
                      "orders_per_second": round(run.orders / run.seconds, 1) if run.seconds else None,
                      "calls": dict(run.calls), "bng_status": dict(run.status)}, indent=2))


if __name__ == "__main__":
    main()
