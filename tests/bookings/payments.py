"""Helpers for the payment tests: paid bookings through the fake provider."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from evently.bookings.context import BookingsContext
from evently.bookings.payment import intent_key
from tests.bookings.conftest import Buyer

# The background loops sleep for an hour after their first (empty) round: the tests run
# the rounds themselves. Refund retries are due at once and give up after three attempts.
MANUAL_ENV = {
    "BOOKINGS_REFUND_INTERVAL_S": "3600",
    "BOOKINGS_EVENT_CANCEL_INTERVAL_S": "3600",
    "BOOKINGS_REFUND_RETRY_BASE_S": "0",
    "BOOKINGS_REFUND_MAX_ATTEMPTS": "3",
}


async def paid_booking(
    ctx: BookingsContext, db: asyncpg.Connection, customer: Buyer, event_id: int, quantity: int = 2
) -> dict:
    """A confirmed booking whose payment the provider took."""
    booking = (await customer.hold(event_id, quantity))[1]
    intent = await ctx.payments.create_intent(
        idempotency_key=intent_key(booking["id"]),
        amount=Decimal(booking["amount"]),
        currency=booking["currency"],
        reference=intent_key(booking["id"]),
    )
    await customer.confirm(booking["id"])
    await db.execute(
        "UPDATE bookings.bookings SET payment_reference = $2 WHERE id = $1",
        booking["id"],
        intent.id,
    )
    return booking
