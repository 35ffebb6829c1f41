"""Tickets of a seated event name their seat (docs/tickets.md): in the ticket API, in the
answer to a scan at the door and in the signed offline check-in list. General-admission
tickets name none, and the signed code is the same for both."""

from __future__ import annotations

from typing import Any

import pytest

from evently.bookings import checkin_list, ticket_codes
from evently.bookings.ticket_codes import TicketClaims
from tests.bookings.conftest import Buyer, seating_of, send_event, upload_map
from tests.bookings.test_checkin import download_list, scan, staff_headers
from tests.bookings.test_seat_holds import hold_seats
from tests.events.test_seat_map_rules import small_map

SEATED, GENERAL = 901, 902


@pytest.fixture
async def events(seated_client, events_client, tokens) -> None:
    """Event 901 on the small map, event 902 general admission."""
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, SEATED, max_per_user=4, **seating_of(seat_map))
    await send_event(seated_client, GENERAL, capacity=10)


async def confirmed_tickets(buyer: Buyer, booking: dict[str, Any]) -> dict[str, Any]:
    assert (await buyer.confirm(booking["id"]))[0] == 200
    status, body = await buyer.get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200, body
    return body


async def seated_booking(buyer: Buyer, seat_ids: list[str]) -> dict[str, Any]:
    status, booking, _ = await hold_seats(buyer, seat_ids, event_id=SEATED)
    assert status == 201, booking
    return booking


async def test_each_ticket_of_a_seated_booking_names_its_seat(seated_client, tokens, events):
    me = Buyer(seated_client, tokens, 7)
    booking = await seated_booking(me, ["vip-1", "stalls-A-3"])

    body = await confirmed_tickets(me, booking)

    assert [t["seat"] for t in body["tickets"]] == [1, 2]
    assert [t["assigned_seat"] for t in body["tickets"]] == booking["seats"]
    assert {t["assigned_seat"]["id"] for t in body["tickets"]} == {"vip-1", "stalls-A-3"}
    vip = next(t["assigned_seat"] for t in body["tickets"] if t["assigned_seat"]["id"] == "vip-1")
    assert vip == {"id": "vip-1", "label": "3", "section": "stalls", "row": "B", "zone": "premium",
                   "section_label": "stalls", "row_label": "B", "price": "49.90"}  # fmt: skip
    # The signed code is unchanged: scanners verify it exactly as before.
    keys_response = await seated_client.get("/.well-known/ticket-keys.json")
    keys = ticket_codes.public_keys_from_jwks(await keys_response.json())
    for ticket in body["tickets"]:
        claims = ticket_codes.verify(ticket["code"], keys)
        assert claims == TicketClaims(SEATED, booking["id"], ticket["seat"])


async def test_a_general_admission_ticket_names_no_seat(seated_client, tokens, events):
    me = Buyer(seated_client, tokens, 8)
    status, booking = await me.hold(GENERAL, 2)
    assert status == 201, booking

    body = await confirmed_tickets(me, booking)

    assert [t["assigned_seat"] for t in body["tickets"]] == [None, None]


async def test_a_cancelled_seated_booking_keeps_its_seats_on_its_void_tickets(
    seated_client, tokens, events
):
    me = Buyer(seated_client, tokens, 9)
    booking = await seated_booking(me, ["box-1-A"])
    await confirmed_tickets(me, booking)
    assert (await me.cancel(booking["id"]))[0] == 200

    status, body = await me.get(f"/api/v1/bookings/{booking['id']}/tickets")

    assert status == 200, body
    (ticket,) = body["tickets"]
    assert (ticket["status"], ticket["assigned_seat"]["id"]) == ("void", "box-1-A")


async def test_a_scan_at_the_door_shows_the_seat(seated_client, tokens, events):
    me = Buyer(seated_client, tokens, 10)
    booking = await seated_booking(me, ["stalls-A-1", "stalls-A-2"])
    tickets = (await confirmed_tickets(me, booking))["tickets"]
    status, general = await me.hold(GENERAL, 1)
    assert status == 201, general
    (general_ticket,) = (await confirmed_tickets(me, general))["tickets"]
    staff = staff_headers(tokens)

    for ticket in tickets:
        status, answer = await scan(seated_client, staff, ticket["code"], event=SEATED)
        assert (status, answer["result"]) == (200, "valid"), answer
        assert answer["assigned_seat"] == ticket["assigned_seat"]
    status, again = await scan(seated_client, staff, tickets[0]["code"], event=SEATED)
    assert (again["result"], again["assigned_seat"]["id"]) == ("already_checked_in", "stalls-A-1")
    status, answer = await scan(seated_client, staff, general_ticket["code"], event=GENERAL)
    assert (answer["result"], answer["assigned_seat"]) == ("valid", None)


async def test_the_signed_offline_list_names_each_tickets_seat(seated_client, tokens, events):
    me = Buyer(seated_client, tokens, 11)
    booking = await seated_booking(me, ["stalls-A-3", "stalls-B-2"])
    tickets = (await confirmed_tickets(me, booking))["tickets"]
    staff = staff_headers(tokens)

    response, body = await download_list(seated_client, staff, SEATED)

    assert response.status == 200
    keys_response = await seated_client.get("/.well-known/ticket-keys.json")
    keys = ticket_codes.public_keys_from_jwks(await keys_response.json())
    document = checkin_list.verify_checkin_list(body, keys)
    listed = {t["code"]: t["assigned_seat"] for t in document["tickets"]}
    assert listed == {t["code"]: t["assigned_seat"] for t in tickets}
    assert {seat["id"] for seat in listed.values()} == {"stalls-A-3", "stalls-B-2"}
