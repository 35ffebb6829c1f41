"""Database trouble as a clear, retryable 503 instead of a 500.

A lost connection, a server shutting down or a statement timeout leaves a booking
request either fully applied or not at all (each write is one transaction), and every
write is safe to retry: a hold carries its Idempotency-Key, confirm and cancel answer a
repeat with the booking. So the client is told to retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from evently.core.errors import ServiceUnavailable

RETRYABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    ConnectionError,
    TimeoutError,
)


@web.middleware
async def database_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except RETRYABLE as exc:
        raise ServiceUnavailable(
            "The bookings database is unavailable or busy; nothing was lost. Retry shortly.",
            code="database_unavailable",
            headers={"Retry-After": "1"},
        ) from exc
