"""Database trouble as a clear, retryable 503 in every service, never a 500.

A lost connection, a server shutting down or restarting, a socket that is gone (the
embedded server's Unix socket while it is down), an exhausted pool or a statement
timeout leave a request either fully applied or not at all: each write is one
transaction. So the client is told to retry (``Retry-After``), and the service recovers
by itself: asyncpg's pool opens fresh connections once the server is back.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from evently.core.errors import ServiceUnavailable
from evently.core.middleware import SERVICE_NAME, Handler

RETRYABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    # The server is unreachable: refused, reset, or its Unix socket missing.
    ConnectionError,
    FileNotFoundError,
    TimeoutError,
)
RETRY_AFTER_S = "1"


def database_unavailable(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The {service} database is unavailable or busy; nothing was lost. Retry shortly.",
        code="database_unavailable",
        headers={"Retry-After": RETRY_AFTER_S},
    )


@web.middleware
async def database_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn a database outage during a request into 503 ``database_unavailable``."""
    try:
        return await handler(request)
    except RETRYABLE as exc:
        raise database_unavailable(request.app[SERVICE_NAME]) from exc
