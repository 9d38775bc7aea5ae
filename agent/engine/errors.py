"""How a job's failure is described to the queue: what went wrong, and whether trying again helps.

Flows raise whatever their connectors raise. The queue only needs three facts from an exception,
read by duck typing so the connectors' own error types work unchanged: `error_class` (one of
`ERROR_CLASSES`, which the errors page groups by), `retryable`, and an optional `retry_after` in
seconds (a server's Retry-After). `Quarantine` and `Retry` are for flows that detect a problem
themselves, such as an order line whose SKU BNG does not know.

An exception without these attributes is a bug or an unforeseen condition: it is classified
`internal` and retried, because a person would rather see it succeed on the next attempt than
have an order stuck; after `max_attempts` it becomes dead and visible.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR_CLASSES = frozenset({"connection", "rate_limit", "validation", "not_found", "conflict", "internal", "auth"})

# Non-retryable problems of the record itself go to quarantine: a person fixes the data (or adds
# a SKU substitution) and retries. Other non-retryable failures (credentials, a defect) are dead.
DATA_CLASSES = frozenset({"validation", "not_found", "conflict"})


class JobError(Exception):
    """A failure with its classification; `str(error)` is a sentence a merchant understands."""

    def __init__(self, message: str, error_class: str = "internal", retryable: bool = True,
                 retry_after: float | None = None):
        super().__init__(message)
        self.error_class = error_class if error_class in ERROR_CLASSES else "internal"
        self.retryable = retryable
        self.retry_after = retry_after


class Quarantine(JobError):
    """The record cannot be synced as it is (unknown SKU, invalid e-mail...): park it for a person."""

    def __init__(self, reason: str, error_class: str = "validation"):
        super().__init__(reason, error_class=error_class, retryable=False)


class Retry(JobError):
    """Try again later, after `retry_after` seconds if given (else the normal backoff)."""

    def __init__(self, reason: str, retry_after: float | None = None, error_class: str = "connection"):
        super().__init__(reason, error_class=error_class, retryable=True, retry_after=retry_after)


@dataclass(frozen=True)
class Classified:
    """What the queue records about a failure."""

    error_class: str
    retryable: bool
    retry_after: float | None
    message: str
    #: nothing was sent (a circuit breaker held the call back): the attempt does not count
    held_back: bool = False

    @property
    def is_data_problem(self) -> bool:
        return self.error_class in DATA_CLASSES


def _connection_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import httpx

        types.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency
        pass
    return tuple(types)


_CONNECTION_TYPES = _connection_types()


def classify(exc: BaseException) -> Classified:
    """Read an exception's classification (duck-typed), defaulting to internal + retryable."""
    message = str(exc).strip() or type(exc).__name__
    error_class = getattr(exc, "error_class", None)
    retryable = getattr(exc, "retryable", None)
    if isinstance(error_class, str) and isinstance(retryable, bool):
        retry_after = getattr(exc, "retry_after", None)
        try:
            retry_after = float(retry_after) if retry_after is not None else None
        except (TypeError, ValueError):
            retry_after = None
        if error_class not in ERROR_CLASSES:
            error_class = "internal"
        held_back = getattr(exc, "local", False) is True
        return Classified(error_class, retryable, retry_after, message, held_back)
    if isinstance(exc, _CONNECTION_TYPES):
        return Classified("connection", True, None, f"network problem: {message}")
    return Classified("internal", True, None, f"unexpected error ({type(exc).__name__}): {message}")
