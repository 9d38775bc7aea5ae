"""Logging: a rotating file in the log dir plus the console, with secrets redacted.

Redaction works on two levels: every secret value the agent reads is registered and replaced
wherever it appears, and well-known shapes (Bearer tokens, `password=...`, `api_key`, JWTs) are
masked even if nobody registered them. The filter sits on the handlers, so records from any
library (httpx included) pass through it.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)((?:password|passwd|api[_-]?key|token|secret|access_token)[\"']?\s*[:=]\s*[\"']?)"
               r"[^\s\"',}&]+"),
    re.compile(r"()eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
]


def register_secret(value: str | None) -> None:
    """Make sure `value` never appears in a log line."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup(log_dir: Path | None, level: str = "INFO", console: bool = True) -> None:
    """Configure the root logger once per process (idempotent: handlers are replaced).

    The file gets INFO and up (runs, retries, alerts), or everything with `level="DEBUG"`, which
    adds one line per HTTP request: worth it when looking into a problem, not every day, since
    formatting and redacting a line per request costs a running agent real CPU time.
    """
    wanted = getattr(logging, level.upper(), logging.INFO)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bngsync", False):
            root.removeHandler(handler)
            handler.close()
    file_level = min(wanted, logging.INFO)
    root.setLevel(file_level if log_dir is not None else wanted)
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_dir / "bngsync.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8")
        file_handler.setLevel(file_level)
        handlers.append(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(wanted)
        handlers.append(stream)
    for handler in handlers:
        handler._bngsync = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "apscheduler", "peewee", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
