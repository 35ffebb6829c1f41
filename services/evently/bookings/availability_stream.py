"""Live availability over server-sent events: ``GET /api/v1/events/{id}/availability/stream``.

* **One LISTEN connection per process.** ``AvailabilityHub`` listens on the
  ``bookings_availability`` channel (the inventory publisher NOTIFYs every published
  state) and fans each state out to that event's subscribers. It starts with the first
  subscriber, reconnects with backoff, and after a reconnect re-reads the state of every
  watched event so nothing missed stays missing.
* **A slow subscriber cannot stall the others.** Each subscriber has a one-slot mailbox
  that always holds the newest state: the hub never waits for a subscriber, and one that
  falls behind skips straight to the latest state (counted in
  ``evently_bookings_availability_updates_skipped_total``).
* **Resources are freed on disconnect**: the app's ``DisconnectWatch``
  (``core/disconnects.py``) notices a closed connection within about a second, not at
  the next heartbeat, and the stream unsubscribes; at shutdown every stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg
from aiohttp import web

from evently.bookings import queries
from evently.bookings.metrics import STREAM_SKIPPED, STREAM_SUBSCRIBERS
from evently.bookings.models import AvailabilityOut
from evently.core.contracts import InventoryChanged
from evently.core.db import init_connection
from evently.core.disconnects import DISCONNECTS
from evently.core.errors import ServiceUnavailable
from evently.core.middleware import add_response_headers
from evently.core.tasks import reconnect_forever, wait_at_most

log = logging.getLogger("evently.bookings.availability_stream")

CHANNEL = "bookings_availability"
LISTENER_NAME = "evently-bookings-availability"


class Subscriber:
    """One open stream of one event: a one-slot mailbox holding the newest state."""

    def __init__(self, event_id: int) -> None:
        self.event_id = event_id
        self._latest: str | None = None
        self._version = -1
        self._ready = asyncio.Event()

    def offer(self, version: int, state: str) -> None:
        """Replace the pending state with a newer one (never blocks)."""
        if version <= self._version:
            return
        if self._latest is not None:
            STREAM_SKIPPED.inc()
        self._latest = state
        self._version = version
        self._ready.set()

    async def next_state(self, timeout_s: float, *interrupts: asyncio.Event) -> str | None:
        """The newest state not yet taken, or None after ``timeout_s`` or once any of
        ``interrupts`` (shutdown, the client leaving) is set."""
        if self._latest is None and not any(event.is_set() for event in interrupts):
            waiters = [
                asyncio.ensure_future(self._ready.wait()),
                *(asyncio.ensure_future(event.wait()) for event in interrupts),
            ]
            try:
                await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        state, self._latest = self._latest, None
        self._ready.clear()
        return state


class AvailabilityHub:
    """This process's single LISTEN connection, fanning states out to subscribers."""

    def __init__(self, dsn: str, max_subscribers: int) -> None:
        self.dsn = dsn
        self.max_subscribers = max_subscribers
        self._subscribers: dict[int, set[Subscriber]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return self._count

    def subscribe(self, event_id: int) -> Subscriber:
        if self._count >= self.max_subscribers:
            raise ServiceUnavailable(
                "Too many availability streams are open here; retry shortly.",
                code="too_many_streams",
                headers={"Retry-After": "5"},
            )
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="availability-listen")
        subscriber = Subscriber(event_id)
        self._subscribers.setdefault(event_id, set()).add(subscriber)
        self._count += 1
        STREAM_SUBSCRIBERS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        watchers = self._subscribers.get(subscriber.event_id)
        if watchers is None or subscriber not in watchers:
            return
        watchers.discard(subscriber)
        if not watchers:
            del self._subscribers[subscriber.event_id]
        self._count -= 1
        STREAM_SUBSCRIBERS.dec()

    def deliver(self, state: str) -> None:
        """Hand one published state (JSON text) to the event's subscribers."""
        try:
            data = json.loads(state)
            event_id, version = int(data["event_id"]), int(data["version"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed availability notification %r", state[:200])
            return
        for subscriber in self._subscribers.get(event_id, ()):
            subscriber.offer(version, state)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """A published inventory state (``bookings.publish_locked``), rendered once."""
        try:
            state = InventoryChanged.model_validate_json(payload)
        except ValueError:
            log.warning("ignoring malformed availability notification %r", payload[:200])
            return
        self.deliver(state.model_dump_json(exclude={"schema_version"}))

    async def _listen_forever(self) -> None:
        await reconnect_forever(self._listen_once, "availability LISTEN", self.listening.clear)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": LISTENER_NAME})
        try:
            await init_connection(conn)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            # States published while we were not listening: read them now.
            for event_id in list(self._subscribers):
                row = await conn.fetchrow(queries.AVAILABILITY, event_id)
                if row is not None:
                    self.deliver(AvailabilityOut.from_row(row).model_dump_json())
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


def sse_message(state: str) -> bytes:
    """One ``availability`` event; its id is the inventory version."""
    version = json.loads(state).get("version", 0)
    return f"id: {version}\nevent: availability\ndata: {state}\n\n".encode()


async def stream_availability(
    request: web.Request,
    hub: AvailabilityHub,
    initial_state: str,
    event_id: int,
    heartbeat_s: float,
    stop: asyncio.Event,
) -> web.StreamResponse:
    """Serve one stream: the current state, then every published change, until closed."""
    subscriber = hub.subscribe(event_id)
    disconnects = request.app[DISCONNECTS]
    gone = disconnects.watch(request)
    try:
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
        subscriber.offer(int(json.loads(initial_state).get("version", 0)), initial_state)
        while not stop.is_set() and not gone.is_set():
            state = await subscriber.next_state(heartbeat_s, stop, gone)
            if gone.is_set():
                break
            await response.write(sse_message(state) if state is not None else b": heartbeat\n\n")
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        hub.unsubscribe(subscriber)
    return response
