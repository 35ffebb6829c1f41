"""A hold's ``booking.changed`` may reach the room before the ``inventory.changed`` that
takes its seats out of ``available`` (bookings publishes inventory in batches, and a
grouped delivery applies booking.changed first). Before 2026-12-05 the room then counted
the holder as decided and their seats as still available, both at once, and admitted
visitors for seats that no longer existed. A hold now counts against ``available`` until
an inventory version that includes it (greater than the one the hold carries) arrives.

Messages are delivered to the room's real inbox endpoint, in the bad order."""

from __future__ import annotations

from datetime import timedelta

from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.waiting_room.conftest import configure_room, join, tick, utc

T0 = utc(2030, 1, 1, 12, 0, 0)
IDLE_S = 180


async def test_a_hold_reported_before_the_inventory_is_not_counted_twice(room, tokens):
    await configure_room(room, 1, admission_rate_per_minute=6000, max_active_shoppers=100)
    await tick(room, 1, T0)
    bookings = ScriptedBookings(event_id=1, capacity=10)
    assert await deliver(room, [bookings.inventory()])  # version 1: 10 seats available
    for user in (1, 2, 3):
        await join(room, tokens, 1, user)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 3
    for user in (4, 5, 6):
        await join(room, tokens, 1, user)

    # Visitor 1 holds 2 seats (8 left): the hold reaches the room, its inventory not yet.
    _, (booking_changed, inventory_changed) = bookings.hold(
        2, user_id=1, at=T0 + timedelta(seconds=2)
    )
    assert await deliver(room, [booking_changed])
    # Buyers take 2 seats each; 2 visitors have not held yet: 8 seats serve 2 more. The
    # stale 10 with the holder counted as decided served 3.
    assert (await tick(room, 1, T0 + timedelta(seconds=3))).admitted == 2

    assert await deliver(room, [inventory_changed])  # version 2: 8 available
    assert (await tick(room, 1, T0 + timedelta(seconds=4))).admitted == 0  # 8 serve 4


async def test_a_reported_hold_no_longer_counts_against_the_seats(room, tokens):
    """Once the inventory that includes the hold arrives, its seats are taken off once:
    nothing lingers to keep visitors out."""
    await configure_room(room, 1, admission_rate_per_minute=6000, max_active_shoppers=100)
    await tick(room, 1, T0)
    bookings = ScriptedBookings(event_id=1, capacity=10)
    assert await deliver(room, [bookings.inventory()])
    for user in (1, 2, 3):
        await join(room, tokens, 1, user)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 3
    _, held = bookings.hold(2, user_id=1, at=T0 + timedelta(seconds=2))
    assert await deliver(room, held)  # one batch: the hold, then its inventory (8 left)
    for user in range(7, 13):
        await join(room, tokens, 1, user)

    # Visitors 2 and 3 sit idle and lose their slots; visitor 1's open hold keeps theirs.
    # 8 seats at 2 a buyer serve 4 visitors (3 if the hold were taken off twice).
    result = await tick(room, 1, T0 + timedelta(seconds=1 + IDLE_S), idle_s=IDLE_S)
    assert (result.expired, result.admitted) == (2, 4)
