"""Idempotency-Key semantics (after pretix): replay, reuse with another body, in flight."""

from __future__ import annotations

import asyncio

import asyncpg

from evently.bookings.idempotency import in_flight_probe
from tests.bookings.conftest import seat_counts, send_event


async def test_same_key_same_body_replays_the_stored_response_without_a_second_booking(
    client, buyer, db
):
    await send_event(client, 1, capacity=10)
    alice = buyer(1)
    first_status, first = await alice.hold(1, 2, key="order-1")
    response = await client.post(
        "/api/v1/bookings",
        json={"event_id": 1, "quantity": 2},
        headers={**alice.headers, "Idempotency-Key": "order-1"},
    )
    assert (first_status, response.status) == (201, 201)
    assert await response.json() == first
    assert response.headers["Idempotency-Replayed"] == "true"
    # Even after the booking changed, the stored response is what comes back.
    assert (await alice.confirm(first["id"]))[0] == 200
    assert (await alice.hold(1, 2, key="order-1")) == (201, first)
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 1
    assert (await seat_counts(db, 1))["reserved"] == 2


async def test_same_key_different_body_is_422_and_changes_nothing(client, buyer, db):
    await send_event(client, 1, capacity=10)
    alice = buyer(1)
    assert (await alice.hold(1, 1, key="k"))[0] == 201
    status, problem = await alice.hold(1, 3, key="k")
    assert (status, problem["code"]) == (422, "idempotency_key_reused")
    assert (await seat_counts(db, 1))["reserved"] == 1


async def test_keys_are_scoped_per_user(client, buyer, db):
    await send_event(client, 1, capacity=10)
    first = (await buyer(1).hold(1, 1, key="same"))[1]
    second = (await buyer(2).hold(1, 1, key="same"))[1]
    assert first["id"] != second["id"]
    assert (await seat_counts(db, 1))["reserved"] == 2


async def test_a_refusal_is_not_stored_so_the_key_can_be_retried(client, buyer):
    await send_event(client, 1, capacity=1)
    holder = buyer(1)
    booking = (await holder.hold(1, 1))[1]
    status, problem = await buyer(2).hold(1, 1, key="retry-me")
    assert (status, problem["code"]) == (409, "sold_out")
    assert (await holder.cancel(booking["id"]))[0] == 200
    status, retried = await buyer(2).hold(1, 1, key="retry-me")
    assert status == 201, retried


async def test_same_key_sent_concurrently_makes_exactly_one_booking(client, buyer, db):
    await send_event(client, 1, capacity=100)
    alice = buyer(1)
    results = await asyncio.gather(*(alice.hold(1, 2, key="race") for _ in range(25)))
    statuses = sorted({status for status, _ in results})
    assert set(statuses) <= {201, 409}, results
    created = [body for status, body in results if status == 201]
    assert created, "at least the first request succeeds"
    assert len({body["id"] for body in created}) == 1
    for status, body in results:
        if status == 409:
            assert body["code"] == "idempotency_request_in_flight"
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 1
    assert (await seat_counts(db, 1))["reserved"] == 2
    # Once the first is done, a retry replays it.
    assert (await alice.hold(1, 2, key="race")) == (201, created[0])


async def test_duplicate_in_flight_gets_409_with_retry_after(client, buyer, database_url, db):
    await send_event(client, 1, capacity=10)
    probe = in_flight_probe(1, "slow")
    holder = await asyncpg.connect(database_url)
    try:
        # Play the part of the first request, still running with this key.
        async with holder.transaction():
            await holder.execute(
                "SELECT pg_advisory_xact_lock($1, $2)", probe.namespace, probe.ident
            )
            response = await client.post(
                "/api/v1/bookings",
                json={"event_id": 1, "quantity": 1},
                headers={**buyer(1).headers, "Idempotency-Key": "slow"},
            )
            assert response.status == 409
            assert (await response.json())["code"] == "idempotency_request_in_flight"
            assert response.headers["Retry-After"] == "1"
    finally:
        await holder.close()
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 0
    assert (await buyer(1).hold(1, 1, key="slow"))[0] == 201


async def test_idempotency_key_must_be_printable_and_short(client, buyer):
    await send_event(client, 1)
    response = await client.post(
        "/api/v1/bookings",
        json={"event_id": 1, "quantity": 1},
        headers={**buyer(1).headers, "Idempotency-Key": "x" * 256},
    )
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "header.Idempotency-Key"
