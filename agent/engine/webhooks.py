"""The receiver for the web store's webhooks (community API plugin, ASP.NET WebHooks format).

The plugin POSTs an envelope `{"Id", "Attempt", "Properties", "Notifications": [{"Action":
"orders/create", "Item": {...}}], "WebHookId"}` signed with `ms-signature: sha256=<HMAC-SHA256
hex of the body>`. The receiver answers 2xx only after the jobs the notifications produced are
committed: a sender that gets 200 can forget the event, so the event must already be durable. Any
failure before that is a 5xx and the sender tries again; coalescing in the queue turns the repeat
into the same job, never a second execution.

Answers: 401 bad or missing signature (checked before the body is parsed), 400 malformed JSON or
envelope or a notification whose item the agent cannot read, 411 no Content-Length (chunked bodies
are refused: the size must be known up front), 413 body over `max_body_bytes` (refused before
reading it), 405 other methods, `GET /health` for monitoring, and the ASP.NET WebHooks echo check
(`GET ...?echo=x` answers `x`) for registrations made without `NoEcho`. A 5xx means only that the
event could not be stored just now, so sending it again can succeed. It binds 127.0.0.1 unless
configured otherwise: expose it through a reverse proxy with TLS, never directly.
"""

from __future__ import annotations

import email.errors
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.engine.history import in_transaction
from agent.engine.queue import JobQueue, JobSpec
from agent.store import Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "ms-signature"

NotificationCallback = Callable[[str, dict[str, Any]], None]
# action, item → the jobs to enqueue for it (None to ignore the notification)
Mapping = Callable[[str, dict[str, Any]], "JobSpec | tuple | Iterable[JobSpec | tuple] | None"]


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BadEnvelope(ValueError):
    """The body is not the plugin's webhook envelope."""


def sign(secret: str | bytes, body: bytes) -> str:
    """The `ms-signature` header value for `body` (what the plugin sends)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of an `ms-signature` header (hex in either case; several allowed)."""
    if not header or not secret:
        return False
    expected = sign(secret, body).encode("ascii")
    ok = False
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        candidate = f"{name.strip().lower()}={value.strip().lower()}".encode("latin-1", "replace")
        ok |= hmac.compare_digest(expected, candidate)
    return ok


def declared_length(raw: str) -> int | None:
    """A Content-Length value as a number, None when it is not one.

    Only ASCII digits count (RFC 9110: 1*DIGIT): `+5`, `1_0`, `-5` and `²` are not sizes, although
    Python's `int()` or `str.isdigit()` accept some of them. A number too long to be a real size
    stands for "too large" instead of failing to convert.
    """
    value = raw.strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    value = value.lstrip("0") or "0"
    return int(value) if len(value) <= 18 else 10**18


