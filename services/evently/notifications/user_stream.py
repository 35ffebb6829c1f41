"""Each user's notification stream: ``GET /api/v1/notifications/stream`` (server-sent events).

* **Stored, then announced.** An inbox handler records a notification
  (``record_notification``) in ``notifications.user_notifications`` inside the
  transaction applying its message, and NOTIFYs ``notifications_stream`` with its id and
  user; PostgreSQL delivers the NOTIFY only if that transaction commits.
* **Any replica serves any user.** Each process keeps one LISTEN connection
  (``UserStreamHub``); a NOTIFY wakes that user's open streams in every replica, and
  each stream then reads what is new from the table. So nothing depends on which replica
  applied the message, and a stream that missed a NOTIFY (a LISTEN reconnect wakes every
  stream) still reads it.
* **Resumable.** Each SSE event's id is the notification's id; a client reconnecting with
  ``Last-Event-ID`` gets what it missed (notifications are kept a day).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
from aiohttp import web

from evently.core.db import dumps, init_connection
from evently.core.disconnects import DISCONNECTS
from evently.core.errors import ServiceUnavailable
from evently.core.middleware import add_response_headers
from evently.core.tasks import reconnect_forever, wait_at_most
from evently.notifications import queries
from evently.notifications.metrics import STREAM_SUBSCRIBERS

log = logging.getLogger("evently.notifications.stream")

CHANNEL = "notifications_stream"
LISTENER_NAME = "evently-notifications-stream"
REPLAY_LIMIT = 500


async def record_notification(
    conn: asyncpg.Connection, user_id: int, type_: str, payload: Mapping[str, Any]
) -> None:
    """Store one notification for ``user_id`` and announce it when the transaction commits."""
    await conn.execute(queries.RECORD_NOTIFICATION, user_id, type_, dict(payload))


class UserStreamHub:
    """This process's LISTEN connection, waking the open streams of the notified user."""

    def __init__(self, dsn: str, max_subscribers: int) -> None:
        self.dsn = dsn
        self.max_subscribers = max_subscribers
        self._streams: dict[int, set[asyncio.Event]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def subscribe(self, user_id: int) -> asyncio.Event:
        """An event set whenever ``user_id`` may have something new."""
        if self._count >= self.max_subscribers:
            raise ServiceUnavailable(
                "Too many notification streams are open here; retry shortly.",
                code="too_many_streams",
                headers={"Retry-After": "5"},
            )
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="notifications-listen")
        wake = asyncio.Event()
        self._streams.setdefault(user_id, set()).add(wake)
        self._count += 1
        STREAM_SUBSCRIBERS.inc()
        return wake

    def unsubscribe(self, user_id: int, wake: asyncio.Event) -> None:
        streams = self._streams.get(user_id)
        if streams is None or wake not in streams:
            return
        streams.discard(wake)
        if not streams:
            del self._streams[user_id]
        self._count -= 1
        STREAM_SUBSCRIBERS.dec()

    def wake(self, user_id: int) -> None:
        for wake in self._streams.get(user_id, ()):
            wake.set()

    def _wake_all(self) -> None:
        for streams in self._streams.values():
            for wake in streams:
                wake.set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.wake(int(json.loads(payload)["user_id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed stream notification %r", payload[:200])

    async def _listen_forever(self) -> None:
        await reconnect_forever(self._listen_once, "notifications LISTEN", self.listening.clear)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": LISTENER_NAME})
        try:
            await init_connection(conn)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            self._wake_all()  # whatever was recorded while nobody listened
            while not conn.is_closed():
                await wait_at_most(lost, 5.0)
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def sse_event(row: asyncpg.Record) -> bytes:
    """One notification as an SSE event: its id, its type, and ``{type, at, data}``."""
    body = dumps({"type": row["type"], "at": row["created_at"].isoformat(), "data": row["payload"]})
    return f"id: {row['id']}\nevent: {row['type']}\ndata: {body}\n\n".encode()


def last_event_id(request: web.Request) -> int | None:
    """The ``Last-Event-ID`` a reconnecting client sends, if it is a notification id."""
    value = request.headers.get("Last-Event-ID", "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


async def stream_notifications(
    request: web.Request,
    pool: asyncpg.Pool,
    hub: UserStreamHub,
    user_id: int,
    heartbeat_s: float,
    stop: asyncio.Event,
) -> web.StreamResponse:
    """Serve one user's stream: what they missed (``Last-Event-ID``), then what comes."""
    wake = hub.subscribe(user_id)  # before reading the position, so nothing slips between
    disconnects = request.app[DISCONNECTS]
    gone = disconnects.watch(request)
    try:
        after = last_event_id(request)
        if after is None:
            after = await pool.fetchval(queries.LATEST_NOTIFICATION_ID, user_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        add_response_headers(request, response)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while not stop.is_set() and not gone.is_set():
            wake.clear()
            rows = await pool.fetch(queries.NOTIFICATIONS_AFTER, user_id, after, REPLAY_LIMIT)
            for row in rows:
                await response.write(sse_event(row))
                after = row["id"]
            if len(rows) == REPLAY_LIMIT:
                continue
            if not await _wait_any(heartbeat_s, wake, stop, gone):
                await response.write(b": heartbeat\n\n")
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        hub.unsubscribe(user_id, wake)
    return response


async def _wait_any(timeout_s: float, *events: asyncio.Event) -> bool:
    """Wait until one of ``events`` is set, at most ``timeout_s``; whether one is."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return any(event.is_set() for event in events)
