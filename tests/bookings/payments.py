"""Helpers for the payment tests: paid bookings through the API and the fake provider."""

from __future__ import annotations

import asyncpg

from evently.bookings.context import BookingsContext
from tests.bookings.conftest import Buyer

# The background loops sleep for an hour after their first (empty) round: the tests run
# the rounds themselves. Refund retries are due at once and give up after three attempts.
MANUAL_ENV = {
    "BOOKINGS_REFUND_INTERVAL_S": "3600",
    "BOOKINGS_EVENT_CANCEL_INTERVAL_S": "3600",
    "BOOKINGS_REFUND_RETRY_BASE_S": "0",
    "BOOKINGS_REFUND_MAX_ATTEMPTS": "3",
}


async def pay_and_confirm(customer: Buyer, booking_id: int) -> tuple[dict, dict]:
    """Create the booking's payment intent (the fake provider takes the payment at once)
    and confirm with it; returns (intent, confirmed booking)."""
    status, intent = await customer.post(f"/api/v1/bookings/{booking_id}/payment-intent")
    assert status == 200, intent
    status, confirmed = await customer.post(
        f"/api/v1/bookings/{booking_id}/confirm?payment_intent_id={intent['id']}"
    )
    assert status == 200, confirmed
    return intent, confirmed


async def paid_booking(
    ctx: BookingsContext, db: asyncpg.Connection, customer: Buyer, event_id: int, quantity: int = 2
) -> dict:
    """A booking confirmed with its paid payment intent."""
    booking = (await customer.hold(event_id, quantity))[1]
    intent, _ = await pay_and_confirm(customer, booking["id"])
    stored = await db.fetchval(
        "SELECT payment_reference FROM bookings.bookings WHERE id = $1", booking["id"]
    )
    assert stored == intent["id"]
    return booking
