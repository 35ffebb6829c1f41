"""booking.changed and waitlist.changed: written with each change, shaped per contract,
and delivered by the outbox relay."""

from __future__ import annotations

from datetime import datetime

from evently.bookings.context import BOOKINGS
from evently.core import contracts
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
    "seats",
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


async def test_each_booking_transition_reaches_analytics_as_booking_changed(client, buyer, outbox):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 2))[1]
    await buyer(1).confirm(booking["id"])
    await buyer(1).cancel(booking["id"])
    written = await outbox.messages("analytics", "booking.changed")
    assert [m.payload["transition"] for m in written] == ["held", "confirmed", "cancelled"]
    assert {m.key for m in written} == {str(booking["id"])}
    assert [m.version for m in written] == [1, 2, 3]
    for message in written:
        payload = message.payload
        assert payload["schema_version"] == contracts.BookingChanged.VERSION
        assert set(payload["booking"]) == BOOKING_FIELDS
        assert payload["booking"]["version"] == message.version
        datetime.fromisoformat(payload["at"])
    # The message and the API show the booking alike (one model renders both).
    assert written[0].payload["booking"] == booking
    assert written[2].payload["booking"]["status"] == "cancelled"
    assert written[2].payload["booking"]["amount"] == "99.80"
    for other in ("search", "events"):
        assert not await outbox.messages(other, "booking.changed")


async def test_waitlist_transitions_reach_analytics_as_waitlist_changed(client, buyer, outbox):
    await send_event(client, 1, capacity=1)
    hold = (await buyer(1).hold(1, 1))[1]
    await buyer(2).post("/api/v1/events/1/waitlist", {"quantity": 1})
    await buyer(1).cancel(hold["id"])
    offer = (await buyer(2).get("/api/v1/events/1/waitlist/me"))[1]
    await buyer(2).confirm(offer["booking_id"])
    written = await outbox.messages("analytics", "waitlist.changed")
    assert [m.payload["transition"] for m in written] == ["joined", "offered", "converted"]
    for message in written:
        assert set(message.payload["entry"]) == ENTRY_FIELDS
    offered = written[1].payload["entry"]
    assert (offered["status"], offered["booking_id"]) == ("offered", offer["booking_id"])
    # The offer itself is a booking: held, linked to the entry.
    held = [
        m
        for m in await outbox.messages("analytics", "booking.changed")
        if m.key == str(offered["booking_id"])
    ]
    assert held[0].payload["booking"]["waitlist_entry_id"] == offered["id"]


async def test_the_relay_routes_each_topic_to_its_consumers_in_order_per_key(
    client, buyer, outbox, db
):
    await send_event(client, 1, capacity=5)
    booking = (await buyer(1).hold(1, 1))[1]
    await buyer(1).confirm(booking["id"])
    await client.server.app[BOOKINGS].publisher.publish_pending(reconcile=True)
    # Each message is written once; the relay, not the SQL, knows who receives it.
    assert await db.fetchval("SELECT count(*) FROM bookings.outbox WHERE consumer IS NOT NULL") == 0
    received = await outbox.drain()
    analytics = [(m.topic, m.payload.get("transition")) for m in received["analytics"]]
    assert analytics.index(("booking.changed", "held")) < analytics.index(
        ("booking.changed", "confirmed")
    )
    for name in ("search", "events"):
        assert {m.topic for m in received[name]} == {"inventory.changed"}
    routed = {
        topic: tuple(sorted(c for c, ms in received.items() if any(m.topic == topic for m in ms)))
        for topic in ("booking.changed", "inventory.changed")
    }
    assert routed == {topic: tuple(sorted(contracts.TOPICS[topic].consumers)) for topic in routed}
    pending = await db.fetchval("SELECT count(*) FROM bookings.outbox WHERE delivered_at IS NULL")
    assert pending == 0


async def test_a_hold_names_the_inventory_version_its_seats_leave_available_after(
    client, buyer, outbox
):
    """booking.changed carries the event's inventory version at the change: the first
    inventory.changed that includes the change has a greater one (the waiting room counts
    a hold against the seats it reported until then: docs/waiting-room.md)."""
    await send_event(client, 1, capacity=5)
    await buyer(1).hold(1, 2)
    await client.server.app[BOOKINGS].publisher.publish_pending(reconcile=True)
    held = (await outbox.messages("waiting_room", "booking.changed"))[0].payload
    inventory = await outbox.messages("waiting_room", "inventory.changed")
    assert [m.payload["available"] for m in inventory if m.version <= held["inventory_version"]]
    assert all(
        m.payload["available"] == 5 for m in inventory if m.version <= held["inventory_version"]
    )
    after = [m.payload for m in inventory if m.version > held["inventory_version"]]
    assert after[0]["available"] == 3
