"""What can go wrong when the agent talks to the web store or to BNG, as typed errors.

The engine decides what to do with a failed job from two attributes every error carries:
`error_class` (one of `ERROR_CLASSES`, which the errors page groups by) and `retryable` (whether
trying the same job again later can help). `str(error)` is a sentence a merchant understands; the
raw server text stays in `server_message` and the per-field problems in `details`, so the UI can
show them without parsing the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, Literal

ErrorClass = Literal["connection", "rate_limit", "validation", "not_found", "conflict", "internal", "auth"]
ERROR_CLASSES: frozenset[str] = frozenset(
    {"connection", "rate_limit", "validation", "not_found", "conflict", "internal", "auth"})

SYSTEM_LABELS = {"nopcommerce": "the web store", "bng": "BNG"}


def system_label(system: str) -> str:
    return SYSTEM_LABELS.get(system, system or "the remote system")


class ConnectorError(Exception):
    """Base of every error raised by the connectors."""

    error_class: ClassVar[ErrorClass] = "internal"
    retryable: ClassVar[bool] = False
    #: raised by the agent itself before anything was sent (says nothing about the remote system)
    local: bool = False

    def __init__(self, message: str | None = None, *, system: str = "", method: str = "", path: str = "",
                 status: int | None = None, server_message: str = "",
                 details: Sequence[tuple[str, str]] = (), retry_after: float | None = None):
        self.system = system
        self.method = method
        self.path = path
        self.status = status
        self.server_message = server_message
        self.details: list[tuple[str, str]] = [(str(f), str(i)) for f, i in details]
        self.retry_after = retry_after
        self._message = message
        super().__init__(str(self))

    @property
    def label(self) -> str:
        return system_label(self.system)

    def describe(self) -> str:
        """The default sentence of this error type (subclasses say what happened)."""
        return f"{self.label} reported a problem"

    def __str__(self) -> str:
        text = self._message or self.describe()
        if self.details:
            text += ": " + "; ".join(f"{f}: {i}" if f else i for f, i in self.details)
        elif self.server_message and self.server_message not in text:
            text += f" ({self.server_message})"
        return text


# -- the record or the request is wrong: retrying the same thing will not help ---------------------
class BadRequest(ConnectorError):
    """400: the request itself was malformed (usually a bug or unexpected data)."""

    error_class = "validation"

    def describe(self) -> str:
        return f"{self.label} rejected the request as malformed"


class ValidationFailed(ConnectorError):
    """422 (or a nopCommerce `{"errors": ...}` body): the data broke a rule; `details` says which."""

    error_class = "validation"

    def describe(self) -> str:
        return f"{self.label} rejected the data"


class NotFound(ConnectorError):
    error_class = "not_found"

    def describe(self) -> str:
        return f"{self.label} has no such record" + (f" ({self.path})" if self.path else "")


class Conflict(ConnectorError):
    """409: the change is not allowed in the record's current state (e.g. cancelling a shipped order)."""

    error_class = "conflict"

    def describe(self) -> str:
        return f"{self.label} refused the change in the record's current state"


class Stale(Conflict):
    """412: someone changed the record since we read it, even after one fresh read."""

    def describe(self) -> str:
        return f"the record was changed in {self.label} by someone else at the same time; it will be re-read"


class FullResyncRequired(ConnectorError):
    """410 on a change feed: the saved position is older than the feed keeps.

    Not retryable as such: the caller has to re-read everything, then continue from the newest
    position.
    """

    error_class = "internal"

    def describe(self) -> str:
        return f"{self.label}'s change list no longer reaches back that far: a full re-read is needed"


class UnexpectedResponse(ConnectorError):
    """A reply we cannot understand (not JSON, wrong shape): a wrong URL, a proxy page, a new version."""

    error_class = "internal"

    def describe(self) -> str:
        return f"{self.label} answered with something that is not what its API returns"


# -- credentials ---------------------------------------------------------------------------------
class Unauthorized(ConnectorError):
    error_class = "auth"

    def describe(self) -> str:
        return f"{self.label} did not accept the credentials (check the password or API key)"


class Forbidden(ConnectorError):
    error_class = "auth"

    def describe(self) -> str:
        return f"{self.label} accepted the credentials but refused access to this"


