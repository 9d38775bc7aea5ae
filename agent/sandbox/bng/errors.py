"""BNG's error replies: `{"error": {"code", "message", "details": [...]}}` with the contract's codes.

`BngError` is an `HttpError`, so the state can raise it from deep inside an operation and the
server answers with the contract's body and status without any translation layer; the Python
back-office API raises the same exception, which lets tests assert on `.code` and `.details`.
"""

from __future__ import annotations

from typing import Any

from agent.sandbox.httpserver import HttpError

STATUS_OF_CODE = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "stale": 412,
    "gone": 410,
    "validation_failed": 422,
    "rate_limited": 429,
    "internal": 500,
    "maintenance": 503,
}


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details or [])}}


class BngError(HttpError):
    """An error reply of the BNG API; `status` follows from `code` unless given."""

    def __init__(self, code: str, message: str, details: list[dict[str, str]] | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None):
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.status = status or STATUS_OF_CODE[code]
        super().__init__(self.status, error_body(code, message, self.details), headers)

    def __str__(self) -> str:
        extra = "; ".join(f"{d['field']}: {d['issue']}" for d in self.details)
        return f"{self.status} {self.code}: {self.message}" + (f" ({extra})" if extra else "")


def not_found(what: str, key: str) -> BngError:
    return BngError("not_found", f"{what} {key} not found")


def conflict(message: str) -> BngError:
    return BngError("conflict", message)


def invalid(details: list[dict[str, str]], message: str = "validation failed") -> BngError:
    return BngError("validation_failed", message, details)


def detail(field: str, issue: str) -> dict[str, str]:
    return {"field": field, "issue": issue}
