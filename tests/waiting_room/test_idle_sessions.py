"""Sessions end early: an admitted visitor who bought, or who stays idle, frees their slot
for the next visitor. What they did comes from bookings' booking.changed (the inbox of
one replica); the ticker of the other ends the session (a driven clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.waiting_room.conftest import configure_room, join, status, tick, utc

T0 = utc(2030, 1, 1, 12, 0, 0)
IDLE_S = 60.0


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def replicas(room, tokens, aiohttp_client, make_room_app):
    """Two replicas; one shopper slot; visitor 1 admitted at T0+1, visitor 2 waiting."""
    ticking = await aiohttp_client(make_room_app())
    await configure_room(room, 1, admission_rate_per_minute=60, max_active_shoppers=1)
    await tick(ticking, 1, T0)
    await join(room, tokens, 1, 1)
    await join(room, tokens, 1, 2)
    assert (await tick(ticking, 1, at(1))).admitted == 1
    return room, ticking


async def booking_messages(room, messages) -> None:
    """Deliver bookings' booking.changed to ``room``'s inbox (inventory is not at issue)."""
    await deliver(room, [m for m in messages if m["topic"] == "booking.changed"])


async def states(room, tokens) -> tuple[str, str]:
    return (await status(room, tokens, 1, 1))["state"], (await status(room, tokens, 1, 2))["state"]


async def test_a_purchase_ends_the_session_and_admits_the_next_visitor(replicas, tokens):
    inbox, ticking = replicas
    bookings = ScriptedBookings(event_id=1, capacity=10)
    booking_id, held = bookings.hold(2, user_id=1, at=at(5))
    await booking_messages(inbox, held)
    assert (await tick(ticking, 1, at(6), IDLE_S)).admitted == 0  # holding: still shopping
    await booking_messages(inbox, bookings.confirm(booking_id, at=at(8)))
    result = await tick(ticking, 1, at(9), IDLE_S)
    assert (result.completed, result.admitted) == (1, 1)
    assert await states(inbox, tokens) == ("completed", "admitted")


async def test_an_idle_session_frees_its_slot(replicas, tokens):
    inbox, ticking = replicas
    assert (await tick(ticking, 1, at(1 + IDLE_S - 1), IDLE_S)).expired == 0
    assert await states(inbox, tokens) == ("admitted", "waiting")
    result = await tick(ticking, 1, at(1 + IDLE_S), IDLE_S)
    assert (result.expired, result.admitted) == (1, 1)
    assert await states(inbox, tokens) == ("expired", "admitted")


async def test_an_open_hold_keeps_a_session_and_its_end_restarts_the_idle_clock(replicas, tokens):
    inbox, ticking = replicas
    bookings = ScriptedBookings(event_id=1, capacity=10)
    booking_id, held = bookings.hold(1, user_id=1, at=at(10))
    await booking_messages(inbox, held)
    assert (await tick(ticking, 1, at(200), IDLE_S)).expired == 0  # the hold is open
    await booking_messages(inbox, bookings.expire(booking_id, at=at(300)))
    assert (await tick(ticking, 1, at(300 + IDLE_S - 1), IDLE_S)).expired == 0
    result = await tick(ticking, 1, at(300 + IDLE_S), IDLE_S)
    assert (result.expired, result.admitted) == (1, 1)
    assert await states(inbox, tokens) == ("expired", "admitted")


async def test_cancelling_a_purchase_does_not_close_another_open_hold(replicas, tokens):
    inbox, ticking = replicas
    bookings = ScriptedBookings(event_id=1, capacity=10)
    bought, first = bookings.hold(1, user_id=1, at=at(5))
    second_id, second = bookings.hold(1, user_id=1, at=at(6))
    await booking_messages(inbox, first + second + bookings.confirm(bought, at=at(7)))
    await booking_messages(inbox, bookings.cancel(bought, at=at(8)))  # it was confirmed
    assert (await tick(ticking, 1, at(9), IDLE_S)).completed == 0  # the second hold is open
    await booking_messages(inbox, bookings.cancel(second_id, at=at(10)))  # a held one
    result = await tick(ticking, 1, at(11), IDLE_S)
    assert (result.completed, result.admitted) == (1, 1)
