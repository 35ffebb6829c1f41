"""Paying for a hold: one payment intent per booking, and a confirmation that takes a
payment only once the provider says it paid this booking's amount."""

from __future__ import annotations

import pytest

from evently.bookings.context import BOOKINGS
from evently.bookings.refunds import process_due_refunds
from tests.bookings.conftest import send_event
from tests.bookings.payments import MANUAL_ENV, pay_and_confirm


@pytest.fixture
async def client(aiohttp_client, bookings_app):
    return await aiohttp_client(bookings_app(MANUAL_ENV))


@pytest.fixture
def provider(client):
    return client.app[BOOKINGS].payments


def intent_path(booking_id: int) -> str:
    return f"/api/v1/bookings/{booking_id}/payment-intent"


def confirm_path(booking_id: int, intent_id: str) -> str:
    return f"/api/v1/bookings/{booking_id}/confirm?payment_intent_id={intent_id}"


async def test_a_booking_has_one_intent_and_a_paid_confirmation_keeps_it(
    client, buyer, db, provider
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = (await alice.hold(1, 2))[1]

    first = await alice.post(intent_path(booking["id"]))
    again = await alice.post(intent_path(booking["id"]))

    assert first == again
    status, intent = first
    assert status == 200
    assert (intent["booking_id"], intent["amount"], intent["currency"]) == (
        booking["id"],
        "99.80",
        "EUR",
    )
    assert intent["status"] == "succeeded" and intent["client_secret"]
    assert len(provider.intents) == 1
    status, confirmed = await alice.post(confirm_path(booking["id"], intent["id"]))
    assert (status, confirmed["status"]) == (200, "confirmed")
    assert (
        await db.fetchval(
            "SELECT payment_reference FROM bookings.bookings WHERE id = $1", booking["id"]
        )
        == intent["id"]
    )
    # Confirming again with the same intent is a safe retry: no refund, same booking.
    assert (await alice.post(confirm_path(booking["id"], intent["id"])))[0] == 200
    assert await db.fetchval("SELECT count(*) FROM bookings.refunds") == 0


async def test_a_declined_payment_confirms_nothing(client, buyer, db, provider):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = (await alice.hold(1, 1))[1]
    provider.decline_payments = True
    intent = (await alice.post(intent_path(booking["id"])))[1]
    assert (intent["status"], intent["failure_reason"]) == ("failed", "card_declined")

    status, problem = await alice.post(confirm_path(booking["id"], intent["id"]))

    assert (status, problem["code"]) == (402, "payment_declined")
    assert (await alice.get(f"/api/v1/bookings/{booking['id']}"))[1]["status"] == "held"


async def test_an_intent_of_another_booking_or_amount_is_refused(client, buyer, db, provider):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    cheap = (await alice.hold(1, 1))[1]
    dear = (await alice.hold(1, 2))[1]
    cheap_intent = (await alice.post(intent_path(cheap["id"])))[1]

    for intent_id in (cheap_intent["id"], "pi_fake_unknown"):
        status, problem = await alice.post(confirm_path(dear["id"], intent_id))
        assert (status, problem["code"]) == (409, "payment_intent_mismatch")
    status, problem = await alice.post(confirm_path(dear["id"], "not an id"))
    assert status == 400 and "payment_intent_id" in str(problem["errors"])
    assert (await alice.get(f"/api/v1/bookings/{dear['id']}"))[1]["status"] == "held"
    assert await db.fetchval("SELECT count(*) FROM bookings.refunds") == 0


async def test_a_provider_timeout_is_a_retryable_503_that_charges_once(client, buyer, db, provider):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = (await alice.hold(1, 1))[1]
    provider.timeouts = 1  # the intent is created, but the answer is lost

    response = await client.post(intent_path(booking["id"]), headers=alice.headers)

    assert response.status == 503
    assert (await response.json())["code"] == "payment_provider_unavailable"
    assert response.headers["Retry-After"]
    _, confirmed = await pay_and_confirm(alice, booking["id"])
    assert confirmed["status"] == "confirmed"
    assert len(provider.intents) == 1


async def test_only_a_held_booking_with_a_price_gets_an_intent(client, buyer, tokens):
    await send_event(client, 1, capacity=5)
    await send_event(client, 2, capacity=5, price="0.00")
    alice = buyer(1)
    free = (await alice.hold(2, 1))[1]
    confirmed = (await alice.hold(1, 1))[1]
    await alice.confirm(confirmed["id"])

    for booking_id, who, status, code in (
        (free["id"], alice, 409, "payment_not_required"),
        (confirmed["id"], alice, 409, "booking_not_payable"),
        (confirmed["id"], buyer(2), 404, "booking_not_found"),
        (424242, alice, 404, "booking_not_found"),
    ):
        answer = await who.post(intent_path(booking_id))
        assert (answer[0], answer[1]["code"]) == (status, code)
    # A free booking confirms as before, without any payment.
    assert (await alice.confirm(free["id"]))[1]["status"] == "confirmed"


async def test_a_payment_whose_hold_expired_before_the_confirmation_is_refunded(
    client, buyer, db, provider
):
    await send_event(client, 1, capacity=5)
    alice = buyer(1)
    booking = (await alice.hold(1, 2))[1]
    intent = (await alice.post(intent_path(booking["id"])))[1]
    await db.execute(
        "UPDATE bookings.bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1",
        booking["id"],
    )

    status, problem = await alice.post(confirm_path(booking["id"], intent["id"]))

    assert (status, problem["code"]) == (409, "hold_expired")
    status, refund = await alice.get(f"/api/v1/bookings/{booking['id']}/refund")
    assert status == 200
    assert (refund["reason"], refund["amount"], refund["status"]) == (
        "payment_not_confirmed",
        "99.80",
        "pending",
    )
    assert (await process_due_refunds(client.app[BOOKINGS])).succeeded == 1
    assert provider.refunded(intent["id"]) == provider.intents[intent["id"]].amount
