"""A waitlist on a seated event (docs/seating.md, "Seated waitlist"): joining a sold-out
seated event, and offers that hold specific seats (the freed ones, or the best
available together) for the promoted user, never seats kept back for a channel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bookings.conftest import (
    Buyer,
    build_rectangular_map,
    event_seat_rows,
    seat_counts,
    seating_of,
    send_event,
)
from tests.bookings.test_seat_holds import hold_seats

EVENT = 981
ROW_A = ["S1-A-1", "S1-A-2", "S1-A-3"]
ROW_B = ["S1-B-1", "S1-B-2", "S1-B-3"]


@pytest.fixture
async def two_rows(seated_client, events_client, tokens) -> dict:
    """Event 981 on two rows of three seats (rank 1: row A)."""
    return await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=3)


async def sell_out(client: Any, tokens: Any, seats: list[str], first_user: int = 100) -> list:
    """Hold every seat, one booking per seat; the bookings."""
    bookings = []
    for n, seat in enumerate(seats):
        status, booking, _ = await hold_seats(
            Buyer(client, tokens, first_user + n), [seat], event_id=EVENT
        )
        assert status == 201, booking
        bookings.append(booking)
    return bookings


async def offer_of(buyer: Buyer) -> dict:
    status, entry = await buyer.get(f"/api/v1/events/{EVENT}/waitlist/me")
    assert status == 200, entry
    assert entry["status"] == "offered", entry
    status, booking = await buyer.get(f"/api/v1/bookings/{entry['booking_id']}")
    assert status == 200, booking
    return booking


async def test_an_offer_holds_the_freed_seats_for_the_promoted_user(
    seated_client, tokens, two_rows, db
):
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(two_rows))
    holds = await sell_out(seated_client, tokens, ROW_A + ROW_B)
    alice = Buyer(seated_client, tokens, 1)
    status, entry = await alice.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 1})
    assert (status, entry["status"]) == (201, "waiting"), entry

    assert (await Buyer(seated_client, tokens, 104).cancel(holds[4]["id"]))[0] == 200

    offer = await offer_of(alice)
    assert [s["id"] for s in offer["seats"]] == ["S1-B-2"]
    assert offer["amount"] == "49.90" and offer["seats"][0]["row_label"] == "B"
    rows = await event_seat_rows(db, EVENT)
    assert rows["S1-B-2"] == ("held", offer["id"])
    counts = await seat_counts(db, EVENT)
    assert counts["reserved"] == 6
    # Confirming the offer sells the seat; its ticket names it.
    assert (await alice.confirm(offer["id"]))[0] == 200
    assert (await event_seat_rows(db, EVENT))["S1-B-2"] == ("sold", offer["id"])


async def test_an_offer_of_several_seats_takes_them_together_in_the_best_row(
    seated_client, tokens, two_rows, db
):
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(two_rows))
    singles = await sell_out(seated_client, tokens, [*ROW_A, "S1-B-2"])
    pair_holder = Buyer(seated_client, tokens, 120)
    status, pair, _ = await hold_seats(pair_holder, ["S1-B-1", "S1-B-3"], event_id=EVENT)
    assert status == 201, pair
    # S1-A-1 comes back before anyone waits; then Bob waits for two seats.
    assert (await Buyer(seated_client, tokens, 100).cancel(singles[0]["id"]))[0] == 200
    bob = Buyer(seated_client, tokens, 2)
    assert (await bob.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 2}))[0] == 201

    # S1-B-1 and S1-B-3 come back: three seats free, two of them in row B.
    assert (await pair_holder.cancel(pair["id"]))[0] == 200

    offer = await offer_of(bob)
    assert [s["id"] for s in offer["seats"]] == ["S1-B-1", "S1-B-3"]
    assert offer["quantity"] == 2 and offer["amount"] == "99.80"
    assert (await event_seat_rows(db, EVENT))["S1-A-1"] == ("free", None)


async def test_a_declined_offer_frees_its_seats_for_the_next_in_line(
    seated_client, tokens, two_rows, db
):
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(two_rows))
    holds = await sell_out(seated_client, tokens, ROW_A + ROW_B)
    first, second = Buyer(seated_client, tokens, 3), Buyer(seated_client, tokens, 4)
    for buyer in (first, second):
        assert (await buyer.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 1}))[0] == 201
    assert (await Buyer(seated_client, tokens, 100).cancel(holds[0]["id"]))[0] == 200
    assert [s["id"] for s in (await offer_of(first))["seats"]] == ["S1-A-1"]

    assert (await first.delete(f"/api/v1/events/{EVENT}/waitlist/me"))[0] == 200

    offer = await offer_of(second)
    assert [s["id"] for s in offer["seats"]] == ["S1-A-1"]
    assert (await event_seat_rows(db, EVENT))["S1-A-1"] == ("held", offer["id"])


async def test_an_offer_never_takes_a_seat_kept_back_for_a_channel(
    seated_client, tokens, two_rows, db
):
    seating = seating_of(two_rows)
    await send_event(seated_client, EVENT, max_per_user=4, **seating)
    holds = await sell_out(seated_client, tokens, ROW_A + ROW_B)
    carol = Buyer(seated_client, tokens, 5)
    assert (await carol.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 1}))[0] == 201
    seating["seating"]["channels"] = {"promoter-x": ["S1-A-1"]}
    await send_event(seated_client, EVENT, 2, max_per_user=4, **seating)

    assert (await Buyer(seated_client, tokens, 100).cancel(holds[0]["id"]))[0] == 200

    status, entry = await carol.get(f"/api/v1/events/{EVENT}/waitlist/me")
    assert (status, entry["status"]) == (200, "waiting"), entry
    assert (await event_seat_rows(db, EVENT))["S1-A-1"] == ("free", None)
