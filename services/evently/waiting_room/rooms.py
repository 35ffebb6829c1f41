"""Each event's room as the outbox tells it: settings from ``event.changed``, sold-out
state from ``inventory.changed`` (applied idempotently through ``/internal/inbox``)."""

from __future__ import annotations

import asyncpg

from evently.core.contracts import BookingChanged, EventChanged, InventoryChanged, parse
from evently.core.inbox import InboxHandler, InboxMessage
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


INBOX_HANDLERS: dict[str, InboxHandler] = {
    EventChanged.TOPIC: apply_event_changed,
    InventoryChanged.TOPIC: apply_inventory_changed,
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