# -- the system is busy, down or unreachable: trying later helps -------------------------------
class RateLimited(ConnectorError):
    error_class = "rate_limit"
    retryable = True

    def describe(self) -> str:
        wait = f"; it can be tried again in {self.retry_after:.0f} s" if self.retry_after else ""
        return f"{self.label} asked the agent to slow down (too many requests){wait}"


class ServiceUnavailable(ConnectorError):
    """502/503/504: maintenance, overload or a gateway that cannot reach the system."""

    error_class = "connection"
    retryable = True

    def describe(self) -> str:
        return f"{self.label} is temporarily unavailable (maintenance or overload)"


class ServerError(ConnectorError):
    """500 and other 5xx: the system failed on this request; a later try may succeed."""

    error_class = "internal"
    retryable = True

    def describe(self) -> str:
        return f"{self.label} had an internal error while handling the request"


class PluginDefect(ServerError):
    """The community API plugin fails on order updates on busy stores (order-item id used as product id).

    Retryable later (other data can make it pass), never in a tight loop.
    """

    def describe(self) -> str:
        return ("the store's API plugin rejected the update: known plugin defect (it looks up products by "
                "order-item id while checking shipping and fails once item ids exceed product ids); "
                "the update will be tried again later, or set the status in the store's admin")


ConnectionKind = Literal["dns", "tls", "refused", "reset", "other"]


class ConnectionFailed(ConnectorError):
    """The system could not be reached at all, so the request was certainly not carried out."""

    error_class = "connection"
    retryable = True

    def __init__(self, message: str | None = None, *, kind: ConnectionKind = "other", **kwargs):
        self.kind = kind
        super().__init__(message, **kwargs)

    def describe(self) -> str:
        reason = {
            "dns": "the server name could not be found (check the URL)",
            "tls": "the secure connection failed (certificate problem)",
            "refused": "the connection was refused (is the service running?)",
            "reset": "the connection was closed before a reply came",
        }.get(self.kind, "the network connection failed")
        return f"could not reach {self.label}: {reason}"


class Timeout(ConnectorError):
    """No reply in time for a request that is safe to repeat (reads, idempotent writes)."""

    error_class = "connection"
    retryable = True

    def describe(self) -> str:
        return f"{self.label} did not answer in time"


class OutcomeUnknown(ConnectorError):
    """A create was sent but the reply never came: it may or may not have happened.

    Retryable, but the caller must look the record up (by external reference) before sending the
    create again, or it risks a duplicate: BNG does not deduplicate.
    """

    error_class = "connection"
    retryable = True

    def describe(self) -> str:
        return (f"the connection to {self.label} broke after the request was sent, so it is not known whether "
                "it was carried out; the agent checks before repeating it")


class CircuitOpen(ConnectorError):
    """Calls are held back because the system failed repeatedly; one probe goes through at `next_probe_at`."""

    error_class = "connection"
    retryable = True
    local = True        # nothing was sent: it says nothing new about the system

    def __init__(self, message: str | None = None, *, next_probe_at: datetime | None = None, **kwargs):
        self.next_probe_at = next_probe_at
        if next_probe_at is not None and kwargs.get("retry_after") is None:
            kwargs["retry_after"] = max(0.0, (next_probe_at - datetime.now(next_probe_at.tzinfo)).total_seconds())
        super().__init__(message, **kwargs)

    def describe(self) -> str:
        when = f" until {self.next_probe_at:%H:%M:%S} UTC" if self.next_probe_at else ""
        return f"{self.label} failed repeatedly, so calls to it are paused{when}"


RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

_BY_STATUS: dict[int, type[ConnectorError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: FullResyncRequired,
    412: Stale, 422: ValidationFailed, 429: RateLimited, 502: ServiceUnavailable, 503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_for_status(status: int) -> type[ConnectorError]:
    """The error type for an HTTP status that is not a success."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return BadRequest
    return UnexpectedResponse


def is_system_failure(exc: BaseException) -> bool:
    """Does this error say the *system* is in trouble (as opposed to one record or request)?

    Only these count towards opening a circuit breaker: a bad record must never pause the
    whole connection.
    """
    if isinstance(exc, PluginDefect):
        return False
    return isinstance(exc, ConnectionFailed | Timeout | OutcomeUnknown | ServiceUnavailable | ServerError
                      | RateLimited)
