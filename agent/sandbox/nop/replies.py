"""Request parsing and replies shared by the API routes, in the plugin's conventions.

- errors are `{"errors": {"<key>": ["<message>"]}}`; unhandled failures are 500 with
  `{"errors": {"internal_server_error": ["please, contact the store owner"]}}`;
- query parameters are matched like the plugin's ObjectConverter: underscores removed, case
  ignored (`since_id`, `sinceId`, `SINCEID` are one parameter);
- bodies are wrapped in the DTO's root (`{"order": {...}}`); a body the binder cannot read is a 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agent.sandbox.httpserver import HttpError, Request, Response
from agent.sandbox.nop.wire import dumps, filter_fields, query_int, query_int_or_none

JSON_TYPE = "application/json; charset=utf-8"
INTERNAL_ERROR = {"errors": {"internal_server_error": ["please, contact the store owner"]}}


def reply(body: Any, status: int = 200) -> Response:
    return Response(status, dumps(body), {"Content-Type": JSON_TYPE})


def listing(root: str, items: list[dict[str, Any]], fields: str | None) -> Response:
    """A plural root, trimmed by `fields=` like the plugin's JsonFieldsSerializer."""
    return reply(filter_fields({root: items}, fields))


def error(status: int, key: str, message: str) -> HttpError:
    return HttpError(status, dumps({"errors": {key: [message]}}), {"Content-Type": JSON_TYPE})


def errors(status: int, table: dict[str, list[str]]) -> HttpError:
    return HttpError(status, dumps({"errors": table}), {"Content-Type": JSON_TYPE})


def internal_error() -> HttpError:
    return HttpError(500, dumps(INTERNAL_ERROR), {"Content-Type": JSON_TYPE})


class Query:
    """The query string as the plugin's parameter binder sees it."""

    def __init__(self, request: Request):
        self._values = {key.replace("_", "").lower(): ",".join(values) for key, values in request.query.items()}

    def get(self, name: str) -> str | None:
        return self._values.get(name.replace("_", "").lower())

    def int(self, name: str, default: int) -> int:
        """An `int` parameter: unparseable values become 0 (which paging then rejects)."""
        return query_int(self.get(name), default)

    def int_or_none(self, name: str) -> int | None:
        """An `int?` parameter: unparseable values are ignored."""
        return query_int_or_none(self.get(name))

    def bool_or_none(self, name: str) -> bool | None:
        value = (self.get(name) or "").strip().lower()
        return {"true": True, "false": False}.get(value)

    @property
    def fields(self) -> str | None:
        return self.get("fields")


def check_paging(limit: int | None, page: int | None, limit_error: tuple[str, str], page_error: tuple[str, str],
                 page_first: bool = False) -> None:
    """400 when limit is outside 1..250 or page < 1; each controller has its own keys and wording."""
    checks = [(limit is not None and not 1 <= limit <= 250, limit_error),
              (page is not None and page < 1, page_error)]
    if page_first:
        checks.reverse()
    for failed, (key, message) in checks:
        if failed:
            raise error(400, key, message)


def page_of(items: Iterable[Any], limit: int, page: int) -> list[Any]:
    """`Skip((page - 1) * limit).Take(limit)` over an id-ordered sequence, stopping early."""
    skip = (page - 1) * limit
    out: list[Any] = []
    for index, item in enumerate(items):
        if index < skip:
            continue
        out.append(item)
        if len(out) >= limit:
            break
    return out


def route_id(request: Request, name: str = "id") -> int:
    """A route id as ASP.NET binds an int: anything unparseable becomes 0."""
    try:
        return int(request.params.get(name, ""))
    except ValueError:
        return 0


def positive_route_id(request: Request, name: str = "id") -> int:
    number = route_id(request, name)
    if number <= 0:
        raise error(400, "id", "invalid id")
    return number


def body_root(request: Request, root: str) -> dict[str, Any]:
    """The object under the DTO's root key, or a 422 as the plugin's JsonModelBinder gives."""
    try:
        document = json.loads(request.body.decode("utf-8")) if request.body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(422, "json", f"Invalid JSON: {exc.msg}") from exc
    if not isinstance(document, dict) or root not in document:
        raise error(422, "json", f"The given key '{root}' was not present in the dictionary.")
    value = document[root]
    if not isinstance(value, dict):
        raise error(422, "json", f"The '{root}' value must be an object.")
    return value
