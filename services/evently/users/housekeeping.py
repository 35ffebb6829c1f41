"""Periodic purge of rows nobody needs any more (every replica runs it; it is idempotent)."""

from __future__ import annotations

from aiohttp import web

from evently.core.app import SETTINGS
from evently.core.db import POOL
from evently.core.tasks import every
from evently.users import queries
from evently.users.rate_limit import purge_ended_windows
from evently.users.refresh import purge_expired


async def run_housekeeping(app: web.Application) -> None:
    """Delete long-expired refresh and account tokens and ended throttle windows, forever."""
    pool = app[POOL]

    async def purge() -> None:
        await purge_expired(pool)
        await purge_ended_windows(pool)
        await pool.execute(queries.PURGE_OLD_ACCOUNT_TOKENS)

    await every(app[SETTINGS].housekeeping_interval_s, purge, "users-housekeeping")
