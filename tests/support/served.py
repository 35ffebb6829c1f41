"""Serve apps the way production does (``serve_apps``), not the way aiohttp's test server does.

aiohttp's test server cancels a handler as soon as its client disconnects
(``handler_cancellation=True``); production servers don't, which is what matters for
long-lived responses such as event streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from evently.core.app import bind_socket, serve_apps


@contextlib.asynccontextmanager
async def served(*apps: web.Application) -> AsyncIterator[list[str]]:
    """Serve ``apps`` on free 127.0.0.1 ports; yields their base URLs, stops them after."""
    sockets = [bind_socket("127.0.0.1", 0) for _ in apps]
    urls = [f"http://127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_apps(list(zip(apps, sockets, strict=True)), 5.0, started.set, stop)
    )
    waiting = asyncio.ensure_future(started.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()
    try:
        yield urls
    finally:
        stop.set()
        await task
