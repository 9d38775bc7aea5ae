"""The sync flows: orders, shipments, inventory, products, customers.

Each flow module exposes `FLOW` (its name, poll job kind and handlers); the runtime collects them
here. `webhook_jobs` turns a store webhook notification into the same jobs a poll would make.
"""

from __future__ import annotations

import importlib
from typing import Any

from agent.flows.base import Flow, FlowContext

MODULES = ("products", "stock", "customers", "orders", "shipments")

__all__ = ["MODULES", "Flow", "FlowContext", "load_flows", "webhook_jobs"]


def load_flows() -> list[Flow]:
    return [importlib.import_module(f"agent.flows.{name}").FLOW for name in MODULES]


def webhook_jobs(action: str, item: dict[str, Any]) -> list[Any] | None:
    """Jobs for one webhook notification (None when the action is not one we sync)."""
    for name in MODULES:
        module = importlib.import_module(f"agent.flows.{name}")
        mapper = getattr(module, "webhook_jobs", None)
        if mapper is not None:
            jobs = mapper(action, item)
            if jobs:
                return jobs
    return None
