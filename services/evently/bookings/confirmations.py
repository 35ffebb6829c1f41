"""Confirming a hold: ``POST /api/v1/bookings/{id}/confirm``.

The payment seam runs first; then ``bookings.confirm_booking`` flips the booking to
confirmed in one round trip. A confirmation never touches the event's hot inventory row
(it counts the seat in a sold-seat shard row), so confirmations do not queue behind holds.
Confirming an already confirmed booking answers with it again (a safe retry).
"""

from __future__ import annotations

import asyncpg

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.metrics import CONFIRMATIONS, LOCK_TIMEOUTS
from evently.bookings.payment import collect_payment
from evently.bookings.refusals import refuse
from evently.core.errors import ApiError
from evently.core.locks import LockTimeout


async def confirm_booking(ctx: BookingsContext, *, booking_id: int, user_id: int) -> str:
    """Confirm the user's held booking; returns it as JSON text or raises the refusal."""
    payment = await collect_payment(booking_id, user_id)
    if not payment.approved:
        raise ApiError(
            "The payment was declined.",
            status=402,
            code="payment_declined",
            title="Payment declined",
        )
    try:
        outcome, body, event_id = await ctx.pool.fetchrow(
            queries.CONFIRM_BOOKING,
            booking_id,
            user_id,
            payment.reference,
            ctx.settings.lock_timeout_ms,
        )
    except asyncpg.LockNotAvailableError as exc:
        LOCK_TIMEOUTS.labels("confirm").inc()
        raise LockTimeout() from exc
    if outcome == "confirmed":
        CONFIRMATIONS.inc()
        ctx.publisher.mark(event_id)
        return body
    if outcome == "already_confirmed":
        return body
    details = None if body is None else '{"booking":' + body + "}"
    raise refuse(outcome, details, event_id=event_id)
