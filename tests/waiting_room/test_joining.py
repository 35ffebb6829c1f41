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


async def test_a_batch_places_only_newcomers_in_order_and_returns_existing_tickets(room, tokens):
    await configure_room(room, 1)
    await tick(room, 1, datetime.now(UTC))
    first = await join(room, tokens, 1, user_id=12)
    joins = room.app[WAITING_ROOM].joins
    users = [40, 12, 40, 7, 3]  # 12 has a ticket; 40 twice in the same batch
    joined = await asyncio.gather(*(joins.join(1, user_id) for user_id in users))
    assert [j.outcome for j in joined] == ["joined"] * len(users)
    assert [j.row["position"] for j in joined] == [2, 1, 2, 3, 4]
    assert joined[1].row["ticket_id"] == first["ticket_id"]
    assert joined[0].row["ticket_id"] == joined[2].row["ticket_id"]
    rows = await room.app[POOL].fetch(
        "SELECT user_id, joined_at FROM waiting_room.tickets WHERE event_id = 1 ORDER BY id"
    )
    assert [r["user_id"] for r in rows] == [12, 40, 7, 3]
    assert [r["joined_at"] for r in rows] == sorted(r["joined_at"] for r in rows)
    room_row = await room.app[POOL].fetchrow(
        "SELECT next_position FROM waiting_room.rooms WHERE event_id = 1"
    )
    assert room_row["next_position"] == 4  # the next visitor is fifth


async def test_a_batch_in_a_closed_sold_out_room_refuses_only_newcomers(room, tokens):
    await configure_room(room, 1, when_sold_out="close")
    await tick(room, 1, datetime.now(UTC))
    await join(room, tokens, 1, user_id=5)
    await report_inventory(room, 1, 1, sold_out=True)
    joins = room.app[WAITING_ROOM].joins
    joined = await asyncio.gather(*(joins.join(1, user_id) for user_id in (6, 5, 8)))
    assert [j.outcome for j in joined] == ["waiting_room_closed", "joined", "waiting_room_closed"]
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.tickets") == 1


async def test_a_batch_before_the_shuffle_joins_the_prequeue(room):
    await configure_room(room, 1, sale_opens_at=datetime.now(UTC) + timedelta(hours=1))
    joins = room.app[WAITING_ROOM].joins
    joined = await asyncio.gather(*(joins.join(1, user_id) for user_id in (3, 1, 3, 2)))
    assert [j.outcome for j in joined] == ["joined"] * 4
    assert {j.row["position"] for j in joined} == {None}
    assert all(j.row["prequeue"] for j in joined)
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.tickets") == 3


async def sold_out_here(room, event_id: int) -> None:
    """Wait until this replica has heard that the room sold out (its LISTEN)."""
    versions = room.app[WAITING_ROOM].versions
    for _ in range(500):
        snapshot = versions.snapshot(event_id)
        if snapshot is not None and snapshot.sold_out:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the replica never heard of the sell-out")


async def test_joining_a_sold_out_room_answers_sold_out_without_a_ticket_or_a_write(room, tokens):
    await configure_room(room, 1)  # when_sold_out: offer_waitlist
    await tick(room, 1, datetime.now(UTC))
    waiting = await join(room, tokens, 1, user_id=5)
    await report_inventory(room, 1, 1, sold_out=True)
    await sold_out_here(room, 1)
    before = await room.app[POOL].fetchrow(
        "SELECT next_position, state_version FROM waiting_room.rooms WHERE event_id = 1"
    )

    response = await room.post("/api/v1/events/1/waiting-room/join", headers=bearer(tokens, 6))
    assert response.status == 200
    late = await response.json()
    assert (late["state"], late["ticket_id"], late["position"]) == ("sold_out", None, None)
    assert late["waitlist"]["join"]["href"] == "/api/v1/events/1/waitlist"
    assert "ETag" not in response.headers
    again = await join(room, tokens, 1, user_id=5)  # a ticket holder gets their ticket back
    assert (again["ticket_id"], again["state"]) == (waiting["ticket_id"], "sold_out")
    assert await room.app[POOL].fetchval("SELECT count(*) FROM waiting_room.tickets") == 1
    after = await room.app[POOL].fetchrow(
        "SELECT next_position, state_version FROM waiting_room.rooms WHERE event_id = 1"
    )
    assert after == before  # nothing written
    me = await room.get("/api/v1/events/1/waiting-room/me", headers=bearer(tokens, 6))
    assert me.status == 404  # no ticket, no status to poll

    # Seats come back: the room places newcomers again.
    await report_inventory(room, 1, 2, sold_out=False)
    for _ in range(500):
        if not room.app[WAITING_ROOM].versions.snapshot(1).sold_out:
            break
        await asyncio.sleep(0.02)
    placed = await join(room, tokens, 1, user_id=6)
    assert (placed["state"], placed["position"]) == ("waiting", 2)
