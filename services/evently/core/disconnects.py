"""Noticing, within about a second, that the client of a long-lived response has gone.

aiohttp tells a handler that its client left only when a write fails, so an event
stream would hold its subscription (and the gateway its upstream connection) until the
next heartbeat. One watcher per application checks every watched request's transport
once per ``interval_s`` and sets that request's event when the connection is gone: one
cheap pass for thousands of streams, instead of a timer per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

DISCONNECT_CHECK_S = 1.0


def connection_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed or closing."""
    transport = request.transport
    return transport is None or transport.is_closing()


class DisconnectWatch:
    """Sets a request's event once its client has disconnected."""

    def __init__(self, interval_s: float = DISCONNECT_CHECK_S) -> None:
        self.interval_s = interval_s
        # Keyed by id(): requests are mutable mappings, hence unhashable.
        self._watched: dict[
            int, tuple[web.Request, asyncio.Event, Callable[[], object] | None]
        ] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(
        self, request: web.Request, on_gone: Callable[[], object] | None = None
    ) -> asyncio.Event:
        """An event set (and ``on_gone`` called) when ``request``'s client disconnects;
        call :meth:`unwatch` after. A callback spares a stream a task waiting on the event."""
        gone = asyncio.Event()
        self._watched[id(request)] = (request, gone, on_gone)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sweep(), name="disconnect-watch")
        return gone

    def unwatch(self, request: web.Request) -> None:
        self._watched.pop(id(request), None)

    async def _sweep(self) -> None:
        while self._watched:
            await asyncio.sleep(self.interval_s)
            for key, (request, gone, on_gone) in list(self._watched.items()):
                if connection_gone(request):
                    gone.set()
                    self._watched.pop(key, None)
                    if on_gone is not None:
                        on_gone()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


DISCONNECTS: web.AppKey[DisconnectWatch] = web.AppKey("disconnects", DisconnectWatch)


async def disconnect_watch_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` giving the app its :class:`DisconnectWatch`."""
    app[DISCONNECTS] = DisconnectWatch()
    yield
    await app[DISCONNECTS].close()
