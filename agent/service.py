"""The one API the CLI and the desktop app call.

It opens the config and the store, answers questions about the agent's state from the store (so a
second process — the CLI while the tray runs the agent — sees the same truth), and starts the
runtime only when work has to be done. Return values are plain dicts and lists, easy to print as
JSON and to show in Qt models; the UI never reaches past this module into the engine.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from agent import config as config_mod
from agent import logs, secrets
from agent.config import Settings
from agent.engine import History, JobQueue
from agent.engine.queue import ACTIVE_STATES
from agent.paths import Paths
from agent.store import Store, StoreError, open_store

log = logging.getLogger(__name__)


class RefusedRequest(Exception):
    """A request the service cannot carry out as asked (an unknown record, one in the wrong state):
    the message says why, for the person who asked (the CLI exits 2 with it, the UI shows it)."""


FLOWS = ("orders", "shipments", "inventory", "products", "customers")
Listener = Callable[[dict[str, Any]], None]


def _local(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


class Service:
    """The agent as the CLI and the UI see it."""

    def __init__(self, paths: Paths, settings: Settings, store: Store):
        self.paths = paths
        self.settings = settings
        self.store = store
        self.queue = JobQueue.from_settings(store, settings.agent)
        self.history = History(store)
        self.runtime = None
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, paths: Paths, need_secrets: bool = False, log_level: str = "INFO", console: bool = True) -> Service:
        """Load config, check secrets when the work needs them, open (and migrate) the store.

        Raises ConfigError, SecretError or StoreError with a plain reason; the CLI maps them to exit 2.
        """
        settings = config_mod.load(paths.config_file)
        if need_secrets:
            secrets.get("nopcommerce")
            secrets.get("bng")
            if settings.webhooks.enabled:
                secrets.get("webhook")
        store = open_store(paths.data_dir)
        try:
            logs.setup(paths.log_dir, level=log_level, console=console)
        except OSError as exc:
            store.close()
            raise StoreError(f"cannot write logs to {paths.log_dir}: {exc.strerror or exc}") from None
        return cls(paths, settings, store)

    def close(self) -> None:
        self.stop()
        self.store.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events for the UI -------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` for alerts and state changes (from worker threads: marshal to the UI)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("service listener failed")

    # -- the runtime ---------------------------------------------------------------------------
    def start(self, schedules: bool = True, webhooks: bool = True, **runtime_options: Any):
        """Start the agent in background threads (idempotent)."""
        with self._lock:
            if self.runtime is None:
                from agent.runtime import Runtime

                runtime = Runtime(self.settings, self.store, **runtime_options)
                runtime.alerts.subscribe(lambda n: self._emit({"type": "alert", "notification": n}))
                self.runtime = runtime.start(schedules=schedules, webhooks=webhooks)
                self._emit({"type": "state", "running": True})
        return self.runtime

    def stop(self) -> None:
        with self._lock:
            if self.runtime is not None:
                self.runtime.stop()
                self.runtime = None
                self._emit({"type": "state", "running": False})

    def restart(self) -> None:
        """Stop and start a running agent, so saved mappings and connection settings take effect."""
        if self.runtime is not None:
            self.stop()
            self.start()

    @property
    def running(self) -> bool:
        return self.runtime is not None

    def pause(self) -> None:
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        self.settings.agent.paused = paused
        config_mod.save(self.settings, self.paths.config_file)
        if self.runtime is not None:
            (self.runtime.pause if paused else self.runtime.resume)()
        self._emit({"type": "state", "paused": paused})

    def sync(self, flow: str, timeout: float = 600.0, full: bool = False) -> dict[str, Any]:
        """Run a flow (or "all") now and wait for its work; the agent runs for the duration if needed."""
        started_here = self.runtime is None
        runtime = self.start(schedules=False, webhooks=False) if started_here else self.runtime
        if runtime.paused:
            return {"ok": False, "flows": {}, "message": "the agent is paused: resume it first"}
        try:
            result = runtime.sync(flow, timeout=timeout, full=full)
        finally:
            if started_here:
                self.stop()
        self._emit({"type": "sync", "flow": flow, "result": result})
        return result

    def sync_later(self, flow: str) -> None:
        """Trigger a flow without waiting (the UI's Sync now); the agent must be running."""
        runtime = self.start()
        names = list(FLOWS) if flow == "all" else [flow]
        for name in names:
            runtime.trigger(name, "manual")

    def run_forever(self) -> int:
        """`bngsync run`: work until Ctrl-C or SIGTERM, then shut down cleanly."""
        stop = threading.Event()

        def _stop(signum: int, frame: Any) -> None:
            log.info("received signal %s: shutting down", signum)
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        if hasattr(signal, "SIGTERM"):
            signal.signal(signal.SIGTERM, _stop)
        self.start()
        log.info("bngsync is running; press Ctrl-C to stop")
        while not stop.wait(1.0):
            pass
        self.stop()
        return 0

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        queue = self.queue.open_counts()
        breakers = self.store.query("SELECT system, state, failures, next_probe_at FROM breaker ORDER BY system")
        if self.runtime is not None:
            live = {"nopcommerce": self.runtime.nop, "bng": self.runtime.bng}
            breakers = []
            for system, client in live.items():
                snap = client.breaker.snapshot()
                breakers.append({"system": system, "state": snap.state.value, "failures": snap.failures,
                                 "next_probe_at": snap.next_probe_at.timestamp() if snap.next_probe_at else None})
        for b in breakers:
            b["next_probe"] = _local(b.pop("next_probe_at", None))
        states = self.history.flow_states()
        today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        flows = []
        for flow in FLOWS:
            st = states.get(flow, {})
            running = self.store.scalar("SELECT count(*) FROM run WHERE flow = ? AND outcome = 'running'", (flow,))
            counts = self.store.query(
                "SELECT outcome, count(*) AS n FROM run WHERE flow = ? AND started_at >= ? GROUP BY outcome",
                (flow, today))
            state = "running" if running else "failing" if st.get("failing_since") else \
                "ok" if st.get("last_success_at") else "never run"
            flows.append({"flow": flow, "state": state, "last_success": _local(st.get("last_success_at")),
                          "last_run": _local(st.get("last_run_at")), "next_run": _local(st.get("next_run_at")),
                          "last_error": st.get("last_error") or "", "last_success_at": st.get("last_success_at"),
                          "runs_today": {r["outcome"]: r["n"] for r in counts}})
        synced_today = self.store.scalar(
            "SELECT count(*) FROM job INDEXED BY job_orders_synced "
            "WHERE kind = 'order.create' AND state = 'succeeded' AND finished_at >= ?",
            (today,)) or 0
        return {"running": self.running, "paused": self.settings.agent.paused, "queue": queue,
                "depth": sum(queue[s] for s in ACTIVE_STATES),
                "breakers": breakers, "flows": flows,
                "open_errors": queue.get("dead", 0) + queue.get("quarantined", 0),
                "orders_synced_today": synced_today, "open_reviews": self.open_review_count(),
                "alerts": self.open_alerts()}

    def open_alerts(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, incident, kind, severity, title, message, count, first_at, last_at "
                                "FROM alert WHERE resolved_at IS NULL ORDER BY last_at DESC LIMIT 50")
        for r in rows:
            r["last"] = _local(r["last_at"])
        return rows

    # -- errors --------------------------------------------------------------------------------
    def errors(self, state: str | None = None, kind: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        jobs = self.queue.list_errors(kind=kind, state=state, limit=limit)
        return [self._job_row(j) for j in jobs]

    def _job_row(self, job: Any) -> dict[str, Any]:
        return {"id": job.id, "state": job.state, "kind": job.kind, "key": job.key, "attempts": job.attempts,
                "error_class": job.error_class or "", "reason": job.last_error or "",
                "updated": _local(job.updated_at), "updated_at": job.updated_at, "payload": job.payload,
                "override": job.override}

    def error(self, job_id: int) -> dict[str, Any]:
        job = self.queue.get(job_id)
        if job is None:
            raise RefusedRequest(f"there is no record with id {job_id}")
        row = self._job_row(job)
        row["trail"] = self.job_trail(job_id)
        return row

    def job_trail(self, job_id: int) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT at, level, kind, subject, message FROM event WHERE job_id = ? ORDER BY id",
                                (job_id,))
        for r in rows:
            r["at"] = _local(r["at"])
        return rows

    def retry(self, job_id: int, override: dict[str, Any] | None = None) -> bool:
        ok = self.queue.retry(job_id, override=override)
        if not ok:
            raise RefusedRequest(f"record {job_id} is not dead or quarantined (nothing to retry)")
        self._emit({"type": "errors"})
        return ok

    def retry_all(self, state: str | None = None, kind: str | None = None) -> int:
        count = self.queue.retry_all(state=state, kind=kind)
        self._emit({"type": "errors"})
        return count

    def discard(self, job_id: int) -> bool:
        ok = self.queue.discard(job_id, reason="discarded by a person")
        if not ok:
            raise RefusedRequest(f"record {job_id} cannot be discarded (unknown or already finished)")
        self._emit({"type": "errors"})
        return ok

    def wait_for_job(self, job_id: int, timeout: float) -> str:
        """Run the agent until the job settles (used by `errors retry --wait` and the errors window)."""
        started_here = self.runtime is None
        runtime = self.start(schedules=False, webhooks=False) if started_here else self.runtime
        deadline = time.monotonic() + timeout
        try:
            while True:
                job = self.queue.get(job_id)
                if job is None or job.state in ("succeeded", "dead", "quarantined", "discarded"):
                    return job.state if job else "unknown"
                if job.state == "retry_wait" or time.monotonic() > deadline:
                    return job.state
                runtime.queue.wait_for_change(0.2)
        finally:
            if started_here:
                self.stop()

    # -- customers to review: likely duplicates wait for a person's decision ----------------------
    def reviews(self, state: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
        """Likely duplicate customers (open ones by default; None: all), newest first, with the evidence
        as sentences a person reads: "Names 100% alike (Brenda Lindgren)"."""
        from agent.flows.customers import list_reviews

        rows = list_reviews(self.store, state, limit)
        for row in rows:
            row["opened"] = _local(row["created_at"])
            row["decided"] = _local(row["resolved_at"])
            for candidate in row["candidates"]:
                candidate["evidence"] = [_sentence(e) for e in candidate.get("evidence") or []]
        return rows

    def open_review_count(self) -> int:
        from agent.flows.duplicates import KIND

        return int(self.store.scalar("SELECT count(*) FROM review WHERE kind = ? AND state = 'open'", (KIND,)) or 0)

    def decide_review(self, review_id: int, choice: str, customer_no: str | None = None) -> dict[str, Any]:
        """A person's decision on a likely duplicate: "link" (to `customer_no`, else the best candidate),
        "create" a new BNG customer, or "ignore" the store customer until it changes.

        Link and create become a customer sync job, which a running agent does at once (`job` in the
        result; follow it with `job_states`); the "customers to review" alert closes with the last one.
        """
        from agent.engine import Alerts
        from agent.flows.customers import resolve_review

        runtime = self.runtime
        alerts = runtime.alerts if runtime is not None else Alerts(self.store, self.settings.alerts)
        queue = runtime.queue if runtime is not None else self.queue
        try:
            result = resolve_review(self.store, queue, review_id, choice, customer_no=customer_no, alerts=alerts)
        except ValueError as exc:
            raise RefusedRequest(str(exc)) from None
        self._emit({"type": "reviews", "review": review_id, "choice": choice})
        return result

    # -- history -------------------------------------------------------------------------------
    def runs(self, flow: str | None = None, outcome: str | None = None, since: float | None = None,
             limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.history.runs(flow=flow, outcome=outcome, since=since, limit=limit, offset=offset)
        out = []
        for r in rows:
            d = r.__dict__.copy() if hasattr(r, "__dict__") else dict(r)
            d["started"] = _local(d.get("started_at"))
            d["ended"] = _local(d.get("ended_at"))
            if isinstance(d.get("counts"), dict):
                d["counts"] = ", ".join(f"{k} {v}" for k, v in d["counts"].items() if v)
            out.append(d)
        return out

    def trail(self, query: str, limit: int = 200) -> list[dict[str, Any]]:
        out = []
        for e in self.history.trail(query, limit=limit):
            d = e.__dict__.copy() if hasattr(e, "__dict__") else dict(e)
            d["at"] = _local(d.get("at"))
            out.append(d)
        return out

    def daily_counts(self, days: int = 30) -> list[dict[str, Any]]:
        """Orders synced and records failed per local day, oldest first (the dashboard chart)."""
        start = (datetime.now() - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        # Two index ranges (synced orders; records needing a person) rather than a scan of every job.
        synced = self.store.query(
            "SELECT date(finished_at, 'unixepoch', 'localtime') AS day, count(*) AS n FROM job "
            "INDEXED BY job_orders_synced WHERE kind = 'order.create' AND state = 'succeeded' AND finished_at >= ? "
            "GROUP BY day",
            (start.timestamp(),))
        failed = self.store.query(
            "SELECT date(finished_at, 'unixepoch', 'localtime') AS day, count(*) AS n FROM job "
            "WHERE state IN ('dead', 'quarantined') AND finished_at >= ? GROUP BY day", (start.timestamp(),))
        by_day: dict[str, dict[str, int]] = {}
        for name, found in (("synced", synced), ("failed", failed)):
            for r in found:
                by_day.setdefault(r["day"], {})[name] = r["n"]
        out = []
        for i in range(days):
            day = (start + timedelta(days=i)).strftime("%Y-%m-%d")
            r = by_day.get(day, {})
            out.append({"day": day, "synced": int(r.get("synced") or 0), "failed": int(r.get("failed") or 0)})
        return out

    # -- settings and connections --------------------------------------------------------------
    def save_settings(self, settings: Settings) -> None:
        """Validate and write the config file; a running agent picks up schedules at once."""
        config_mod.parse(settings.model_dump(mode="json", exclude_none=True))
        config_mod.save(settings, self.paths.config_file)
        self.settings = settings
        if self.runtime is not None and self.runtime.scheduler is not None:
            self.runtime.scheduler.reload(settings.schedules)
        self._emit({"type": "settings"})

    def test_connections(self) -> list[dict[str, Any]]:
        return [test_nopcommerce(self.settings), test_bng(self.settings)]

    def bng_metadata(self) -> dict[str, Any]:
        """Custom fields, dimensions and locations as BNG defines them (for the mapping editor)."""
        from agent.connectors.bng import BngClient

        client = BngClient.from_settings(self.settings.bng, self.settings.agent)
        try:
            return {"custom_fields": [f.model_dump(mode="json") for f in client.custom_fields()],
                    "dimensions": [d.model_dump(mode="json") for d in client.dimensions()],
                    "locations": [loc.model_dump(mode="json") for loc in client.locations()]}
        finally:
            client.close()

    # -- for the desktop app: keyset pages (fast at any depth) and previews ---------------------
    def runs_page(self, flow: str | None = None, outcome: str | None = None, since: float | None = None,
                  until: float | None = None, before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Runs newest first, one page after the run `before_id` (keyset: as fast at row 1,000,000 as at 1).

        With a flow the page is read along the (flow, started_at) index, newest start first: ordering a
        flow's runs by id would sort all of them (about a second at a million runs).
        """
        from agent.engine.history import Run

        where, params = [], []
        for condition, value in (("flow = ?", flow), ("outcome = ?", outcome), ("started_at >= ?", since),
                                 ("started_at < ?", until)):
            if value is not None:
                where.append(condition)
                params.append(value)
        if before_id is not None and flow is not None:
            started = self.store.scalar("SELECT started_at FROM run WHERE id = ?", (before_id,))
            if started is not None:
                where.append("started_at <= ? AND NOT (started_at = ? AND id >= ?)")
                params += [started, started, before_id]
        elif before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        order = "started_at DESC, id DESC" if flow is not None else "id DESC"
        sql = (f"SELECT id, flow, trigger, started_at, ended_at, outcome, counts, message FROM run "
               f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order} LIMIT ?")
        return [_run_row(Run.from_row(r)) for r in self.store.execute(sql, (*params, limit)).fetchall()]

    def events_page(self, run_id: int | None = None, job_id: int | None = None, flow: str | None = None,
                    before_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The steps of a run (or a job), newest first, one page before `before_id`."""
        rows = self.history.events(before_id=before_id, limit=limit, run_id=run_id, job_id=job_id, flow=flow)
        return [_event_row(e) for e in rows]

    def trail_page(self, query: str, before_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Everything recorded about an order number, SKU or e-mail, newest first, one page at a time.

        `History.trail` also matches the text anywhere inside messages, so order 6 would bring orders 60
        to 69 and every SO-…6… with it; only events that name the record in their subject are kept, and
        events about no record in particular whose message has the value standing alone. Full pages come
        back until the trail ends.
        """
        from agent.engine.history import tokens_of, trail_terms

        tokens, values = trail_terms(query)
        wanted = {t.lower() for t in (*tokens, *values)}
        alone = [re.compile(r"(?<![\w.@-])" + re.escape(v) + r"(?![\w@-]|\.\w)", re.IGNORECASE)
                 for v in (values or [query.strip()]) if v]
        batch = max(limit * 10, 2000)
        out: list[dict[str, Any]] = []
        cursor = before_id
        while len(out) < limit:
            events = self.history.trail(query, limit=batch, before_id=cursor)
            for e in events:
                named = tokens_of(e.subject)
                if named & wanted or (not named and any(p.search(e.message or "") for p in alone)):
                    out.append(_event_row(e))
            if len(events) < batch:
                break
            cursor = events[-1].id
        return out[:limit]

    def errors_page(self, state: str | None = None, kind: str | None = None, before_id: int | None = None,
                    limit: int = 200) -> list[dict[str, Any]]:
        """Dead and quarantined records, newest first, one page before `before_id`."""
        return [self._job_row(j) for j in self.queue.list_errors(kind=kind, state=state, limit=limit,
                                                                 before_id=before_id)]

    def job_states(self, job_ids: list[int]) -> dict[int, dict[str, Any]]:
        """State, attempts and last error of some jobs: the errors window follows its retries with it."""
        out: dict[int, dict[str, Any]] = {}
        for job_id in job_ids:
            job = self.queue.get(job_id)
            if job is not None:
                out[job_id] = {"state": job.state, "reason": job.last_error or "", "attempts": job.attempts,
                               "error_class": job.error_class or ""}
        return out

    def error_counts(self) -> dict[str, dict[str, int]]:
        """Open errors by kind and state ({"order.create": {"quarantined": 3}}), for the errors filters."""
        counts: dict[str, dict[str, int]] = {}
        for r in self.store.query("SELECT kind, state, count(*) AS n FROM job WHERE state IN ('dead', 'quarantined') "
                                  "GROUP BY kind, state"):
            counts.setdefault(r["kind"], {})[r["state"]] = r["n"]
        return counts

    def nop_warehouses(self) -> list[dict[str, Any]]:
        """The store's warehouses (id, name), for the warehouses ↔ locations table."""
        return nop_warehouses_for(self.settings)

    def preview_dimensions(self, rules: list[Any], order_id: int) -> list[str]:
        """How `rules` would set the dimensions of store order `order_id`, rule by rule (the mapping
        editor's "test this rule on order #…"). Reads the order from the store and its items from BNG."""
        from agent.config import DimensionRule
        from agent.connectors.bng import BngClient
        from agent.connectors.nopcommerce import NopCommerceClient
        from agent.mapping.dimensions import context_from_nop_order, explain

        rules = [r if isinstance(r, DimensionRule) else DimensionRule.model_validate(r) for r in rules]
        nop = NopCommerceClient.from_settings(self.settings.nopcommerce, self.settings.agent)
        bng = BngClient.from_settings(self.settings.bng, self.settings.agent)
        try:
            order = nop.get_order(order_id)
            address = order.shipping_address or order.billing_address
            country = None
            if address is not None:
                found = nop.country(address.country_id) if address.country_id else None
                country = found.two_letter_iso_code if found else address.country
            items: dict[str, dict[str, Any]] = {}
            for line in order.order_items:
                sku = (line.product.sku if line.product else None) or ""
                if sku and sku not in items:
                    try:
                        items[sku] = bng.get_item(sku).model_dump(mode="json")
                    except Exception:  # an unknown SKU only means no department/category for that line
                        items[sku] = {}
            ctx = context_from_nop_order(order.model_dump(mode="json"), country=country, items=items)
            definitions = [d.model_dump(mode="json") for d in bng.dimensions()]
            total = f"{ctx.total:.2f}" if ctx.total is not None else "unknown"
            return [f"order {order.number}: ship-to country {country or 'unknown'}, total {total}, "
                    f"{len(ctx.lines)} line(s)", *explain(rules, ctx, definitions)]
        finally:
            nop.close()
            bng.close()


def test_nopcommerce(settings: Settings, password: str | None = None) -> dict[str, Any]:
    """Log in to the store and read one order; a plain-words result (usable before setup is saved)."""
    from agent.connectors.nopcommerce import NopCommerceClient

    try:
        client = NopCommerceClient.from_settings(settings.nopcommerce, settings.agent, password=password)
    except secrets.SecretError as exc:
        return {"system": "nopCommerce", "ok": False, "message": str(exc)}
    try:
        check = client.test_connection()
    finally:
        client.close()
    return {"system": "nopCommerce", "ok": check.ok, "message": check.message}


def test_bng(settings: Settings, api_key: str | None = None) -> dict[str, Any]:
    from agent.connectors.bng import BngClient

    try:
        client = BngClient.from_settings(settings.bng, settings.agent, api_key=api_key)
    except secrets.SecretError as exc:
        return {"system": "BNG", "ok": False, "message": str(exc)}
    try:
        check = client.test_connection()
    finally:
        client.close()
    return {"system": "BNG", "ok": check.ok, "message": check.message}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def _run_row(run: Any) -> dict[str, Any]:
    d = run.__dict__.copy()
    d["started"] = _local(d.get("started_at"))
    d["ended"] = _local(d.get("ended_at"))
    return d


def _event_row(event: Any) -> dict[str, Any]:
    d = event.__dict__.copy()
    d["when"] = _local(d.get("at"))
    return d


def bng_metadata_for(settings: Settings, api_key: str | None = None) -> dict[str, Any]:
    """BNG's custom fields, dimensions and locations with settings not saved yet (the setup wizard)."""
    from agent.connectors.bng import BngClient

    client = BngClient.from_settings(settings.bng, settings.agent, api_key=api_key)
    try:
        return {"custom_fields": [f.model_dump(mode="json") for f in client.custom_fields()],
                "dimensions": [d.model_dump(mode="json") for d in client.dimensions()],
                "locations": [loc.model_dump(mode="json") for loc in client.locations()]}
    finally:
        client.close()


def nop_warehouses_for(settings: Settings, password: str | None = None) -> list[dict[str, Any]]:
    """The store's warehouses (id, name) with settings not saved yet (the setup wizard)."""
    from agent.connectors.nopcommerce import NopCommerceClient

    client = NopCommerceClient.from_settings(settings.nopcommerce, settings.agent, password=password)
    try:
        return [{"id": w.id, "name": w.name or f"Warehouse {w.id}"} for w in client.warehouses()]
    finally:
        client.close()
