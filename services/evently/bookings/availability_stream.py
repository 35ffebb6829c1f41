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
* **Seated events: a snapshot, then diffs.** A seated event's NOTIFY carries the seats
  whose status changed since the previous version (``bookings.publish_seat_changes``).
  The hub keeps one ``SeatBoard`` per watched seated event (the seats as of a version,
  read once, then kept by applying each diff in version order; versions are
  consecutive, so a gap is seen and the board is read again). A stream starts with the
  board's snapshot (held, sold, blocked and kept-back seat ids, encoded once per
  version), then
  gets every diff that follows its version; a stream that falls behind (a slow client,
  a gap) gets the board's newest snapshot once it can take it, never a diff it cannot
  apply. docs/seating.md, "Live seat status".
* **Resources are freed on disconnect**: the app's ``DisconnectWatch``
  (``core/disconnects.py``) notices a closed connection within about a second, not at
  the next heartbeat, and the stream unsubscribes; at shutdown every stream ends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

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
from evently.core.tasks import call_when_set, reconnect_forever, wait_at_most

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


FrameKind = Literal["state", "seats", "snapshot"]


class Frame:
    """One published state, encoded once: the SSE message and the same as a chunk.

    ``kind`` is ``state`` for a general-admission event (the whole state), ``seats``
    for a seated event's change (its counts and the seats changed since the previous
    version, ``seats``) and ``snapshot`` for a seated event's seats as of ``version``.
    """

    __slots__ = ("chunked", "event_id", "kind", "plain", "seats", "state", "version")

    def __init__(
        self,
        event_id: int,
        version: int,
        state_json: str,
        kind: FrameKind = "state",
        state: Mapping[str, Any] | None = None,
        seats: Mapping[str, Any] | None = None,
    ) -> None:
        self.event_id = event_id
        self.version = version
        self.kind = kind
        self.state = state
        self.seats = seats
        self.plain = f"id: {version}\nevent: availability\ndata: {state_json}\n\n".encode()
        self.chunked = chunk(self.plain)

    @classmethod
    def of(cls, state: AvailabilityOut | InventoryChanged) -> Frame:
        json_text = state.model_dump_json(exclude={"schema_version"})
        return cls(state.event_id, state.version, json_text)

    @classmethod
    def seat_change(cls, state: Mapping[str, Any], seats: Mapping[str, Any]) -> Frame:
        """A seated event's published change: its counts and the changed seats."""
        return cls(
            state["event_id"],
            state["version"],
            _compact({**state, "seats": seats}),
            "seats",
            state,
            seats,
        )

    @classmethod
    def seat_snapshot(
        cls,
        state: Mapping[str, Any],
        held: Iterable[str],
        sold: Iterable[str],
        blocked: Iterable[str],
        kept_back: Iterable[str] = (),
    ) -> Frame:
        """A seated event's seats as of ``state["version"]``: every seat not listed is free.
        ``kept_back`` (left out when empty): free seats kept back for a channel."""
        seats = {"snapshot": True, "held": list(held), "sold": list(sold), "blocked": list(blocked)}
        if kept := list(kept_back):
            seats["kept_back"] = kept
        return cls(
            state["event_id"], state["version"], _compact({**state, "seats": seats}), "snapshot"
        )

    @property
    def resync(self) -> bool:
        """A change too large for one notification: the seats must be read again."""
        return self.seats is not None and bool(self.seats.get("resync"))


def _compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


class SeatBoard:
    """A seated event's seat status as of one inventory version (held and sold seats;
    any other sellable seat is free, or ``kept_back`` when it has a channel), kept
    current by applying each change in order.

    ``channel_seats`` are the seats with a channel as of the board's reading; a change of
    the channels comes as a resync (``apply_event_changed``), so the board is read again.
    """

    __slots__ = (
        "_snapshot",
        "blocked",
        "channel_seats",
        "event_id",
        "state",
        "taken",
        "version",
    )

    def __init__(
        self,
        state: Mapping[str, Any],
        held: Iterable[str],
        sold: Iterable[str],
        blocked: list[str],
        channel_seats: Iterable[str] = (),
    ) -> None:
        self.event_id: int = state["event_id"]
        self.version: int = state["version"]
        self.state = state
        self.taken = dict.fromkeys(held, "held") | dict.fromkeys(sold, "sold")
        self.blocked = blocked
        self.channel_seats = frozenset(channel_seats)
        self._snapshot: Frame | None = None

    def apply(self, frame: Frame) -> Frame:
        """Apply the change that follows this board's version (``frame.version`` is
        ``version + 1``); returns it as the public sees it (``public``)."""
        seats = frame.seats or {}
        for status in ("held", "sold"):
            for seat_id in seats.get(status, ()):
                self.taken[seat_id] = status
        for seat_id in seats.get("free", ()):
            self.taken.pop(seat_id, None)
        self.version = frame.version
        self.state = frame.state or {**self.state, "version": frame.version}
        self._snapshot = None
        return self.public(frame)

    def public(self, frame: Frame) -> Frame:
        """``frame`` as the public sees it: a seat with a channel that became free is
        ``kept_back``, not ``free`` (re-encoded only when there is such a seat)."""
        seats = frame.seats or {}
        freed = seats.get("free", ())
        if not self.channel_seats or not any(seat in self.channel_seats for seat in freed):
            return frame
        public = {k: v for k, v in seats.items() if k != "free"}
        if free := [seat for seat in freed if seat not in self.channel_seats]:
            public["free"] = free
        public["kept_back"] = [seat for seat in freed if seat in self.channel_seats]
        return Frame.seat_change(frame.state or self.state, public)

    def snapshot(self) -> Frame:
        """This board as a ``snapshot`` frame, encoded once per version."""
        if self._snapshot is None:
            ordered = sorted(self.taken.items())
            self._snapshot = Frame.seat_snapshot(
                self.state,
                [seat for seat, status in ordered if status == "held"],
                [seat for seat, status in ordered if status == "sold"],
                self.blocked,
                sorted(self.channel_seats.difference(self.taken)),
            )
        return self._snapshot


