"""Bookings' inventory.changed arrives at the events inbox and feeds available=true."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evently.events.models import EventInput
from evently.events.repository import create_event
from tests.conftest import INTERNAL_API_KEY
from tests.events.conftest import event_body

INBOX = "/internal/inbox"
KEY = {"X-Internal-Key": INTERNAL_API_KEY}


def inventory_message(
    message_id: int, event_id: int, version: int, sold: int, held: int = 0, kept_back: int = 0
):
    capacity = 100
    available = capacity - sold - held - kept_back
    return {
        "id": message_id,
        "source": "bookings",
        "topic": "inventory.changed",
        "key": str(event_id),
        "version": version,
        "payload": {
            "event_id": event_id,
            "version": version,
            "capacity": capacity,
            "sold": sold,
            "held": held,
            "available": available,
            "on_sale": True,
            "sold_out": available == 0,
            "status": "published",
        },
        "created_at": datetime.now(UTC).isoformat(),
    }


async def deliver(client, *messages) -> list[int]:
    response = await client.post(
        INBOX, json={"source": "bookings", "messages": list(messages)}, headers=KEY
    )
    assert response.status == 200, await response.text()
    return (await response.json())["acknowledged"]


@pytest.fixture
async def event_id(db) -> int:
    return (await create_event(db, EventInput.model_validate(event_body()))).id


async def test_inventory_figures_are_kept_and_drive_the_available_filter(client, db, event_id):
    assert await deliver(client, inventory_message(1, event_id, 1, sold=100)) == [1]
    row = await db.fetchrow("SELECT version, sold, sold_out FROM events.availability")
    assert tuple(row) == (1, 100, True)
    page = await (await client.get("/api/v1/events", params={"available": "true"})).json()
    assert page["total"] == 0
    assert await deliver(client, inventory_message(2, event_id, 2, sold=99)) == [2]
    page = await (await client.get("/api/v1/events", params={"available": "true"})).json()
    assert [e["id"] for e in page["items"]] == [event_id]


async def test_seats_kept_back_for_a_channel_are_not_available(client, db, event_id):
    # 98 sold, 2 kept back for a channel: bookings reports available 0 (docs/seating.md).
    assert await deliver(client, inventory_message(1, event_id, 1, sold=98, kept_back=2)) == [1]
    page = await (await client.get("/api/v1/events", params={"available": "true"})).json()
    assert page["total"] == 0
    page = await (await client.get("/api/v1/events", params={"available": "false"})).json()
    assert [e["id"] for e in page["items"]] == [event_id]


async def test_redelivery_is_acknowledged_and_applied_once(client, db, event_id):
    message = inventory_message(5, event_id, 1, sold=10)
    assert await deliver(client, message) == [5]
    assert await deliver(client, message) == [5]
    assert await db.fetchval("SELECT count(*) FROM events.inbox") == 1
    assert await db.fetchval("SELECT sold FROM events.availability") == 10


async def test_an_older_version_never_overwrites_a_newer_one(client, db, event_id):
    await deliver(client, inventory_message(7, event_id, 5, sold=50))
    assert await deliver(client, inventory_message(6, event_id, 4, sold=40)) == [6]
    assert tuple(await db.fetchrow("SELECT version, sold FROM events.availability")) == (5, 50)


async def test_a_malformed_payload_is_not_acknowledged_and_holds_back_its_key(client, db, event_id):
    bad = inventory_message(8, event_id, 1, sold=1)
    del bad["payload"]["sold"]
    later = inventory_message(9, event_id, 2, sold=2)
    other = inventory_message(10, event_id + 1, 1, sold=3)
    assert await deliver(client, bad, later, other) == [10]
    assert await db.fetchval("SELECT count(*) FROM events.inbox") == 1


async def test_the_inbox_needs_the_internal_key_and_a_valid_batch(client):
    missing = await client.post(INBOX, json={"source": "bookings", "messages": []})
    assert missing.status == 401
    malformed = await client.post(INBOX, json={"source": "bookings"}, headers=KEY)
    assert malformed.status == 400
    assert (await malformed.json())["errors"][0]["field"] == "body.messages"


async def test_internal_event_is_the_event_changed_payload(client, db, event_id):
    response = await client.get(f"/internal/events/{event_id}", headers=KEY)
    assert response.status == 200
    body = await response.json()
    stored = await db.fetchval("SELECT payload FROM events.outbox")
    assert body == stored
    assert (await client.get(f"/internal/events/{event_id}")).status == 401
    missing = await client.get("/internal/events/999", headers=KEY)
    assert missing.status == 404
