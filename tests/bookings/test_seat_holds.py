"""Holding specific seats of a seated event: ``POST /api/v1/bookings`` with ``seat_ids``.

The seats come from a real map version served by the real events service; every write
goes through the one locked hold call. Never double-book: a seat is in at most one live
booking, and sold + held never exceeds the sellable seats.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import asyncpg
import pytest

from evently.bookings.inventory import event_lock
from tests.bookings.conftest import (
    FAST_ENV,
    Buyer,
    build_rectangular_map,
    event_seat_rows,
    seat_counts,
    seating_of,
    send_event,
    upload_map,
)
from tests.events.test_seat_map_rules import small_map

EVENT = 601


async def hold_seats(
    buyer: Buyer, seat_ids: list[str], *, key: str | None = None, event_id: int = EVENT,
    **extra: Any,
) -> tuple[int, dict[str, Any], dict[str, str]]:  # fmt: skip
    """POST the hold; returns status, body and response headers."""
    headers = {**buyer.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    response = await buyer.client.post(
        "/api/v1/bookings",
        json={"event_id": event_id, "seat_ids": seat_ids, **extra},
        headers=headers,
    )
    return response.status, await response.json(), dict(response.headers)


@pytest.fixture
async def seated_event(seated_client, events_client, tokens) -> dict:
    """Event 601 on a 4 x 10 rectangular map (seats S1-A-1 ... S1-D-10), 6 per user."""
    seat_map = await build_rectangular_map(events_client, tokens, rows=4, seats_per_row=10)
    await send_event(seated_client, EVENT, max_per_user=6, **seating_of(seat_map))
    return seat_map


def live_seats(rows: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {seat: booking for seat, (status, booking) in rows.items() if booking is not None}


async def test_holding_seats_takes_exactly_them_and_counts_like_general_admission(
    seated_client, seated_event, tokens, db
):
    status, booking, _ = await hold_seats(Buyer(seated_client, tokens, 1), ["S1-A-2", "S1-A-1"])

    assert status == 201, booking
    assert booking["quantity"] == 2 and booking["status"] == "held"
    assert booking["seats"] == [
        {"id": "S1-A-1", "label": "1", "section": "S1", "row": "A", "zone": "std",
         "section_label": "Section 1", "row_label": "A", "price": "49.90"},
        {"id": "S1-A-2", "label": "2", "section": "S1", "row": "A", "zone": "std",
         "section_label": "Section 1", "row_label": "A", "price": "49.90"},
    ]  # fmt: skip
    rows = await event_seat_rows(db, EVENT)
    assert live_seats(rows) == {"S1-A-1": booking["id"], "S1-A-2": booking["id"]}
    assert rows["S1-A-1"][0] == "held"
    counts = await seat_counts(db, EVENT)
    assert counts["reserved"] == counts["held_bookings"] == 2
    # The booking shows its seats when read back too.
    status, again = await Buyer(seated_client, tokens, 1).get(f"/api/v1/bookings/{booking['id']}")
    assert status == 200 and again["seats"] == booking["seats"]


async def test_a_seat_already_held_is_409_naming_it_and_nothing_changes(
    seated_client, seated_event, tokens, db
):
    first, _, _ = await hold_seats(Buyer(seated_client, tokens, 1), ["S1-A-1", "S1-A-2"])
    assert first == 201
    before = await event_seat_rows(db, EVENT)

    status, problem, _ = await hold_seats(
        Buyer(seated_client, tokens, 2), ["S1-A-3", "S1-A-2", "S1-A-1"]
    )

    assert (status, problem["code"]) == (409, "seats_unavailable"), problem
    assert problem["seat_ids"] == ["S1-A-1", "S1-A-2"]
    assert "S1-A-1" in problem["detail"]
    assert await event_seat_rows(db, EVENT) == before
    assert (await seat_counts(db, EVENT))["reserved"] == 2
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 1


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"seat_ids": ["S1-A-1", "S1-Z-9"]}, 400, "invalid_seats", "body.seat_ids.1"),
        ({"seat_ids": ["S1-A-1", "S1-A-1"]}, 400, "validation_failed", "body.seat_ids"),
        ({"seat_ids": []}, 400, "validation_failed", "body.seat_ids"),
        ({"seat_ids": ["no spaces allowed"]}, 400, "validation_failed", "body.seat_ids.0"),
        ({"seat_ids": ["S1-A-1"], "quantity": 1}, 400, "validation_failed", "body.quantity"),
        ({"seat_ids": ["S1-A-1"], "zone": "std"}, 400, "validation_failed", "body.zone"),
        ({"seat_ids": ["S1-A-1"], "accessible": True}, 400, "validation_failed", "body.accessible"),
        ({}, 400, "validation_failed", "body.quantity"),
        ({"seat_ids": [f"S1-B-{n}" for n in range(1, 8)]}, 422, "quantity_out_of_range",
         "body.seat_ids"),
    ],
)  # fmt: skip
async def test_bad_seat_requests_name_the_field_and_change_nothing(
    seated_client, seated_event, tokens, db, body, status, code, field
):
    me = Buyer(seated_client, tokens, 1)
    headers = {**me.headers, "Idempotency-Key": uuid.uuid4().hex}
    response = await seated_client.post(
        "/api/v1/bookings", json={"event_id": EVENT, **body}, headers=headers
    )
    problem = await response.json()
    assert (response.status, problem["code"]) == (status, code), problem
    assert field in [e["field"] for e in problem["errors"]], problem
    assert live_seats(await event_seat_rows(db, EVENT)) == {}
    assert (await seat_counts(db, EVENT))["reserved"] == 0


async def test_a_blocked_seat_is_never_sold(seated_client, events_client, tokens, db):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, 602, **seating_of(seat_map))

    status, problem, _ = await hold_seats(
        Buyer(seated_client, tokens, 1), ["stalls-A-1", "stalls-B-1"], event_id=602
    )

    assert (status, problem["code"]) == (400, "invalid_seats"), problem
    assert problem["blocked_seat_ids"] == ["stalls-B-1"]
    assert [e["field"] for e in problem["errors"]] == ["body.seat_ids.1"]
    assert live_seats(await event_seat_rows(db, 602)) == {}


async def test_seat_ids_on_a_general_admission_event_is_400_naming_them(seated_client, tokens, db):
    await send_event(seated_client, 603, capacity=10)
    status, problem, _ = await hold_seats(Buyer(seated_client, tokens, 1), ["A-1"], event_id=603)
    assert (status, problem["code"]) == (400, "event_not_seated"), problem
    assert [e["field"] for e in problem["errors"]] == ["body.seat_ids"]
    assert (await seat_counts(db, 603))["reserved"] == 0


async def test_the_same_key_replays_the_seat_hold_and_another_body_is_refused(
    seated_client, seated_event, tokens, db
):
    me = Buyer(seated_client, tokens, 1)
    status, booking, _ = await hold_seats(me, ["S1-C-5", "S1-C-6"], key="k1")
    assert status == 201

    status, replayed, headers = await hold_seats(me, ["S1-C-5", "S1-C-6"], key="k1")
    assert status == 201 and headers.get("Idempotency-Replayed") == "true"
    assert replayed == booking
    status, problem, _ = await hold_seats(me, ["S1-C-7"], key="k1")
    assert (status, problem["code"]) == (422, "idempotency_key_reused")
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 1
    assert len(live_seats(await event_seat_rows(db, EVENT))) == 2


async def test_overlapping_seat_holds_from_many_tasks_never_double_book(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=10)
    await send_event(seated_client, 604, max_per_user=4, **seating_of(seat_map))
    seats = [f"S1-{row}-{n}" for row in "AB" for n in range(1, 11)]

    async def shopper(user_id: int) -> list[tuple[int, dict[str, Any]]]:
        rng = random.Random(user_id)
        me = Buyer(seated_client, tokens, user_id)
        answers = []
        for _ in range(3):
            wanted = rng.sample(seats, rng.randint(1, 3))
            status, body, _ = await hold_seats(me, wanted, event_id=604)
            assert status in (201, 409), body
            if status == 409:
                assert body["code"] in ("seats_unavailable", "per_user_limit_exceeded"), body
            answers.append((status, body))
        return answers

    results = [a for answers in await asyncio.gather(*(shopper(u) for u in range(1, 41)))
               for a in answers]  # fmt: skip

    held = [body for status, body in results if status == 201]
    assert held, "somebody got seats"
    granted = [seat["id"] for booking in held for seat in booking["seats"]]
    assert len(granted) == len(set(granted)), "a seat was granted twice"
    rows = await event_seat_rows(db, 604)
    assert live_seats(rows) == {s["id"]: b["id"] for b in held for s in b["seats"]}
    counts = await seat_counts(db, 604)
    assert counts["reserved"] == counts["held_bookings"] == len(granted) <= counts["capacity"]
    refused = [body for status, body in results if status == 409
               and body["code"] == "seats_unavailable"]  # fmt: skip
    assert refused, "overlapping requests met taken seats"


async def test_a_lock_timeout_is_503_and_holds_nothing(
    aiohttp_client, bookings_app, events_server, events_client, tokens, db, database_url
):
    url = str(events_server.make_url("")).rstrip("/")
    client = await aiohttp_client(
        bookings_app({**FAST_ENV, "EVENTS_URL": url, "BOOKINGS_LOCK_TIMEOUT_MS": "300"})
    )
    seat_map = await build_rectangular_map(events_client, tokens, rows=1, seats_per_row=5)
    await send_event(client, 605, **seating_of(seat_map))
    key = event_lock(605)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            status, problem, headers = await hold_seats(
                Buyer(client, tokens, 1), ["S1-A-1"], key="busy", event_id=605
            )
            assert (status, problem["code"]) == (503, "lock_timeout"), problem
            assert "Retry-After" in headers
    finally:
        await blocker.close()
    assert live_seats(await event_seat_rows(db, 605)) == {}
    assert await db.fetchval("SELECT count(*) FROM bookings.idempotency_keys") == 0
    status, _, _ = await hold_seats(Buyer(client, tokens, 1), ["S1-A-1"], key="busy", event_id=605)
    assert status == 201
