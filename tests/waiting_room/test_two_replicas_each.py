"""Two replicas of the waiting room and two of bookings on one real PostgreSQL: join ->
admission -> hold with the token -> purchase -> the sold-out notice, with bookings' own
outbox relay telling the room (no scripted messages past the event's settings)."""

from __future__ import annotations

import asyncio
import time
import uuid

from evently.bookings.context import BOOKINGS
from evently.core.auth import AUTHENTICATOR
from tests.bookings.conftest import FAST_ENV, send_event
from tests.waiting_room.conftest import configure_room, join, room_settings, status
from tests.waiting_room.test_admitted_buyer_books import until_room_is

NOWHERE = "http://127.0.0.1:9"  # the consumers this test does not run: refused, retried
# A bound, not a speed check: on a loaded machine (other suites on 2 cores) the relays,
# tickers and inboxes of four apps on one event loop took more than 20 s.
PATIENCE_S = 90


async def until_state(room, tokens, user_id: int, state: str) -> dict:
    """Poll the visitor's status until ``state`` (the tickers and relays run on their own)."""
    seen: dict = {}
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        seen = await status(room, tokens, 1, user_id)
        if seen["state"] == state:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"visitor {user_id} never became {state}: {seen}")


async def test_join_admission_hold_and_sold_out_across_two_replicas_of_each(
    aiohttp_server, aiohttp_client, make_app, make_room_app, tokens
):
    ticking = {"WAITING_ROOM_TICKER_ENABLED": "true", "WAITING_ROOM_TICK_INTERVAL_S": "0.05"}
    room_servers = [await aiohttp_server(make_room_app(**ticking)) for _ in range(2)]
    rooms = [await aiohttp_client(server) for server in room_servers]
    relaying = {
        **FAST_ENV,
        "OUTBOX_RELAY_ENABLED": "true",
        "OUTBOX_POLL_INTERVAL_S": "0.05",
        "OUTBOX_MAX_BACKOFF_S": "0.5",
        **{f"{name}_URL": NOWHERE for name in ("EVENTS", "SEARCH", "ANALYTICS", "NOTIFICATIONS")},
    }
    bookings = []
    for server in room_servers:  # each bookings replica knows one room replica
        app = make_app(
            "bookings", env={**relaying, "WAITING_ROOM_URL": f"http://127.0.0.1:{server.port}"}
        )
        app[AUTHENTICATOR] = tokens.authenticator()
        bookings.append(await aiohttp_client(app))

    await send_event(bookings[0], 1, capacity=3, waiting_room=room_settings())
    for replica in bookings:
        await replica.app[BOOKINGS].admission.reload()
    await configure_room(rooms[0], 1, admission_rate_per_minute=6000, max_active_shoppers=1)
    await until_room_is(rooms[1], "open")

    buyer, waiters = 5, (6, 7)
    await join(rooms[0], tokens, 1, buyer)
    for user_id in waiters:
        await join(rooms[1], tokens, 1, user_id)
    admitted = await until_state(rooms[1], tokens, buyer, "admitted")
    assert (await status(rooms[0], tokens, 1, waiters[0]))["state"] == "waiting"  # one slot

    headers = tokens.customer(buyer) | {
        "Idempotency-Key": uuid.uuid4().hex,
        "Admission-Token": admitted["admission_token"],
    }
    hold = await bookings[1].post(
        "/api/v1/bookings", json={"event_id": 1, "quantity": 3}, headers=headers
    )
    assert hold.status == 201, await hold.text()
    booking_id = (await hold.json())["id"]
    confirm = await bookings[0].post(
        f"/api/v1/bookings/{booking_id}/confirm", headers=tokens.customer(buyer)
    )
    assert confirm.status == 200, await confirm.text()

    # Bookings' relay (whichever replica leads) tells the room; every waiter, on either
    # room replica, hears it, and the buyer's session ends with the purchase.
    for room in rooms:
        for user_id in waiters:
            told = await until_state(room, tokens, user_id, "sold_out")
            assert told["waitlist"] is not None
    await until_state(rooms[0], tokens, buyer, "completed")
    no_token = tokens.customer(waiters[0]) | {"Idempotency-Key": uuid.uuid4().hex}
    refused = await bookings[0].post(
        "/api/v1/bookings", json={"event_id": 1, "quantity": 1}, headers=no_token
    )
    assert refused.status == 403
