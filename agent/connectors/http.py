"""The resilient HTTP base both API clients stand on: one pooled httpx transport per remote system.

Every request goes through the same steps: the system's circuit breaker (fail fast while it is
down), its token bucket (stay under its rate limit), the send with connect/read/write/pool
timeouts, and a bounded retry of the failures that retrying can fix — 429/502/503/504, timeouts,
refused and reset connections — with the server's Retry-After beating the computed backoff.
Anything else becomes a typed error from `agent.connectors.errors` at once.

Creates (POST) are different: BNG does not deduplicate, so a POST whose reply was lost is never
repeated here unless the caller says it is safe; it raises `OutcomeUnknown` and the flow checks by
external reference first. Each attempt is logged at DEBUG with method, path, status, duration
and attempt number — never headers or bodies, and through the log redactor.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import socket
import ssl
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel

from agent import logs
from agent.connectors.errors import (
    RETRYABLE_STATUSES,
    ConnectionFailed,
    ConnectionKind,
    ConnectorError,
    OutcomeUnknown,
    RateLimited,
    Timeout,
    UnexpectedResponse,
    error_for_status,
    is_system_failure,
    system_label,
)
from agent.connectors.resilience import (
    NO_RETRY,
    SYSTEM_CLOCK,
    BreakerState,
    CircuitBreaker,
    Clock,
    RetryPolicy,
    TokenBucket,
    server_wait_hint,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DecimalStyle = Literal["number", "string"]
ErrorParser = Callable[[httpx.Response], tuple[str, list[tuple[str, str]]]]


# -- JSON with exact decimals ----------------------------------------------------------------
def loads(text: str | bytes) -> Any:
    """Parse JSON keeping every fractional number as a Decimal (43.5 and 43.5000 stay exact)."""
    return json.loads(text, parse_float=Decimal)


def decimal_text(value: Decimal, places: int | None = None) -> str:
    """A Decimal as plain digits (never exponent notation), rounded half-up to at most `places` decimals."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    exponent = value.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and exponent < -places:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)                  # no "-0.00"
    return format(value, "f")


def zulu(value: datetime | date | str) -> str:
    """A timestamp as ISO-8601 UTC ending in Z; a naive datetime is taken as UTC.

    Servers read an offset-less date as their own local time (nopCommerce does), so queries
    always carry the Z.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


# A Decimal travels through json.dumps as a marked string and is unquoted afterwards; the random
# nonce makes it impossible for text from a record to be mistaken for a marked number.
_NONCE = uuid.uuid4().hex[:12]
_MARK = f"\x00{_NONCE}:"
_MARK_RE = re.compile(r'"\\u0000' + _NONCE + r':(-?[0-9]+(?:\.[0-9]+)?)"')


def to_jsonable(value: Any, decimals: DecimalStyle = "number", places: int | None = None) -> Any:
    """Prepare a body: models to dicts, datetimes to Z strings, Decimals to exact numbers or strings."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, decimals, places) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, decimals, places) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        text = decimal_text(value, places)
        return text if decimals == "string" else _MARK + text
    if isinstance(value, datetime):
        return zulu(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value, decimals, places)
    return value


def dumps(value: Any, decimals: DecimalStyle = "number", places: int | None = None) -> bytes:
    """JSON bytes; with decimals="number" a Decimal is written as a JSON number digit for digit (no float)."""
    text = json.dumps(to_jsonable(value, decimals, places), ensure_ascii=False, separators=(",", ":"))
    if decimals == "number":
        text = _MARK_RE.sub(r"\1", text)
    return text.encode("utf-8")


def decode(response: httpx.Response, system: str = "") -> Any:
    """The reply's JSON (decimals exact); `UnexpectedResponse` when it is not JSON."""
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        snippet = response.text[:120].strip().replace("\n", " ")
        raise UnexpectedResponse(system=system, method=response.request.method, path=response.request.url.path,
                                 status=response.status_code,
                                 server_message=f"not JSON: {snippet!r}" if snippet else "an empty reply") from None


