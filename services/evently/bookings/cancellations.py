"""Cancelling a booking: ``POST /api/v1/bookings/{id}/cancel``.

The bookings service owns the rules: a held or confirmed booking can be cancelled until
the event starts; its seats return at once and go to the waitlist first. Cancelling an
already cancelled booking answers with it again (a safe retry).
"""

from __future__ import annotations

import time

import asyncpg

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import CANCELLATIONS, LOCK_TIMEOUTS, LOCK_WAIT, WAITLIST_OFFERS
from evently.bookings.refusals import refuse
from evently.core.locks import LockTimeout


async def cancel_booking(ctx: BookingsContext, *, booking_id: int, user_id: int) -> str:
    """Cancel the user's booking; returns it as JSON text or raises the refusal."""
    # A booking's event never changes, so reading it before locking is safe.
    owner = await ctx.pool.fetchrow(queries.BOOKING_OWNER, booking_id)
    if owner is None or owner["user_id"] != user_id:
        raise refuse("booking_not_found")
    event_id = owner["event_id"]
    key_ns, key_ids = event_lock_arguments(event_id)
    started = time.perf_counter()
    try:
        outcome, body, lock_wait_s, offers, published = await ctx.pool.fetchrow(
            queries.CANCEL_BOOKING,
            booking_id,
            user_id,
            event_id,
            key_ns,
            key_ids,
            ctx.settings.lock_timeout_ms,
        )
    except asyncpg.LockNotAvailableError as exc:
        LOCK_WAIT.labels("cancel").observe(time.perf_counter() - started)
        LOCK_TIMEOUTS.labels("cancel").inc()
        raise LockTimeout() from exc
    LOCK_WAIT.labels("cancel").observe(lock_wait_s)
    if outcome == "cancelled":
        CANCELLATIONS.inc()
        WAITLIST_OFFERS.inc(offers)
        note_published(published)
        return body
    if outcome == "already_cancelled":
        return body
    details = body if outcome == "event_already_started" else None
    if body is not None and details is None:
        details = '{"booking":' + body + "}"
    raise refuse(outcome, details, event_id=event_id)
