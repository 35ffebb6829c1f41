"""A session the room ends early stops admitting at bookings: the room records the end,
serves it at ``/internal/waiting-room/ended-sessions`` (a keyset cursor), and bookings'
admission refresh pulls it, then refuses the token (403 ``admission_ended``) until it
expires. Real services on real ports, real PostgreSQL; the room's clock is driven."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from evently.bookings.context import BOOKINGS
from evently.core.auth import AUTHENTICATOR
from evently.core.db import POOL
from evently.waiting_room.ticker import TickResult, tick_room
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.bookings.conftest import FAST_ENV, send_event
from tests.conftest import INTERNAL_API_KEY
from tests.waiting_room.conftest import configure_room, join, room_settings, status, tick

ENDED = "/internal/waiting-room/ended-sessions"
INTERNAL = {"X-Internal-Key": INTERNAL_API_KEY}


@pytest.fixture
async def services(aiohttp_server, aiohttp_client, make_app, make_room_app, tokens):
    """The room (ticker off: the test ticks it) on a real port, and bookings finding it."""
    room_server = await aiohttp_server(make_room_app())
    room = await aiohttp_client(room_server)
    bookings_app = make_app(
        "bookings", env={**FAST_ENV, "WAITING_ROOM_URL": f"http://127.0.0.1:{room_server.port}"}
    )
    bookings_app[AUTHENTICATOR] = tokens.authenticator()
    bookings = await aiohttp_client(bookings_app)
    return room_server, room, bookings


async def admitted_visitors(room, tokens, event_id: int, users: list[int], now: datetime) -> None:
    """A room for ``event_id`` that has just admitted ``users`` at ``now``."""
    await configure_room(room, event_id, admission_rate_per_minute=6000, max_active_shoppers=10)
    await tick(room, event_id, now - timedelta(seconds=1))  # opens the room (the shuffle)
    for user in users:
        await join(room, tokens, event_id, user)
    assert (await tick(room, event_id, now)).admitted == len(users)


async def test_a_token_of_a_session_the_room_ended_is_refused_after_the_next_refresh(
    services, tokens
):
    room_server, room, bookings = services
    await send_event(bookings, 1, capacity=10, waiting_room=room_settings())
    gate = bookings.app[BOOKINGS].admission
    await gate.reload()
    now = datetime.now(UTC)  # bookings checks the token's expiry on the real clock
    await admitted_visitors(room, tokens, 1, [5], now)
    token = (await status(room, tokens, 1, 5))["admission_token"]

    async def hold() -> tuple[int, dict]:
        headers = tokens.customer(5) | {"Idempotency-Key": uuid.uuid4().hex}
        response = await bookings.post(
            "/api/v1/bookings",
            json={"event_id": 1, "quantity": 1},
            headers=headers | {"Admission-Token": token},
        )
        return response.status, await response.json()

    assert (await hold())[0] == 201
    # The room hears that the visitor bought (bookings' relay), and its next tick ends the
    # session: their slot goes to the next visitor.
    script = ScriptedBookings(event_id=1, capacity=10)
    booking_id, held = script.hold(1, user_id=5, at=now)
    await deliver(room, [*held, *script.confirm(booking_id, at=now)])
    assert (await tick(room, 1, now + timedelta(seconds=1))).completed == 1
    assert (await status(room, tokens, 1, 5))["state"] == "completed"

    # Until bookings' next admission refresh the token still admits (the window).
    assert (await hold())[0] == 201
    await gate.reload()  # as the periodic refresh does
    count = await bookings.app[BOOKINGS].pool.fetchval("SELECT count(*) FROM bookings.bookings")
    status_code, problem = await hold()
    assert (status_code, problem["code"]) == (403, "admission_ended")
    assert "/api/v1/events/1/waiting-room/me" in problem["detail"]
    assert await bookings.app[BOOKINGS].pool.fetchval(
        "SELECT count(*) FROM bookings.bookings"
    ) == count  # fmt: skip

    ticket_id = (await room.app[POOL].fetchval(
        "SELECT id FROM waiting_room.tickets WHERE event_id = 1 AND user_id = 5"
    ))  # fmt: skip
    # The room goes down: the refusals bookings knows of stay.
    await room_server.close()
    await gate.reload()
    assert (await hold())[1]["code"] == "admission_ended"
    # Once the token would have expired anyway, the entry is dropped.
    assert gate.ended is not None and gate.ended.ended(ticket_id)
    await gate.ended.pull(now=time.time() + 3600)
    assert not gate.ended.ended(ticket_id)


async def ended_page(room, after: str | None = None, limit: int | None = None) -> dict:
    params = {k: str(v) for k, v in {"after": after, "limit": limit}.items() if v is not None}
    response = await room.get(ENDED, params=params, headers=INTERNAL)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_ended_sessions_are_read_page_by_page_with_a_cursor(services, tokens):
    _, room, _ = services
    now = datetime.now(UTC)
    await admitted_visitors(room, tokens, 1, [1, 2, 3], now)
    # All three sit idle for 180 s (the idle rule), well before their 600 s tokens expire.
    assert (await tick(room, 1, now + timedelta(seconds=200), idle_s=180)).expired == 3

    first = await ended_page(room, limit=2)
    assert [s["user_id"] for s in first["sessions"]] == [1, 2]
    assert first["more"] is True
    second = await ended_page(room, first["next"], limit=2)
    assert [s["user_id"] for s in second["sessions"]] == [3]
    assert second["more"] is False
    assert {s["event_id"] for s in first["sessions"] + second["sessions"]} == {1}
    again = await ended_page(room, second["next"])
    assert again == {"sessions": [], "next": second["next"], "more": False}


async def test_a_session_ended_by_a_transaction_that_commits_late_is_not_skipped(services, tokens):
    """Two ticks end sessions; the one that started first commits last. A cursor past the
    later one's sessions would skip the earlier one's: they are served only once every
    older transaction has finished."""
    _, room, _ = services
    now = datetime.now(UTC)
    await admitted_visitors(room, tokens, 1, [1], now)
    await admitted_visitors(room, tokens, 2, [2], now)
    idle = now + timedelta(seconds=200)
    async with room.app[POOL].acquire() as early:
        outer = early.transaction()
        await outer.start()
        assert (await tick_on(early, 1, idle)).expired == 1  # not committed yet
        assert (await tick(room, 2, idle, idle_s=180)).expired == 1  # committed
        assert (await ended_page(room))["sessions"] == []  # the early one still runs
        await outer.commit()
    page = await ended_page(room)
    assert [(s["event_id"], s["user_id"]) for s in page["sessions"]] == [(1, 1), (2, 2)]


async def tick_on(conn, event_id: int, now: datetime) -> TickResult:
    """A tick on ``conn`` (inside the caller's transaction: it commits with it)."""
    return await tick_room(conn, event_id, now, idle_s=180)


async def test_ended_sessions_list_only_tokens_still_valid(services, tokens):
    _, room, _ = services
    now = datetime.now(UTC) - timedelta(seconds=700)  # admitted long ago: tokens expired
    await admitted_visitors(room, tokens, 1, [1], now)
    assert (await tick(room, 1, now + timedelta(seconds=200), idle_s=180)).expired == 1
    page = await ended_page(room)
    assert page["sessions"] == [] and page["next"] != "0.0"  # read, and passed


@pytest.mark.parametrize(
    ("query", "field"),
    [({"after": "7"}, "query.after"), ({"limit": "0"}, "query.limit"), ({"x": "1"}, "query.x")],
)
async def test_a_malformed_ended_sessions_query_is_a_400_naming_the_field(services, query, field):
    _, room, _ = services
    response = await room.get(ENDED, params=query, headers=INTERNAL)
    assert response.status == 400
    assert field in [e["field"] for e in (await response.json())["errors"]]


async def test_ended_sessions_need_the_internal_key(services):
    _, room, _ = services
    response = await room.get(ENDED)
    assert response.status in (401, 403)