# -- errors ------------------------------------------------------------------------------------
def default_error_parser(response: httpx.Response) -> tuple[str, list[tuple[str, str]]]:
    """Pull a message and field details out of an error body of unknown shape."""
    try:
        body = loads(response.content) if response.content else None
    except ValueError:
        text = response.text.strip()
        return ("" if text.startswith("<") else text[:200]), []     # an HTML error page says nothing useful
    if isinstance(body, str):
        return body, []
    if isinstance(body, dict):
        for key in ("message", "error", "title", "detail"):
            if isinstance(body.get(key), str):
                return body[key], []
    return "", []


def connection_kind(exc: BaseException) -> ConnectionKind:
    """Tell a DNS failure from a TLS failure from a refused connection by walking the cause chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "dns"
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return "tls"
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, ConnectionResetError | BrokenPipeError):
            return "reset"
        current = current.__cause__ or current.__context__
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text \
            or "name resolution" in text or "no address associated" in text:
        return "dns"
    if "ssl" in text or "certificate" in text or "tls" in text:
        return "tls"
    if "refused" in text or "errno 111" in text or "10061" in text:
        return "refused"
    if "reset" in text or "disconnected" in text or "closed" in text:
        return "reset"
    return "other"


class AuthHook(Protocol):
    """Adds credentials to a request and can renew them once after a 401."""

    def apply(self, headers: dict[str, str]) -> object:
        """Set the credential headers; return a marker of the credential used."""
        ...

    def renew(self, used: object) -> bool:
        """Replace the credential `used` (unless another thread already did); False when impossible."""
        ...


def timeout_from_seconds(seconds: float) -> httpx.Timeout:
    """Connect fails fast (a down host should not hold a worker for long); read/write/pool get the full time."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer to "does the connection work?", for the settings dialog and `bngsync check`.

    `problem` is a key the UI can act on: ok, dns, tls, refused, connection, timeout, auth,
    forbidden, plugin_missing, wrong_url, other; `message` is the sentence shown to a person.
    """

    ok: bool
    problem: str
    message: str

    def __str__(self) -> str:
        return self.message


# -- the client ----------------------------------------------------------------------------------
@functools.cache
def system_trust() -> ssl.SSLContext:
    """The one TLS context every client verifies servers with (the CA bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR when set). Shared, because each context holds its own parsed copy of the bundle:
    about 1 MB per client otherwise."""
    return httpx.create_ssl_context()


class HttpClient:
    """A pooled, rate-limited, retrying, breaker-guarded JSON client for one remote system."""

    def __init__(self, system: str, base_url: str, *, timeout: httpx.Timeout | float = 30.0,
                 headers: Mapping[str, str] | None = None, verify: bool = True,
                 transport: httpx.BaseTransport | None = None, retry: RetryPolicy | None = None,
                 limiter: TokenBucket | None = None, breaker: CircuitBreaker | None = None,
                 clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None,
                 error_parser: ErrorParser = default_error_parser, auth: AuthHook | None = None,
                 decimals: DecimalStyle = "number", decimal_places: int | None = None,
                 max_connections: int = 10):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.breaker = breaker or CircuitBreaker(system, clock=clock)
        self.clock = clock
        self.rng = rng or random.Random()
        self.error_parser = error_parser
        self.auth = auth
        self.decimals: DecimalStyle = decimals
        self.decimal_places = decimal_places
        self.log = logging.getLogger(f"agent.connectors.{system}")
        if not isinstance(timeout, httpx.Timeout):
            timeout = timeout_from_seconds(float(timeout))
        self.timeout = timeout
        self._stats: dict[str, int] = {}
        self._stats_lock = threading.Lock()
        self._timeout = timeout.as_dict()
        self._transport = transport or httpx.HTTPTransport(
            verify=system_trust() if verify else False, proxy=environment_proxy(self.base_url),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                                keepalive_expiry=15.0))
        # For `probe` only: requests go to the transport directly (see `_send`).
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=dict(headers or {}),
                                    transport=self._transport, follow_redirects=False)
        self._headers = dict(self._client.headers)     # httpx's defaults (gzip, keep-alive) and ours

    def close(self) -> None:
        self._client.close()        # closes the transport and its pooled connections too

    @property
    def stats(self) -> dict[str, int]:
        """Counters since start: `requests`, `retries`, `status_<code>`, `error_<ExceptionName>`."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, *keys: str) -> None:
        with self._stats_lock:
            for key in keys:
                self._stats[key] = self._stats.get(key, 0) + 1

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                headers: Mapping[str, str] | None = None, safe_to_retry: bool | None = None,
                retry: RetryPolicy | None = None, use_breaker: bool = True,
                authenticate: bool = True) -> httpx.Response:
        """Send with the full resilience treatment; return a 2xx/3xx response or raise a `ConnectorError`.

        `safe_to_retry` defaults to True for idempotent methods and False for POST/PATCH; pass
        True for a POST that cannot create a duplicate. `use_breaker=False` is for diagnostics
        (test_connection) that must reach the system even while the breaker is open.
        """
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if safe_to_retry is None else safe_to_retry
        content = dumps(json, self.decimals, self.decimal_places) if json is not None else None
        send_headers = dict(headers or {})
        if content is not None:
            send_headers.setdefault("Content-Type", "application/json")
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        probe = self.breaker.allow() if use_breaker else False
        outcome: BaseException | None = None
        try:
            return self._attempts(method, path, query, content, send_headers, safe,
                                  NO_RETRY if probe else (retry or self.retry), authenticate, use_breaker)
        except ConnectorError as exc:
            outcome = exc
            raise
        finally:
            if use_breaker:
                if outcome is None:
                    self.breaker.record_success()
                elif getattr(outcome, "local", False):
                    if probe:
                        self.breaker.release_probe()   # nothing was sent: no verdict on the system
                elif is_system_failure(outcome):
                    self.breaker.record_failure(str(outcome))
                else:
                    self.breaker.record_success()      # a record problem: the system itself answered

    def probe(self, path: str, timeout: float = 10.0) -> int | None:
        """One bare GET (no credentials, retries or breaker) for diagnostics: the status, or None if unreachable."""
        try:
            return self._client.get(path, timeout=timeout).status_code
        except httpx.HTTPError:
            return None

    def get(self, path: str, **kwargs: Any) -> Any:
        return decode(self.request("GET", path, **kwargs), self.system)

    def send_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode(self.request(method, path, **kwargs), self.system)

    # -- internals -------------------------------------------------------------------------------
    def _attempts(self, method: str, path: str, query: dict[str, str], content: bytes | None,
                  headers: dict[str, str], safe: bool, policy: RetryPolicy, authenticate: bool,
                  use_breaker: bool) -> httpx.Response:
        waited = 0.0
        attempt = 0
        renewed = False
        last_error: ConnectorError | None = None
        while True:
            attempt += 1
            if self.limiter is not None:
                wait = self.limiter.reserve(max_wait=max(0.0, policy.max_total_wait - waited))
                if wait is None:
                    if last_error is not None:
                        raise last_error
                    error = RateLimited(system=self.system, method=method, path=path,
                                        message=f"the agent is holding back requests to {self._label()} "
                                                "to stay under its rate limit; it will go on shortly")
                    error.local = True
                    raise error
                if wait:
                    self.clock.sleep(wait)
                    waited += wait
            if (attempt > 1 and last_error is not None and use_breaker
                    and self.breaker.state is not BreakerState.CLOSED):
                raise last_error                    # the breaker opened while this call waited to retry
            send_headers = dict(headers)
            credential = self.auth.apply(send_headers) if (self.auth is not None and authenticate) else None
            started = self.clock.monotonic()
            try:
                response = self._send(method, path, query, content, send_headers)
            except httpx.TransportError as exc:
                self._count("requests", f"error_{type(exc).__name__}", *(("retries",) if attempt > 1 else ()))
                error = self._transport_error(exc, method, path, safe)
                self._log(method, path, type(exc).__name__, started, attempt)
                last_error = error
                if not error.retryable or isinstance(error, OutcomeUnknown):
                    raise error from exc
                delay = self._next_delay(policy, attempt, waited, None, use_breaker)
                if delay is None:
                    raise error from exc
                self.clock.sleep(delay)
                waited += delay
                continue
            self._log(method, path, response.status_code, started, attempt)
            self._count("requests", f"status_{response.status_code}", *(("retries",) if attempt > 1 else ()))
            if self.limiter is not None:
                self.limiter.observe(response.headers)
            status = response.status_code
            if status < 300:
                return response
            if status < 400:
                raise UnexpectedResponse(
                    system=self.system, method=method, path=path, status=status,
                    message=f"{self._label()} answered from a different address "
                            f"({response.headers.get('location', 'unknown')}): check the URL in the settings")
            if status == 401 and credential is not None and not renewed and self.auth is not None:
                renewed = True
                if self.auth.renew(credential):
                    attempt -= 1          # a fresh credential is not a retry
                    continue
            error = self.error_from_response(response)
            last_error = error
            if status not in RETRYABLE_STATUSES:
                raise error
            if not safe and status in (502, 504):
                # a gateway gave up on the upstream: it may have done the work
                raise OutcomeUnknown(system=self.system, method=method, path=path, status=status,
                                     server_message=error.server_message)
            hint = server_wait_hint(response.headers, self.clock.time())
            if hint is not None and self.limiter is not None and status == 429:
                self.limiter.pause_for(hint)    # hold back the other workers too
            delay = self._next_delay(policy, attempt, waited, hint, use_breaker)
            if delay is None:
                if hint is not None:
                    error.retry_after = hint
                raise error
            self.clock.sleep(delay)
            waited += delay

    def _send(self, method: str, path: str, query: dict[str, str], content: bytes | None,
              headers: dict[str, str]) -> httpx.Response:
        """One request straight through the transport, body read. `httpx.Client.send` is skipped on
        purpose: its cookie jar, auth and redirect layers do nothing for these APIs (credentials are
        headers, redirects are errors) and cost more CPU than the connection itself."""
        merged = {**self._headers, **{name.lower(): value for name, value in headers.items()}}
        request = httpx.Request(method, self.base_url + path, params=query or None, content=content, headers=merged,
                                extensions={"timeout": self._timeout})
        response = self._transport.handle_request(request)
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        return response

    def _next_delay(self, policy: RetryPolicy, attempt: int, waited: float, hint: float | None,
                    use_breaker: bool) -> float | None:
        """The wait before another attempt, or None when the attempts or the wait budget are spent."""
        if attempt >= policy.max_attempts:
            return None
        if use_breaker and self.breaker.state is BreakerState.OPEN:
            return None                         # other workers found the system down meanwhile
        delay = policy.delay(attempt, self.rng, hint)
        if waited + delay > policy.max_total_wait:
            return None
        return delay

    def _transport_error(self, exc: httpx.TransportError, method: str, path: str, safe: bool) -> ConnectorError:
        ctx = {"system": self.system, "method": method, "path": path}
        if isinstance(exc, httpx.ConnectTimeout):
            return ConnectionFailed(kind="other", message=f"could not reach {self._label()}: connecting timed out",
                                    **ctx)
        if isinstance(exc, httpx.PoolTimeout):
            return Timeout(message=f"all connections to {self._label()} stayed busy too long", **ctx)
        if isinstance(exc, httpx.ConnectError):
            return ConnectionFailed(kind=connection_kind(exc), **ctx)
        if not safe:
            return OutcomeUnknown(**ctx, server_message=type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return Timeout(message=f"{self._label()} did not answer within {self._read_timeout():.0f} s", **ctx)
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            return ConnectionFailed(kind="reset", **ctx)
        return ConnectionFailed(kind=connection_kind(exc), **ctx, server_message=type(exc).__name__)

    def error_from_response(self, response: httpx.Response) -> ConnectorError:
        message, details = self.error_parser(response)
        cls = error_for_status(response.status_code)
        hint = server_wait_hint(response.headers, self.clock.time()) if response.status_code in (429, 503) else None
        return cls(system=self.system, method=response.request.method, path=response.request.url.path,
                   status=response.status_code, server_message=message, details=details, retry_after=hint)

    def _read_timeout(self) -> float:
        return self.timeout.read or 0.0

    def _label(self) -> str:
        return system_label(self.system)

    def _log(self, method: str, path: str, status: int | str, started: float, attempt: int) -> None:
        if self.log.isEnabledFor(logging.DEBUG):
            elapsed = (self.clock.monotonic() - started) * 1000
            self.log.debug("%s", logs.redact(f"{method} {path} -> {status} in {elapsed:.0f} ms (attempt {attempt})"))



def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY,
    and on Windows the system settings), as `httpx.Client` would pick it; None to connect directly."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return zulu(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(_query_value(v) for v in value)
    return str(value)
