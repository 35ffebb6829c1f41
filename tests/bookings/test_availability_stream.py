"""Live availability over server-sent events, read by real HTTP clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from evently.bookings.availability_stream import LISTENER_NAME, Subscriber
from evently.bookings.context import BOOKINGS
from evently.bookings.metrics import STREAM_SKIPPED
from tests.bookings.conftest import eventually, send_event
from tests.hardening.test_response_headers import assert_security_headers
from tests.support.served import served

MAX_LINES = 500


async def next_event(response) -> dict[str, Any]:
    """Read lines (bounded) until one complete ``availability`` event; skip heartbeats."""
    data = None
    for _ in range(MAX_LINES):
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return data
    raise AssertionError("no availability event")


async def wait_for_state(response, **expected: Any) -> dict[str, Any]:
    for _ in range(50):
        state = await next_event(response)
        if all(state[k] == v for k, v in expected.items()):
            return state
    raise AssertionError(f"never saw {expected}")


async def test_stream_sends_the_current_state_then_every_change(client, buyer):
    await send_event(client, 1, capacity=10)
    response = await client.get("/api/v1/events/1/availability/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    # A stream is prepared by its handler, yet carries what every response carries.
    assert_security_headers(response.headers)
    assert response.headers["X-Request-ID"]
    first = await next_event(response)
    assert (first["available"], first["on_sale"], first["sold_out"]) == (10, True, False)
    booking = (await buyer(1).hold(1, 4))[1]
    await wait_for_state(response, held=4, available=6)
    await buyer(1).confirm(booking["id"])
    await wait_for_state(response, sold=4, held=0, available=6)
    rest = (await buyer(2).hold(1, 6))[1]
    state = await wait_for_state(response, available=0)
    assert state["sold_out"] is True
    await buyer(2).cancel(rest["id"])
    await wait_for_state(response, available=6, sold_out=False)
    response.close()


async def test_unknown_or_draft_event_has_no_stream(client):
    await send_event(client, 2, status="draft")
    for event_id in (1, 2):
        response = await client.get(f"/api/v1/events/{event_id}/availability/stream")
        assert response.status == 404
        assert (await response.json())["code"] == "event_not_found"


async def test_heartbeats_keep_an_idle_stream_alive(client):
    await send_event(client, 1)
    response = await client.get("/api/v1/events/1/availability/stream")
    await next_event(response)
    for _ in range(MAX_LINES):
        line = await asyncio.wait_for(response.content.readline(), 10)
        if line == b": heartbeat\n":
            break
    else:
        raise AssertionError("no heartbeat")
    response.close()


async def test_one_listen_connection_serves_every_stream_and_closing_frees_them(
    client, aiohttp_client, db
):
    await send_event(client, 1)
    await send_event(client, 2)
    hub = client.server.app[BOOKINGS].streams
    streams = [
        await client.get(f"/api/v1/events/{event_id}/availability/stream")
        for event_id in (1, 1, 2, 2, 2)
    ]
    for stream in streams:
        await next_event(stream)
    assert hub.subscriber_count == 5
    await asyncio.wait_for(hub.listening.wait(), 10)
    listeners = await db.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_NAME,
    )
    assert listeners == 1
    for stream in streams:
        stream.close()

    async def all_freed() -> bool:
        return hub.subscriber_count == 0

    await eventually(all_freed)


async def test_a_stalled_subscriber_does_not_hold_back_the_others(client, buyer):
    await send_event(client, 1, capacity=50)
    stalled = await client.get("/api/v1/events/1/availability/stream")  # never read again
    reader = await client.get("/api/v1/events/1/availability/stream")
    await next_event(reader)
    for user_id in range(1, 11):
        assert (await buyer(user_id).hold(1, 2))[0] == 201
    await wait_for_state(reader, held=20, available=30)
    stalled.close()
    reader.close()


async def test_a_slow_subscriber_skips_to_the_latest_state():
    subscriber = Subscriber(event_id=1)
    skipped = STREAM_SKIPPED._value.get()
    for version in range(1, 6):
        subscriber.offer(version, f'{{"version": {version}}}')
    subscriber.offer(3, '{"version": 3}')  # older than what it has: ignored
    state = await subscriber.next_state(0.01, asyncio.Event())
    assert state == '{"version": 5}'
    assert STREAM_SKIPPED._value.get() - skipped == 4
    assert await subscriber.next_state(0.01, asyncio.Event()) is None


async def test_streams_survive_a_lost_listen_connection(client, buyer, db):
    await send_event(client, 1, capacity=10)
    hub = client.server.app[BOOKINGS].streams
    response = await client.get("/api/v1/events/1/availability/stream")
    await next_event(response)
    await asyncio.wait_for(hub.listening.wait(), 10)
    killed = await db.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_NAME,
    )
    assert killed == 1
    assert (await buyer(1).hold(1, 3))[0] == 201
    await wait_for_state(response, held=3)
    response.close()


async def test_a_client_leaving_is_noticed_long_before_the_next_heartbeat(bookings_app):
    # Served as in production (no handler cancellation on disconnect), with a heartbeat
    # far beyond this test's life: only the disconnect watch can free the subscription.
    app = bookings_app({"BOOKINGS_SSE_HEARTBEAT_S": "3600"})
    async with served(app) as (base,), aiohttp.ClientSession(base) as client:
        await send_event(client, 1)
        hub = app[BOOKINGS].streams
        stream = await client.get("/api/v1/events/1/availability/stream")
        await next_event(stream)
        assert hub.subscriber_count == 1
        stream.close()

        async def freed() -> bool:
            return hub.subscriber_count == 0

        await eventually(freed)


async def test_every_message_carries_the_waitlist_and_joins_are_updates(client, buyer):
    await send_event(client, 1, capacity=2)
    booking = (await buyer(1).hold(1, 2))[1]
    stream = await client.get("/api/v1/events/1/availability/stream")
    first = await next_event(stream)
    assert (first["sold_out"], first["waitlisted"]) == (True, 0)
    for user in (2, 3):
        status, _ = await buyer(user).post("/api/v1/events/1/waitlist", {"quantity": 1})
        assert status == 201
    state = await wait_for_state(stream, waitlisted=2)
    assert state["sold_out"] is True
    await buyer(1).cancel(booking["id"])  # both waiters get an offer: the line empties
    state = await wait_for_state(stream, waitlisted=0)
    assert state["held"] == 2
    stream.close()
