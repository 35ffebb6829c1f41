"""Joining a room: one queue ticket per visitor and event, refusals with clear codes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from evently.core.db import POOL
from evently.waiting_room.context import WAITING_ROOM
from tests.waiting_room.conftest import bearer, configure_room, join, report_inventory, tick


async def test_joining_twice_returns_the_same_ticket(room, tokens):
    await configure_room(room, 1)
    first = await join(room, tokens, 1, user_id=7)
    again = await join(room, tokens, 1, user_id=7)
    assert again["ticket_id"] == first["ticket_id"]
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.tickets") == 1


async def test_before_the_shuffle_a_visitor_waits_in_the_prequeue_without_a_position(room, tokens):
    await configure_room(room, 1, sale_opens_at=datetime.now(UTC) + timedelta(hours=1))
    ticket = await join(room, tokens, 1, user_id=7)
    assert ticket["state"] == "prequeue"
    assert ticket["position"] is None and ticket["admission_token"] is None


async def test_after_opening_visitors_are_placed_first_come_first_served(room, tokens):
    await configure_room(room, 1)
    await tick(room, 1, datetime.now(UTC))  # opens the room: an empty pre-queue
    positions = [(await join(room, tokens, 1, user_id=u))["position"] for u in (5, 3, 9)]
    assert positions == [1, 2, 3]


async def test_joining_an_event_without_a_room_is_404(room, tokens):
    response = await room.post("/api/v1/events/99/waiting-room/join", headers=bearer(tokens, 1))
    assert response.status == 404
    assert (await response.json())["code"] == "waiting_room_not_found"


async def test_joining_before_the_room_opens_is_refused(room, tokens):
    await configure_room(
        room, 1, prequeue_opens_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()
    )
    response = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 1))
    assert response.status == 409
    assert (await response.json())["code"] == "waiting_room_not_open"
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.tickets") == 0


async def test_joining_a_disabled_room_is_refused(room, tokens):
    await configure_room(room, 1, enabled=False)
    response = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 1))
    assert response.status == 409
    assert (await response.json())["code"] == "waiting_room_disabled"


async def test_a_sold_out_room_that_closes_refuses_new_visitors(room, tokens):
    await configure_room(room, 1, when_sold_out="close")
    await report_inventory(room, 1, 1, sold_out=True)
    response = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 1))
    assert response.status == 409
    assert (await response.json())["code"] == "waiting_room_closed"


async def test_joining_needs_a_signed_in_visitor(room):
    response = await room.post("/api/v1/events/1/waiting-room/join")
    assert response.status == 401


async def test_a_stale_event_changed_does_not_undo_a_newer_one(room, tokens):
    await configure_room(room, 1, version=2, admission_rate_per_minute=600)
    await configure_room(room, 1, version=1, admission_rate_per_minute=5)
    assert (await (await room.get("/api/v1/events/1/waiting-room")).json())[
        "admission_rate_per_minute"
    ] == 600


async def test_joins_arriving_together_are_placed_in_the_order_received_in_one_call(room):
    await configure_room(room, 1)
    await tick(room, 1, datetime.now(UTC))
    joins = room.app[WAITING_ROOM].joins
    users = [40, 12, 33, 7, 25, 18, 2, 9]
    joined = await asyncio.gather(*(joins.join(1, user_id) for user_id in users))
    assert [j.outcome for j in joined] == ["joined"] * len(users)
    assert [j.row["user_id"] for j in joined] == users
    assert [j.row["position"] for j in joined] == list(range(1, len(users) + 1))
    # All of them arrived while none was in the database: one batch, one transaction.
    transactions = await room.app[POOL].fetchval(
        "SELECT count(DISTINCT xmin::text) FROM waiting_room.tickets WHERE event_id = 1"
    )
    assert transactions == 1