class Subscriber:
    """One open stream of one event: its connection, the version it was last sent, and
    at most one pending frame (the newest) while the connection is backed up.

    A seated event's subscriber (``seated``) is never sent a diff that does not follow
    its version: until it has a snapshot, and whenever it falls behind, it is marked
    ``resync`` and its handler writes the hub's newest snapshot once it can.
    """

    __slots__ = (
        "_transport",
        "_waiter",
        "awaiting_board",
        "chunked",
        "ended",
        "event_id",
        "pending",
        "resync",
        "seated",
        "version",
    )

    def __init__(
        self,
        event_id: int,
        transport: asyncio.BaseTransport | None,
        chunked: bool,
        seated: bool = False,
    ) -> None:
        self.event_id = event_id
        self._transport = transport
        self.chunked = chunked
        self.seated = seated
        self.version = -1
        self.pending: Frame | None = None
        self.resync = seated  # a seated stream starts with a snapshot
        self.awaiting_board = False
        self.ended = False
        self._waiter: asyncio.Future[None] | None = None

    def attach(self, transport: asyncio.BaseTransport | None) -> None:
        """Start writing to ``transport`` (once the response's headers are out)."""
        self._transport = transport

    def push(self, frame: Frame) -> None:
        """Write ``frame`` now, or keep it as the pending one if the connection is backed
        up (replacing an older pending frame). Never blocks."""
        if self.seated:
            self._push_seats(frame)
            return
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

    def _push_seats(self, frame: Frame) -> None:
        if frame.kind == "snapshot":
            if not self.resync and frame.version <= self.version:
                return
            self.awaiting_board = False
        elif frame.kind == "seats":
            if frame.version <= self.version:
                return
            if self.resync or frame.version != self.version + 1:
                self._fall_behind()
                return
        else:
            return  # a whole state: not this stream's shape (its seating changed)
        transport = self._transport
        if transport is None or transport.is_closing():
            self._wake()  # not attached yet: the handler writes the snapshot
            return
        if transport.get_write_buffer_size() >= SLOW_BUFFER_BYTES:  # type: ignore[attr-defined]
            self._fall_behind()
            return
        if frame.kind == "snapshot":
            self.write_snapshot(frame)
        else:
            self._write(frame)

    def write_snapshot(self, frame: Frame) -> None:
        """Write a seated event's snapshot: this stream follows it from now on."""
        self._write(frame)
        self.resync = self.awaiting_board = False

    def _fall_behind(self) -> None:
        if not self.resync:
            STREAM_SKIPPED.inc()
        self.resync = True
        self._wake()

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
        """Wait for a pending frame, a snapshot to write or the end, at most
        ``timeout_s``; False on timeout."""
        if self.pending is not None or self.ended or (self.resync and not self.awaiting_board):
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

    def __init__(self, dsn: str, max_subscribers: int, pool: asyncpg.Pool | None = None) -> None:
        self.dsn = dsn
        self.max_subscribers = max_subscribers
        self.pool = pool  # reads seated events' seats (required to serve them)
        self._subscribers: dict[int, set[Subscriber]] = {}
        self._seated: set[int] = set()  # watched events served as seated
        self._boards: dict[int, SeatBoard] = {}
        self._loading: set[int] = set()
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._fanout_task: asyncio.Task[None] | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        # Published frames, and ids of seated events whose board a stream waits for.
        self._queue: collections.deque[Frame | int] = collections.deque()
        self._queued = asyncio.Event()
        self._latest: dict[int, Frame] = {}
        self.listening = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return self._count

    def subscribe(
        self,
        event_id: int,
        transport: asyncio.BaseTransport | None = None,
        chunked: bool = True,
        seated: bool = False,
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
        subscriber = Subscriber(event_id, transport, chunked, seated)
        self._subscribers.setdefault(event_id, set()).add(subscriber)
        if seated:
            self._seated.add(event_id)
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
            self._seated.discard(subscriber.event_id)
            self._boards.pop(subscriber.event_id, None)
        self._count -= 1
        STREAM_SUBSCRIBERS.dec()

    def latest(self, event_id: int) -> Frame | None:
        """The newest frame this hub has seen for ``event_id`` recently, if any."""
        return self._latest.get(event_id)

    def seat_snapshot(self, event_id: int) -> Frame | None:
        """The seated event's newest snapshot, or None until its board is read (then
        ``load_seats`` has the fan-out read it and push it to the event's streams)."""
        board = self._boards.get(event_id)
        return None if board is None else board.snapshot()

    def load_seats(self, event_id: int) -> None:
        """Have the fan-out read the seated event's board (once, however many ask)."""
        if event_id not in self._loading:
            self._loading.add(event_id)
            self._queue.append(event_id)
            self._queued.set()

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
                item = self._queue.popleft()
                if isinstance(item, int):
                    frame = await self._board_requested(item)
                elif item.kind == "seats":
                    frame = await self._apply_seats(item)
                else:
                    frame = item
                if frame is None:
                    continue
                subscribers = list(self._subscribers.get(frame.event_id, ()))
                for start in range(0, len(subscribers), FANOUT_SLICE):
                    if start:
                        await asyncio.sleep(0)  # let requests in between slices
                    for subscriber in subscribers[start : start + FANOUT_SLICE]:
                        subscriber.push(frame)

    async def _board_requested(self, event_id: int) -> Frame | None:
        self._loading.discard(event_id)
        board = self._boards.get(event_id)
        return board.snapshot() if board is not None else await self._read_board(event_id)

    async def _apply_seats(self, frame: Frame) -> Frame | None:
        """Apply a seated event's change to its board: the frame to fan out is the change
        itself, or (after a gap or a change too large to notify) the re-read snapshot."""
        board = self._boards.get(frame.event_id)
        if board is not None and not frame.resync:
            if frame.version <= board.version:
                return board.public(frame)  # in the board (read after it was published)
            if frame.version == board.version + 1:
                return board.apply(frame)
        if frame.event_id not in self._seated:
            return None  # nobody watches it as seated
        return await self._read_board(frame.event_id)

    async def _read_board(self, event_id: int) -> Frame | None:
        """Read the seated event's seats as last published; its snapshot, or None."""
        if event_id not in self._seated or self.pool is None:
            return None
        try:
            row = await self.pool.fetchrow(queries.PUBLISHED_SEATS, event_id)
        except (asyncpg.PostgresError, OSError):
            log.exception("could not read the seats of event %s; retrying", event_id)
            asyncio.get_running_loop().call_later(1.0, self.load_seats, event_id)
            return None
        if row is None or event_id not in self._seated:
            return None  # no longer seated (or no longer watched)
        state = AvailabilityOut.from_row(row).model_dump(mode="json")
        board = SeatBoard(
            state, row["held_seats"], row["sold_seats"], row["blocked_seats"], row["channel_seats"]
        )
        self._boards[event_id] = board
        return board.snapshot()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """A published inventory state (``bookings.publish_locked``), encoded once."""
        try:
            message = json.loads(payload)
            if not isinstance(message, dict):
                raise ValueError("not an object")
            seats = message.pop("seats", None)
            if seats is not None and not isinstance(seats, dict):
                raise ValueError("seats: not an object")
            state = InventoryChanged.model_validate(message)
        except ValueError:
            log.warning("ignoring malformed availability notification %r", payload[:200])
            return
        if seats is None:
            self.publish(Frame.of(state))
        else:
            counts = state.model_dump(mode="json", exclude={"schema_version"})
            self.publish(Frame.seat_change(counts, seats))

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
            # States published while we were not listening: read them now (a seated
            # event's seats too: its board is read again and sent as a snapshot).
            for event_id in list(self._subscribers):
                if event_id in self._seated:
                    self._boards.pop(event_id, None)
                    self.load_seats(event_id)
                    continue
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
            self._shutdown_task = call_when_set(stop, self.end_all, "availability-shutdown")

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
    seated: bool = False,
) -> web.StreamResponse:
    """Serve one stream: the current state, then every published change, until closed.
    A seated event's stream starts with its seats' snapshot instead, then every change
    (its counts and changed seats) that follows it."""
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
    subscriber = hub.subscribe(initial.event_id, None, chunked, seated)
    hub.end_all_on(stop)
    disconnects = request.app[DISCONNECTS]
    disconnects.watch(request, on_gone=subscriber.end)
    try:
        add_response_headers(request, response)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        subscriber.attach(request.transport)
        if not seated:
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
            elif subscriber.resync and not subscriber.ended:
                await request.writer.drain()  # a snapshot is written to a drained stream
                _write_seat_snapshot(hub, subscriber)
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        hub.unsubscribe(subscriber)
    return response


def _write_seat_snapshot(hub: AvailabilityHub, subscriber: Subscriber) -> None:
    """Write the hub's newest snapshot of the subscriber's seated event, or have the hub
    read it (the fan-out then pushes it to the stream)."""
    snapshot = hub.seat_snapshot(subscriber.event_id)
    if snapshot is None:
        subscriber.awaiting_board = True
        hub.load_seats(subscriber.event_id)
    else:
        subscriber.write_snapshot(snapshot)
