"""Declaring endpoints: one place gives a route its path, models, auth and docs.

A service builds an ``Api`` and decorates thin handlers::

    api = Api("events")

    @api.get("/api/v1/events/{id}", summary="One event", response=EventOut,
             path_params={"id": int})
    async def get_event(request: web.Request, id: int) -> web.Response: ...

The wrapper authenticates (``auth=``), parses and validates the JSON body (``body=``)
and the query string (``query=``) with pydantic, and passes them to the handler as
``body=``/``query=`` keyword arguments. Path parameters declared in ``path_params``
are converted and passed by name. The same declarations generate the OpenAPI 3.1
document, so a route cannot exist without being documented.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
from aiohttp import web

from evently.core.errors import ApiError, BadRequest, FieldError, ValidationFailed

Handler = Callable[..., Awaitable[web.StreamResponse]]
Guard = Callable[[web.Request], Awaitable[None]]
JSON_TYPES = ("application/json",)
# No request body of ours nests deeper than a few levels; this bounds the work (and the
# recursion of json and pydantic) a hostile body can cause.
MAX_JSON_DEPTH = 32
# Response fields that hold credentials: their responses get ``Cache-Control: no-store``.
TOKEN_FIELDS = ("access_token", "refresh_token")
NUL_REASON = "must not contain the NUL character (\\u0000)"


@dataclass(frozen=True)
class Header:
    """A request or response header an endpoint documents in OpenAPI."""

    name: str
    description: str
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


# Headers more than one endpoint declares.
ETAG = Header("ETag", 'The resource\'s version as an entity tag, e.g. "3"', required=True)
RETRY_AFTER = Header(
    "Retry-After", "Seconds to wait before retrying", schema={"type": "integer", "minimum": 0}
)


@dataclass(frozen=True)
class Endpoint:
    """One declared route: what it accepts, returns and requires."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[pydantic.BaseModel] | None = None
    query: type[pydantic.BaseModel] | None = None
    response: Any = None
    status: int = 200
    auth: Guard | None = None
    path_params: Mapping[str, type] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    internal: bool = False
    tags: tuple[str, ...] = ()
    response_content_type: str = "application/json"
    description: str = ""
    # Statuses whose body is not a problem document: status -> JSON schema (None: no body).
    other_responses: Mapping[int, Any] = field(default_factory=dict)
    # Request headers it reads, and headers its success response carries.
    headers: tuple[Header, ...] = ()
    response_headers: tuple[Header, ...] = ()
    # Reads and validates the body instead of ``parse_body`` (for a body that needs its
    # own size limit or rules beyond the model's); ``body`` still documents it.
    body_parser: Callable[[web.Request], Awaitable[Any]] | None = None

    @property
    def visibility(self) -> str:
        return "internal" if self.internal else "public"

    @property
    def carries_tokens(self) -> bool:
        """Whether a success body holds credentials, so no cache may keep it."""
        fields = getattr(self.response, "model_fields", {})
        return any(name in fields for name in TOKEN_FIELDS)


