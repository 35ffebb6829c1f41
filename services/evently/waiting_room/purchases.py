"""Who bought, and who was turned away: what the fairness report knows beyond the queue.

Bookings' ``booking.changed`` reaches the room through its inbox (``core/contracts.py``
routes it here); each message adds one to the visitor's counter for its transition
(``held``, ``confirmed``, ``cancelled``, ``expired``) in ``waiting_room.buyers``. The
inbox applies a message once, so the counters are exact. The same message is the
visitor's session activity: an admitted visitor's ticket keeps their open holds, their
newest booking transition and whether they bought, from which the ticker ends idle and
completed sessions. Refused joins are counted per room and refusal code in
``waiting_room.join_refusals``.
"""

from __future__ import annotations

import asyncpg

from evently.core.contracts import BookingChanged, parse
from evently.core.inbox import InboxGroupHandler, InboxHandler, InboxMessage
from evently.waiting_room import queries


async def apply_booking_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Count one booking transition for its visitor and event, and note it on the
    visitor's admitted session (what idle-session detection reads, ``ticker.py``)."""
    await apply_booking_changes(conn, [message])


async def apply_booking_changes(conn: asyncpg.Connection, messages: list[InboxMessage]) -> None:
    """``apply_booking_changed`` for several messages, in order, in one round trip (a
    flash sale sends one per hold and per confirmation)."""
    changes = [parse(BookingChanged, m.payload) for m in messages]
    await conn.execute(
        queries.RECORD_BOOKING_CHANGES,
        [c.booking.event_id for c in changes],
        [c.booking.user_id for c in changes],
        [c.transition for c in changes],
        [c.at for c in changes],
        [c.booking.quantity for c in changes],
        [c.booking.confirmed_at is not None for c in changes],
        [c.inventory_version for c in changes],
    )


async def record_join_refusal(pool: asyncpg.Pool, event_id: int, code: str) -> None:
    """Count a refused join (nothing is counted for an event without a room)."""
    await pool.execute(queries.RECORD_JOIN_REFUSAL, event_id, code)


PURCHASE_HANDLERS: dict[str, InboxHandler] = {BookingChanged.TOPIC: apply_booking_changed}
PURCHASE_GROUP_HANDLERS: dict[str, InboxGroupHandler] = {
    BookingChanged.TOPIC: apply_booking_changes
}
