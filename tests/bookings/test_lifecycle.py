"""Confirm, cancel and read bookings: ownership, retries and the cancellation rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.bookings.conftest import INTERNAL, iso, seat_counts, send_event


async def test_confirm_then_cancel_returns_the_seats_at_once(client, buyer, db):
    await send_event(client, 1, capacity=4)
    alice = buyer(1)
    booking = (await alice.hold(1, 2))[1]
    status, confirmed = await alice.confirm(booking["id"])
    assert (status, confirmed["status"]) == (200, "confirmed")
    assert confirmed["confirmed_at"] is not None
    assert confirmed["version"] == booking["version"] + 1
    # A repeated confirmation answers with the booking again.
    assert await alice.confirm(booking["id"]) == (200, confirmed)
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"]) == (2, 2)
    status, cancelled = await alice.cancel(booking["id"])
    assert (status, cancelled["status"]) == (200, "cancelled")
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"]) == (0, 0)
    assert (await alice.cancel(booking["id"])) == (200, cancelled)
    status, problem = await alice.confirm(booking["id"])
    assert (status, problem["code"]) == (409, "booking_not_confirmable")
    assert (await buyer(2).hold(1, 4))[0] == 201


async def test_others_cannot_see_confirm_or_cancel_a_booking(client, buyer, tokens):
    await send_event(client, 1)
    booking = (await buyer(1).hold(1, 1))[1]
    mallory = buyer(2)
    for status, problem in (
        await mallory.get(f"/api/v1/bookings/{booking['id']}"),
        await mallory.confirm(booking["id"]),
        await mallory.cancel(booking["id"]),
    ):
        assert (status, problem["code"]) == (404, "booking_not_found")
    response = await client.get(f"/api/v1/bookings/{booking['id']}", headers=tokens.admin())
    assert response.status == 200
    assert (await response.json())["id"] == booking["id"]


async def test_missing_booking_is_404(client, buyer):
    for status, problem in (
        await buyer(1).get("/api/v1/bookings/424242"),
        await buyer(1).confirm(424242),
        await buyer(1).cancel(424242),
    ):
        assert (status, problem["code"]) == (404, "booking_not_found")


async def test_a_started_event_cannot_be_cancelled(client, buyer, db):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 1))[1]
    await buyer(1).confirm(booking["id"])
    started = datetime.now(UTC) - timedelta(minutes=5)
    await send_event(
        client,
        1,
        version=2,
        capacity=5,
        starts_at=iso(started),
        ends_at=iso(started + timedelta(hours=3)),
    )
    status, problem = await buyer(1).cancel(booking["id"])
    assert (status, problem["code"]) == (409, "event_already_started")
    assert (await seat_counts(db, 1))["sold"] == 1


async def test_a_held_booking_of_a_cancelled_event_cannot_be_confirmed(client, buyer):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 1))[1]
    await send_event(client, 1, version=2, status="cancelled")
    status, problem = await buyer(1).confirm(booking["id"])
    assert (status, problem["code"]) == (409, "event_cancelled")


async def test_list_my_bookings_is_paginated_newest_first(client, buyer):
    await send_event(client, 1, capacity=50, max_per_user=20)
    await send_event(client, 2, capacity=50)
    alice = buyer(1)
    ids = [(await alice.hold(1, 1))[1]["id"] for _ in range(5)]
    other = (await alice.hold(2, 1))[1]["id"]
    await buyer(2).hold(1, 1)
    status, page = await alice.get("/api/v1/bookings?limit=2&page=1")
    assert status == 200
    assert page["total"] == 6
    assert (page["page"], page["limit"]) == (1, 2)
    assert [b["id"] for b in page["items"]] == [other, ids[-1]]
    page3 = (await alice.get("/api/v1/bookings?limit=2&page=3"))[1]
    assert [b["id"] for b in page3["items"]] == [ids[1], ids[0]]
    filtered = (await alice.get("/api/v1/bookings?event_id=2"))[1]
    assert [b["id"] for b in filtered["items"]] == [other]
    await alice.confirm(ids[0])
    confirmed = (await alice.get("/api/v1/bookings?status=confirmed"))[1]
    assert [b["id"] for b in confirmed["items"]] == [ids[0]]
    status, problem = await alice.get("/api/v1/bookings?limit=1000")
    assert (status, problem["errors"][0]["field"]) == (400, "query.limit")


async def test_internal_user_bookings_needs_the_internal_key(client, buyer):
    await send_event(client, 1)
    booking = (await buyer(9).hold(1, 1))[1]
    assert (await client.get("/internal/users/9/bookings")).status == 401
    response = await client.get("/internal/users/9/bookings?page=1&limit=10", headers=INTERNAL)
    assert response.status == 200
    page = await response.json()
    (item,) = page.pop("items")
    assert item.pop("event")["name"] == "Event 1"  # a list item also shows its event
    assert (item, page) == (booking, {"total": 1, "page": 1, "limit": 10})
    empty = await (await client.get("/internal/users/8/bookings", headers=INTERNAL)).json()
    assert empty == {"items": [], "total": 0, "page": 1, "limit": 20}


async def test_internal_availability(client, buyer):
    await send_event(client, 1, capacity=10)
    booking = (await buyer(1).hold(1, 3))[1]
    await buyer(1).confirm(booking["id"])
    await buyer(2).hold(1, 2)
    assert (await client.get("/internal/events/1/availability")).status == 401
    response = await client.get("/internal/events/1/availability", headers=INTERNAL)
    assert response.status == 200
    availability = await response.json()
    del availability["version"]
    assert availability == {
        "event_id": 1,
        "capacity": 10,
        "sold": 3,
        "held": 2,
        "available": 5,
        "on_sale": True,
        "sold_out": False,
        "waitlisted": 0,
        "status": "published",
    }
    missing = await client.get("/internal/events/77/availability", headers=INTERNAL)
    assert (missing.status, (await missing.json())["code"]) == (404, "event_not_found")