class Api:
    """A service's route table: endpoints declared with decorators, then registered."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.endpoints: list[Endpoint] = []

    def route(
        self, method: str, path: str, *, summary: str, **options: Any
    ) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            options.setdefault("internal", path.startswith("/internal/"))
            options.setdefault("tags", (self.service,))
            endpoint = Endpoint(method.upper(), path, handler, summary, **options)
            self.endpoints.append(endpoint)
            return handler

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **options)

    def register(self, app: web.Application) -> None:
        """Add every endpoint to ``app``'s router, wrapped with auth and validation."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    no_store = endpoint.carries_tokens

    @functools.wraps(endpoint.handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if endpoint.auth is not None:
            await endpoint.auth(request)
        kwargs: dict[str, Any] = {}
        for name, kind in endpoint.path_params.items():
            kwargs[name] = parse_path_param(request, name, kind)
        if endpoint.query is not None:
            kwargs["query"] = parse_query(request, endpoint.query)
        if endpoint.body_parser is not None:
            kwargs["body"] = await endpoint.body_parser(request)
        elif endpoint.body is not None:
            kwargs["body"] = await parse_body(request, endpoint.body)
        response = await endpoint.handler(request, **kwargs)
        if no_store and not response.prepared:
            response.headers["Cache-Control"] = "no-store"
        return response

    wrapped.endpoint = endpoint  # type: ignore[attr-defined]  # what a route was declared as
    return wrapped


def parse_path_param(request: web.Request, name: str, kind: type) -> Any:
    """Convert a path parameter; a malformed one is a 404 (no such resource)."""
    raw = request.match_info[name]
    try:
        value = kind(raw)
    except (TypeError, ValueError) as exc:
        raise ApiError(
            f"No resource at {request.path}",
            status=404,
            code="not_found",
            title="Not found",
            errors=[FieldError(f"path.{name}", f"expected {kind.__name__}")],
        ) from exc
    if kind is int and not (0 < value < 2**63):
        raise ApiError(
            f"No resource at {request.path}", status=404, code="not_found", title="Not found"
        )
    return value


def _field_errors(exc: pydantic.ValidationError, location: str) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"] if part != "__root__")
        reason = error["msg"]
        if error["type"] == "extra_forbidden":
            reason = "unknown field"
        errors.append(FieldError(f"{location}.{path}" if path else location, reason))
    return errors


def parse_query(request: web.Request, model: type[pydantic.BaseModel]) -> Any:
    """Validate the query string against ``model``; unknown parameters are errors."""
    data: dict[str, Any] = {}
    nul_errors = [
        FieldError(f"query.{key}", NUL_REASON)
        for key, value in request.query.items()
        if "\x00" in key or "\x00" in value
    ]
    if nul_errors:
        names = ", ".join(e.field.removeprefix("query.") for e in nul_errors)
        raise ValidationFailed(f"Invalid query parameter(s): {names}", errors=nul_errors)
    for key in request.query:
        values = request.query.getall(key)
        annotation = model.model_fields.get(key)
        is_list = annotation is not None and "list" in str(annotation.annotation)
        data[key] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = _field_errors(exc, "query")
        names = ", ".join(e.field.removeprefix("query.") for e in errors)
        raise ValidationFailed(f"Invalid query parameter(s): {names}", errors=errors) from exc


async def parse_body(request: web.Request, model: type[pydantic.BaseModel]) -> Any:
    """Read a JSON body and validate it against ``model``."""
    content_type = request.content_type
    if content_type not in JSON_TYPES:
        raise ApiError(
            f"Expected Content-Type application/json, got {content_type or 'none'}",
            status=415,
            code="unsupported_media_type",
            title="Unsupported media type",
        )
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(
            f"The body is not valid JSON: {exc}",
            code="malformed_json",
            title="Malformed JSON",
            errors=[FieldError("body", "malformed JSON")],
        ) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if data is None:
        raise ValidationFailed("A JSON body is required", errors=[FieldError("body", "required")])
    if _may_break_json_rules(raw):
        check_json_strings(data)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = _field_errors(exc, "body")
        names = ", ".join(e.field.removeprefix("body.") for e in errors)
        raise ValidationFailed(f"Invalid field(s): {names}", errors=errors) from exc


def _too_deep() -> BadRequest:
    return BadRequest(
        f"The body nests deeper than {MAX_JSON_DEPTH} levels",
        code="malformed_json",
        title="Malformed JSON",
        errors=[FieldError("body", f"nested deeper than {MAX_JSON_DEPTH} levels")],
    )


def _may_break_json_rules(raw: bytes) -> bool:
    """Whether ``raw`` (valid JSON) could hold a NUL or nest too deeply: a NUL can only
    arrive escaped (``\\u0000``), and nesting needs an opening bracket per level. Two
    byte scans spare almost every body the walk of :func:`check_json_strings`."""
    return b"\\u0000" in raw or raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH


def check_json_strings(data: Any) -> None:
    """Refuse JSON that nests too deeply or holds a NUL in any string or key.

    PostgreSQL text cannot hold NUL, so such a value would fail deep in a query as a
    500; here it is a 400 naming the field, before anything is read or written.
    """
    stack: list[tuple[Any, str, int]] = [(data, "body", 1)]
    errors: list[FieldError] = []
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                errors.append(FieldError(where, NUL_REASON))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    errors.append(FieldError(where, f"a key {NUL_REASON}"))
                stack.append((item, f"{where}.{key}", depth + 1))
        else:
            stack.extend((item, f"{where}.{i}", depth + 1) for i, item in enumerate(value))
    if errors:
        names = ", ".join(sorted(e.field.removeprefix("body.") for e in errors))
        raise ValidationFailed(f"Invalid field(s): {names}", errors=sorted(errors, key=str))


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Render pydantic models, lists of them, or plain data as JSON; ``bytes`` are JSON
    rendered already (``bookings.models.booking_json``)."""
    if isinstance(data, bytes):
        body = data
    elif isinstance(data, pydantic.BaseModel):
        body = data.__pydantic_serializer__.to_json(data, by_alias=True)
    elif isinstance(data, list) and data and isinstance(data[0], pydantic.BaseModel):
        body = (
            b"["
            + b",".join(i.__pydantic_serializer__.to_json(i, by_alias=True) for i in data)
            + b"]"
        )
    else:
        body = _ANY.dump_json(data)
    return web.Response(
        body=body, status=status, content_type="application/json", charset="utf-8", headers=headers
    )


_ANY: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Any)


_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def openapi_path(path: str) -> str:
    """aiohttp's ``/x/{id:\\d+}`` becomes OpenAPI's ``/x/{id}``."""
    return _PATH_PARAM.sub(lambda m: "{" + m[1] + "}", path)
