"""The one error model: RFC 9457 problem details (``application/problem+json``).

Every 4xx/5xx any service answers is a problem document::

    {"type": "https://evently.io/problems/sold_out", "title": "Sold out",
     "status": 409, "detail": "...", "code": "sold_out", "errors": [...]}

``code`` is the stable machine-readable identifier (documented in docs/errors.md);
``errors`` lists ``{"field", "reason"}`` pairs for validation failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://evently.io/problems/"
# Codes that more than one service answers with get one title, whichever service speaks.
SHARED_TITLES = {
    "event_not_found": "Event not found",
}


@dataclass(frozen=True)
class FieldError:
    """One failed field: where it is (``body.email``, ``query.limit``) and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class ApiError(Exception):
    """An error with a status, a stable code and a human explanation."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status or self.status
        self.code = code or self.code
        self.title = title or self.title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail or self.title)

    def as_problem(self) -> dict[str, Any]:
        return problem_body(
            self.status, self.code, self.title, self.detail, self.errors, **self.extra
        )


class BadRequest(ApiError):
    status, code, title = 400, "bad_request", "Bad request"


class ValidationFailed(ApiError):
    status, code, title = 400, "validation_failed", "Request validation failed"


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="evently"'})
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(ApiError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class Unprocessable(ApiError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class TooManyRequests(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(ApiError):
    status, code, title = 503, "unavailable", "Service unavailable"


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a problem document; ``extra`` members are RFC 9457 extensions."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": SHARED_TITLES.get(code, title),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    """Render a problem document as an ``application/problem+json`` response."""
    return web.Response(
        status=body["status"],
        text=json.dumps(body, default=str),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


# aiohttp's own HTTP exceptions, mapped onto stable codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    503: "unavailable",
}
# Headers worth keeping from aiohttp exceptions (e.g. ``Allow`` on 405).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Location")


def problem_from_http_exception(exc: web.HTTPException, path: str) -> web.Response:
    """Convert one of aiohttp's own 4xx/5xx exceptions into a problem response."""
    status = exc.status
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "http_error")
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = {
        404: f"No resource at {path}",
        405: f"Method not allowed on {path}",
        413: "The request body is larger than this endpoint accepts",
    }.get(status)
    if detail is None and exc.text and not exc.text.startswith(f"{status}:"):
        detail = exc.text
    headers = {k: v for k, v in exc.headers.items() if k in _KEPT_HEADERS}
    return problem_response(problem_body(status, code, title, detail), headers)
