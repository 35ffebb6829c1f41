"""Each visitor's status as server-sent events: ``GET .../waiting-room/me/stream``.

* **Driven by the room's version, not by polling.** A visitor's status changes only when
  their room's ``state_version`` does, and every replica already hears of each change
  (``room_versions.py``: one LISTEN connection, plus its periodic reload). On a change of
  a room with open streams here, ``VisitorStreams`` reads the statuses of **all** of that
  room's connected visitors in **one query** (``SELECT_VISITORS``) and hands each stream
  its visitor's status. Changes that arrive while a room's fan-out runs are coalesced into
  one more fan-out, so a burst of ticks costs at most two queries, never one per visitor.
* **The same object as the poll.** Each ``status`` event's data is the ``/me`` body
  (``QueueTicketOut``), its SSE id the room's state version; it is sent when the
  visitor's status changed, with heartbeat comments in between.
* **Cheap and bounded.** A one-slot mailbox per stream holds the newest status (a slow
  client skips to the latest); at most ``WAITING_ROOM_STREAM_MAX_SUBSCRIBERS`` streams per
  process (503 ``too_many_streams`` beyond); a closed connection is noticed by the app's
  ``DisconnectWatch`` and unsubscribed; at shutdown every stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from evently.core.disconnects import DISCONNECTS
from evently.core.errors import ServiceUnavailable
from evently.core.middleware import add_response_headers
from evently.core.signing_keys import KeyRing
from evently.waiting_room import queries
from evently.waiting_room.metrics import STREAM_FANOUTS, STREAM_UPDATES, STREAMS
from evently.waiting_room.visitors import status_from_row, visitor_status

log = logging.getLogger("evently.waiting_room.stream")


class StatusMailbox:
    """One open stream: holds the newest status not yet sent (never blocks the sender)."""

    def __init__(self, event_id: int, user_id: int) -> None:
        self.event_id = event_id
        self.user_id = user_id
        self._pending: tuple[int, str] | None = None
        self._version = -1
        self._last_body: str | None = None
        self._ready = asyncio.Event()

    def offer(self, version: int, body: str) -> None:
        """Keep ``body`` to send unless it is older than, or the same as, what was offered."""
        if version < self._version or body == self._last_body:
            return
        self._version, self._last_body = version, body
        self._pending = (version, body)
        self._ready.set()

    async def next_status(
        self, timeout_s: float, *interrupts: asyncio.Event
    ) -> tuple[int, str] | None:
        """The newest status not yet taken, or None after ``timeout_s`` or once one of
        ``interrupts`` (shutdown, the client leaving) is set."""
        if self._pending is None and not any(event.is_set() for event in interrupts):
            waiters = [asyncio.ensure_future(event.wait()) for event in (self._ready, *interrupts)]
            try:
                await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        pending, self._pending = self._pending, None
        self._ready.clear()
        return pending


class VisitorStreams:
    """This process's open visitor streams, by room and visitor; one fan-out per room."""

    def __init__(self, pool: asyncpg.Pool, keys: KeyRing, max_subscribers: int) -> None:
        self.pool = pool
        self.keys = keys
        self.max_subscribers = max_subscribers
        self._rooms: dict[int, dict[int, set[StatusMailbox]]] = {}
        self._count = 0
        self._fanouts: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()

    @property
    def subscriber_count(self) -> int:
        return self._count

    def subscribe(self, event_id: int, user_id: int) -> StatusMailbox:
        if self._count >= self.max_subscribers:
            raise ServiceUnavailable(
                "Too many waiting room streams are open here; retry shortly or poll.",
                code="too_many_streams",
                headers={"Retry-After": "5"},
            )
        mailbox = StatusMailbox(event_id, user_id)
        self._rooms.setdefault(event_id, {}).setdefault(user_id, set()).add(mailbox)
        self._count += 1
        STREAMS.inc()
        return mailbox

    def unsubscribe(self, mailbox: StatusMailbox) -> None:
        visitors = self._rooms.get(mailbox.event_id, {})
        mailboxes = visitors.get(mailbox.user_id)
        if mailboxes is None or mailbox not in mailboxes:
            return
        mailboxes.discard(mailbox)
        if not mailboxes:
            del visitors[mailbox.user_id]
        if not visitors:
            self._rooms.pop(mailbox.event_id, None)
        self._count -= 1
        STREAMS.dec()

    def room_changed(self, event_id: int, _version: int) -> None:
        """A room's state version moved (``RoomVersions`` calls this): fan it out."""
        if event_id not in self._rooms:
            return
        if event_id in self._fanouts:
            self._again.add(event_id)  # the running fan-out reads once more when done
            return
        self._fanouts[event_id] = asyncio.create_task(
            self._fan_out(event_id), name=f"waiting-room-fanout-{event_id}"
        )

    async def _fan_out(self, event_id: int) -> None:
        try:
            while True:
                self._again.discard(event_id)
                try:
                    await self._push_statuses(event_id)
                except Exception:
                    log.exception("room %s: status fan-out failed", event_id)
                if event_id not in self._again:
                    return
        finally:
            self._fanouts.pop(event_id, None)

    async def _push_statuses(self, event_id: int) -> None:
        """Read the statuses of every connected visitor of the room (one query) and offer
        each to that visitor's streams."""
        users = list(self._rooms.get(event_id, {}))
        if not users:
            return
        rows = await self.pool.fetch(queries.SELECT_VISITORS, event_id, users)
        STREAM_FANOUTS.inc()
        now = datetime.now(UTC)
        for row in rows:
            status = status_from_row(self.keys, event_id, row["user_id"], row, now)
            body = status.ticket.model_dump_json()
            for mailbox in self._rooms.get(event_id, {}).get(row["user_id"], ()):
                mailbox.offer(status.state_version, body)

    async def close(self) -> None:
        """Stop every fan-out in flight (at shutdown)."""
        tasks = list(self._fanouts.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def sse_status(version: int, body: str) -> bytes:
    """One ``status`` event: the ``/me`` body, the room's state version as its id."""
    return f"id: {version}\nevent: status\ndata: {body}\n\n".encode()


async def stream_status(
    request: web.Request,
    streams: VisitorStreams,
    event_id: int,
    user_id: int,
    heartbeat_s: float,
    stop: asyncio.Event,
) -> web.StreamResponse:
    """Serve one visitor's stream: their status now, then each change, until closed.

    Subscribed before the first read, so no change can slip between the two; a visitor
    who has not joined gets the poll's 404 before the stream starts."""
    mailbox = streams.subscribe(event_id, user_id)
    disconnects = request.app[DISCONNECTS]
    gone = disconnects.watch(request)
    try:
        status = await visitor_status(streams.pool, streams.keys, event_id, user_id)
        mailbox.offer(status.state_version, status.ticket.model_dump_json())
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
            pending = await mailbox.next_status(heartbeat_s, stop, gone)
            if gone.is_set() or stop.is_set():
                break
            if pending is None:
                await response.write(b": heartbeat\n\n")
            else:
                await response.write(sse_status(*pending))
                STREAM_UPDATES.inc()
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        streams.unsubscribe(mailbox)
    return response
