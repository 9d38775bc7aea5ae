"""The engine's identifiers in the words of the people using the app.

Job kinds (`order.create`), record keys (`nop-order:1234`) and error classes (`validation`) are
precise but mean nothing to an office manager. Unknown values fall back to a tidied form of the
identifier, so a new kind added by a flow still reads acceptably before it gets its own words here.
"""

from __future__ import annotations

KIND_LABELS = {
    "order.create": "Order to BNG",
    "order.cancel": "Cancellation to BNG",
    "order.progress": "Shipment and status to the store",
    "orders.poll": "Reading new orders",
    "shipments.poll": "Reading shipments",
    "inventory.sku": "Stock level to the store",
    "inventory.poll": "Reading stock levels",
    "product.sync": "Item to the store",
    "products.poll": "Reading items",
    "customer.sync": "Customer to BNG",
    "customers.poll": "Reading customers",
}

KEY_PREFIXES = {
    "nop-order": "Order",
    "bng-order": "BNG order",
    "nop-customer": "Customer",
    "nop-product": "Product",
    "nop-shipment": "Shipment",
    "bng-shipment": "BNG shipment",
    "sku": "Item",
    "email": "Customer",
    "poll": "Run",
}

ERROR_CLASSES = {
    "validation": ("The data of this record does not fit what the other system accepts.",
                   "Fix the data in the web store, or correct it here with Edit & retry, then retry."),
    "not_found": ("Something this record refers to does not exist in the other system (for example an "
                  "item BNG does not know).",
                  "Create what is missing (or add a SKU substitution under Mappings), then retry."),
    "conflict": ("The other system already has a record that conflicts with this one.",
                 "Check the record in both systems. Discard it if it was already handled by hand."),
    "connection": ("A system could not be reached, or did not answer in time.",
                   "This is usually temporary: retry once the connection is back."),
    "rate_limit": ("A system asked the agent to slow down, and the tries ran out.",
                   "Retry; the agent spaces its requests out on its own."),
    "auth": ("A password or API key was refused.",
             "Update the password or API key in Settings, then use Retry all."),
    "internal": ("An unexpected problem stopped this record.",
                 "Retry. If it fails again, the log file (see About) helps find the cause."),
}

STATE_LABELS = {
    "quarantined": "Needs a fix",
    "dead": "Gave up",
    "pending": "Waiting",
    "running": "Running",
    "retry_wait": "Will retry",
    "succeeded": "Synced",
    "discarded": "Discarded",
}


def kind_label(kind: str) -> str:
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    return kind.replace(".", " ").replace("_", " ").capitalize()


def record_label(key: str) -> str:
    """'nop-order:1234' → 'Order 1234'; several tokens → the first one people know."""
    for token in (key or "").split():
        prefix, sep, value = token.partition(":")
        if sep and prefix in KEY_PREFIXES:
            value = value.split(":")[0]   # "SO-104026:165": what follows is a version, not a name
            if prefix == "poll":
                return f"Run of {value}"
            return f"{KEY_PREFIXES[prefix]} {value}"
    return key or ""


def explain_error(error_class: str) -> tuple[str, str]:
    """(what went wrong, what to do) for an error class."""
    return ERROR_CLASSES.get(error_class or "internal", ERROR_CLASSES["internal"])


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def alert_title(title: str) -> str:
    """An alert's title with a job kind at its start in words ("order.progress: …" → "Shipment and … : …")."""
    kind, sep, rest = (title or "").partition(": ")
    return f"{KIND_LABELS[kind]}: {rest}" if sep and kind in KIND_LABELS else title
