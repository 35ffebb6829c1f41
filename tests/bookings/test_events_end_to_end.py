"""End to end with the real events service: its outbox relay feeds the bookings
inventory, and the bookings relay feeds the events service's seat figures back."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from evently.core.auth import AUTHENTICATOR
from tests.bookings.conftest import FAST_ENV, INTERNAL, Buyer, eventually

NOW = datetime.now(UTC).replace(microsecond=0)
RELAY = {
    "OUTBOX_RELAY_ENABLED": "true",
    "OUTBOX_POLL_INTERVAL_S": "0.1",
    "OUTBOX_MAX_BACKOFF_S": "0.5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def event_body(capacity: int) -> dict[str, Any]:
    return {
        "name": "End to End",
        "description": "Relayed from events to bookings.",
        "type": "concert",
        "starts_at": (NOW + timedelta(days=10)).isoformat(),
        "ends_at": (NOW + timedelta(days=10, hours=2)).isoformat(),
        "capacity": capacity,
        "price": "25.00",
        "currency": "EUR",
        "status": "published",
        "sale_opens_at": (NOW - timedelta(days=1)).isoformat(),
        "max_per_user": 4,
        "venue": {"name": "Hall", "address": "1 Main St", "city": "Berlin", "capacity": 100},
    }


async def test_events_relay_feeds_the_inventory_and_bookings_feeds_events_back(
    aiohttp_server, aiohttp_client, make_app, tokens, db
):
    events_port, bookings_port, nobody = free_port(), free_port(), free_port()
    bookings_app = make_app(
        "bookings",
        {
            **FAST_ENV,
            **RELAY,
            "EVENTS_URL": f"http://127.0.0.1:{events_port}",
            "SEARCH_URL": f"http://127.0.0.1:{nobody}",
            "ANALYTICS_URL": f"http://127.0.0.1:{nobody}",
        },
    )
    bookings_app[AUTHENTICATOR] = tokens.authenticator()
    bookings = await aiohttp_client(await aiohttp_server(bookings_app, port=bookings_port))
    events_app = make_app(
        "events",
        {
            **RELAY,
            "BOOKINGS_URL": f"http://127.0.0.1:{bookings_port}",
            "SEARCH_URL": f"http://127.0.0.1:{nobody}",
            "ANALYTICS_URL": f"http://127.0.0.1:{nobody}",
        },
    )
    events_app[AUTHENTICATOR] = tokens.authenticator()
    events = await aiohttp_client(await aiohttp_server(events_app, port=events_port))

    admin = tokens.admin()
    response = await events.post("/api/v1/admin/events", json=event_body(5), headers=admin)
    assert response.status == 201, await response.text()
    event = await response.json()
    availability = f"/internal/events/{event['id']}/availability"

    async def inventory_arrived() -> bool:
        return (await bookings.get(availability, headers=INTERNAL)).status == 200

    await eventually(inventory_arrived)

    buyer = Buyer(bookings, tokens, 77)
    status, booking = await buyer.hold(event["id"], 2)
    assert status == 201, booking
    assert booking["unit_price"] == "25.00"
    assert (await buyer.confirm(booking["id"]))[0] == 200

    # inventory.changed reaches the events service through the bookings relay.
    async def figures_arrived() -> bool:
        row = await db.fetchrow(
            "SELECT sold, held, available FROM events.availability WHERE event_id = $1",
            event["id"],
        )
        return row is not None and (row["sold"], row["held"], row["available"]) == (2, 0, 3)

    await eventually(figures_arrived)
    public = await (await events.get(f"/api/v1/events/{event['id']}/availability")).json()
    assert (public["sold"], public["available"]) == (2, 3)

    # A capacity change in the events service reaches the inventory.
    update = event_body(8)
    response = await events.put(
        f"/api/v1/admin/events/{event['id']}",
        json=update,
        headers={**admin, "If-Match": str(event["version"])},
    )
    assert response.status == 200, await response.text()

    async def capacity_updated() -> bool:
        data = await (await bookings.get(availability, headers=INTERNAL)).json()
        return (data["capacity"], data["available"]) == (8, 6)

    await eventually(capacity_updated)
    assert (await buyer.hold(event["id"], 2))[0] == 201
