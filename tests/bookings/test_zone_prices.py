"""A seated event prices its zones (docs/seating.md, "Zone prices"): each seat costs its
zone's price (else the event's), a booking costs the sum of its seats, and everything
that charges or reports money uses that amount: the booking, booking.changed (what
analytics and notifications read), the payment intent and the refund."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evently.core.contracts import BookingChanged, parse
from tests.bookings.conftest import Buyer, OutboxTap, seating_of, send_event, upload_map
from tests.bookings.payments import MANUAL_ENV, pay_and_confirm
from tests.bookings.test_refunds import refund_of
from tests.bookings.test_seat_holds import hold_seats
from tests.events.test_seat_map_rules import small_map

EVENT = 961


@pytest.fixture
async def priced_client(aiohttp_client, bookings_app, events_server):
    """Bookings fetching maps from the real events service; payments run by the test."""
    url = str(events_server.make_url("")).rstrip("/")
    return await aiohttp_client(bookings_app({"EVENTS_URL": url, **MANUAL_ENV}))


@pytest.fixture
async def seat_map(events_client, tokens) -> dict:
    """The small map: zones premium (stalls row A, vip-1, the box) and standard."""
    return await upload_map(events_client, tokens, small_map())


def priced(seat_map: dict, **zone_prices: str) -> dict:
    fields = seating_of(seat_map)
    fields["seating"]["zone_prices"] = zone_prices
    return fields


async def test_a_seated_booking_costs_the_sum_of_its_seats_zone_prices(
    priced_client, tokens, seat_map, database_url
):
    # premium at 89.00; standard not named: the event's price, 49.90.
    await send_event(priced_client, EVENT, max_per_user=4, **priced(seat_map, premium="89.00"))
    me = Buyer(priced_client, tokens, 31)

    status, booking, _ = await hold_seats(me, ["vip-1", "stalls-B-2"], event_id=EVENT)

    assert status == 201, booking
    assert booking["amount"] == "138.90"  # 89.00 + 49.90, not 2 x 49.90
    assert {s["id"]: s["price"] for s in booking["seats"]} == {
        "vip-1": "89.00",
        "stalls-B-2": "49.90",
    }
    status, again = await me.get(f"/api/v1/bookings/{booking['id']}")
    assert (status, again["amount"]) == (200, "138.90")
    messages = await OutboxTap(database_url).messages("analytics", "booking.changed")
    (held,) = [m for m in messages if m.payload["booking"]["id"] == booking["id"]]
    assert parse(BookingChanged, held.payload).booking.amount == Decimal("138.90")


async def test_the_payment_and_the_refund_are_the_seats_amount(priced_client, tokens, seat_map):
    await send_event(
        priced_client, EVENT, max_per_user=4, **priced(seat_map, premium="89.00", standard="10.00")
    )
    me = Buyer(priced_client, tokens, 32)
    status, booking, _ = await hold_seats(me, ["stalls-A-1", "stalls-B-2"], event_id=EVENT)
    assert (status, booking["amount"]) == (201, "99.00"), booking

    intent, confirmed = await pay_and_confirm(me, booking["id"])

    assert intent["amount"] == "99.00" and confirmed["amount"] == "99.00"
    assert (await me.cancel(booking["id"]))[0] == 200
    refund = await refund_of(me, booking["id"])
    assert (refund["amount"], refund["currency"]) == ("99.00", "EUR")


async def test_a_price_change_applies_to_later_holds_only(priced_client, tokens, seat_map):
    await send_event(priced_client, EVENT, max_per_user=4, **priced(seat_map, premium="89.00"))
    me = Buyer(priced_client, tokens, 33)
    status, first, _ = await hold_seats(me, ["vip-1"], event_id=EVENT)
    assert (status, first["amount"]) == (201, "89.00")

    await send_event(priced_client, EVENT, 2, max_per_user=4, **priced(seat_map, premium="120.00"))
    status, second, _ = await hold_seats(me, ["box-1-A"], event_id=EVENT)

    assert (status, second["amount"]) == (201, "120.00")
    status, kept = await me.get(f"/api/v1/bookings/{first['id']}")
    assert kept["amount"] == "89.00" and kept["seats"][0]["price"] == "89.00"


async def test_general_admission_still_costs_unit_price_times_quantity(priced_client, tokens):
    await send_event(priced_client, 962, capacity=10)
    status, booking = await Buyer(priced_client, tokens, 34).hold(962, 3)
    assert (status, booking["amount"], booking["seats"]) == (201, "149.70", [])
