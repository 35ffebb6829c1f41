"""Each event's room as the outbox tells it: settings from ``event.changed``, sold-out
state from ``inventory.changed`` (applied idempotently through ``/internal/inbox``)."""

from __future__ import annotations

import asyncpg

from evently.core.contracts import BookingChanged, EventChanged, InventoryChanged, parse
from evently.core.inbox import InboxGroupHandler, InboxHandler, InboxMessage
from evently.waiting_room import queries
from evently.waiting_room.shuffle import commitment, new_seed


async def apply_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Create or update the event's room; an event without room settings disables it."""
    event = parse(EventChanged, message.payload)
    room = event.waiting_room
    if room is None:
        changed = await conn.fetchval(queries.DISABLE_ROOM, event.id, event.version)
    else:
        seed = new_seed()
        changed = await conn.fetchval(
            queries.UPSERT_ROOM,
            event.id,
            event.version,
            room.enabled,
            event.sale_opens_at,
            room.prequeue_opens_at,
            room.admission_rate_per_minute,
            room.max_active_shoppers,
            room.session_ttl_s,
            room.when_sold_out,
            seed,
            commitment(seed),
        )
    if changed is not None:
        await conn.execute(queries.NOTIFY_ROOM, event.id)


async def apply_inventory_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Remember whether the event is sold out and how many seats are left: no one is
    admitted to buy what is gone (``ticker.shopper_slots``)."""
    inventory = parse(InventoryChanged, message.payload)
    changed = await conn.fetchval(
        queries.APPLY_INVENTORY,
        inventory.event_id,
        inventory.version,
        inventory.sold_out,
        inventory.available,
    )
    if changed is not None:
        await conn.execute(queries.PRUNE_UNREPORTED_HOLDS, inventory.event_id, inventory.version)
        await conn.execute(queries.NOTIFY_ROOM, inventory.event_id)


async def lock_rooms(conn: asyncpg.Connection, event_ids: list[int]) -> None:
    """Lock these rooms' rows in event id order (inside the caller's transaction)."""
    await conn.execute(queries.LOCK_ROOMS, sorted(set(event_ids)))


async def apply_event_changes(conn: asyncpg.Connection, messages: list[InboxMessage]) -> None:
    """``apply_event_changed`` for several messages, in order, their rooms locked first in
    event id order: a group of them locks several rooms, and so may another group."""
    await lock_rooms(conn, [parse(EventChanged, m.payload).id for m in messages])
    for message in messages:
        await apply_event_changed(conn, message)


async def apply_inventory_changes(conn: asyncpg.Connection, messages: list[InboxMessage]) -> None:
    """``apply_inventory_changed`` for several messages, in order, their rooms locked first
    in event id order (as ``apply_event_changes``)."""
    await lock_rooms(conn, [parse(InventoryChanged, m.payload).event_id for m in messages])
    for message in messages:
        await apply_inventory_changed(conn, message)


INBOX_HANDLERS: dict[str, InboxHandler] = {
    EventChanged.TOPIC: apply_event_changed,
    InventoryChanged.TOPIC: apply_inventory_changed,
}
# Within a group (core/inbox.py, ``per_transaction``): every run of a topic that changes
# rooms locks them in event id order first. A group holds one source's messages, so one
# of these topics (inventory.changed from bookings, event.changed from events); between
# groups, the order is the same (tests/waiting_room/test_room_lock_order.py).
ROOM_GROUP_HANDLERS: dict[str, InboxGroupHandler] = {
    EventChanged.TOPIC: apply_event_changes,
    InventoryChanged.TOPIC: apply_inventory_changes,
}

# The order a grouped inbox transaction applies topics in (``core/inbox.py``): visitors'
# tickets (booking.changed) before the room's row (inventory.changed, event.changed), as
# the ticker locks them (it ends sessions, then saves itself on the room's row), so a
# relay batch and a tick never each hold what the other waits for (a deadlock before
# 2026-12-04: tests/waiting_room/test_inbox_lock_order.py).
INBOX_TOPIC_ORDER: tuple[str, ...] = (
    BookingChanged.TOPIC,
    InventoryChanged.TOPIC,
    EventChanged.TOPIC,
)
