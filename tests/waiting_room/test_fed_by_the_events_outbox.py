"""The room learns its settings from the real events service through the outbox."""

from __future__ import annotations

from evently.core.auth import AUTHENTICATOR
from tests.analytics.test_agreement_with_bookings import eventually
from tests.events.conftest import event_body
from tests.support.prometheus import free_port
from tests.waiting_room.conftest import room_settings


async def test_a_room_set_through_the_events_admin_api_reaches_the_waiting_room(
    aiohttp_server, aiohttp_client, make_app, make_room_app, tokens
):
    room_server = await aiohttp_server(make_room_app())
    room = await aiohttp_client(room_server)
    nowhere = f"http://127.0.0.1:{free_port()}"  # bookings, search, analytics: not running
    events_app = make_app(
        "events",
        env={
            "OUTBOX_POLL_INTERVAL_S": "0.1",
            "WAITING_ROOM_URL": f"http://127.0.0.1:{room_server.port}",
            "BOOKINGS_URL": nowhere,
            "SEARCH_URL": nowhere,
            "ANALYTICS_URL": nowhere,
        },
    )
    events_app[AUTHENTICATOR] = tokens.authenticator()
    events = await aiohttp_client(events_app)
    settings = room_settings(admission_rate_per_minute=900, max_active_shoppers=50)
    settings.pop("prequeue_opens_at")
    created = await events.post(
        "/api/v1/admin/events", json=event_body(waiting_room=settings), headers=tokens.admin()
    )
    assert created.status == 201, await created.text()
    event_id = (await created.json())["id"]

    async def room_is_there() -> bool:
        return (await room.get(f"/api/v1/events/{event_id}/waiting-room")).status == 200

    await eventually(room_is_there, "the room hears of the event")
    shown = await (await room.get(f"/api/v1/events/{event_id}/waiting-room")).json()
    assert (shown["admission_rate_per_minute"], shown["max_active_shoppers"]) == (900, 50)
    assert shown["state"] == "prequeue"  # the sale is open: the first tick shuffles
