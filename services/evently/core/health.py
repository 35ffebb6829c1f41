"""Liveness, readiness, metrics and OpenAPI routes every service serves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from evently.core import migrations
from evently.core.api import Api, json_response
from evently.core.db import POOL
from evently.core.metrics import metrics_handler

ReadinessCheck = Callable[[web.Application], Awaitable[str | None]]
READINESS_CHECKS: web.AppKey[list[ReadinessCheck]] = web.AppKey("readiness_checks", list)
SHUTTING_DOWN: web.AppKey[asyncio.Event] = web.AppKey("shutting_down", asyncio.Event)
MIGRATION_TARGET: web.AppKey[tuple[str, str]] = web.AppKey("migration_target", tuple)
OPENAPI: web.AppKey[dict] = web.AppKey("openapi", dict)

ops_api = Api("ops")
HEALTH_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
}


async def database_reachable(app: web.Application) -> str | None:
    """Fails when PostgreSQL cannot answer ``SELECT 1`` within two seconds."""
    try:
        async with asyncio.timeout(2):
            async with app[POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:  # any failure means not ready
        return f"database unreachable: {type(exc).__name__}"
    return None


async def migrations_applied(app: web.Application) -> str | None:
    """Fails while this service's schema lacks a shipped migration or SQL file."""
    service, schema = app[MIGRATION_TARGET]
    try:
        async with asyncio.timeout(2):
            async with app[POOL].acquire() as conn:
                todo = await migrations.pending(conn, service, schema)
                missing = await migrations.missing_sql(conn, service, schema)
    except Exception as exc:
        return f"cannot read migrations: {type(exc).__name__}"
    if todo:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
        return f"pending migrations: {names}"
    if missing:
        return f"repeatable SQL never applied: {', '.join(f.name for f in missing)}"
    return None


@ops_api.get("/healthz", summary="Liveness: the process is serving", response=HEALTH_SCHEMA)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@ops_api.get(
    "/readyz",
    summary="Readiness: database reachable, migrations applied, dependencies up",
    response=HEALTH_SCHEMA,
    errors=(503,),
)
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    if app[SHUTTING_DOWN].is_set():
        return json_response({"status": "shutting down", "checks": {}}, status=503)
    checks = app[READINESS_CHECKS]
    results = await asyncio.gather(*(check(app) for check in checks))
    report = {
        check.__name__: (failure or "ok") for check, failure in zip(checks, results, strict=True)
    }
    ready = not any(results)
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": report},
        status=200 if ready else 503,
    )


@ops_api.get(
    "/metrics",
    summary="Prometheus metrics in the text exposition format",
    response={"type": "string"},
    response_content_type="text/plain",
)
async def metrics(request: web.Request) -> web.Response:
    return await metrics_handler(request)


@ops_api.get(
    "/openapi.json", summary="This service's OpenAPI 3.1 document", response={"type": "object"}
)
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])
