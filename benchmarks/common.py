"""What every benchmark shares: the sandbox in its own process, agent settings, timing and tables.

Why the sandbox runs in a child process: the agent's CPU time per order is one of the figures, and
a sandbox in the same process would be counted with it (and would compete for the same GIL). A
merchant's store and ERP run elsewhere too. The child owns a `Sandbox` and runs the named
operations below on request over a pipe; everything else talks to it over HTTP on 127.0.0.1,
exactly as the agent does in production.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BNG_DEFAULT_RATE = 10.0     # BNG's documented default limit: 10 requests/s per key, burst 20
BNG_DEFAULT_BURST = 20


# -- results ------------------------------------------------------------------------------------

@dataclass
class Result:
    """One measured figure, compared with its target and (when there is one) the naive baseline."""

    name: str
    measured: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    baseline: float | None = None
    note: str = ""
    command: str = ""

    def as_row(self) -> list[str]:
        verdict = "" if self.passed is None else ("PASS" if self.passed else "MISS")
        return [self.name, self.target, fmt(self.measured, self.unit), fmt(self.baseline, self.unit), verdict]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.1f} %"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table (monospace columns) that reads well in a terminal and in a CI log."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def print_results(title: str, results: Iterable[Result]) -> None:
    results = list(results)
    print(f"\n== {title} ==")
    print(table([r.as_row() for r in results], ["figure", "target", "bngsync", "baseline", ""]))
    for r in results:
        if r.note:
            print(f"  * {r.name}: {r.note}")


def save_results(path: str | None, results: Iterable[Result]) -> None:
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank: a value that was really observed."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# -- a quiet, isolated agent process ----------------------------------------------------------------

def quiet_environment(data_dir: Path) -> None:
    """No real keyring, no console logging, paths under `data_dir`: a benchmark leaves no trace."""
    import keyring
    import keyring.backend

    class _Memory(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.items: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.items.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.items[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.items.pop((service, username), None)

    keyring.set_keyring(_Memory())
    os.environ["BNGSYNC_DATA_DIR"] = str(data_dir)
    logging.getLogger().setLevel(logging.ERROR)
    logging.lastResort = None  # type: ignore[assignment]


class Scratch:
    """A temporary folder removed afterwards (kept when BNGSYNC_BENCH_KEEP=1, to look inside)."""

    def __init__(self, prefix: str):
        self.path = Path(tempfile.mkdtemp(prefix=f"bngsync-bench-{prefix}-"))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if os.environ.get("BNGSYNC_BENCH_KEEP") != "1":
            shutil.rmtree(self.path, ignore_errors=True)


def agent_settings(urls: dict[str, str], *, bng_rate: float | None = None, bng_burst: int | None = None,
                   nop_rate: float | None = None, agent: dict[str, Any] | None = None,
                   sections: dict[str, dict[str, Any]] | None = None) -> Any:
    """Settings pointing the agent at the sandbox. Rates default to the product's defaults; a
    benchmark of the agent's own overhead lifts them so that nothing but the agent limits it."""
    from agent import config as config_mod

    data: dict[str, Any] = {"nopcommerce": {"url": urls["nop"], "username": urls["nop_username"]},
                            "bng": {"url": urls["bng"]}, "agent": dict(agent or {})}
    if nop_rate is not None:
        data["nopcommerce"]["requests_per_second"] = nop_rate
    if bng_rate is not None:
        data["bng"]["requests_per_second"] = bng_rate
    if bng_burst is not None:
        data["bng"]["burst"] = bng_burst
    for name, values in (sections or {}).items():
        data.setdefault(name, {}).update(values)
    return config_mod.parse(data)


def start_runtime(settings: Any, data_dir: Path, urls: dict[str, str], *, schedules: bool = False,
                  webhooks: bool = False, webhook_secret: str | None = None) -> Any:
    """A started Runtime on a fresh store in `data_dir`, secrets given directly (never written)."""
    from agent.connectors.bng import BngClient
    from agent.connectors.nopcommerce import NopCommerceClient
    from agent.runtime import Runtime
    from agent.store import open_store

    store = open_store(data_dir)
    nop = NopCommerceClient.from_settings(settings.nopcommerce, settings.agent, password=urls["nop_password"])
    bng = BngClient.from_settings(settings.bng, settings.agent, api_key=urls["bng_api_key"])
    runtime = Runtime(settings, store, nop=nop, bng=bng, webhook_secret=webhook_secret)
    return runtime.start(schedules=schedules, webhooks=webhooks)


