"""An event loop of its own for a service's inbox, on a thread of its own.

A service whose event loop is saturated by its visitors (the waiting room in a flash
sale: thousands of joins and status streams) answers everything late, and an outbox
delivery is a request like any other: each of the inbox transaction's round trips
(acquire, begin, the inbox insert, the handlers, commit) waited for a turn of that loop,
and so did the answer the relay waits for before it sends the next batch. The room heard
of its event's sell-out seconds late. With an ``InboxLoop`` the request handler only
hands the parsed batch over: the transaction runs on this thread's loop, with a pool
of its own (``DB_INBOX_POOL_MAX`` connections), and costs the busy loop one turn to
wake the handler when it is done.

Handlers must only use the connection they are given (they run on this loop, not the
app's). ``core/inbox.py`` uses the loop when the app has one (``INBOX_LOOP``). Other
background database work whose transactions lock what the inbox needs may run there too
(the waiting room's ticker): it then commits promptly as well.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiohttp import web

from evently.core.db import close_pool, create_pool
from evently.core.settings import CommonSettings

T = TypeVar("T")


class InboxLoop:
    """A thread running an event loop and an asyncpg pool; ``run`` executes there."""

    def __init__(self, settings: CommonSettings, application_name: str) -> None:
        self.settings = settings
        self.application_name = application_name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name=f"{application_name}-inbox", daemon=True
        )
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        """Start the thread and open the pool on its loop (lazily: min 0 connections)."""
        self._thread.start()
        self.pool = await self._there(
            create_pool(
                self.settings,
                f"{self.application_name}-inbox",
                min_size=0,
                max_size=self.settings.db_inbox_pool_max,
            )
        )

    @property
    def thread_ident(self) -> int | None:
        """The thread the work runs on (None before ``start``)."""
        return self._thread.ident

    async def run(self, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """``work(pool)`` on this loop; its result (or exception) on the caller's."""
        assert self.pool is not None, "InboxLoop.start first"
        return await self._there(work(self.pool))

    async def stop(self) -> None:
        """Close the pool (bounded, ``close_pool``), then end the loop and its thread."""
        try:
            if self.pool is not None:
                await self._there(close_pool(self.pool, self.settings.db_pool_close_timeout_s))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self._thread.join, 10)
            if not self._thread.is_alive():
                self.loop.close()

    async def _there(self, coroutine: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return await asyncio.wrap_future(future)


INBOX_LOOP: web.AppKey[InboxLoop] = web.AppKey("inbox_loop", InboxLoop)


def inbox_loop_context(
    settings: CommonSettings, application_name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` giving the app an ``InboxLoop`` (none with
    ``DB_INBOX_POOL_MAX=0``: deliveries then share the request pool, on the app's loop)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.db_inbox_pool_max <= 0:
            yield
            return
        inbox = InboxLoop(settings, application_name)
        await inbox.start()
        app[INBOX_LOOP] = inbox
        try:
            yield
        finally:
            await inbox.stop()

    return ctx
