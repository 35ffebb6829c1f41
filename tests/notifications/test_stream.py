"""Each user's notification stream: GET /api/v1/notifications/stream (server-sent events).

Messages are posted to the real inbox as the relays do; the stream is read as a client
would. "Only mine" is checked by order: notifications are served in id order, so once a
later one of mine has arrived, someone else's earlier one would have arrived before it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientResponse

from tests.analytics.conftest import deliver
from tests.notifications.messages import booking_changed, waitlist_offered

STREAM = "/api/v1/notifications/stream"


async def next_events(response: ClientResponse, count: int) -> list[dict[str, Any]]:
    """The next ``count`` SSE events (heartbeats and ``retry`` skipped), within 10 s."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    while len(events) < count:
        async with asyncio.timeout(10):
            line = (await response.content.readline()).decode()
        assert line, "the stream ended"
        line = line.rstrip("\n")
        if not line:
            if "data" in current:
                events.append(current)
            current = {}
        elif line.startswith(("id: ", "event: ")):
            field, _, value = line.partition(": ")
            current[field] = value
        elif line.startswith("data: "):
            current["data"] = json.loads(line.removeprefix("data: "))
    return events


async def test_the_stream_carries_my_booking_and_waitlist_changes_only(notifications, tokens):
    response = await notifications.get(STREAM, headers=tokens.customer(7))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    deadline = datetime(2031, 5, 1, 18, 30, tzinfo=UTC)
    await deliver(
        notifications,
        [
            booking_changed(50, 8, 3, "held"),  # someone else's
            booking_changed(41, 7, 3, "held"),
            waitlist_offered(5, 7, 3, booking_id=77, expires_at=deadline),
        ],
    )
    held, offered = await next_events(response, 2)
    assert held["event"] == "booking.changed" and held["data"]["type"] == "booking.changed"
    assert held["data"]["data"]["transition"] == "held"
    assert held["data"]["data"]["booking"]["id"] == 41
    assert offered["event"] == "waitlist.changed"
    entry = offered["data"]["data"]["entry"]
    assert entry["booking_id"] == 77 and entry["offer_expires_at"].startswith("2031-05-01T18:30")
    assert int(offered["id"]) > int(held["id"])
    response.close()


async def test_a_reconnecting_client_gets_what_it_missed_from_last_event_id(notifications, tokens):
    await deliver(
        notifications,
        [booking_changed(41, 7, 3, "held"), booking_changed(41, 7, 3, "confirmed", version=2)],
    )
    replay = await notifications.get(STREAM, headers={**tokens.customer(7), "Last-Event-ID": "0"})
    first, second = await next_events(replay, 2)
    assert [first["data"]["data"]["transition"], second["data"]["data"]["transition"]] == [
        "held",
        "confirmed",
    ]
    replay.close()
    resumed = await notifications.get(
        STREAM, headers={**tokens.customer(7), "Last-Event-ID": first["id"]}
    )
    (again,) = await next_events(resumed, 1)
    assert again["id"] == second["id"]
    resumed.close()
    fresh = await notifications.get(STREAM, headers=tokens.customer(7))  # no Last-Event-ID
    await deliver(notifications, [booking_changed(41, 7, 3, "cancelled", version=3)])
    (latest,) = await next_events(fresh, 1)  # only what happens from now on
    assert latest["data"]["data"]["transition"] == "cancelled"
    fresh.close()


async def test_any_replica_serves_any_user(
    aiohttp_client, make_notifications_app, smtp, notifications, tokens
):
    other_replica = await aiohttp_client(make_notifications_app(smtp.port))
    response = await notifications.get(STREAM, headers=tokens.customer(7))
    await deliver(other_replica, [booking_changed(41, 7, 3, "held")])  # applied elsewhere
    (event,) = await next_events(response, 1)
    assert event["data"]["data"]["booking"]["id"] == 41
    response.close()


async def test_the_stream_needs_a_signed_in_user(notifications):
    response = await notifications.get(STREAM)
    assert response.status == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
