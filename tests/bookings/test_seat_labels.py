"""Bookings and tickets print the venue's section and row labels, not only their ids
(docs/seating.md, "Labels"): on a hand-made map the ids (``b112``, ``r01``) are not what
is printed on the seats (``Block 112``, ``Row A``)."""

from __future__ import annotations

from typing import Any

import pytest

from evently.bookings import checkin_list, ticket_codes
from evently.bookings.seat_map_fetch import stored_seats
from evently.core.contracts import BookedSeat
from tests.bookings.conftest import Buyer, OutboxTap, seating_of, send_event, upload_map
from tests.bookings.test_checkin import download_list, scan, staff_headers
from tests.bookings.test_seat_holds import hold_seats

EVENT = 951


def labelled_map() -> dict[str, Any]:
    """One section and two rows whose ids differ from their labels."""
    return {
        "name": "Arena, labelled",
        "zones": [{"id": "std", "name": "Standard"}],
        "sections": [
            {
                "id": "b112",
                "label": "Block 112",
                "zone": "std",
                "rows": [
                    {"id": "r01", "label": "Row A", "seats": [
                        {"label": "1", "x": 10, "y": 10}, {"label": "2", "x": 20, "y": 10}]},
                    {"id": "r02", "label": "Row B", "seats": [
                        {"id": "seat-b2-1", "label": "1", "x": 10, "y": 20}]},
                ],
            }
        ],
    }  # fmt: skip


@pytest.fixture
async def labelled_event(seated_client, events_client, tokens) -> dict:
    seat_map = await upload_map(events_client, tokens, labelled_map())
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(seat_map))
    return seat_map


async def test_the_stored_copy_keeps_section_and_row_labels(labelled_event, db):
    seats = await stored_seats(db, labelled_event["map_id"], labelled_event["version"])

    assert [(s.id, s.section_label, s.row_label) for s in seats] == [
        ("b112-r01-1", "Block 112", "Row A"),
        ("b112-r01-2", "Block 112", "Row A"),
        ("seat-b2-1", "Block 112", "Row B"),
    ]


async def test_a_booking_and_its_tickets_print_the_labels(
    seated_client, tokens, labelled_event, database_url
):
    me = Buyer(seated_client, tokens, 21)
    status, booking, _ = await hold_seats(me, ["seat-b2-1", "b112-r01-2"], event_id=EVENT)
    assert status == 201, booking
    row_b = {"id": "seat-b2-1", "label": "1", "section": "b112", "row": "r02", "zone": "std",
             "section_label": "Block 112", "row_label": "Row B", "price": "49.90"}  # fmt: skip
    assert row_b in booking["seats"]
    assert {s["row_label"] for s in booking["seats"]} == {"Row A", "Row B"}

    assert (await me.confirm(booking["id"]))[0] == 200
    status, tickets = await me.get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200, tickets
    assert [t["assigned_seat"] for t in tickets["tickets"]] == booking["seats"]

    staff = staff_headers(tokens)
    status, answer = await scan(seated_client, staff, tickets["tickets"][0]["code"], event=EVENT)
    assert (status, answer["assigned_seat"]) == (200, tickets["tickets"][0]["assigned_seat"])
    response, body = await download_list(seated_client, staff, EVENT)
    assert response.status == 200
    keys_response = await seated_client.get("/.well-known/ticket-keys.json")
    keys = ticket_codes.public_keys_from_jwks(await keys_response.json())
    listed = checkin_list.verify_checkin_list(body, keys)["tickets"]
    assert {t["assigned_seat"]["section_label"] for t in listed} == {"Block 112"}
    assert sorted(t["assigned_seat"]["row_label"] for t in listed) == ["Row A", "Row B"]

    messages = await OutboxTap(database_url).messages("notifications", "booking.changed")
    held = [m.payload["booking"] for m in messages if m.payload["booking"]["id"] == booking["id"]]
    assert held and all(b["seats"] == booking["seats"] for b in held)


def test_a_seat_stored_before_labels_were_kept_reads_its_ids_as_labels() -> None:
    stored = '{"id": "S1-A-1", "label": "1", "section": "S1", "row": "A", "zone": "std"}'

    seat = BookedSeat.model_validate_json(stored)

    assert (seat.section_label, seat.row_label) == ("S1", "A")
