"""Joining a room and a visitor's place in it: the plain functions behind the routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from evently.core.admission_tokens import sign_admission
from evently.core.batching import Batchers
from evently.core.signing_keys import KeyRing
from evently.waiting_room import queries
from evently.waiting_room.errors import JOIN_REFUSALS, QueueTicketNotFound, WaitingRoomNotFound
from evently.waiting_room.metrics import JOIN_BATCH_JOINS, JOIN_BATCH_SECONDS, JOINS
from evently.waiting_room.models import (
    QueueTicketOut,
    RoomOut,
    RoomState,
    VisitorState,
    WaitlistOffer,
)
from evently.waiting_room.purchases import record_join_refusal
from evently.waiting_room.shuffle import ALGORITHM
from evently.waiting_room.status_tags import (
    LineView,
    RoomSnapshot,
    TicketRef,
    line_tag,
    line_view,
    session_tag,
)
from evently.waiting_room.ticker import shuffle_lock

# A join's outcome when the room, sold out, answered without placing the visitor.
SOLD_OUT = "sold_out"


@dataclass(frozen=True)
class Joined:
    """One join's outcome and, if the visitor has a ticket, their ``SELECT_VISITORS`` row."""

    outcome: str
    row: Any


class JoinBatcher:
    """Joins of one room that arrive together go to the database together.

    In a flash sale thousands join at once, and every join takes the room's row lock for
    its place in line. Here concurrent joins of a room ride in one call
    (``sql/join_rooms.sql``, then one read of their statuses) while the previous batch
    is in the database (``core.batching``: an idle room sends batches of one): two round
    trips for a batch instead of two per join, and the places follow the order in which
    this replica received the joins, not the order in which they won a pooled connection
    or the row lock.

    While the room is sold out with ``offer_waitlist`` (as this replica last heard it:
    ``snapshot``), a batch writes nothing: it reads its visitors' tickets (one query), and
    those without one are answered ``sold_out`` without a ticket (``SOLD_OUT``): a line
    nobody is admitted from gains nobody, and the crowd still arriving learns of the
    sell-out at the cost of a read (docs/waiting-room.md, *Joining a sold-out room*)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        max_batch: int = 200,
        snapshot: Callable[[int], RoomSnapshot | None] = lambda _event_id: None,
    ) -> None:
        self.pool = pool
        self.snapshot = snapshot
        self._batchers: Batchers[int, int, Joined] = Batchers(self._run, max_batch)

    async def join(self, event_id: int, user_id: int) -> Joined:
        return await self._batchers.submit(event_id, user_id)

    async def _run(self, event_id: int, user_ids: list[int]) -> list[Joined]:
        room = self.snapshot(event_id)
        if room is not None and room.sold_out and room.when_sold_out == "offer_waitlist":
            return await self._run_sold_out(event_id, user_ids)
        return await self._run_joins(event_id, user_ids)

    async def _run_sold_out(self, event_id: int, user_ids: list[int]) -> list[Joined]:
        """Joins of a sold-out room: their tickets if they have one, no write."""
        rows = await self.pool.fetch(queries.SELECT_VISITORS, event_id, user_ids)
        statuses = {r["user_id"]: r for r in rows}
        return [
            Joined("joined", statuses[u]) if u in statuses else Joined(SOLD_OUT, None)
            for u in user_ids
        ]

    async def _run_joins(self, event_id: int, user_ids: list[int]) -> list[Joined]:
        lock = shuffle_lock(event_id)
        JOIN_BATCH_JOINS.inc(len(user_ids))
        async with self.pool.acquire() as conn:
            started = time.perf_counter()
            rows = await conn.fetch(
                queries.JOIN_ROOMS, event_id, user_ids, lock.namespace, lock.ident
            )
            joined = [r["user_id"] for r in rows if r["ticket_id"] is not None]
            statuses = {
                r["user_id"]: r for r in await conn.fetch(queries.SELECT_VISITORS, event_id, joined)
            }
            JOIN_BATCH_SECONDS.observe(time.perf_counter() - started)
        return [Joined(r["outcome"], statuses.get(r["user_id"])) for r in rows]


async def join_room(
    joins: JoinBatcher, keys: KeyRing, event_id: int, user_id: int
) -> VisitorStatus:
    """The visitor's status with their queue ticket (the same ticket on every call), or
    the refusal."""
    joined = await joins.join(event_id, user_id)
    JOINS.labels(joined.outcome).inc()
    refusal = JOIN_REFUSALS.get(joined.outcome)
    if refusal is not None:
        await record_join_refusal(joins.pool, event_id, joined.outcome)
        raise refusal(event_id)
    room = joins.snapshot(event_id)
    if joined.outcome == SOLD_OUT and room is not None:
        return sold_out_without_ticket(event_id, room)
    if joined.row is None:
        raise QueueTicketNotFound(event_id)  # not expected: the join made the ticket
    return status_from_row(keys, event_id, user_id, joined.row, datetime.now(UTC))


@dataclass(frozen=True)
class VisitorStatus:
    """A visitor's status, the room version it reflects and its ETag (``status_tags``)."""

    ticket: QueueTicketOut
    room: RoomSnapshot
    etag: str

    @property
    def state_version(self) -> int:
        return self.room.state_version