def _field(obj: dict[str, Any], name: str) -> Any:
    """Envelope keys are PascalCase from ASP.NET; accept camelCase serializers too."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def parse_envelope(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (action, item) pairs of an envelope; raises BadEnvelope with the reason."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadEnvelope(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body):
        # `json` turns an unpaired `\ud800` into a string no UTF-8 store can hold: queuing it would fail
        # on every delivery, so it is the sender's 400 rather than a 5xx to repeat.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise BadEnvelope("the body is not valid JSON text: it escapes an unpaired surrogate "
                              "(\\uD800-\\uDFFF)") from None
    if not isinstance(data, dict):
        raise BadEnvelope("the body must be a JSON object with a Notifications list")
    notifications = _field(data, "Notifications")
    if not isinstance(notifications, list):
        raise BadEnvelope("the envelope has no Notifications list")
    pairs = []
    for index, notification in enumerate(notifications):
        if not isinstance(notification, dict):
            raise BadEnvelope(f"notification {index} is not an object")
        action, item = _field(notification, "Action"), _field(notification, "Item")
        if not isinstance(action, str) or not action.strip():
            raise BadEnvelope(f"notification {index} has no Action")
        if not isinstance(item, dict):
            raise BadEnvelope(f"notification {index} has no Item object")
        pairs.append((action.strip(), item))
    return pairs


class WebhookReceiver:
    """A small HTTP server turning signed webhook notifications into committed jobs.

    Give either `on_notification(action, item)` (it must enqueue; all calls for one request share
    one transaction when `store` is given), or `queue` plus `mapping(action, item) -> job specs`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, secret: str | bytes = "",
                 on_notification: NotificationCallback | None = None, *, queue: JobQueue | None = None,
                 mapping: Mapping | None = None, store: Store | None = None, max_body_bytes: int = 1_048_576,
                 read_timeout: float = 10.0):
        if not secret:
            raise ValueError("a webhook secret is required: set it with `bngsync secrets set webhook`")
        if on_notification is None and (queue is None or mapping is None):
            raise ValueError("give on_notification, or queue and mapping")
        self.host = host
        self.port = port
        self.secret = secret
        self.on_notification = on_notification
        self.queue = queue
        self.mapping = mapping
        self.store = store or (queue.store if queue is not None else None)
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.stats = {"accepted": 0, "jobs": 0, "unauthorized": 0, "malformed": 0, "too_large": 0, "failed": 0}
        self._stats_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Any, secret: str | None = None, **kwargs: Any) -> WebhookReceiver:
        """Build from `WebhookSettings`; the secret comes from the keyring unless given."""
        if secret is None:
            from agent import secrets

            secret = secrets.get("webhook")
        return cls(settings.host, settings.port, secret, max_body_bytes=settings.max_body_bytes, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(_Handler):
            owner = receiver
            timeout = receiver.read_timeout

        self._httpd = _Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        log.info("webhook receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    # -- the work ------------------------------------------------------------------------------
    def accept(self, pairs: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
        """Turn notifications into committed jobs; returns counts for the reply."""
        if self.on_notification is not None:
            with in_transaction(self.store) if self.store is not None else nullcontext():
                for action, item in pairs:
                    self.on_notification(action, item)
            return {"notifications": len(pairs)}
        specs: list[JobSpec | tuple] = []
        ignored = 0
        for index, (action, item) in enumerate(pairs):
            try:
                produced = self.mapping(action, item)  # type: ignore[misc]
            except Exception as exc:
                # The item is not one the agent can read (an id that is not a number, a field of the wrong
                # type...). Sending it again gives the same result, so this is the sender's 400, not a 5xx
                # it would repeat; the next poll still finds the record in the store.
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise BadEnvelope(f"notification {index} ({action}) cannot be read: {reason}") from exc
            if produced is None:
                ignored += 1
            elif isinstance(produced, JobSpec) or (isinstance(produced, tuple) and produced
                                                   and isinstance(produced[0], str)):
                specs.append(produced)
            else:
                specs.extend(produced)
        results = self.queue.enqueue_many(specs) if specs else []  # type: ignore[union-attr]
        self._count("jobs", len(results))
        return {"notifications": len(pairs), "jobs": len(results), "ignored": ignored}

    def close_thread_connection(self) -> None:
        """Each HTTP connection runs in its own thread: close its SQLite connection when it ends."""
        if self.store is not None:
            try:
                self.store.db.close()
            except Exception:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


_BROKEN_HEADER_LINE = (email.errors.MissingHeaderBodySeparatorDefect, email.errors.FirstHeaderLineIsContinuationDefect)


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "bngsync-webhooks"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook receiver: " + format, *args)

    def handle(self) -> None:
        try:
            super().handle()
        except Exception:  # a broken connection or a bug must never take the server down
            log.debug("webhook connection ended with an error", exc_info=True)
        finally:
            self.owner.close_thread_connection()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if any(isinstance(d, _BROKEN_HEADER_LINE) for d in self.headers.defects):
            # A header line that is not `Name: value` (`Content-Length : 5`, a name with a space, a
            # continuation first): the parser stops there and takes the lines after it for a body, so a
            # Content-Length among them would go unseen and the real body be read as the next request.
            # RFC 9112 says 400. (Other defects, such as a multipart Content-Type without parts, are harmless.)
            self._reply(400, {"error": "a header line is malformed"}, close=True)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class answers a method it has no handler for with 501 and an HTTP/2 or later request
        # line with 505. To a webhook sender a 5xx means "send it again later", and neither request can
        # ever succeed: answer 405 (as for the other methods) and 400.
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._not_allowed()
            return
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = HTTPStatus.BAD_REQUEST, f"Bad request version ({self.requestline.split()[-1]!r})"
        super().send_error(code, message, explain)

    def send_response_only(self, code: int, message: str | None = None) -> None:
        # The base class writes no status line and no headers for HTTP/0.9 — the version it also assumes
        # while the request line is still unread, so its refusals of a garbled request line would go out
        # as a bare page no client can tell from a reply. Every answer here is HTTP/1.x.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        super().send_response_only(code, message)

    def _reply(self, status: int, body: Any, close: bool = False, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):
            payload, ctype = body, "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode("utf-8"), "application/json"
        if self.command != "POST" and (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                                       or self.headers.get("Transfer-Encoding")):
            close = True  # an unread body would be taken for the next request on this connection
        if close:
            self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    def _length(self) -> int | None:
        """The declared body length, after answering (and returning None) when it is unusable."""
        if self.headers.get("Transfer-Encoding"):
            self._reply(411, {"error": "send the body with a Content-Length (chunked bodies are not accepted)"},
                        close=True)
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._reply(411, {"error": "a Content-Length header is required"}, close=True)
            return None
        length = declared_length(raw)
        if length is None:
            self._reply(400, {"error": "the Content-Length header is not a number"}, close=True)
            return None
        if length > self.owner.max_body_bytes:
            self.owner._count("too_large")
            self._reply(413, {"error": f"the body is larger than {self.owner.max_body_bytes} bytes"}, close=True)
            return None
        return length

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it (a length that is not a number is refused
        # once the request is read).
        length = declared_length(self.headers.get("Content-Length", ""))
        if length is not None and length > self.owner.max_body_bytes:
            self.owner._count("too_large")
            self._reply(413, {"error": f"the body is larger than {self.owner.max_body_bytes} bytes"}, close=True)
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        try:
            self._post()
        except Exception:
            log.exception("webhook request failed")
            self.owner._count("failed")
            self._reply(500, {"error": "internal error; send the notification again"}, close=True)

    def _post(self) -> None:
        owner = self.owner
        length = self._length()
        if length is None:
            return
        try:
            body = self.rfile.read(length) if length else b""
        except OSError:
            self.close_connection = True
            return
        if len(body) != length:
            self._reply(400, {"error": "the body is shorter than its Content-Length"}, close=True)
            return
        if not verify(owner.secret, body, self.headers.get(SIGNATURE_HEADER)):
            owner._count("unauthorized")
            self._reply(401, {"error": "missing or invalid ms-signature"})
            return
        try:
            pairs = parse_envelope(body)
        except BadEnvelope as exc:
            owner._count("malformed")
            self._reply(400, {"error": str(exc)})
            return
        try:
            counts = owner.accept(pairs)
        except BadEnvelope as exc:
            log.warning("webhook refused: %s", exc)
            owner._count("malformed")
            self._reply(400, {"error": str(exc)})
            return
        except Exception:
            log.exception("queuing webhook notifications failed")
            owner._count("failed")
            self._reply(503, {"error": "the notifications could not be queued; send them again"})
            return
        owner._count("accepted")
        self._reply(200, {"status": "accepted", **counts})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") == "/health":
            self._reply(200, {"status": "ok"})
            return
        echo = parse_qs(parts.query).get("echo")
        if echo:
            # ASP.NET WebHooks registration check: answer the echo value as plain text.
            self._reply(200, echo[-1][:256].encode("utf-8", "replace"))
            return
        self._not_allowed()

    def _not_allowed(self) -> None:
        self._reply(405, {"error": "only POST is accepted here"}, headers={"Allow": "POST"})

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed
