"""Telling people when something needs them, without burying them in messages.

An *incident* is one thing that is wrong, named by a key: `quarantine:order.create` (orders that
need a person), `dead:stock.push`, `breaker:bng` (BNG unreachable), `stale:orders` (the order
flow has not succeeded for too long), `anomaly:...`. Each incident is one row in `alert`, however
many records it concerns: 500 quarantined orders are one incident with a count of 500.

Notifications follow the pattern people know from Make or Boomi: the first occurrence goes out at
once; later occurrences within `digest_minutes` are counted and go out as one digest at the end of
the window. So a burst of 500 failures makes two messages, not 500. Incidents resolve on their own
(the breaker closes, the flow succeeds again, the error list of that kind is empty); a breaker
closing and a flow recovering are announced, since the people who were told it broke want to know.

Channels: in-process listeners (the tray, `subscribe`), e-mail over SMTP, and a chat webhook (a
JSON POST of `{"text", "title", "severity", "count"}`, which Slack, Teams workflows and Mattermost
accept). Delivery happens in `flush()`, called by a background sender thread (`start()`), never in
the worker that raised the alert; a failing channel is logged and the others still get the message.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from agent import secrets
from agent.config import AlertSettings
from agent.engine.history import dump
from agent.engine.queue import JobFailure
from agent.store import Store

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "error")
SYSTEM_NAMES = {"bng": "BNG", "nopcommerce": "the web store"}


@dataclass(frozen=True)
class Notification:
    """One message to people about one incident."""

    incident: str
    kind: str
    severity: str
    title: str
    text: str
    count: int                  # occurrences this message covers
    total: int                  # occurrences of the incident so far
    first_at: float
    last_at: float
    digest: bool = False
    resolved: bool = False
    data: Any = field(default=None, compare=False)


Listener = Callable[[Notification], None]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Alerts:
    """Incidents in the store, grouped notifications, and the channels that carry them."""

    def __init__(self, store: Store, settings: AlertSettings, clock: Callable[[], float] = time.time,
                 http: httpx.Client | None = None, timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.timeout = timeout
        # TLS for SMTP: the system's trusted CAs unless given (e.g. a company's internal CA).
        self.ssl_context = ssl_context
        self._http = http
        self._listeners: list[Listener] = []
        self._outbox: list[Notification] = []
        self._outbox_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered: list[Notification] = []   # what went out (the last 200), for the UI and tests
        self.failures: dict[str, int] = {"email": 0, "chat": 0, "listener": 0}

    @property
    def window(self) -> float:
        return self.settings.digest_minutes * 60.0

    # -- listeners -----------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Receive every notification in-process (the tray); returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    # -- raising and resolving -----------------------------------------------------------------
    def raise_alert(self, incident: str, title: str, message: str, *, kind: str = "generic",
                    severity: str = "warning", data: Any = None, count: bool = True) -> int:
        """Record an occurrence of `incident`; notify at once if it is new (or quiet for a window).

        With `count=False` a repeat of an open incident only refreshes its message (a condition
        that is re-checked, like a stale flow, rather than a new event). Returns the alert id.
        """
        severity = severity if severity in SEVERITIES else "warning"
        outgoing: list[Notification] = []
        with self.store.write():
            alert_id = self._record(incident, title, message, kind, severity, data, count, outgoing)
        for notification in outgoing:   # only once the incident is committed
            self._post(notification)
        return alert_id

    def _record(self, incident: str, title: str, message: str, kind: str, severity: str, data: Any,
                count: bool, outgoing: list[Notification]) -> int:
        now = self.clock()
        row = self.store.execute(
            "SELECT id, count, notified_at, notified_count, first_at FROM alert "
            "WHERE incident = ? AND resolved_at IS NULL ORDER BY id DESC LIMIT 1", (incident,)).fetchone()
        if row is None:
            alert_id = self.store.execute(
                "INSERT INTO alert (incident, kind, severity, title, message, count, first_at, last_at, "
                "notified_at, notified_count, data) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, 1, ?)",
                (incident, kind, severity, title, message, now, now, now, dump(data))).lastrowid
            outgoing.append(Notification(incident, kind, severity, title, message, 1, 1, now, now, data=data))
            return alert_id
        alert_id, total, notified_at, notified_count, first_at = row
        if not count:
            self.store.execute("UPDATE alert SET message = ?, last_at = ?, data = COALESCE(?, data) "
                               "WHERE id = ?", (message, now, dump(data), alert_id))
            return alert_id
        total += 1
        if notified_at is None or now - notified_at >= self.window:
            # Quiet for a whole window: this occurrence (and any not yet told) goes out now.
            self.store.execute(
                "UPDATE alert SET count = ?, last_at = ?, title = ?, message = ?, severity = ?, "
                "notified_at = ?, notified_count = ? WHERE id = ?",
                (total, now, title, message, severity, now, total, alert_id))
            outgoing.append(self._digest(incident, kind, severity, title, message, total - notified_count,
                                         total, first_at, now, data))
        else:
            self.store.execute("UPDATE alert SET count = ?, last_at = ?, title = ?, message = ?, "
                               "severity = ? WHERE id = ?", (total, now, title, message, severity, alert_id))
        return alert_id

    def resolve(self, incident: str, message: str | None = None, notify: bool = False) -> bool:
        """Close an open incident; with `notify`, tell people (e.g. "BNG is reachable again")."""
        with self.store.write():
            now = self.clock()
            row = self.store.execute(
                "UPDATE alert SET resolved_at = ? WHERE incident = ? AND resolved_at IS NULL "
                "RETURNING kind, title, count, first_at", (now, incident)).fetchone()
        if row is None:
            return False
        if notify:
            kind, title, total, first_at = row
            text = message or f"resolved: {title}"
            self._post(Notification(incident, kind, "info", text, text, 0, total, first_at, now, resolved=True))
        return True

    def open_alerts(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, incident, kind, severity, title, message, count, first_at, last_at, "
                                "notified_at, notified_count, data FROM alert WHERE resolved_at IS NULL "
                                "ORDER BY last_at DESC")
        for row in rows:
            row["data"] = json.loads(row["data"]) if row["data"] else None
        return rows

    def _digest(self, incident: str, kind: str, severity: str, title: str, message: str, pending: int,
                total: int, first_at: float, now: float, data: Any) -> Notification:
        if pending <= 1:
            return Notification(incident, kind, severity, title, message, 1, total, first_at, now, data=data)
        minutes = self.settings.digest_minutes
        text = (f"{_plural(pending, 'more occurrence')} in the last {minutes} minutes "
                f"({total} since {time.strftime('%Y-%m-%d %H:%M', time.localtime(first_at))}); "
                f"latest: {message}")
        return Notification(incident, kind, severity, title, text, pending, total, first_at, now,
                            digest=True, data=data)

    # -- what raises alerts --------------------------------------------------------------------
    def job_failed(self, failure: JobFailure) -> None:
        """A job became quarantined or dead (connect with `watch(queue)`)."""
        if failure.state == "quarantined":
            self.raise_alert(f"quarantine:{failure.kind}", f"{failure.kind}: records need attention",
                             f"{failure.key}: {failure.message}", kind="quarantine", severity="warning",
                             data={"job_id": failure.job_id, "key": failure.key})
        else:
            self.raise_alert(f"dead:{failure.kind}", f"{failure.kind}: records could not be synced",
                             f"{failure.key}: {failure.message}", kind="dead", severity="error",
                             data={"job_id": failure.job_id, "key": failure.key})

    def watch(self, queue: Any) -> None:
        """Raise an alert whenever a job of `queue` becomes dead or quarantined."""
        queue.add_error_listener(self.job_failed)

    def breaker_changed(self, system: str, opened: bool, reason: str = "") -> None:
        name = SYSTEM_NAMES.get(system, system)
        if opened:
            self.raise_alert(f"breaker:{system}", f"{name} is not reachable: syncing with it is paused",
                             reason or f"repeated failures talking to {name}", kind="breaker", severity="error",
                             count=False)
        else:
            self.resolve(f"breaker:{system}", f"{name} is reachable again: syncing resumed", notify=True)

    def breaker_listener(self, system: str, old: Any, new: Any, snapshot: Any = None) -> None:
        """Adapter for the connectors' circuit breaker listeners (state values open/half_open/closed)."""
        old, new = str(getattr(old, "value", old)), str(getattr(new, "value", new))
        if new == "open" and old == "closed":
            self.breaker_changed(system, True, getattr(snapshot, "last_error", None) or "")
        elif new == "closed" and old != "closed":
            self.breaker_changed(system, False)

    def anomaly(self, name: str, title: str, message: str, data: Any = None, severity: str = "warning") -> None:
        self.raise_alert(f"anomaly:{name}", title, message, kind="anomaly", severity=severity, data=data)

    def check_stale_flows(self) -> list[str]:
        """Raise `stale:<flow>` for flows failing longer than `stale_flow_minutes`; announce recoveries."""
        now = self.clock()
        limit = self.settings.stale_flow_minutes * 60.0
        raised = []
        states = self.store.query("SELECT flow, failing_since, last_success_at, last_error FROM flow_state")
        open_stale = {row["incident"] for row in self.store.query(
            "SELECT incident FROM alert WHERE resolved_at IS NULL AND incident LIKE 'stale:%'")}
        for state in states:
            incident = f"stale:{state['flow']}"
            since = state["failing_since"]
            if since is not None and now - since >= limit:
                minutes = int((now - since) // 60)
                self.raise_alert(incident, f"{state['flow']} has not synced for {minutes} minutes",
                                 state["last_error"] or "the flow keeps failing", kind="stale", severity="error",
                                 count=False)
                raised.append(incident)
            elif since is None and incident in open_stale:
                self.resolve(incident, f"{state['flow']} syncs again", notify=True)
        return raised

    def _resolve_cleared_job_incidents(self) -> None:
        """A quarantine/dead incident ends when no job of its kind is left in that state."""
        rows = self.store.query("SELECT incident FROM alert WHERE resolved_at IS NULL "
                                "AND (incident LIKE 'quarantine:%' OR incident LIKE 'dead:%')")
        for row in rows:
            prefix, _, kind = row["incident"].partition(":")
            state = "quarantined" if prefix == "quarantine" else "dead"
            left = self.store.scalar("SELECT COUNT(*) FROM job WHERE state = ? AND kind = ?", (state, kind))
            if not left:
                self.resolve(row["incident"])

    # -- delivery ------------------------------------------------------------------------------
    def _post(self, notification: Notification) -> None:
        with self._outbox_lock:
            self._outbox.append(notification)
        self._wake.set()

    def _due_digests(self) -> None:
        """Occurrences held back during a window go out as one digest when the window ends."""
        outgoing: list[Notification] = []
        with self.store.write():
            now = self.clock()
            rows = self.store.execute(
                "SELECT id, incident, kind, severity, title, message, count, notified_count, first_at, data "
                "FROM alert WHERE resolved_at IS NULL AND count > notified_count AND notified_at <= ?",
                (now - self.window,)).fetchall()
            for (alert_id, incident, kind, severity, title, message, total, notified, first_at, data) in rows:
                self.store.execute("UPDATE alert SET notified_at = ?, notified_count = ? WHERE id = ?",
                                   (now, total, alert_id))
                outgoing.append(self._digest(incident, kind, severity, title, message, total - notified, total,
                                             first_at, now, json.loads(data) if data else None))
        for notification in outgoing:
            self._post(notification)

    def flush(self) -> int:
        """Send due digests and everything waiting; returns how many notifications went out."""
        try:
            self._due_digests()
            self._resolve_cleared_job_incidents()
        except Exception:
            log.exception("checking alerts for digests failed")
        sent = 0
        with self._deliver_lock:
            while True:
                with self._outbox_lock:
                    if not self._outbox:
                        break
                    notification = self._outbox.pop(0)
                self._deliver(notification)
                sent += 1
        return sent

    def pending(self) -> int:
        with self._outbox_lock:
            return len(self._outbox)

    def _deliver(self, notification: Notification) -> None:
        for listener in list(self._listeners):
            try:
                listener(notification)
            except Exception:
                self.failures["listener"] += 1
                log.exception("an alert listener failed")
        if self.settings.email.enabled and self.settings.email.recipients:
            try:
                self.send_email(notification)
            except Exception as exc:
                self.failures["email"] += 1
                log.warning("the alert e-mail could not be sent: %s", exc)
        if self.settings.chat_webhook_url:
            try:
                self.send_chat(notification)
            except Exception as exc:
                self.failures["chat"] += 1
                log.warning("the chat alert could not be sent: %s", exc)
        self.delivered.append(notification)
        del self.delivered[:-200]

    def send_email(self, notification: Notification) -> None:
        cfg = self.settings.email
        message = EmailMessage()
        prefix = {"error": "[bngsync] Problem", "warning": "[bngsync] Attention", "info": "[bngsync]"}
        message["Subject"] = f"{prefix.get(notification.severity, '[bngsync]')}: {notification.title}"
        message["From"] = cfg.sender
        message["To"] = ", ".join(cfg.recipients)
        message.set_content(self._body(notification))
        context = self.ssl_context or ssl.create_default_context()
        if cfg.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=context)
            if cfg.username:
                password = None
                try:
                    password = secrets.get("smtp", required=False)
                except secrets.SecretError as exc:
                    log.warning("the SMTP password could not be read: %s", exc)
                if password:
                    smtp.login(cfg.username, password)
            smtp.send_message(message)

    def send_chat(self, notification: Notification) -> None:
        body = {"text": f"{notification.title}\n{notification.text}" if notification.text != notification.title
                else notification.title,
                "title": notification.title, "severity": notification.severity, "count": notification.count}
        if self._http is not None:
            response = self._http.post(self.settings.chat_webhook_url, json=body, timeout=self.timeout)
        else:
            response = httpx.post(self.settings.chat_webhook_url, json=body, timeout=self.timeout)
        response.raise_for_status()

    def _body(self, n: Notification) -> str:
        lines = [n.title, "", n.text, ""]
        if n.resolved:
            lines.append("No action is needed.")
        elif n.kind in ("quarantine", "dead"):
            lines.append("Open bngsync's Errors page to see the records, correct them and retry.")
        lines.append(f"Incident: {n.incident} ({_plural(n.total, 'occurrence')} since "
                     f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(n.first_at))})")
        return "\n".join(lines) + "\n"

    # -- background sender ---------------------------------------------------------------------
    def start(self, interval: float = 10.0) -> Alerts:
        """Deliver from a background thread: at once when something is posted, and every
        `interval` seconds for digests and stale-flow checks."""
        if self._thread and self._thread.is_alive():
            return self
        self._stop.clear()

        def run() -> None:
            try:
                while not self._stop.is_set():
                    self._wake.wait(interval)
                    self._wake.clear()
                    try:
                        self.check_stale_flows()
                    except Exception:
                        log.exception("checking for stale flows failed")
                    self.flush()
                self.flush()
            finally:
                try:
                    self.store.db.close()
                except Exception:
                    pass

        self._thread = threading.Thread(target=run, name="alerts-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