async def visitor_status(
    pool: asyncpg.Pool, keys: KeyRing, event_id: int, user_id: int, now: datetime | None = None
) -> VisitorStatus:
    """Where ``user_id`` stands in ``event_id``'s room; an admitted visitor's token."""
    row = await pool.fetchrow(queries.SELECT_VISITOR, event_id, user_id)
    if row is None:
        raise QueueTicketNotFound(event_id)
    return status_from_row(keys, event_id, user_id, row, now or datetime.now(UTC))


def status_from_row(
    keys: KeyRing, event_id: int, user_id: int, row: Any, now: datetime
) -> VisitorStatus:
    """A visitor's status from their ticket and room (``SELECT_VISITOR``'s columns).

    While the event is sold out, a visitor still in line sees ``sold_out`` (and, if the
    room offers it, the waitlist); an admitted one keeps shopping (they may hold seats).
    What a visitor in line sees is ``status_tags.line_view``, the poll's ETag its tag."""
    state: VisitorState = row["status"]
    if state == "admitted" and row["expires_at"] <= now:
        state = "expired"  # the ticker has not noticed yet
    position = row["position"]
    room = RoomSnapshot.from_row(row)
    if state == "waiting":
        view = line_view(position, room)
        ref = TicketRef(row["ticket_id"], row["joined_at"])
        ticket = in_line_ticket(event_id, position, view, ref)
        return VisitorStatus(ticket, room, line_tag(user_id, position, view, ref))
    token = None
    if state == "admitted":
        token = sign_admission(
            keys,
            user_id=user_id,
            event_id=event_id,
            ticket_id=row["ticket_id"],
            issued_at=row["admitted_at"],
            expires_at=row["expires_at"],
        )
    ticket = QueueTicketOut(
        event_id=event_id,
        ticket_id=row["ticket_id"],
        state=state,
        joined_at=row["joined_at"],
        position=position,
        ahead=None,
        estimated_wait_s=None,
        admission_token=token,
        admission_expires_at=row["expires_at"] if state == "admitted" else None,
    )
    return VisitorStatus(ticket, room, session_tag(user_id, room.state_version))


def in_line_ticket(
    event_id: int, position: int | None, view: LineView, ref: TicketRef
) -> QueueTicketOut:
    """The status of a visitor in line: all of it follows from their ticket's id and join
    time, their position and what they see (so the streams build it from memory)."""
    return QueueTicketOut(
        event_id=event_id,
        ticket_id=ref.ticket_id,
        state=view.state,
        joined_at=ref.joined_at,
        position=position,
        ahead=view.ahead,
        estimated_wait_s=view.estimated_wait_s,
        admission_token=None,
        admission_expires_at=None,
        waitlist=WaitlistOffer.for_event(event_id) if view.waitlist else None,
    )


def sold_out_without_ticket(event_id: int, room: RoomSnapshot) -> VisitorStatus:
    """The answer to a visitor who joins a sold-out room without a ticket: sold out, the
    waitlist offered, no ticket (and no ETag: there is no status to poll)."""
    ticket = QueueTicketOut(
        event_id=event_id,
        ticket_id=None,
        state="sold_out",
        joined_at=None,
        position=None,
        ahead=None,
        estimated_wait_s=None,
        admission_token=None,
        admission_expires_at=None,
        waitlist=WaitlistOffer.for_event(event_id),
    )
    return VisitorStatus(ticket, room, "")


def room_state(room: Any, now: datetime) -> RoomState:
    """What phase a room is in at ``now``."""
    if not room["enabled"]:
        return "disabled"
    if room["prequeue_opens_at"] is not None and now < room["prequeue_opens_at"]:
        return "scheduled"
    if room["shuffled_at"] is None:
        return "prequeue"
    return "sold_out" if room["sold_out"] else "open"


async def room_view(pool: asyncpg.Pool, event_id: int, now: datetime | None = None) -> RoomOut:
    """The room as anyone sees it: settings, phase, queue figures, commitment and seed."""
    room = await pool.fetchrow(queries.SELECT_ROOM, event_id)
    if room is None:
        raise WaitingRoomNotFound(event_id)
    revealed = room["shuffled_at"] is not None
    return RoomOut(
        event_id=event_id,
        state=room_state(room, now or datetime.now(UTC)),
        enabled=room["enabled"],
        prequeue_opens_at=room["prequeue_opens_at"],
        sale_opens_at=room["sale_opens_at"],
        admission_rate_per_minute=room["admission_rate_per_minute"],
        max_active_shoppers=room["max_active_shoppers"],
        session_ttl_s=room["session_ttl_s"],
        when_sold_out=room["when_sold_out"],
        seed_commitment=room["seed_commitment"],
        seed=room["seed"].hex() if revealed else None,
        shuffle_algorithm=ALGORITHM,
        shuffled_at=room["shuffled_at"],
        prequeued=room["prequeued"],
        serving=room["serving"],
        waiting=room["waiting"],
        active_shoppers=room["active_shoppers"],
        admitted=room["admitted"],
    )
