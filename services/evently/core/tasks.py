"""Background tasks that live and die with the aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

log = logging.getLogger("evently.tasks")


STOP_TIMEOUT_S = 5.0


def background_task(
    name: str,
    run: Callable[[web.Application], Awaitable[None]],
    stop_timeout_s: float = STOP_TIMEOUT_S,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that runs ``run(app)`` after start-up and cancels it at shutdown.

    A task that has not stopped ``stop_timeout_s`` after its cancellation is logged and
    left behind, so that one stuck loop cannot hang the shutdown (and a pod's drain).
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_guarded(name, run, app), name=name)
        try:
            yield
        finally:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=stop_timeout_s)
            if not done:
                log.error(
                    "background task %s did not stop within %.1fs of its cancellation",
                    name,
                    stop_timeout_s,
                )
            elif not task.cancelled():
                task.result()  # a crash (already logged by _guarded) surfaces here

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


def call_when_set(
    event: asyncio.Event, callback: Callable[[], object], name: str
) -> asyncio.Task[None]:
    """One task that calls ``callback`` once ``event`` is set (a stream hub ending every
    open stream at the app's shutdown, say); cancel it to stop waiting."""

    async def wait_then_call() -> None:
        await event.wait()
        callback()

    return asyncio.create_task(wait_then_call(), name=name)


async def wait_at_most(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait for ``event``, at most ``timeout_s``; returns whether it is set.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives as
    the awaited event is set (CPython gh-86296), so a loop around it never stops and the
    service hangs at shutdown. ``asyncio.timeout`` lets the cancellation through.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
    return event.is_set()


async def reconnect_forever(
    connection_life: Callable[[], Awaitable[object]],
    name: str,
    on_lost: Callable[[], object],
    max_backoff_s: float = 10.0,
) -> None:
    """Run ``connection_life`` (one connection, from connect to loss) forever: after it
    ends or fails, call ``on_lost`` and reconnect, backing off from 0.5 s up to
    ``max_backoff_s`` while it keeps failing. Used by the LISTEN connections."""
    backoff_s = 0.5
    while True:
        try:
            await connection_life()
            backoff_s = 0.5
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s connection failed (%s); reconnecting", name, exc)
        on_lost()
        await asyncio.sleep(backoff_s)
        backoff_s = min(backoff_s * 2, max_backoff_s)
