"""End to end across the room and bookings: the background ticker admits a visitor, whose
token bookings accepts for a hold; a visitor still waiting cannot hold.

The visitors join once the room is open. Before its first tick a room without a sale
opening time is in its pre-queue, and joiners there are placed by the seeded shuffle: the
second could come first, and with one shopper slot the first would then wait out the
other's whole session. That race, not a stalled ticker, is what failed once in a full
`make test` run (docs/waiting-room.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from evently.bookings.context import BOOKINGS
from evently.core.auth import AUTHENTICATOR
from tests.bookings.conftest import FAST_ENV, send_event
from tests.waiting_room.conftest import configure_room, join, room_settings, status


async def test_a_visitor_the_ticker_admits_can_hold_and_one_still_waiting_cannot(
    aiohttp_server, aiohttp_client, make_app, make_room_app, tokens
):
    # One active shopper at a time: the first to join gets in, the second waits for the
    # slot (whatever the ticker's timing).
    room_server = await aiohttp_server(
        make_room_app(WAITING_ROOM_TICKER_ENABLED="true", WAITING_ROOM_TICK_INTERVAL_S="0.05")
    )
    room = await aiohttp_client(room_server)
    bookings_app = make_app(
        "bookings", env={**FAST_ENV, "WAITING_ROOM_URL": f"http://127.0.0.1:{room_server.port}"}
    )
    bookings_app[AUTHENTICATOR] = tokens.authenticator()
    bookings = await aiohttp_client(bookings_app)
    await send_event(bookings, 1, capacity=10, waiting_room=room_settings())
    await bookings.app[BOOKINGS].admission.reload()
    await configure_room(room, 1, admission_rate_per_minute=6000, max_active_shoppers=1)
    await until_room_is(room, "open")  # the background ticker's first tick opened it

    first, second = 5, 6
    await join(room, tokens, 1, first)
    await join(room, tokens, 1, second)
    admitted: dict = {}
    for _ in range(500):  # the background ticker, on its own schedule
        admitted = await status(room, tokens, 1, first)
        if admitted["state"] == "admitted":
            break
        await asyncio.sleep(0.02)
    assert admitted["state"] == "admitted"
    assert (await status(room, tokens, 1, second))["state"] == "waiting"

    async def hold(user_id: int, token: str | None) -> int:
        headers = tokens.customer(user_id) | {"Idempotency-Key": uuid.uuid4().hex}
        if token:
            headers["Admission-Token"] = token
        response = await bookings.post(
            "/api/v1/bookings", json={"event_id": 1, "quantity": 1}, headers=headers
        )
        return response.status

    assert await hold(first, admitted["admission_token"]) == 201
    assert await hold(second, None) == 403
    assert await hold(second, admitted["admission_token"]) == 403  # not theirs


async def until_room_is(room, state: str, patience_s: float = 60) -> None:
    deadline = time.monotonic() + patience_s  # a bound for a loaded machine, not a timing
    while time.monotonic() < deadline:
        response = await room.get("/api/v1/events/1/waiting-room")
        if (await response.json())["state"] == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the room never became {state}")
