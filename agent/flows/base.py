"""What every flow gets to work with, and how flows register their job kinds.

Data flows one way: a trigger (schedule, webhook, manual) enqueues a job; a worker runs the job's
handler here, which talks to the two systems through the connectors, transforms with `mapping`,
and records the outcome in the store. Handlers never call each other directly: follow-up work is
enqueued as new jobs, so every step is durable, visible and retryable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.connectors.protocols import BngApi, NopCommerceApi
    from agent.engine.alerts import Alerts
    from agent.engine.history import History
    from agent.engine.queue import JobQueue
    from agent.engine.workers import JobContext
    from agent.engine.xref import XRef
    from agent.store import Store


@dataclass
class FlowContext:
    """The shared parts a handler needs; one per running agent."""

    settings: Settings
    store: Store
    nop: NopCommerceApi
    bng: BngApi
    queue: JobQueue
    history: History
    xref: XRef
    alerts: Alerts
    clock: Callable[[], float] = time.time
    cache: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[FlowContext, "JobContext"], "dict | None"]


@dataclass(frozen=True)
class Flow:
    """A flow: its name (as in `bngsync sync NAME`), its poll job kind and its job handlers."""

    name: str
    poll_kind: str
    handlers: dict[str, Handler]