def stop_runtime(runtime: Any) -> None:
    runtime.stop(timeout=10)
    runtime.store.close()


# -- the sandbox in a child process --------------------------------------------------------------

class RemoteSandbox:
    """`Sandbox(**options)` running in a child process; `call(op, ...)` runs an operation there."""

    def __init__(self, **options: Any):
        self.options = options
        self.urls: dict[str, str] = {}
        self._conn: Any = None
        self._process: Any = None

    def start(self) -> RemoteSandbox:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self.options), name="sandbox", daemon=True)
        self._process.start()
        self._conn = parent
        if not parent.poll(60):
            raise RuntimeError("the sandbox process did not start within 60 s")
        status, value = parent.recv()
        if status != "ok":
            raise RuntimeError(f"the sandbox process failed to start: {value}")
        self.urls = value
        return self

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send((op, args, kwargs))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox operation {op} failed: {value}")
        return value

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("stop", (), {}))
                self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                pass
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
            self._process = None

    def __enter__(self) -> RemoteSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(conn: Any, options: dict[str, Any]) -> None:
    """The child: start the sandbox, instrument it, then answer operations until "stop"."""
    logging.basicConfig(level=logging.ERROR)
    from agent.sandbox import Sandbox

    try:
        box = Sandbox(**options).start()
        _instrument(box)
    except Exception as exc:  # report, never hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    creds = box.credentials
    conn.send(("ok", {"nop": box.nop_url, "bng": box.bng_url, "nop_username": creds.nop_username,
                      "nop_password": creds.nop_password, "bng_api_key": creds.bng_api_key,
                      "webhook_secret": creds.webhook_secret}))
    while True:
        try:
            op, args, kwargs = conn.recv()
        except EOFError:
            break
        if op == "stop":
            box.stop()
            conn.send(("ok", None))
            break
        try:
            conn.send(("ok", OPS[op](box, *args, **kwargs)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _instrument(box: Any) -> None:
    """Count BNG replies by status, and stamp when each web order was placed and reached BNG."""
    box.bng_status = {}
    box.placed_at = {}
    box.created_at = {}
    server = box.bng
    original_after = server.after

    def after(request: Any, response: Any) -> None:
        if request.path.startswith("/api/v1"):
            box.bng_status[response.status] = box.bng_status.get(response.status, 0) + 1
        original_after(request, response)

    server.after = after
    state = server.state
    original_create = state.create_order

    def create_order(body: Any) -> Any:
        doc = original_create(body)
        box.created_at.setdefault(doc["external_order_id"], time.time())
        return doc

    state.create_order = create_order


# Operations the parent can run in the sandbox process (by name: they cross a pipe).

def op_place_orders(box: Any, count: int, rate: float | None = None, **overrides: Any) -> list[int]:
    """Place `count` orders through the store's checkout; at `rate` per second when given."""
    ids = []
    started = time.monotonic()
    for index in range(count):
        if rate:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        order = box.nop.shoppers.place_order(**overrides)
        box.placed_at[str(order["id"])] = time.time()
        ids.append(order["id"])
    return ids


def op_place_each(box: Any, overrides: list[dict[str, Any]]) -> list[int]:
    """Place one order per entry of `overrides` (e.g. one for each of a list of customers)."""
    return [op_place_orders(box, 1, **o)[0] for o in overrides]


def op_customers_of(box: Any, order_ids: Iterable[int]) -> list[int]:
    with box.nop.state.lock:
        return [box.nop.state.orders[int(i)].customer_id for i in order_ids]


def op_order_copies(box: Any, order_ids: Iterable[int]) -> dict[int, int]:
    """How many BNG sales orders carry each web order id (1 = exactly once)."""
    state = box.bng.state
    return {int(i): state.count_orders(str(i)) for i in order_ids}


def op_stats(box: Any) -> dict[str, Any]:
    return {"cpu_seconds": cpu_seconds(), "bng_requests": box.bng.request_count, "nop_requests": box.nop.request_count,
            "bng_status": dict(box.bng_status), "bng_faults": dict(box.bng.faults.counts),
            "snapshot": {k: v for k, v in box.bng.state.snapshot().items()
                         if k in ("customers", "sales_orders", "items", "duplicate_external_order_ids")}}


def op_reset_counts(box: Any) -> None:
    box.bng.request_count = 0
    box.nop.request_count = 0
    box.bng_status.clear()


def op_faults(box: Any, rate: float = 0.0, latency_ms: float = 0.0) -> None:
    from agent.sandbox.cli import apply_faults

    box.bng.faults.clear()
    box.nop.faults.clear()
    apply_faults(box, rate, latency_ms)


def op_rate_limit(box: Any, rate: float | None, burst: int | None = None) -> None:
    box.bng.limiter.configure(rate, burst)


def op_latencies(box: Any) -> dict[str, float]:
    """Seconds from a web order's placing to its BNG sales order, per order that reached BNG."""
    return {k: box.created_at[k] - t for k, t in box.placed_at.items() if k in box.created_at}


def op_start_webhooks(box: Any, url: str) -> None:
    box.nop.webhooks.start(url)


def op_grow_catalog(box: Any, count: int, drift_every: int = 0, seed: int = 5) -> dict[str, int]:
    """Grow both doubles to `count` more stock-managed SKUs whose store figure equals BNG's; every
    `drift_every`-th one is then made to disagree (a person or an import wrote the store's stock).

    The store double builds a product's API view once and keeps it; the views of the new products
    are built here, so the first listing of 10,000 products does not cost the double seconds of its
    own work that a timed benchmark would charge to the agent."""
    import random
    from decimal import Decimal

    from agent.sandbox.nop.dto import product_dto
    from agent.sandbox.nop.model import Product

    rng = random.Random(seed)
    nop, bng = box.nop.state, box.bng.state
    location = bng.location_codes[0]
    template = next(p for p in nop.products.values() if p.manages_stock and not p.fields["use_multiple_warehouses"]
                    and not p.attributes and not p.fields["is_gift_card"] and not p.fields["is_download"])
    drifted = 0
    for index in range(count):
        sku = f"BULK-{index:05d}"
        quantity = rng.randint(0, 500)
        bng.add_item({"item_no": sku, "description": f"Bulk item {index}", "unit_price": "9.99"},
                     stock={location: Decimal(quantity)})
        store_quantity = quantity
        if drift_every and index % drift_every == 0:
            store_quantity = quantity + rng.randint(1, 5)
            drifted += 1
        fields = dict(template.fields)
        fields.update(sku=sku, name=f"Bulk item {index}", stock_quantity=store_quantity)
        product = nop.add_product(Product(id=nop.next_id("product"), fields=fields), announce=False)
        with nop.lock:
            product_dto(nop, product)
    return {"skus": count, "drifted": drifted}


def op_drift_stock(box: Any, every: int, prefix: str = "BULK-", seed: int = 6) -> int:
    """Make every `every`-th store product whose SKU starts with `prefix` disagree with BNG, as an
    import or a person writing the store's stock would; returns how many were changed."""
    import random

    rng = random.Random(seed)
    nop = box.nop.state
    changed = 0
    with nop.lock:
        bulk = sorted((p for p in nop.products.values() if (p.sku or "").startswith(prefix)), key=lambda p: p.sku)
        for product in bulk[::every]:
            product.fields["stock_quantity"] += rng.randint(1, 5)
            nop.product_changed(product.id)
            changed += 1
    return changed


def op_stock_mismatches(box: Any, prefix: str = "BULK-") -> int:
    """Store products whose stock differs from BNG's available figure over all locations."""
    from decimal import Decimal

    nop, bng = box.nop.state, box.bng.state
    available: dict[str, Decimal] = {}
    with bng.lock:
        for row in bng.stock.by_no.values():
            available[row.item_no] = available.get(row.item_no, Decimal(0)) + row.on_hand - row.allocated
    with nop.lock:
        return sum(1 for p in nop.products.values() if (p.sku or "").startswith(prefix)
                   and p.fields["stock_quantity"] != int(available.get(p.sku, 0)))


OPS: dict[str, Callable[..., Any]] = {
    "place_orders": op_place_orders, "place_each": op_place_each, "customers_of": op_customers_of,
    "order_copies": op_order_copies, "stats": op_stats,
    "reset_counts": op_reset_counts, "faults": op_faults, "rate_limit": op_rate_limit,
    "latencies": op_latencies, "start_webhooks": op_start_webhooks, "grow_catalog": op_grow_catalog,
    "stock_mismatches": op_stock_mismatches, "drift_stock": op_drift_stock,
}


@dataclass
class Throughput:
    """What one drain of a backlog measured."""

    orders: int
    seconds: float
    cpu_seconds: float = 0.0
    bng_calls: int = 0
    nop_calls: int = 0
    status: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_order(self) -> float:
        return self.cpu_seconds * 1000 / self.orders if self.orders else 0.0

    @property
    def rejected(self) -> int:
        return self.status.get(429, 0)
