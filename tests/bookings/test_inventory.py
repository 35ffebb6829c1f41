"""The inventory fed by event.changed (through the real inbox) and published as
inventory.changed and to the availability streams."""

from __future__ import annotations

import asyncio
import logging

from evently.bookings.context import BOOKINGS
from evently.bookings.inventory import InventoryPublisher
from tests.bookings.conftest import INTERNAL, event_payload, eventually, seat_counts, send_event
from tests.core.test_background_tasks import TRIES, wake_and_cancel


async def inventory_messages(outbox, event_id: int) -> list[dict]:
    """What each consumer received of ``event_id``'s inventory.changed, in order."""
    received = await outbox.drain()
    return [
        {"consumer": consumer, "version": m.version, "payload": m.payload}
        for consumer, messages in received.items()
        for m in messages
        if m.topic == "inventory.changed" and m.key == str(event_id)
    ]


async def test_newer_versions_apply_and_older_ones_are_ignored(client, db):
    await send_event(client, 1, version=3, capacity=50)
    await send_event(client, 1, version=2, capacity=10)  # stale: ignored
    assert (await seat_counts(db, 1))["capacity"] == 50
    await send_event(client, 1, version=4, capacity=60, max_per_user=2, price="10.00")
    row = await db.fetchrow("SELECT * FROM bookings.inventory WHERE event_id = 1")
    assert (row["capacity"], row["max_per_user"], str(row["unit_price"])) == (60, 2, "10.00")
    assert row["event_version"] == 4


async def test_redelivered_message_is_applied_once(client, db):
    message = {
        "id": 9001,
        "source": "events",
        "topic": "event.changed",
        "key": "1",
        "version": 1,
        "payload": event_payload(1),
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    for _ in range(2):
        response = await client.post(
            "/internal/inbox", json={"source": "events", "messages": [message]}, headers=INTERNAL
        )
        assert (await response.json())["acknowledged"] == [9001]
    assert await db.fetchval("SELECT count(*) FROM bookings.inbox") == 1


async def test_capacity_below_reserved_is_clamped_never_violated_and_logged(
    client, buyer, db, caplog
):
    await send_event(client, 1, capacity=10)
    bookings = [(await buyer(i).hold(1, 2))[1] for i in range(1, 4)]  # 6 seats held
    with caplog.at_level(logging.WARNING, logger="evently.bookings.inventory"):
        await send_event(client, 1, version=2, capacity=4)
    assert "clamped" in caplog.text
    row = await db.fetchrow("SELECT capacity, target_capacity, reserved FROM bookings.inventory")
    assert (row["capacity"], row["target_capacity"], row["reserved"]) == (6, 4, 6)
    status, problem = await buyer(9).hold(1, 1)
    assert (status, problem["code"]) == (409, "sold_out")
    # Seats that come back are retired until the capacity is down to its target.
    await buyer(1).cancel(bookings[0]["id"])
    row = await db.fetchrow("SELECT capacity, reserved FROM bookings.inventory")
    assert (row["capacity"], row["reserved"]) == (4, 4)
    assert (await buyer(9).hold(1, 1))[0] == 409
    await buyer(2).cancel(bookings[1]["id"])
    assert (await buyer(9).hold(1, 2))[0] == 201


async def test_every_change_is_published_as_inventory_changed_to_each_consumer(
    client, buyer, outbox
):
    await send_event(client, 1, capacity=10)
    first = await inventory_messages(outbox, 1)
    assert sorted(m["consumer"] for m in first) == ["analytics", "events", "search", "waiting_room"]
    assert first[0]["payload"] == {
        "schema_version": 1,
        "event_id": 1,
        "version": 1,
        "capacity": 10,
        "sold": 0,
        "held": 0,
        "available": 10,
        "on_sale": True,
        "sold_out": False,
        "status": "published",
        "waitlisted": 0,
    }
    booking = (await buyer(1).hold(1, 4))[1]
    await buyer(1).confirm(booking["id"])

    async def published_sale() -> bool:
        latest = (await inventory_messages(outbox, 1))[-1]["payload"]
        return (latest["sold"], latest["held"], latest["available"]) == (4, 0, 6)

    await eventually(published_sale)
    versions = [
        m["version"] for m in await inventory_messages(outbox, 1) if m["consumer"] == "events"
    ]
    assert versions == sorted(set(versions)), "versions only grow"
    # Nothing changed since: nothing more is published, even by a reconciliation.
    publisher = client.server.app[BOOKINGS].publisher
    count = len(await inventory_messages(outbox, 1))
    assert await publisher.publish_pending(reconcile=True) == 0
    assert len(await inventory_messages(outbox, 1)) == count


async def test_reconciliation_publishes_state_that_was_never_published(client, db, outbox):
    await send_event(client, 1, capacity=10)
    # As if a process crashed after a change committed but before publishing it.
    await db.execute("UPDATE bookings.inventory SET reserved = 3")
    publisher = client.server.app[BOOKINGS].publisher
    assert await publisher.publish_pending(reconcile=True) == 1
    assert (await inventory_messages(outbox, 1))[-1]["payload"]["held"] == 3


async def test_inbox_needs_the_internal_key(client):
    response = await client.post("/internal/inbox", json={"source": "events", "messages": []})
    assert response.status == 401


async def test_the_publisher_stops_when_cancelled_as_it_is_woken(client):
    """It used to swallow that cancellation (``asyncio.wait_for`` on Python 3.11) and
    run on, so the service's shutdown hung (tests/core/test_background_tasks.py)."""
    context = client.server.app[BOOKINGS]
    for _ in range(TRIES):
        publisher = InventoryPublisher(context.pool, context.settings)
        task = asyncio.create_task(publisher.run())
        assert await wake_and_cancel(task, publisher._wake)
