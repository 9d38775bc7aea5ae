"""A small threaded JSON HTTP server for the sandbox doubles.

Both test doubles are real HTTP servers on 127.0.0.1 so that the agent's clients are exercised
over real sockets (keep-alive, timeouts, resets). This module holds what they share: routing
with path parameters, JSON replies, fault injection (`agent.sandbox.faults`) applied around every
request, and the `/_sandbox/faults` admin route. Nagle's algorithm is switched off on the handler:
without it ThreadingHTTPServer manages ~23 keep-alive requests/s instead of thousands.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.sandbox.faults import Action, Faults

log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]          # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int = 200
    body: Any = None                 # JSON-serializable, or bytes for a raw body
    headers: dict[str, str] = field(default_factory=dict)


class HttpError(Exception):
    """Raised by a handler to answer with `status` and a JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.response = Response(status, body, headers or {})


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern` like "/api/orders/{id}"; path parameters match one segment."""
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$"
        self._routes.append((method.upper(), re.compile(regex), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorator(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn
        return decorator

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        """Return (handler, params, path_known)."""
        path_known = False
        for m, regex, handler in self._routes:
            found = regex.match(path)
            if found:
                path_known = True
                if m == method:
                    return handler, found.groupdict(), True
        return None, {}, path_known


class JsonServer:
    """Base class of a sandbox server: subclasses fill `self.router` and may override hooks."""

    name = "sandbox"

    def __init__(self, port: int = 0, seed: int | None = 0, host: str = "127.0.0.1"):
        self.router = Router()
        self.faults = Faults(seed)
        self.host = host
        self.port = port
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.router.add("GET", "/_sandbox/faults", self._get_faults)
        self.router.add("POST", "/_sandbox/faults", self._post_faults)
        self.router.add("DELETE", "/_sandbox/faults", self._delete_faults)

    # -- hooks for subclasses -----------------------------------------------------------------
    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": "not found"})

    def method_not_allowed(self, request: Request) -> Response:
        return Response(405, {"error": "method not allowed"})

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return Response(500, {"error": "internal error"})

    def fault_response(self, request: Request, status: int, retry_after: int) -> Response:
        headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
        return Response(status, {"error": f"injected fault {status}"}, headers)

    def before(self, request: Request) -> Response | None:
        """Runs before routing (auth, rate limit); a Response short-circuits."""
        return None

    def after(self, request: Request, response: Response) -> None:
        """Runs on every response (e.g. to add rate-limit headers)."""

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> JsonServer:
        server = self

        class _Handler(_RequestHandler):
            owner = server

        self._stopping.clear()
        self._httpd = _Server((self.host, self.port), _Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.name}-http", daemon=True)
        self._thread.start()
        log.info("%s listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> JsonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch ------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        with self._count_lock:
            self.request_count += 1
        handler, params, known = self.router.match(request.method, request.path)
        if handler is None and not request.path.startswith("/_sandbox/"):
            early = self.before(request)
            if early is not None:
                return early
        if handler is None:
            return self.method_not_allowed(request) if known else self.not_found(request)
        request.params = params
        try:
            if not request.path.startswith("/_sandbox/"):
                early = self.before(request)
                if early is not None:
                    return early
            return handler(request)
        except HttpError as exc:
            return exc.response
        except Exception as exc:  # a bug in the double must not kill the server
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            return self.internal_error(request, exc)

    # -- admin routes --------------------------------------------------------------------------
    def _get_faults(self, request: Request) -> Response:
        return Response(200, self.faults.snapshot())

    def _post_faults(self, request: Request) -> Response:
        try:
            self.faults.configure(request.json() or {})
        except (TypeError, ValueError) as exc:
            return Response(400, {"error": f"bad fault spec: {exc}"})
        return Response(200, self.faults.snapshot())

    def _delete_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(200, self.faults.snapshot())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _RequestHandler(BaseHTTPRequestHandler):
    owner: JsonServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "bngsync-sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s: " + format, self.owner.name, *args)

    def _drop(self) -> None:
        """Close the connection without a reply (a reset, as the client sees it)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        owner = self.owner
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(method=self.command, path=parts.path, query=parse_qs(parts.query, keep_blank_values=True),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        decision = owner.faults.decide(request.method, request.path) \
            if not request.path.startswith("/_sandbox/") else None
        if decision is not None:
            if decision.delay:
                time.sleep(decision.delay)
            if decision.action is Action.RESET:
                return self._drop()
            if decision.action is Action.HANG:
                owner._stopping.wait(decision.hang_seconds)
                return self._drop()
            if decision.action is Action.ERROR:
                response = owner.fault_response(request, decision.status, decision.retry_after)
                owner.after(request, response)
                return self._send(response)
        response = owner.dispatch(request)
        owner.after(request, response)
        if decision is not None and decision.action is Action.DROP_REPLY:
            return self._drop()
        self._send(response)

    def _send(self, response: Response) -> None:
        if isinstance(response.body, bytes):
            payload = response.body
            ctype = response.headers.pop("Content-Type", "application/octet-stream")
        elif response.body is None and response.status in (204, 304):
            payload, ctype = b"", None
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        try:
            self.send_response(response.status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
