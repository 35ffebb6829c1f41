"""Each visitor's status as server-sent events: ``GET .../waiting-room/me/stream``.

* **Driven by the room's version, not by polling.** A visitor's status changes only when
  their room's ``state_version`` does, and every replica already hears of each change
  (``room_versions.py``: one LISTEN connection, plus its periodic reload), with the
  room's snapshot (``status_tags.RoomSnapshot``).
* **Visitors in line from memory.** What a visitor in line sees follows from their
  position and the snapshot (``status_tags.line_view``), so on a room change each stream
  whose visitor is known to be in line is given its new status without the database (a
  sell-out reaches thousands of streams in one pass, each body serialised once), or
  nothing when their view did not change; a stream opened with an ``If-None-Match`` knows
  its visitor's ticket from the tag (``status_tags.TicketRef``). Only the others (admitted
  or expired visitors, whose status is their session's; visitors the change may have
  admitted; tags from before tags named the ticket) are read, all of the room's in **one
  query** (``SELECT_VISITORS``). Changes that arrive while a room's
  fan-out runs are coalesced into one more.
* **The same object as the poll.** Each ``status`` event's data is the ``/me`` body
  (``QueueTicketOut``), its SSE id the room's state version; it is sent when the
  visitor's status changed, with heartbeat comments in between. A stream opened with the
  ``If-None-Match`` of a status that is still current (the join's or a poll's answer)
  starts without repeating it, and without a database round trip; one with a stale
  in-line tag that names its ticket starts with the visitor's status now, from memory.
* **Cheap and bounded.** A one-slot mailbox per stream holds the newest status (a slow
  client skips to the latest); at most ``WAITING_ROOM_STREAM_MAX_SUBSCRIBERS`` streams per
  process (503 ``too_many_streams`` beyond); a closed connection is noticed by the app's
  ``DisconnectWatch`` and unsubscribed; at shutdown every stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from evently.core.disconnects import DISCONNECTS
from evently.core.errors import ServiceUnavailable
from evently.core.middleware import add_response_headers
from evently.core.signing_keys import KeyRing
from evently.core.tasks import call_when_set
from evently.waiting_room import queries
from evently.waiting_room.metrics import (
    FANOUT_SECONDS,
    FANOUT_STREAMS,
    STREAM_FANOUT_READS,
    STREAM_FANOUTS,
    STREAM_UPDATES,
    STREAMS,
)
from evently.waiting_room.models import QueueTicketOut
from evently.waiting_room.status_tags import (
    RoomSnapshot,
    TicketRef,
    current_tag,
    line_position,
    line_tag,
    line_ticket,
    line_view,
)
from evently.waiting_room.visitors import in_line_ticket, status_from_row, visitor_status

log = logging.getLogger("evently.waiting_room.stream")


@dataclass(frozen=True)
class KnownStatus:
    """What a stream's visitor was last given: their ETag, whether it is a place in line
    (and which), and the ticket it names (``status_tags.TicketRef``; None when the tag
    does not name one: only the database can then tell their next status)."""

    tag: str
    in_line: bool
    position: int | None
    ticket: TicketRef | None

    @classmethod
    def of_tag(cls, user_id: int, tag: str) -> KnownStatus:
        in_line, position = line_position(tag, user_id)
        return cls(tag, in_line, position, line_ticket(tag) if in_line else None)


# A visitor whose status only the database can tell (``status_from_memory``).
READ = object()


def status_from_memory(
    known: KnownStatus | None, event_id: int, user_id: int, room: RoomSnapshot | None
) -> tuple[KnownStatus, QueueTicketOut] | object | None:
    """A visitor's new status at ``room`` from what their stream knows: the new status,
    None when their view did not change, or ``READ`` when only the database can tell."""
    if room is None or known is None or not known.in_line:
        return READ
    position = known.position
    if (position is None and room.shuffled) or (position is not None and position <= room.serving):
        return READ  # placed by the shuffle, or admitted: their own row says how
    view = line_view(position, room)
    tag = line_tag(user_id, position, view, known.ticket)
    if tag == known.tag:
        return None
    if known.ticket is None:
        return READ
    ticket = in_line_ticket(event_id, position, view, known.ticket)
    return KnownStatus(tag, True, position, known.ticket), ticket


# A connection with this much unsent is slow: its newest status waits (one slot) until it
# drained, rather than piling up behind it.
SLOW_BUFFER_BYTES = 64 * 1024
HEARTBEAT = b": heartbeat\n\n"


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (RFC 9112 section 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class StatusMailbox:
    """One open stream. Once attached to its connection, a new status is written to it
    at once by whoever offers it (the room's fan-out), not by waking the stream's
    handler: a sell-out reaches thousands of streams in one pass of the event loop. A
    status that cannot be written now (not attached yet, or a slow client) waits in a
    one-slot mailbox, replaced by any newer one, for the handler to write."""

    def __init__(self, event_id: int, user_id: int) -> None:
        self.event_id = event_id
        self.user_id = user_id
        self.known: KnownStatus | None = None
        self.ended = False
        self._pending: tuple[int, str] | None = None
        self._version = -1
        self._last_body: str | None = None
        self._transport: asyncio.Transport | None = None
        self._chunked = True
        self._waiter: asyncio.Future[None] | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def attach(self, transport: asyncio.BaseTransport | None, chunked: bool) -> None:
        """Write to ``transport`` from now on (the response's head is out)."""
        self._transport = transport  # type: ignore[assignment]
        self._chunked = chunked

    def offer(self, version: int, body: str, known: KnownStatus | None = None) -> bool:
        """Send ``body`` unless it is older than, or the same as, what was offered: now if
        the connection takes it, else kept (replacing an older one) for the handler.
        False when it was not new."""
        if version < self._version or body == self._last_body:
            return False
        self._version, self._last_body = version, body
        self.known = known or self.known
        self._pending = (version, body)
        transport = self._transport
        if (
            transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size() >= SLOW_BUFFER_BYTES
        ):
            self._wake()
            return True
        self.flush()
        return True

    def flush(self) -> None:
        """Write the kept status, if any (the handler, once the connection drained)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.write_raw(sse_status(*pending))
            STREAM_UPDATES.inc()

    def write_raw(self, data: bytes) -> None:
        """Write a body fragment (a status, a heartbeat) unless the connection closed."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(chunk(data) if self._chunked else data)

    def end(self) -> None:
        """End the stream (the client left, or shutdown): its handler returns."""
        self.ended = True
        self._wake()

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a status to write or the end, at most ``timeout_s``; False on timeout."""
        if self._pending is not None or self.ended:
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

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass(frozen=True)
class Heard:
    """A room change as this process heard it, for the fan-out's metrics."""

    event_id: int
    kind: str  # sold_out: the change that sold the room out; other
    at: float  # time.perf_counter() when the LISTEN callback ran

    def observe(self, path: str, written: int) -> None:
        """Record that the ``path`` pass of this change's fan-out is done."""
        FANOUT_SECONDS.labels(self.kind, path).observe(time.perf_counter() - self.at)
        FANOUT_STREAMS.labels(self.kind, path).inc(written)


class VisitorStreams:
    """This process's open visitor streams, by room and visitor; one fan-out per room."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: KeyRing,
        max_subscribers: int,
        snapshot: Callable[[int], RoomSnapshot | None] = lambda _event_id: None,
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.max_subscribers = max_subscribers
        self.snapshot = snapshot  # the room as this process last heard it (RoomVersions)
        self._rooms: dict[int, dict[int, set[StatusMailbox]]] = {}
        self._count = 0
        self._fanouts: dict[int, asyncio.Task[None]] = {}
        self._again: dict[int, Heard] = {}
        self._sold_out: dict[int, bool] = {}
        self._shutdown: asyncio.Task[None] | None = None

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
        """A room's state version moved (``RoomVersions`` calls this): tell the streams
        whose status follows from memory at once, in this very callback (a task would
        wait for another turn of a loop that visitors keep busy), then read the others."""
        if event_id not in self._rooms:
            return
        heard = Heard(event_id, self._change_kind(event_id), time.perf_counter())
        to_read, written = self._push_from_memory(event_id)
        heard.observe("memory", written)
        if not to_read:
            return
        if event_id in self._fanouts:
            self._again[event_id] = heard  # the running fan-out reads once more when done
            return
        self._fanouts[event_id] = asyncio.create_task(
            self._fan_out(heard), name=f"waiting-room-fanout-{event_id}"
        )

    def _change_kind(self, event_id: int) -> str:
        """``sold_out`` for the change that sold the room out (as this process saw it)."""
        room = self.snapshot(event_id)
        sold_out = room is not None and room.sold_out
        was = self._sold_out.get(event_id, False)
        self._sold_out[event_id] = sold_out
        return "sold_out" if sold_out and not was else "other"

    async def _fan_out(self, heard: Heard) -> None:
        event_id = heard.event_id
        try:
            while True:
                try:
                    await self._push_statuses(heard)
                except Exception:
                    log.exception("room %s: status fan-out failed", event_id)
                again = self._again.pop(event_id, None)
                if again is None:
                    return
                heard = again
        finally:
            self._fanouts.pop(event_id, None)

    async def _push_statuses(self, heard: Heard) -> None:
        """Give each stream of the room its visitor's new status: from memory for visitors
        known to be in line, from one query for the others."""
        to_read, written = self._push_from_memory(heard.event_id)
        if to_read:
            written += await self._read_statuses(heard.event_id, to_read)
        heard.observe("read", written)

    def _push_from_memory(self, event_id: int) -> tuple[list[int], int]:
        """Offer the new status of each stream whose visitor is known to be in line;
        returns the visitors only the database can tell about, and the streams offered
        a new status."""
        visitors = self._rooms.get(event_id, {})
        if not visitors:
            return [], 0
        STREAM_FANOUTS.inc()
        room = self.snapshot(event_id)
        to_read: list[int] = []
        written = 0
        for user_id, mailboxes in list(visitors.items()):
            read = False
            for mailbox in mailboxes:
                update = status_from_memory(mailbox.known, event_id, user_id, room)
                if update is READ:
                    read = True
                elif isinstance(update, tuple) and room is not None:
                    known, ticket = update
                    written += mailbox.offer(room.state_version, ticket.model_dump_json(), known)
            if read:
                to_read.append(user_id)
        return to_read, written

    async def _read_statuses(self, event_id: int, to_read: list[int]) -> int:
        """Read the statuses of ``to_read`` (one query) and offer them; returns the
        streams offered a new status."""
        rows = await self.pool.fetch(queries.SELECT_VISITORS, event_id, to_read)
        STREAM_FANOUT_READS.inc()
        now = datetime.now(UTC)
        written = 0
        for row in rows:
            status = status_from_row(self.keys, event_id, row["user_id"], row, now)
            body = status.ticket.model_dump_json()
            known = KnownStatus.of_tag(row["user_id"], status.etag)
            for mailbox in self._rooms.get(event_id, {}).get(row["user_id"], ()):
                written += mailbox.offer(status.state_version, body, known)
        return written

    def end_all_on(self, stop: asyncio.Event) -> None:
        """End every open stream once ``stop`` (the app's shutdown) is set: one task for
        all of them rather than one per stream."""
        if self._shutdown is None:
            self._shutdown = call_when_set(stop, self.end_all, "waiting-room-streams-stop")

    def end_all(self) -> None:
        """End every open stream."""
        for visitors in self._rooms.values():
            for mailboxes in visitors.values():
                for mailbox in mailboxes:
                    mailbox.end()

    async def close(self) -> None:
        """End every stream and stop every fan-out in flight (at shutdown)."""
        self.end_all()
        if self._shutdown is not None:
            self._shutdown.cancel()
        tasks = list(self._fanouts.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def opening_status(
    if_none_match: str | None, event_id: int, user_id: int, room: RoomSnapshot | None
) -> KnownStatus | tuple[KnownStatus, QueueTicketOut] | None:
    """What a stream opened with ``If-None-Match`` starts from without the database: the
    status the client holds, if still current (nothing to send); else, for an in-line
    tag naming its ticket, the visitor's in-line status now; None: read it."""
    held = current_tag(if_none_match, user_id, room)
    if held is not None:
        return KnownStatus.of_tag(user_id, held)
    for tag in (if_none_match or "").split(","):
        update = status_from_memory(
            KnownStatus.of_tag(user_id, tag.strip().removeprefix("W/")), event_id, user_id, room
        )
        if isinstance(update, tuple):
            return update
    return None


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
    who has not joined gets the poll's 404 before the stream starts. With an
    ``If-None-Match`` still current for this replica's snapshot, the status the client
    already has is not read nor sent again. Changes are written by the room's fan-out
    (``StatusMailbox``); this handler writes the first status, heartbeats, and what a
    slow connection could not take at once."""
    mailbox = streams.subscribe(event_id, user_id)
    streams.end_all_on(stop)
    disconnects = request.app[DISCONNECTS]
    disconnects.watch(request, on_gone=mailbox.end)
    try:
        room = streams.snapshot(event_id)
        start = opening_status(request.headers.get("If-None-Match"), event_id, user_id, room)
        if isinstance(start, KnownStatus):
            mailbox.known = start  # the client has it: nothing to send
        elif start is not None and room is not None:
            known, ticket = start
            mailbox.offer(room.state_version, ticket.model_dump_json(), known)
        else:
            status = await visitor_status(streams.pool, streams.keys, event_id, user_id)
            known = KnownStatus.of_tag(user_id, status.etag)
            mailbox.offer(status.state_version, status.ticket.model_dump_json(), known)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        chunked = request.version >= (1, 1)
        if chunked:
            response.enable_chunked_encoding()  # explicit: the mailbox writes chunks itself
        add_response_headers(request, response)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        mailbox.attach(request.transport, chunked)
        mailbox.flush()  # a status offered before the head went out
        while not mailbox.ended and not stop.is_set():
            if not await mailbox.wait(heartbeat_s):
                mailbox.write_raw(HEARTBEAT)
            elif mailbox.pending:
                await request.writer.drain()  # a slow client: write once it drained
                mailbox.flush()
    except ConnectionResetError:
        pass  # the client went away between two checks
    finally:
        disconnects.unwatch(request)
        streams.unsubscribe(mailbox)
    return response
