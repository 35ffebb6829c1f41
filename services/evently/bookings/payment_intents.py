"""Paying for a hold: ``POST /api/v1/bookings/{id}/payment-intent``, and the check a
confirmation with ``payment_intent_id`` makes before it confirms (docs/payments.md).

The intent is created with the provider under the key ``booking-<id>`` for the
booking's amount, so asking again (a retry, a double click, another replica) returns
the same intent and the customer can never be charged twice for one booking. Nothing is
stored here: the provider keeps the intent, and the booking stores the intent's id as
its ``payment_reference`` only when a confirmation proves it paid.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

from evently.bookings import queries
from evently.bookings.models import PaymentIntentOut, booking_amount
from evently.bookings.outcomes import Outcome
from evently.bookings.payment import (
    PaymentIntent,
    PaymentProvider,
    PaymentTimeout,
    PaymentUnavailable,
    intent_key,
    within,
)
from evently.bookings.refusals import refuse
from evently.core.errors import ApiError, Conflict, ServiceUnavailable

T = TypeVar("T")


async def ask_provider(timeout_s: float, call: Awaitable[T]) -> T:
    """A provider call on a request's path: no answer is a retryable 503."""
    try:
        return await within(timeout_s, call)
    except (PaymentTimeout, PaymentUnavailable) as exc:
        raise ServiceUnavailable(
            "The payment provider did not answer; nothing was charged twice. Retry shortly.",
            code="payment_provider_unavailable",
            title="Payment provider unavailable",
            headers={"Retry-After": "2"},
        ) from exc


async def create_payment_intent(
    pool: asyncpg.Pool,
    payments: PaymentProvider,
    timeout_s: float,
    *,
    booking_id: int,
    user_id: int,
) -> PaymentIntentOut:
    """The (one) payment intent of the user's held booking, for its amount."""
    booking = await pool.fetchrow(queries.GET_BOOKING, booking_id)
    if booking is None or booking["user_id"] != user_id:
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    if booking["status"] != "held":
        raise Conflict(
            f"Only a held booking can be paid; this one is {booking['status']}.",
            code="booking_not_payable",
            title="Booking not payable",
        )
    amount = booking_amount(booking)
    if amount <= 0:
        raise Conflict(
            "This booking costs nothing: confirm it without a payment.",
            code="payment_not_required",
            title="No payment needed",
        )
    intent = await ask_provider(
        timeout_s,
        payments.create_intent(
            idempotency_key=intent_key(booking_id),
            amount=amount,
            currency=booking["currency"],
            reference=intent_key(booking_id),
        ),
    )
    return PaymentIntentOut.of(intent, booking_id)


async def verified_payment_reference(
    pool: asyncpg.Pool,
    payments: PaymentProvider,
    timeout_s: float,
    *,
    booking_id: int,
    user_id: int,
    intent_id: str,
) -> str:
    """The intent's id once the provider says it paid this booking's amount; else the
    refusal (402 declined or not paid yet, 409 an intent of another booking or amount)."""
    booking = await pool.fetchrow(queries.GET_BOOKING, booking_id)
    if booking is None or booking["user_id"] != user_id:
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    intent = await ask_provider(timeout_s, payments.retrieve_intent(intent_id))
    if intent is None or intent.reference != intent_key(booking_id):
        raise _mismatch("The payment intent is not this booking's.")
    amount = booking_amount(booking)
    if intent.amount != amount or intent.currency != booking["currency"]:
        raise _mismatch(
            f"The payment intent is for {intent.amount} {intent.currency}, the booking costs "
            f"{amount} {booking['currency']}."
        )
    if intent.status != "succeeded":
        raise _unpaid(intent)
    return intent.id


def _mismatch(detail: str) -> ApiError:
    return Conflict(detail, code="payment_intent_mismatch", title="Payment intent mismatch")


def _unpaid(intent: PaymentIntent) -> ApiError:
    if intent.status == "failed":
        return ApiError(
            f"The payment was declined ({intent.failure_reason or 'no reason given'}).",
            status=402,
            code="payment_declined",
            title="Payment declined",
        )
    return ApiError(
        "The payment is not completed yet.",
        status=402,
        code="payment_not_completed",
        title="Payment not completed",
    )


async def refund_unconfirmed_payment(
    pool: asyncpg.Pool, outcome: Outcome, booking: asyncpg.Record | None, reference: str
) -> None:
    """A verified payment the confirmation did not take (the hold expired meanwhile, the
    event was cancelled, the booking was confirmed earlier without it) is refunded
    whole (reason ``payment_not_confirmed``), so no money is kept for nothing."""
    if outcome is Outcome.CONFIRMED or booking is None:
        return
    await pool.fetchval(queries.REFUND_UNCONFIRMED_PAYMENT, booking["id"], reference)
