"""Background tasks that live and die with the aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

log = logging.getLogger("evently.tasks")


def background_task(
    name: str, run: Callable[[web.Application], Awaitable[None]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that runs ``run(app)`` after start-up and cancels it at shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_guarded(name, run, app), name=name)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx


async def _guarded(
    name: str, run: Callable[[web.Application], Awaitable[None]], app: web.Application
) -> None:
    try:
        await run(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s crashed", name)
        raise


async def every(interval_s: float, step: Callable[[], Awaitable[object]], name: str) -> None:
    """Call ``step`` forever, ``interval_s`` apart; a failing step is logged, not fatal."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic task %s failed; retrying in %.1fs", name, interval_s)
        await asyncio.sleep(interval_s)
