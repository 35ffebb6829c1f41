"""booking.changed and waitlist.changed: written with each change, shaped per contract,
and delivered by the outbox relay."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from evently.bookings.context import BOOKINGS
from evently.core.db import init_connection
from evently.core.outbox import OutboxMessage, OutboxRelay
from tests.bookings.conftest import send_event

BOOKING_FIELDS = {
    "id",
    "event_id",
    "user_id",
    "quantity",
    "status",
    "unit_price",
    "currency",
    "amount",
    "hold_expires_at",
    "created_at",
    "confirmed_at",
    "cancelled_at",
    "expired_at",
    "waitlist_entry_id",
    "version",
}
ENTRY_FIELDS = {
    "id",
    "event_id",
    "user_id",
    "quantity",
    "status",
    "offer_expires_at",
    "booking_id",
    "version",
}


async def messages(db, topic: str) -> list[dict]:
    rows = await db.fetch(
        "SELECT consumer, key, version, payload FROM bookings.outbox WHERE topic = $1 ORDER BY id",
        topic,
    )
    return [dict(r) for r in rows]


async def test_each_booking_transition_writes_booking_changed_for_analytics(client, buyer, db):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 2))[1]
    await buyer(1).confirm(booking["id"])
    await buyer(1).cancel(booking["id"])
    written = await messages(db, "booking.changed")
    assert [m["payload"]["transition"] for m in written] == ["held", "confirmed", "cancelled"]
    assert {m["consumer"] for m in written} == {"analytics"}
    assert {m["key"] for m in written} == {str(booking["id"])}
    assert [m["version"] for m in written] == [1, 2, 3]
    for message in written:
        payload = message["payload"]
        assert set(payload["booking"]) == BOOKING_FIELDS
        assert payload["booking"]["version"] == message["version"]
        datetime.fromisoformat(payload["at"])
    assert written[0]["payload"]["booking"] == booking
    assert written[2]["payload"]["booking"]["status"] == "cancelled"
    assert written[2]["payload"]["booking"]["amount"] == "99.80"


async def test_waitlist_transitions_write_waitlist_changed(client, buyer, db):
    await send_event(client, 1, capacity=1)
    hold = (await buyer(1).hold(1, 1))[1]
    await buyer(2).post("/api/v1/events/1/waitlist", {"quantity": 1})
    await buyer(1).cancel(hold["id"])
    offer = (await buyer(2).get("/api/v1/events/1/waitlist/me"))[1]
    await buyer(2).confirm(offer["booking_id"])
    written = await messages(db, "waitlist.changed")
    assert [m["payload"]["transition"] for m in written] == ["joined", "offered", "converted"]
    for message in written:
        assert set(message["payload"]["entry"]) == ENTRY_FIELDS
        assert message["consumer"] == "analytics"
    offered = written[1]["payload"]["entry"]
    assert (offered["status"], offered["booking_id"]) == ("offered", offer["booking_id"])
    # The offer itself is a booking: held, linked to the entry.
    held = [
        m for m in await messages(db, "booking.changed") if m["key"] == str(offered["booking_id"])
    ]
    assert held[0]["payload"]["booking"]["waitlist_entry_id"] == offered["id"]


class RecordingConsumer:
    """An in-process consumer that acknowledges and records what it receives."""

    def __init__(self) -> None:
        self.received: list[OutboxMessage] = []

    async def deliver(self, source: str, batch: list[OutboxMessage]) -> set[int]:
        assert source == "bookings"
        self.received.extend(batch)
        return {m.id for m in batch}


async def test_relay_delivers_bookings_messages_in_order_per_key(client, buyer, database_url, db):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 1))[1]
    await buyer(1).confirm(booking["id"])
    await client.server.app[BOOKINGS].publisher.publish_pending(reconcile=True)
    consumers = {name: RecordingConsumer() for name in ("search", "events", "analytics")}
    relay = OutboxRelay(database_url, "bookings", consumers)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await relay.deliver_pending(conn)
    finally:
        await conn.close()
    analytics = [(m.topic, m.payload.get("transition")) for m in consumers["analytics"].received]
    assert ("booking.changed", "held") in analytics
    assert analytics.index(("booking.changed", "held")) < analytics.index(
        ("booking.changed", "confirmed")
    )
    for name in ("search", "events"):
        topics = {m.topic for m in consumers[name].received}
        assert topics == {"inventory.changed"}
    pending = await db.fetchval("SELECT count(*) FROM bookings.outbox WHERE delivered_at IS NULL")
    assert pending == 0
