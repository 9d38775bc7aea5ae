"""The two API clients (nopCommerce's community API plugin, BNG REST v1) and their shared resilience.

Flows depend on `protocols.NopCommerceApi` / `protocols.BngApi`; `build_clients` makes the
concrete clients from the settings. Every failure is a `errors.ConnectorError` with an
`error_class` and `retryable` flag the job queue acts on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.connectors.errors import (
    BadRequest,
    CircuitOpen,
    Conflict,
    ConnectionFailed,
    ConnectorError,
    Forbidden,
    FullResyncRequired,
    NotFound,
    OutcomeUnknown,
    PluginDefect,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Stale,
    Timeout,
    Unauthorized,
    UnexpectedResponse,
    ValidationFailed,
)
from agent.connectors.http import ConnectionCheck, HttpClient
from agent.connectors.resilience import (
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    FakeClock,
    RetryPolicy,
    SystemClock,
    TokenBucket,
)

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.connectors.bng import BngClient
    from agent.connectors.nopcommerce import NopCommerceClient


def build_clients(settings: Settings) -> tuple[NopCommerceClient, BngClient]:
    """Both clients from the configuration, with secrets from the keyring (or the environment)."""
    from agent.connectors.bng import BngClient
    from agent.connectors.nopcommerce import NopCommerceClient

    return (NopCommerceClient.from_settings(settings.nopcommerce, settings.agent),
            BngClient.from_settings(settings.bng, settings.agent))


__all__ = [
    "BadRequest", "BreakerSnapshot", "BreakerState", "CircuitBreaker", "CircuitOpen", "Conflict",
    "ConnectionCheck", "ConnectionFailed", "ConnectorError", "FakeClock", "Forbidden", "FullResyncRequired",
    "HttpClient", "NotFound", "OutcomeUnknown", "PluginDefect", "RateLimited", "RetryPolicy", "ServerError",
    "ServiceUnavailable", "Stale", "SystemClock", "Timeout", "TokenBucket", "Unauthorized", "UnexpectedResponse",
    "ValidationFailed", "build_clients",
]
