"""Cancelling a booking: ``POST /api/v1/bookings/{id}/cancel``.

The bookings service owns the rules: a held or confirmed booking can be cancelled until
the event starts and while none of its tickets was checked in at the door; its seats
return at once and go to the waitlist first. Cancelling an
already cancelled booking answers with it again (a safe retry).
"""

from __future__ import annotations

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import CANCELLATIONS, LOCK_WAIT, WAITLIST_OFFERS, lock_timed_out
from evently.bookings.models import BookingOut
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.core.locks import locked_call


async def cancel_booking(ctx: BookingsContext, *, booking_id: int, user_id: int) -> BookingOut:
    """Cancel the user's booking; returns it or raises the refusal."""
    # A booking's event never changes, so reading it before locking is safe.
    owner = await ctx.pool.fetchrow(queries.BOOKING_OWNER, booking_id)
    if owner is None or owner["user_id"] != user_id:
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    event_id = owner["event_id"]
    key_ns, key_ids = event_lock_arguments(event_id)
    row = await locked_call(
        ctx.pool.fetchrow(
            queries.CANCEL_BOOKING,
            booking_id,
            user_id,
            event_id,
            key_ns,
            key_ids,
            ctx.settings.lock_timeout_ms,
        ),
        on_timeout=lock_timed_out("cancel"),
    )
    LOCK_WAIT.labels("cancel").observe(row["lock_wait_s"])
    outcome = Outcome(row["outcome"])
    booking = None if row["booking"] is None else BookingOut.from_row(row["booking"])
    if outcome is Outcome.CANCELLED:
        CANCELLATIONS.inc()
        WAITLIST_OFFERS.inc(row["offers"])
        note_published(row["published"])
    if booking is not None and outcome in (Outcome.CANCELLED, Outcome.ALREADY_CANCELLED):
        return booking
    raise refuse(outcome, row["details"], event_id=event_id, booking=booking)
