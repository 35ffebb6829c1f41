"""Seats kept back for a channel are not for sale to the public (docs/seating.md,
"Channel allocations"): the public figures (``available``, ``sold_out``: the stream, the
internal availability the events API and the waiting room read, ``inventory.changed``)
leave them out, and the stream shows them as ``kept_back``, never ``free``."""

from __future__ import annotations

import json

import pytest

from tests.bookings.conftest import (
    Buyer,
    build_rectangular_map,
    eventually,
    seating_of,
    send_event,
)
from tests.bookings.test_seat_channels import Holder
from tests.bookings.test_seat_holds import hold_seats
from tests.bookings.test_seat_stream import SeatWatcher
from tests.conftest import INTERNAL_API_KEY

EVENT = 973
KEPT = ["S1-A-1", "S1-A-2"]


def kept_back(seat_map: dict, *seats: str) -> dict:
    fields = seating_of(seat_map)
    fields["seating"]["channels"] = {"promoter-x": list(seats)} if seats else {}
    return fields


@pytest.fixture
async def one_row(seated_client, events_client, tokens) -> dict:
    """Event 973 on one row of four seats, S1-A-1 and S1-A-2 kept back for promoter-x."""
    seat_map = await build_rectangular_map(events_client, tokens, rows=1, seats_per_row=4)
    await send_event(seated_client, EVENT, max_per_user=4, **kept_back(seat_map, *KEPT))
    return seat_map


async def availability(client) -> dict:
    response = await client.get(
        f"/internal/events/{EVENT}/availability", headers={"X-Internal-Key": INTERNAL_API_KEY}
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_kept_back_seats_are_not_available_to_the_public(seated_client, tokens, one_row, db):
    figures = await availability(seated_client)
    assert (figures["capacity"], figures["available"], figures["sold_out"]) == (4, 2, False)

    assert (await Buyer(seated_client, tokens, 1).hold(EVENT, 2))[0] == 201

    figures = await availability(seated_client)
    assert (figures["held"], figures["available"], figures["sold_out"]) == (2, 0, True)

    async def published() -> bool:  # what inventory.changed carries (events, waiting room)
        text = "SELECT published::text FROM bookings.inventory WHERE event_id = $1"
        state = json.loads(await db.fetchval(text, EVENT))
        return (state["held"], state["available"], state["sold_out"]) == (2, 0, True)

    await eventually(published)


async def test_with_only_kept_back_seats_left_the_public_may_join_the_waitlist(
    seated_client, tokens, one_row
):
    assert (await Buyer(seated_client, tokens, 1).hold(EVENT, 2))[0] == 201
    buyer = Buyer(seated_client, tokens, 2)

    status, entry = await buyer.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 1})

    assert status == 201, entry


async def test_releasing_the_channel_makes_its_seats_available(seated_client, tokens, one_row):
    await send_event(seated_client, EVENT, 2, max_per_user=4, **kept_back(one_row))

    figures = await availability(seated_client)
    assert (figures["available"], figures["sold_out"]) == (4, False)


async def test_the_stream_shows_kept_back_seats_and_never_as_free(seated_client, tokens, one_row):
    response = await seated_client.get(f"/api/v1/events/{EVENT}/availability/stream")
    assert response.status == 200
    watcher = SeatWatcher(response)
    first = await watcher.next_message()
    assert first["seats"]["kept_back"] == KEPT and first["available"] == 2, first

    admin = Holder(seated_client, tokens.admin(5))
    status, booking, _ = await hold_seats(admin, ["S1-A-1"], event_id=EVENT, channel="promoter-x")
    assert status == 201, booking
    held = await watcher.next_message()
    assert held["seats"] == {"held": ["S1-A-1"]}, held
    cancel = await seated_client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=tokens.admin(5)
    )
    assert cancel.status == 200, await cancel.text()

    freed = await watcher.next_message()
    assert freed["seats"] == {"kept_back": ["S1-A-1"]}, freed

    await send_event(seated_client, EVENT, 2, max_per_user=4, **kept_back(one_row, "S1-A-2"))
    released = await watcher.next_message()
    assert released["seats"]["snapshot"] is True and released["seats"]["kept_back"] == ["S1-A-2"]
    assert released["available"] == 3
    response.close()
