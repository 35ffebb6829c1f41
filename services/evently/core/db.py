"""asyncpg pools opened and closed with the aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from evently.core.settings import CommonSettings

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
# Connections only the inbox uses (``DB_INBOX_POOL_MAX``); absent when it is 0.
INBOX_POOL: web.AppKey[asyncpg.Pool] = web.AppKey("inbox_pool", asyncpg.Pool)
log = logging.getLogger("evently.db")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """JSON encoding used for jsonb columns (Decimals become strings, never floats)."""
    return json.dumps(value, default=_json_default)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb columns to Python values on every pooled connection."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=dumps, decoder=json.loads, schema="pg_catalog")


# Connections a service opens outside its pools: its outbox relay's (which holds the
# relay's advisory lock) and its LISTEN connection (live streams), at most one each.
DEDICATED_CONNECTIONS = 2


def connections_needed(settings: CommonSettings) -> int:
    """The most connections one service process may hold at once: both pools full, and
    its dedicated connections."""
    return settings.db_pool_max + settings.db_inbox_pool_max + DEDICATED_CONNECTIONS


async def create_pool(
    settings: CommonSettings, application_name: str, **overrides: Any
) -> asyncpg.Pool:
    """Open a pool with bounded statement, idle-transaction and command timeouts."""
    options: dict[str, Any] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "command_timeout": settings.db_command_timeout_s,
        "max_inactive_connection_lifetime": 300,
        "init": init_connection,
        "server_settings": {
            "application_name": application_name,
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": "30000",
        },
    }
    options.update(overrides)
    return await asyncpg.create_pool(settings.database_url, **options)


async def keep_session_state(conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that skips asyncpg's reset query (a round trip per release).

    Only for services whose code never leaves session state behind on a pooled
    connection (no session SET, LISTEN, session advisory locks or open cursors);
    an open transaction is still rolled back by asyncpg itself.
    """


def pool_context(
    settings: CommonSettings, application_name: str, **overrides: Any
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that opens ``app[POOL]`` (and, unless ``DB_INBOX_POOL_MAX`` is 0,
    ``app[INBOX_POOL]``) at start-up and closes them at shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings, application_name, **overrides)
        app[POOL] = pool
        inbox = None
        try:
            if settings.db_inbox_pool_max > 0:
                # Opened lazily (min 0): most replicas of a consumer see few deliveries.
                inbox = await create_pool(
                    settings,
                    f"{application_name}-inbox",
                    **{**overrides, "min_size": 0, "max_size": settings.db_inbox_pool_max},
                )
                app[INBOX_POOL] = inbox
            yield
        finally:
            if inbox is not None:
                await close_pool(inbox, settings.db_pool_close_timeout_s)
            await close_pool(pool, settings.db_pool_close_timeout_s)

    return ctx


def inbox_pool(app: web.Application) -> asyncpg.Pool:
    """The pool outbox deliveries use: the inbox's own, or the request pool without one."""
    return app.get(INBOX_POOL) or app[POOL]


async def close_pool(pool: asyncpg.Pool, timeout_s: float) -> None:
    """Close ``pool`` gracefully, or cut its connections after ``timeout_s``.

    asyncpg's ``close()`` waits for every acquired connection to come back, with no
    bound: one connection never released would hang the shutdown past the pod's grace
    period.
    """
    closing = asyncio.ensure_future(pool.close())
    done, _ = await asyncio.wait({closing}, timeout=timeout_s)
    if done:
        closing.result()
        return
    in_use = pool.get_size() - pool.get_idle_size()
    closing.cancel()  # a cancelled close() terminates the pool
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    pool.terminate()
    log.warning(
        "pool not closed within %.1fs (%d connection(s) still in use): terminated",
        timeout_s,
        in_use,
    )
