"""A seated event's seat inventory: bookings learns the seating from event.changed,
fetches the pinned map version once from the real events service, and keeps one row per
seat (blocked seats never sellable). Fetch failures leave the message for redelivery."""

from __future__ import annotations

from tests.bookings.conftest import (
    INTERNAL,
    Buyer,
    deliver_event,
    event_seat_rows,
    seat_counts,
    seating_of,
    send_event,
    upload_map,
)
from tests.events.test_seat_map_rules import small_map


async def test_a_seated_event_has_one_row_per_seat_and_blocked_seats_are_never_sellable(
    seated_client, events_client, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 501, **seating_of(seat_map))

    rows = await event_seat_rows(db, 501)
    assert len(rows) == seat_map["stats"]["seats"] == 7
    assert rows["stalls-B-1"] == ("blocked", None)
    assert sorted(s for s, (status, _) in rows.items() if status == "free") == sorted(
        ["stalls-A-1", "stalls-A-2", "stalls-A-3", "stalls-B-2", "vip-1", "box-1-A"]
    )
    availability = await (
        await seated_client.get("/internal/events/501/availability", headers=INTERNAL)
    ).json()
    assert availability["capacity"] == availability["available"] == 6


async def test_the_capacity_of_a_seated_event_is_its_sellable_seats_whatever_the_message_says(
    seated_client, events_client, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 502, **{**seating_of(seat_map), "capacity": 50})
    assert (await seat_counts(db, 502))["capacity"] == 6


async def test_a_map_version_is_fetched_once_for_every_event_on_it(
    seated_client, events_client, events_server, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 503, **seating_of(seat_map))
    await events_server.close()  # from now on, a fetch would fail

    await send_event(seated_client, 504, **seating_of(seat_map))
    await send_event(seated_client, 503, version=2, **seating_of(seat_map))

    assert len(await event_seat_rows(db, 504)) == 7
    assert await db.fetchval("SELECT count(*) FROM bookings.seat_map_versions") == 1


async def test_a_failed_fetch_changes_nothing_and_the_redelivered_message_applies(
    seated_client, events_client, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    not_yet = seating_of(seat_map, version=2)  # the events service has no version 2 yet

    assert await deliver_event(seated_client, 505, **not_yet) == []
    assert await db.fetchval("SELECT count(*) FROM bookings.inventory WHERE event_id = 505") == 0
    assert await event_seat_rows(db, 505) == {}

    response = await events_client.post(
        f"/api/v1/admin/seat-maps/{seat_map['map_id']}/versions",
        json={**small_map(), "name": "Small Hall, v2"},
        headers=tokens.admin(),
    )
    assert response.status == 201, await response.text()
    assert len(await deliver_event(seated_client, 505, **not_yet)) == 1
    assert len(await event_seat_rows(db, 505)) == 7


async def test_a_new_version_pinned_before_any_sale_replaces_the_seats(
    seated_client, events_client, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    document = small_map()
    document["sections"][0]["rows"][1]["seats"].append({"label": "4", "x": 40, "y": 50})
    response = await events_client.post(
        f"/api/v1/admin/seat-maps/{seat_map['map_id']}/versions", json=document,
        headers=tokens.admin(),
    )  # fmt: skip
    assert response.status == 201, await response.text()
    await send_event(seated_client, 506, **seating_of(seat_map))

    await send_event(seated_client, 506, version=2, **seating_of(seat_map, version=2))

    rows = await event_seat_rows(db, 506)
    assert len(rows) == 8 and rows["stalls-B-4"] == ("free", None)
    assert (await seat_counts(db, 506))["capacity"] == 7
    await send_event(seated_client, 506, version=3, seating=None, capacity=40)
    assert await event_seat_rows(db, 506) == {}
    assert (await seat_counts(db, 506))["capacity"] == 40


async def test_an_event_with_seats_held_keeps_its_seating(seated_client, events_client, tokens, db):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 507, capacity=20)  # general admission
    status, body = await Buyer(seated_client, tokens, 7).hold(507, 2)
    assert status == 201, body

    await send_event(seated_client, 507, version=2, **seating_of(seat_map))

    assert await event_seat_rows(db, 507) == {}
    assert await db.fetchval("SELECT count(*) FROM bookings.event_seating") == 0
    status, booking = await Buyer(seated_client, tokens, 8).hold(507, 1)
    assert status == 201 and booking["seats"] == []


# The previous release's calls, as its replicas still make them during a rolling upgrade.
PREVIOUS_APPLY_EVENT_CHANGED = """
SELECT applied FROM bookings.apply_event_changed(
    $1, $2, 'published', 100, now() + interval '30 days', now() + interval '31 days',
    NULL, NULL, 10, 600, false, 300, 10, 'EUR', '{}', '{}', 1000, NULL)
"""
PREVIOUS_HOLD = """
SELECT outcome FROM bookings.hold_seats(
    $1, ARRAY[7]::bigint[], ARRAY[2], ARRAY['prev-key'], ARRAY['prev-hash'], 3600,
    '{}', '{}', '{}', '{}', 1000, ARRAY[NULL]::text[])
"""


async def test_the_previous_releases_calls_still_resolve_and_keep_the_seating(
    seated_client, events_client, tokens, db
):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 508, **seating_of(seat_map))
    await send_event(seated_client, 509, capacity=20)

    # An old replica applies a newer event.changed of the seated event: it knows nothing
    # of seating, so the event keeps its seats (and its capacity of sellable seats).
    assert await db.fetchval(PREVIOUS_APPLY_EVENT_CHANGED, 508, 2) is True
    assert len(await event_seat_rows(db, 508)) == 7
    assert (await seat_counts(db, 508))["capacity"] == 6
    # An old replica's general-admission hold.
    assert await db.fetchval(PREVIOUS_HOLD, 509) == "held"
