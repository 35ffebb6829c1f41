"""Live availability over server-sent events: ``GET /api/v1/events/{id}/availability/stream``.

* **One LISTEN connection per process.** ``AvailabilityHub`` listens on the
  ``bookings_availability`` channel (the inventory publisher NOTIFYs every published
  state) and fans each state out to that event's subscribers. It starts with the first
  subscriber, reconnects with backoff, and after a reconnect re-reads the state of every
  watched event so nothing missed stays missing.
* **Serialised once per change.** A published state becomes one ``Frame``: the SSE
  message's bytes, and the same bytes framed as an HTTP/1.1 chunk, built once and
  written as they are to every subscriber's socket.
* **One fan-out pass per change, no task per subscriber per change.** The hub's fan-out
  task writes each frame straight to the subscribers' transports, in slices (yielding
  to the event loop between them), in the order the changes were published. A stream's
  own handler wakes only for its heartbeat, a slow client, a disconnect or shutdown.
* **Coalesced per event for a slow subscriber only.** A subscriber whose connection
  still has ``SLOW_BUFFER_BYTES`` unsent (hundreds of messages behind, beyond what the
  kernel buffers) gets no more writes: it keeps one pending frame, always the event's
  newest state, which its handler writes once the connection drains (skipped states are
  counted in ``evently_bookings_availability_updates_skipped_total``). Every subscriber
  whose connection keeps up gets every published state, in order; none ever gets an
  older state after a newer one, and every one ends on the newest.
* **Resources are freed on disconnect**: the app's ``DisconnectWatch``
  (``core/disconnects.py``) notices a closed connection within about a second, not at
  the next heartbeat, and the stream unsubscribes; at shutdown every stream ends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
# Unsent bytes beyond which a subscriber is slow (asyncio's own high-water mark).
SLOW_BUFFER_BYTES = 64 * 1024
# Subscribers written per slice of a fan-out pass before yielding to the event loop.
FANOUT_SLICE = 500
# Newest frame of recently changed events, for streams opening while a change passes.
LATEST_KEPT = 4096
HEARTBEAT = b": heartbeat\n\n"


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (RFC 9112 section 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class Frame:
    """One published state, encoded once: the SSE message and the same as a chunk."""

    __slots__ = ("chunked", "event_id", "plain", "version")

    def __init__(self, event_id: int, version: int, state_json: str) -> None:
        self.event_id = event_id
        self.version = version
        self.plain = f"id: {version}\nevent: availability\ndata: {state_json}\n\n".encode()
        self.chunked = chunk(self.plain)

    @classmethod
    def of(cls, state: AvailabilityOut | InventoryChanged) -> Frame:
        json_text = state.model_dump_json(exclude={"schema_version"})
        return cls(state.event_id, state.version, json_text)


class Subscriber:
    """One open stream of one event: its connection, the version it was last sent, and
    at most one pending frame (the newest) while the connection is backed up."""

    __slots__ = ("_transport", "_waiter", "chunked", "ended", "event_id", "pending", "version")

    def __init__(
        self, event_id: int, transport: asyncio.BaseTransport | None, chunked: bool
    ) -> None:
        self.event_id = event_id
        self._transport = transport
        self.chunked = chunked
        self.version = -1
        self.pending: Frame | None = None
        self.ended = False
        self._waiter: asyncio.Future[None] | None = None

    def attach(self, transport: asyncio.BaseTransport | None) -> None:
        """Start writing to ``transport`` (once the response's headers are out)."""
        self._transport = transport

    def push(self, frame: Frame) -> None:
        """Write ``frame`` now, or keep it as the pending one if the connection is backed
        up (replacing an older pending frame). Never blocks."""
        if frame.version <= self.version:
            return
        if self.pending is not None:
            if frame.version > self.pending.version:
                STREAM_SKIPPED.inc()
                self.pending = frame
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # not attached yet, or the disconnect watch is ending this stream
        if transport.get_write_buffer_size() >= SLOW_BUFFER_BYTES:  # type: ignore[attr-defined]
            self.pending = frame
            self._wake()
            return
        self._write(frame)

    def flush_pending(self) -> None:
        """Write the pending frame (the handler calls this once the connection drained)."""
        frame, self.pending = self.pending, None
        if frame is not None and frame.version > self.version:
            self._write(frame)

    def write_raw(self, data: bytes) -> None:
        """Write a body fragment that is not a state (a heartbeat)."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(chunk(data) if self.chunked else data)  # type: ignore[attr-defined]

    def end(self) -> None:
        """End the stream (client gone, shutdown): its handler returns."""
        self.ended = True
        self._wake()

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a pending frame or the end, at most ``timeout_s``; False on timeout."""
        if self.pending is not None or self.ended:
            return True
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout_s):
                await self._waiter
        except TimeoutError:
            return False
        finally:
            self._waiter = None
        return True

    def _write(self, frame: Frame) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame.chunked if self.chunked else frame.plain)  # type: ignore[attr-defined]
        self.version = frame.version

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class AvailabilityHub:
    """This process's single LISTEN connection, fanning states out to subscribers."""

    def __init__(self, dsn: str, max_subscribers: int) -> None:
        self.dsn = dsn
        self.max_subscribers = max_subscribers
        self._subscribers: dict[int, set[Subscriber]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._fanout_task: asyncio.Task[None] | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        self._queue: collections.deque[Frame] = collections.deque()
        self._queued = asyncio.Event()
        self._latest: dict[int, Frame] = {}
        self.listening = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return self._count

    def subscribe(
        self, event_id: int, transport: asyncio.BaseTransport | None = None, chunked: bool = True
    ) -> Subscriber:
        if self._count >= self.max_subscribers:
            raise ServiceUnavailable(
                "Too many availability streams are open here; retry shortly.",
                code="too_many_streams",
                headers={"Retry-After": "5"},
            )
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="availability-listen")
            self._fanout_task = asyncio.create_task(self._fan_out(), name="availability-fanout")
        subscriber = Subscriber(event_id, transport, chunked)
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

    def latest(self, event_id: int) -> Frame | None:
        """The newest frame this hub has seen for ``event_id`` recently, if any."""
        return self._latest.get(event_id)

    def publish(self, frame: Frame) -> None:
        """Queue one published state for the fan-out (in publication order)."""
        known = self._latest.pop(frame.event_id, None)
        newer = known is None or frame.version > known.version
        self._latest[frame.event_id] = frame if newer else known  # type: ignore[assignment]
        if len(self._latest) > LATEST_KEPT:
            del self._latest[next(iter(self._latest))]
        if frame.event_id in self._subscribers:
            self._queue.append(frame)
            self._queued.set()

    def deliver_now(self, frame: Frame) -> None:
        """Write ``frame`` to every subscriber of its event in one pass (the fan-out's
        step; tests call it directly)."""
        for subscriber in list(self._subscribers.get(frame.event_id, ())):
            subscriber.push(frame)

    async def _fan_out(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                frame = self._queue.popleft()
                subscribers = list(self._subscribers.get(frame.event_id, ()))
                for start in range(0, len(subscribers), FANOUT_SLICE):
                    if start:
                        await asyncio.sleep(0)  # let requests in between slices
                    for subscriber in subscribers[start : start + FANOUT_SLICE]:
                        subscriber.push(frame)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """A published inventory state (``bookings.publish_locked``), encoded once."""
        try:
            state = InventoryChanged.model_validate_json(payload)
        except ValueError:
            log.warning("ignoring malformed availability notification %r", payload[:200])
            return
        self.publish(Frame.of(state))

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
                    self.publish(Frame.of(AvailabilityOut.from_row(row)))
            while not conn.is_closed():
                await wait_at_most(lost, 5.0)
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def end_all_on(self, stop: asyncio.Event) -> None:
        """End every open stream once ``stop`` (the app's shutdown) is set: one task for
        the whole hub rather than one per stream."""
        if self._shutdown_task is None:

            async def end_all() -> None:
                await stop.wait()
                self.end_all()

            self._shutdown_task = asyncio.create_task(end_all(), name="availability-shutdown")

    def end_all(self) -> None:
        """End every open stream."""
        for watchers in self._subscribers.values():
            for subscriber in watchers:
                subscriber.end()

    async def close(self) -> None:
        self.end_all()
        for task in (self._task, self._fanout_task, self._shutdown_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._fanout_task = self._shutdown_task = None


async def stream_availability(
    request: web.Request,
    hub: AvailabilityHub,
    initial: AvailabilityOut,
    heartbeat_s: float,
    stop: asyncio.Event,
) -> web.StreamResponse:
    """Serve one stream: the current state, then every published change, until closed."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    chunked = request.version >= (1, 1)
    if chunked:
        response.enable_chunked_encoding()  # explicit: the hub writes chunks itself
    # Subscribed (and counted) before the headers go out, but written to only after:
    # nothing may reach the connection before them.
    subscriber = hub.subscribe(initial.event_id, None, chunked)
    hub.end_all_on(stop)
    disconnects = request.app[DISCONNECTS]
    disconnects.watch(request, on_gone=subscriber.end)
    try:
        add_response_headers(request, response)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        subscriber.attach(request.transport)
        # The newest state: read before subscribing, or one published since (the hub
        # keeps each event's newest, and nothing was written to this stream before).
        newest = hub.latest(initial.event_id)
        if newest is None or newest.version < initial.version:
            newest = Frame.of(initial)
        subscriber.push(newest)
        while not subscriber.ended and not stop.is_set():
            if not await subscriber.wait(heartbeat_s):
                subscriber.write_raw(HEARTBEAT)
            elif subscriber.pending is not None:
                await request.writer.drain()  # a slow client: write once it drained
                subscriber.flush_pending()
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        hub.unsubscribe(subscriber)
    return response
