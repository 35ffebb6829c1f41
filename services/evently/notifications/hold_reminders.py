""" "Hold about to expire" mail, optional per event (``hold_expiry_reminder_s``).

When ``booking.changed`` says a booking is ``held`` and its event (this service's copy
of ``event.changed``) has the reminder on, a reminder is recorded, due that many seconds
before the hold expires (``notifications.hold_reminders``). A hold no longer than the
lead gets none: its reminder would be due as the hold is made, when the buyer is looking
at it anyway. A later ``booking.changed`` (confirmed, cancelled, expired) drops it.

Every replica runs the worker. A round locks due reminders (``FOR UPDATE SKIP LOCKED``,
so replicas never share one) and, in the same transaction, queues the mail through the
mail queue (``hold_expiring:<booking id>`` as its cause, so it is queued at most once
even past the row's own state) and marks the reminder sent; or marks it skipped if the
booking is no longer held or the hold has expired by then. The hold path of bookings does
nothing for any of this.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from evently.core.contracts import BookingChanged
from evently.notifications import queries
from evently.notifications.mail_queue import queue_mail, when
from evently.notifications.metrics import HOLD_REMINDERS

log = logging.getLogger("evently.notifications.hold_reminders")

KIND = "hold_expiring"


async def note_booking_changed(conn: asyncpg.Connection, change: BookingChanged) -> None:
    """Record the reminder of a new hold, or drop it once the booking leaves 'held'
    (inside the inbox's transaction)."""
    booking = change.booking
    if change.transition == "held":
        await conn.execute(
            queries.RECORD_HOLD_REMINDER,
            booking.id,
            booking.event_id,
            booking.user_id,
            booking.quantity,
            booking.hold_expires_at,
            change.at,
        )
    else:
        await conn.execute(queries.SKIP_HOLD_REMINDER, booking.id)


async def send_due_reminders(pool: asyncpg.Pool, now: datetime, batch_size: int) -> int:
    """One round at ``now``: queue the mail of every due reminder whose booking is still
    held, skip the others; returns how many reminders it finished."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(queries.CLAIM_DUE_HOLD_REMINDERS, now, batch_size)
        for row in rows:
            if not row["still_held"]:
                await conn.execute(queries.FINISH_HOLD_REMINDER, row["booking_id"], "skipped")
                HOLD_REMINDERS.labels("skipped").inc()
                continue
            await queue_mail(
                conn,
                KIND,
                f"{KIND}:{row['booking_id']}",
                _context(row),
                user_id=row["user_id"],
            )
            await conn.execute(queries.FINISH_HOLD_REMINDER, row["booking_id"], "sent")
            HOLD_REMINDERS.labels("queued").inc()
    return len(rows)


def _context(row: asyncpg.Record) -> dict[str, str]:
    event_name = row["event_name"] or f"event {row['event_id']}"
    starts_at = row["event_starts_at"]
    venue = f"{row['venue_name']}, {row['venue_city']}" if row["venue_name"] else "the venue"
    return {
        "booking_id": str(row["booking_id"]),
        "quantity": str(row["quantity"]),
        "hold_expires_at": when(row["hold_expires_at"]),
        "event_name": event_name,
        "event_starts_at": when(starts_at) if starts_at else "(see the event page)",
        "venue": venue,
    }


async def send_due_reminders_now(pool: asyncpg.Pool, batch_size: int) -> int:
    """A round at the wall clock (what the background worker runs)."""
    return await send_due_reminders(pool, datetime.now(UTC), batch_size)
