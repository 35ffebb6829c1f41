"""Database trouble as a clear, retryable 503 in every service, never a 500.

A lost connection, a server shutting down or restarting, a socket that is gone (the
embedded server's Unix socket while it is down), an exhausted pool or a statement
timeout leave a request either fully applied or not at all: each write is one
transaction. So the client is told to retry (``Retry-After``), and the service recovers
by itself: asyncpg's pool opens fresh connections once the server is back.

``core.middleware.problem_errors`` applies this in every app that sets
``DATABASE_BACKED`` (each service; the gateway has no database).
"""

from __future__ import annotations

import asyncpg

from evently.core.errors import ServiceUnavailable

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
