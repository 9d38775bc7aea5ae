"""The agent's state in words and one of five tray states, from `Service.status()`.

Kept free of widgets so the tray, the dashboard and the tests agree on one reading of the status.
Order matters when several things are true at once: paused (a person chose it) beats everything;
a connection down beats records waiting for a person, because nothing flows until it is back;
records to fix beat "syncing", because a busy agent must not hide work a person has to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

FLOW_LABELS = {"orders": "Orders", "shipments": "Shipments", "inventory": "Stock", "products": "Products",
               "customers": "Customers"}
FLOW_HELP = {
    "orders": "New web orders go to BNG as sales orders; status changes follow.",
    "shipments": "Shipments and tracking numbers from BNG go back to the web store.",
    "inventory": "Stock levels from BNG's locations update the web store.",
    "products": "Items, prices and attributes from BNG update the store's products.",
    "customers": "Web store customers are matched or created in BNG.",
}
SYSTEM_LABELS = {"nopcommerce": "Web store", "bng": "BNG"}


def overall_state(status: dict[str, Any] | None, problem: str | None = None) -> str:
    """ok, syncing, attention, error or paused."""
    if not status:
        return "error" if problem else "ok"
    if status.get("paused"):
        return "paused"
    if problem or down_systems(status) or failing_flows(status):
        return "error"
    if waiting_for_you(status):
        return "attention"
    queue = status.get("queue") or {}
    if any(f.get("state") == "running" for f in status.get("flows", [])) or \
            queue.get("pending", 0) + queue.get("running", 0) > 0:
        return "syncing"
    return "ok"


def waiting_for_you(status: dict[str, Any] | None) -> int:
    """What waits for a person in the Errors window: records to fix and customers to review."""
    status = status or {}
    return int(status.get("open_errors") or 0) + int(status.get("open_reviews") or 0)


def down_systems(status: dict[str, Any]) -> list[str]:
    return [SYSTEM_LABELS.get(b["system"], b["system"]) for b in status.get("breakers", [])
            if b.get("state") == "open"]


def failing_flows(status: dict[str, Any]) -> list[str]:
    return [FLOW_LABELS.get(f["flow"], f["flow"]) for f in status.get("flows", []) if f.get("state") == "failing"]


def headline(status: dict[str, Any] | None, problem: str | None = None) -> tuple[str, str]:
    """A title and one sentence: what a person sees first on the dashboard."""
    state = overall_state(status, problem)
    if problem:
        return "The agent is not running", problem
    if not status:
        return "Starting…", "Reading the agent's state."
    errors = int(status.get("open_errors") or 0)
    if state == "paused":
        return "Paused", "Nothing is synced until you resume. New orders wait safely in the web store."
    if state == "error":
        down = down_systems(status)
        if down:
            return "Connection problem", (f"{' and '.join(down)} cannot be reached. The agent keeps trying "
                                          "on its own; nothing is lost meanwhile.")
        return "A sync is failing", f"{', '.join(failing_flows(status))} did not finish. See the card below."
    if state == "attention":
        reviews = int(status.get("open_reviews") or 0)
        parts = []
        if errors:
            parts.append(f"{errors} record{'s' if errors != 1 else ''} could not be synced and "
                         "wait{} for you".format("" if errors != 1 else "s"))
        if reviews:
            parts.append(f"{reviews} possible duplicate customer{'s' if reviews != 1 else ''} "
                         "wait{} for your decision".format("" if reviews != 1 else "s"))
        return "Needs attention", f"{'; '.join(parts)} in Errors."
    if state == "syncing":
        return "Syncing", "Work is in progress."
    return "Up to date", "Everything that changed has been synced."


def clock(ts: float | None, now: datetime | None = None) -> str:
    """'10:02' today, 'Mon 10:02' this week, '2026-01-05' before; '—' never."""
    if not ts:
        return "—"
    when = datetime.fromtimestamp(ts)
    now = now or datetime.now()
    if when.date() == now.date():
        return f"{when:%H:%M}"
    if (now.date() - when.date()).days < 7:
        return f"{when:%a %H:%M}"
    return f"{when:%Y-%m-%d}"


def tooltip(status: dict[str, Any] | None, problem: str | None = None, limit: int = 127) -> str:
    """The tray tooltip: state, last successful sync per flow, today's counts.

    Windows cuts tray tooltips at 127 characters, so it tries shorter spellings until one fits.
    """
    title, _ = headline(status, problem)
    if not status:
        return f"bngsync: {title.lower()}"[:limit]
    flows = []
    for flow in status.get("flows", []):
        when = "failing" if flow.get("state") == "failing" else clock(flow.get("last_success_at"))
        flows.append((FLOW_LABELS.get(flow["flow"], flow["flow"]), when))
    today = f"Today: {int(status.get('orders_synced_today') or 0)} orders"
    errors = int(status.get("open_errors") or 0)
    if errors:
        today += f", {errors} to fix"
    reviews = int(status.get("open_reviews") or 0)
    if reviews:
        today += f", {reviews} to review"
    text = ""
    for sep, short in ((" · ", False), (", ", False), (", ", True)):
        parts = [f"{label} {when.split()[-1] if short else when}" for label, when in flows]
        text = "\n".join(line for line in (f"bngsync: {title.lower()}", sep.join(parts[:2]), sep.join(parts[2:]),
                                            today) if line)
        if len(text) <= limit:
            return text
    return text[:limit]


def runs_today(flow: dict[str, Any]) -> str:
    counts = flow.get("runs_today") or {}
    total = sum(counts.values())
    if not total:
        return "no runs yet"
    extra = [f"{counts[k]} {k}" for k in ("partial", "failed") if counts.get(k)]
    return f"{total} run{'s' if total != 1 else ''}" + (f" ({', '.join(extra)})" if extra else "")
