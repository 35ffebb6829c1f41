"""The expiry sweeper: releases expired holds exactly once, even with many replicas."""

from __future__ import annotations

import asyncio

from evently.bookings.context import BOOKINGS
from evently.bookings.expiry import release_expired_holds
from evently.bookings.metrics import EXPIRY_LAST_RUN
from tests.bookings.conftest import FAST_ENV, Buyer, eventually, seat_counts, send_event

SLOW_SWEEPER = {**FAST_ENV, "BOOKINGS_EXPIRY_INTERVAL_S": "3600"}


async def test_expired_hold_is_released_and_reported(client, buyer, db):
    await send_event(client, 1, capacity=5, hold_ttl_seconds=1)
    booking = (await buyer(1).hold(1, 3))[1]

    async def released() -> bool:
        return (await seat_counts(db, 1))["reserved"] == 0

    await eventually(released)
    status, expired = await buyer(1).get(f"/api/v1/bookings/{booking['id']}")
    assert (status, expired["status"]) == (200, "expired")
    assert expired["expired_at"] is not None
    transitions = await db.fetch(
        """SELECT payload->>'transition' AS t FROM bookings.outbox
           WHERE topic = 'booking.changed' AND key = $1 ORDER BY id""",
        str(booking["id"]),
    )
    assert [r["t"] for r in transitions] == ["held", "expired"]
    assert EXPIRY_LAST_RUN._value.get() > 0
    status, problem = await buyer(1).cancel(booking["id"])
    assert (status, problem["code"]) == (409, "booking_not_cancellable")


async def test_confirming_an_expired_hold_is_409_even_before_the_sweep(
    aiohttp_client, bookings_app, tokens, db
):
    client = await aiohttp_client(bookings_app(SLOW_SWEEPER))
    await send_event(client, 1, capacity=5, hold_ttl_seconds=1)
    me = Buyer(client, tokens, 1)
    booking = (await me.hold(1, 1))[1]
    await asyncio.sleep(1.1)  # let the 1 s hold lapse (the sweeper is off)
    status, problem = await me.confirm(booking["id"])
    assert (status, problem["code"]) == (409, "hold_expired")
    assert problem["booking"]["id"] == booking["id"]
    assert (await seat_counts(db, 1))["sold"] == 0


async def test_many_sweepers_expire_each_hold_exactly_once(
    aiohttp_client, bookings_app, tokens, db
):
    replicas = [await aiohttp_client(bookings_app(SLOW_SWEEPER)) for _ in range(3)]
    client = replicas[0]
    await send_event(client, 1, capacity=500, hold_ttl_seconds=1)
    holds = await asyncio.gather(*(Buyer(client, tokens, 10 + i).hold(1, 2) for i in range(120)))
    assert all(status == 201 for status, _ in holds), [b for s, b in holds if s != 201][:3]
    await asyncio.sleep(1.1)
    contexts = [r.server.app[BOOKINGS] for r in replicas]
    reports = await asyncio.gather(*(release_expired_holds(c) for c in contexts for _ in range(2)))
    assert sum(r.expired for r in reports) == 120
    assert (await seat_counts(db, 1))["reserved"] == 0
    duplicates = await db.fetchval(
        """SELECT count(*) FROM (SELECT key FROM bookings.outbox
           WHERE topic = 'booking.changed' AND payload->>'transition' = 'expired'
           GROUP BY key HAVING count(*) > 1) d"""
    )
    assert duplicates == 0
