"""An organiser cancels an event: every held and confirmed booking is cancelled in
batches, every paid one is refunded exactly once, and the seat counters stay right."""

from __future__ import annotations

from collections import Counter

import pytest

from evently.bookings.context import BOOKINGS
from evently.bookings.event_cancellation import cancel_bookings_of_cancelled_events
from evently.bookings.inventory import event_lock_arguments
from evently.bookings.queries import CANCEL_EVENT_BOOKINGS
from evently.bookings.refunds import process_due_refunds
from tests.bookings.conftest import Buyer, eventually, seat_counts, send_event
from tests.bookings.payments import MANUAL_ENV, paid_booking

BATCH = 3


@pytest.fixture
async def client(aiohttp_client, bookings_app):
    return await aiohttp_client(
        bookings_app({**MANUAL_ENV, "BOOKINGS_EVENT_CANCEL_BATCH_SIZE": str(BATCH)})
    )


@pytest.fixture
def ctx(client):
    return client.app[BOOKINGS]


async def a_busy_event(client, db, buyer, event_id: int) -> dict[str, list[dict]]:
    """Paid, unpaid-confirmed, held and already cancelled (paid) bookings of one event."""
    ctx = client.app[BOOKINGS]
    await send_event(client, event_id, capacity=40)
    kinds: dict[str, list[dict]] = {"paid": [], "unpaid": [], "held": [], "cancelled": []}
    for user in range(1, 6):
        kinds["paid"].append(await paid_booking(ctx, db, buyer(user), event_id))
    for user in range(6, 9):
        booking = (await buyer(user).hold(event_id, 1))[1]
        await buyer(user).confirm(booking["id"])
        kinds["unpaid"].append(booking)
    for user in range(9, 13):
        kinds["held"].append((await buyer(user).hold(event_id, 1))[1])
    cancelled = await paid_booking(ctx, db, buyer(13), event_id)
    await buyer(13).cancel(cancelled["id"])
    kinds["cancelled"].append(cancelled)
    return kinds


async def test_a_cancelled_event_ends_with_every_booking_cancelled_and_paid_ones_refunded_once(
    client, ctx, db, buyer, outbox
):
    kinds = await a_busy_event(client, db, buyer, 1)
    await send_event(client, 1, version=2, status="cancelled", capacity=40)

    report = await cancel_bookings_of_cancelled_events(ctx)
    again = await cancel_bookings_of_cancelled_events(ctx)

    assert (report.cancelled, report.refunds) == (5 + 3 + 4, 5)
    assert report.batches == 5  # 12 bookings, 3 per transaction, then one finds none left
    assert (again.cancelled, again.batches) == (0, 0)
    statuses = await db.fetch("SELECT status, count(*) FROM bookings.bookings GROUP BY 1")
    assert dict(statuses) == {"cancelled": 13}
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"], counts["capacity"]) == (0, 0, 40)
    assert await db.fetchval("SELECT count(*) FROM bookings.tickets WHERE status = 'valid'") == 0
    refunds = await db.fetch("SELECT booking_id, reason FROM bookings.refunds")
    paid_ids = {b["id"] for b in kinds["paid"]}
    assert {r["booking_id"] for r in refunds} == paid_ids | {kinds["cancelled"][0]["id"]}
    assert Counter(r["reason"] for r in refunds) == {"event_cancelled": 5, "booking_cancelled": 1}

    cancelled_messages = [
        m
        for m in await outbox.messages("analytics", "booking.changed")
        if m.payload["transition"] == "cancelled"
    ]
    assert Counter(int(m.key) for m in cancelled_messages) == Counter(range(1, 14))
    created = await outbox.messages("analytics", "refund.changed")
    assert len(created) == 6

    provider = ctx.payments
    assert (await process_due_refunds(ctx)).succeeded == 6
    assert (await process_due_refunds(ctx)).succeeded == 0
    assert (await cancel_bookings_of_cancelled_events(ctx)).refunds == 0
    assert provider.refunds_created == 6
    assert all(provider.refunded(p) <= provider.intents[p].amount for p in provider.intents)
    assert (
        await db.fetchval("SELECT count(*) FROM bookings.refunds WHERE status = 'succeeded'") == 6
    )


async def test_event_cancellation_resumes_from_the_database_after_a_crash(client, ctx, db, buyer):
    await a_busy_event(client, db, buyer, 1)
    await send_event(client, 1, version=2, status="cancelled", capacity=40)
    # One batch commits, then the process "dies": nothing in memory survives.
    key_ns, key_ids = event_lock_arguments(1)
    first = await db.fetchrow(CANCEL_EVENT_BOOKINGS, 1, key_ns, key_ids, 10_000, BATCH)
    assert first["cancelled"] == BATCH
    assert (
        await db.fetchval(
            "SELECT count(*) FROM bookings.bookings WHERE status IN ('held', 'confirmed')"
        )
        == 12 - BATCH
    )

    report = await cancel_bookings_of_cancelled_events(ctx)

    assert report.cancelled == 12 - BATCH
    assert await db.fetchval("SELECT count(*) FROM bookings.refunds") == 6
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"]) == (0, 0)


async def test_bookings_of_an_event_still_on_sale_are_left_alone(client, ctx, db, buyer):
    await a_busy_event(client, db, buyer, 1)
    key_ns, key_ids = event_lock_arguments(1)

    batch = await db.fetchrow(CANCEL_EVENT_BOOKINGS, 1, key_ns, key_ids, 10_000, BATCH)

    assert batch["cancelled"] == 0
    assert (await cancel_bookings_of_cancelled_events(ctx)).cancelled == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM bookings.bookings WHERE status IN ('held', 'confirmed')"
        )
        == 12
    )


async def test_the_background_canceller_cancels_a_cancelled_events_bookings(
    aiohttp_client, bookings_app, tokens, db
):
    client = await aiohttp_client(bookings_app({"BOOKINGS_EVENT_CANCEL_INTERVAL_S": "0.05"}))
    await send_event(client, 1, capacity=10)
    customer = Buyer(client, tokens, 1)
    booking = (await customer.hold(1, 2))[1]
    await customer.confirm(booking["id"])

    await send_event(client, 1, version=2, status="cancelled", capacity=10)

    async def cancelled() -> bool:
        return (await customer.get(f"/api/v1/bookings/{booking['id']}"))[1]["status"] == (
            "cancelled"
        )

    await eventually(cancelled)
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"]) == (0, 0)
