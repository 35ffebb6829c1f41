"""Holding seats: the happy path, refusals with distinct codes, and nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.bookings.conftest import iso, seat_counts, send_event


async def test_hold_returns_201_with_the_booking_and_reserves_seats(client, buyer, db):
    await send_event(client, 1, capacity=10)
    status, booking = await buyer(7).hold(1, 2)
    assert status == 201, booking
    assert booking["status"] == "held"
    assert booking["quantity"] == 2
    assert booking["user_id"] == 7
    assert booking["unit_price"] == "49.90"
    assert booking["amount"] == "99.80"
    assert booking["currency"] == "EUR"
    counts = await seat_counts(db, 1)
    assert counts["reserved"] == 2
    assert counts["held_bookings"] == 2


async def test_hold_without_idempotency_key_is_400_and_changes_nothing(client, tokens, db):
    await send_event(client, 1)
    response = await client.post(
        "/api/v1/bookings", json={"event_id": 1, "quantity": 1}, headers=tokens.customer(5)
    )
    assert response.status == 400
    problem = await response.json()
    assert problem["code"] == "idempotency_key_required"
    assert problem["errors"] == [{"field": "header.Idempotency-Key", "reason": "required"}]
    assert (await seat_counts(db, 1))["reserved"] == 0


async def test_hold_needs_a_token(client):
    response = await client.post(
        "/api/v1/bookings", json={"event_id": 1, "quantity": 1}, headers={"Idempotency-Key": "k"}
    )
    assert response.status == 401


async def test_malformed_body_names_the_field(client, tokens):
    response = await client.post(
        "/api/v1/bookings",
        json={"event_id": 1, "quantity": "two"},
        headers={**tokens.customer(5), "Idempotency-Key": "k1"},
    )
    assert response.status == 400
    problem = await response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"] == "body.quantity"


async def test_unknown_event_is_404_event_not_found(client, buyer):
    status, problem = await buyer(5).hold(999, 1)
    assert (status, problem["code"]) == (404, "event_not_found")


async def test_draft_event_is_not_bookable(client, buyer):
    await send_event(client, 1, status="draft")
    status, problem = await buyer(5).hold(1, 1)
    assert (status, problem["code"]) == (404, "event_not_found")


async def test_refusals_have_distinct_codes_and_change_nothing(client, buyer, db):
    now = datetime.now(UTC)
    await send_event(client, 1, sale_opens_at=iso(now + timedelta(hours=1)))
    await send_event(client, 2, sale_closes_at=iso(now - timedelta(minutes=1)))
    await send_event(client, 3, status="cancelled")
    await send_event(client, 4, max_per_user=4, capacity=10)
    cases = [
        (1, 1, 409, "sale_not_open"),
        (2, 1, 409, "sale_closed"),
        (3, 1, 409, "event_cancelled"),
        (4, 0, 422, "quantity_out_of_range"),
        (4, 5, 422, "quantity_out_of_range"),
        (4, -3, 422, "quantity_out_of_range"),
    ]
    for event_id, quantity, status, code in cases:
        got_status, problem = await buyer(5).hold(event_id, quantity)
        assert (got_status, problem["code"]) == (status, code), (event_id, quantity, problem)
        assert problem["type"].endswith(code)
    problem = (await buyer(5).hold(4, 5))[1]
    assert problem["errors"] == [{"field": "body.quantity", "reason": "must be between 1 and 4"}]
    assert problem["max_quantity"] == 4
    sale_not_open = (await buyer(5).hold(1, 1))[1]
    assert sale_not_open["sale_opens_at"]
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0
    assert await db.fetchval("SELECT count(*) FROM bookings.idempotency_keys") == 0
    assert await db.fetchval("SELECT sum(reserved) FROM bookings.inventory") == 0


async def test_sold_out_is_409_with_waitlist_link_and_available_count(client, buyer):
    await send_event(client, 1, capacity=3)
    assert (await buyer(1).hold(1, 2))[0] == 201
    status, problem = await buyer(2).hold(1, 2)
    assert status == 409
    assert problem["code"] == "sold_out"
    assert problem["available"] == 1
    assert problem["waitlist"] == "/api/v1/events/1/waitlist"
    assert (await buyer(2).hold(1, 1))[0] == 201


async def test_sold_out_without_waitlist_has_no_link(client, buyer):
    await send_event(client, 1, capacity=1, waitlist_enabled=False)
    assert (await buyer(1).hold(1, 1))[0] == 201
    status, problem = await buyer(2).hold(1, 1)
    assert (status, problem["code"]) == (409, "sold_out")
    assert "waitlist" not in problem


async def test_per_user_limit_counts_held_and_confirmed_bookings_across_orders(client, buyer):
    await send_event(client, 1, capacity=100, max_per_user=4)
    alice = buyer(1)
    status, first = await alice.hold(1, 2)
    assert status == 201
    assert (await alice.confirm(first["id"]))[0] == 200
    assert (await alice.hold(1, 1))[0] == 201
    status, problem = await alice.hold(1, 2)
    assert (status, problem["code"]) == (409, "per_user_limit_exceeded")
    assert problem["max_per_user"] == 4
    assert problem["already_booked"] == 3
    assert (await alice.hold(1, 1))[0] == 201
    # Another user is unaffected; a cancelled booking no longer counts.
    assert (await buyer(2).hold(1, 4))[0] == 201
    assert (await alice.cancel(first["id"]))[0] == 200
    assert (await alice.hold(1, 2))[0] == 201
