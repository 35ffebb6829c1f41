"""A seated booking's seats follow it: confirming sells them, cancelling, expiry and the
event's cancellation free them (in the same one-call transactions as general admission),
and a freed seat can be held again."""

from __future__ import annotations

import pytest

from evently.bookings.context import BOOKINGS
from evently.bookings.event_cancellation import cancel_bookings_of_cancelled_events
from tests.bookings.conftest import (
    Buyer,
    build_rectangular_map,
    event_seat_rows,
    eventually,
    seat_counts,
    seating_of,
    send_event,
)
from tests.bookings.test_seat_holds import hold_seats, live_seats

EVENT = 701


@pytest.fixture
async def seat_map(events_client, tokens) -> dict:
    return await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=5)


async def held(client, tokens, user_id: int, seat_ids: list[str]) -> dict:
    status, booking, _ = await hold_seats(Buyer(client, tokens, user_id), seat_ids, event_id=EVENT)
    assert status == 201, booking
    return booking


def statuses(rows: dict, seat_ids: list[str]) -> list[str]:
    return [rows[s][0] for s in seat_ids]


async def test_confirming_sells_the_seats(seated_client, seat_map, tokens, db):
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    booking = await held(seated_client, tokens, 1, ["S1-A-1", "S1-A-2"])

    status, confirmed = await Buyer(seated_client, tokens, 1).confirm(booking["id"])

    assert status == 200, confirmed
    assert confirmed["seats"] == booking["seats"]
    rows = await event_seat_rows(db, EVENT)
    assert statuses(rows, ["S1-A-1", "S1-A-2"]) == ["sold", "sold"]
    assert live_seats(rows) == {"S1-A-1": booking["id"], "S1-A-2": booking["id"]}
    counts = await seat_counts(db, EVENT)
    assert (counts["reserved"], counts["sold"], counts["held_bookings"]) == (2, 2, 0)
    status, problem, _ = await hold_seats(
        Buyer(seated_client, tokens, 2), ["S1-A-2"], event_id=EVENT
    )
    assert (status, problem["code"], problem["seat_ids"]) == (409, "seats_unavailable", ["S1-A-2"])


@pytest.mark.parametrize("confirm_first", [False, True])
async def test_cancelling_frees_the_seats_for_the_next_buyer(
    seated_client, seat_map, tokens, db, confirm_first
):
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    booking = await held(seated_client, tokens, 1, ["S1-B-3", "S1-B-4"])
    me = Buyer(seated_client, tokens, 1)
    if confirm_first:
        assert (await me.confirm(booking["id"]))[0] == 200

    status, cancelled = await me.cancel(booking["id"])

    assert status == 200 and cancelled["status"] == "cancelled", cancelled
    assert cancelled["seats"] == booking["seats"]  # what it was, for the record
    rows = await event_seat_rows(db, EVENT)
    assert statuses(rows, ["S1-B-3", "S1-B-4"]) == ["free", "free"]
    assert live_seats(rows) == {}
    counts = await seat_counts(db, EVENT)
    assert (counts["reserved"], counts["sold"]) == (0, 0)
    again = await held(seated_client, tokens, 2, ["S1-B-4"])
    assert live_seats(await event_seat_rows(db, EVENT)) == {"S1-B-4": again["id"]}


async def test_an_expired_hold_frees_its_seats(seated_client, seat_map, tokens, db):
    await send_event(seated_client, EVENT, hold_ttl_seconds=1, **seating_of(seat_map))
    booking = await held(seated_client, tokens, 1, ["S1-A-5"])

    async def expired() -> bool:
        status = await db.fetchval(
            "SELECT status FROM bookings.bookings WHERE id = $1", booking["id"]
        )
        return status == "expired"

    await eventually(expired)
    rows = await event_seat_rows(db, EVENT)
    assert rows["S1-A-5"] == ("free", None)
    assert (await seat_counts(db, EVENT))["reserved"] == 0
    status, problem = await Buyer(seated_client, tokens, 1).confirm(booking["id"])
    assert (status, problem["code"]) == (409, "hold_expired")
    assert (await event_seat_rows(db, EVENT))["S1-A-5"] == ("free", None)


async def test_a_cancelled_event_frees_every_seat(seated_client, seat_map, tokens, db):
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    sold = await held(seated_client, tokens, 1, ["S1-A-1", "S1-A-2"])
    assert (await Buyer(seated_client, tokens, 1).confirm(sold["id"]))[0] == 200
    await held(seated_client, tokens, 2, ["S1-B-1"])

    await send_event(seated_client, EVENT, version=2, status="cancelled", **seating_of(seat_map))
    report = await cancel_bookings_of_cancelled_events(seated_client.app[BOOKINGS])

    assert report.cancelled == 2
    rows = await event_seat_rows(db, EVENT)
    assert live_seats(rows) == {}
    assert {status for status, _ in rows.values()} == {"free"}
    counts = await seat_counts(db, EVENT)
    assert (counts["reserved"], counts["sold"]) == (0, 0)


async def test_a_seated_events_waitlist_follows_the_organisers_setting(
    seated_client, seat_map, tokens, db
):
    # Seated waitlists (offers of seats) are tests/bookings/test_seated_waitlist.py's.
    await send_event(seated_client, EVENT, waitlist_enabled=False, **seating_of(seat_map))
    status, problem = await Buyer(seated_client, tokens, 1).post(
        f"/api/v1/events/{EVENT}/waitlist", {"quantity": 1}
    )
    assert (status, problem["code"]) == (409, "waitlist_disabled"), problem
    assert await db.fetchval("SELECT count(*) FROM bookings.waitlist_entries") == 0
