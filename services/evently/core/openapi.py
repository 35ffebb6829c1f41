"""OpenAPI 3.1 documents generated from the declared endpoints and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema

from evently.core.api import RETRY_AFTER, Endpoint, Header, openapi_path

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; see docs/errors.md for the codes.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
# Statuses whose problems carry Retry-After (rate limits, outages, lock timeouts).
RETRYABLE_STATUSES = (429, 503)
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "internalKey": {"type": "apiKey", "in": "header", "name": "X-Internal-Key"},
}


def _models(endpoints: Iterable[Endpoint]) -> list[type[pydantic.BaseModel]]:
    seen: dict[str, type[pydantic.BaseModel]] = {}
    for ep in endpoints:
        for model in (ep.body, ep.query, ep.response):
            if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _path_parameters(ep: Endpoint) -> list[dict[str, Any]]:
    types = {int: "integer", str: "string"}
    params = []
    for name in _path_names(ep.path):
        kind = ep.path_params.get(name, str)
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": types.get(kind, "string")},
            }
        )
    return params


def _path_names(path: str) -> list[str]:
    return re.findall(r"{([^}:]+)", path)


def _operation(ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{ep.tags[0] if ep.tags else 'op'}_{ep.handler.__name__}",
        "summary": ep.summary,
        "tags": list(ep.tags),
        "x-visibility": ep.visibility,
    }
    if ep.description:
        op["description"] = ep.description
    params = (
        _path_parameters(ep)
        + (_query_parameters(ep.query) if ep.query else [])
        + [
            {
                "name": h.name,
                "in": "header",
                "required": h.required,
                "description": h.description,
                "schema": dict(h.schema),
            }
            for h in ep.headers
        ]
    )
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ep.body.__name__}"}}
            },
        }
    responses: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": HTTPStatus(ep.status).phrase}
    if isinstance(ep.response, type) and issubclass(ep.response, pydantic.BaseModel):
        ok["content"] = {
            ep.response_content_type: {
                "schema": {"$ref": f"#/components/schemas/{ep.response.__name__}"}
            }
        }
    elif ep.response is not None:
        ok["content"] = {ep.response_content_type: {"schema": ep.response}}
    if ep.response_headers:
        ok["headers"] = _headers_object(ep.response_headers)
    responses[str(ep.status)] = ok
    error_statuses = set(ep.errors)
    if ep.body is not None or ep.query is not None:
        error_statuses.add(400)
    if ep.body is not None:
        error_statuses.update({413, 415})
    if ep.auth is not None:
        error_statuses.update(getattr(ep.auth, "error_statuses", (401,)))
        security = getattr(ep.auth, "security", None)
        if security:
            op["security"] = [{security: []}]
    if ep.path_params:
        # 404 for an id that matches nothing; 400 invalid_path for one that could mean two
        # paths (core/paths.py: dot segments, encoded slashes, ...).
        error_statuses.update({400, 404})
    if ep.headers:
        error_statuses.add(400)
    # Any operation can fail: unexpectedly (500, from the error middleware) or because the
    # database is unavailable (503 database_unavailable, core/database_errors.py).
    error_statuses.update({500, 503})
    for status in sorted(error_statuses - set(ep.other_responses)):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        if status in RETRYABLE_STATUSES:
            responses[str(status)]["headers"] = _headers_object((RETRY_AFTER,))
    for status, schema in ep.other_responses.items():
        # A None schema: a response without a body (e.g. 304 Not Modified).
        responses[str(status)] = {"description": HTTPStatus(status).phrase}
        if schema is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": schema}}
    op["responses"] = dict(sorted(responses.items()))
    return op


def _headers_object(headers: Iterable[Header]) -> dict[str, Any]:
    return {
        h.name: {"description": h.description, "required": h.required, "schema": dict(h.schema)}
        for h in headers
    }


def build_openapi(
    title: str, endpoints: Iterable[Endpoint], *, version: str = "1.0.0", description: str = ""
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``endpoints``."""
    endpoints = list(endpoints)
    models = _models(endpoints)
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for ep in sorted(endpoints, key=lambda e: (e.path, e.method)):
        op = _operation(ep)
        # One handler served on two paths (an alias) still needs unique operationIds.
        base, n = op["operationId"], 2
        while op["operationId"] in operation_ids:
            op["operationId"], n = f"{base}_{n}", n + 1
        operation_ids.add(op["operationId"])
        paths.setdefault(openapi_path(ep.path), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
