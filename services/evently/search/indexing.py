"""Feeding the index from other services' outboxes: event.changed and inventory.changed.

Each message is applied in the inbox transaction (``core/inbox.py``): a re-delivered
message is acknowledged without being applied twice, and a message older than what
the index holds (by the aggregate's version) changes nothing. A failure (for example
OpenSearch down) raises, so the message stays unacknowledged and the producer's
outbox delivers it again later.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from evently.core.contracts import parse
from evently.core.inbox import InboxHandler, InboxMessage
from evently.search.backend import SearchBackend
from evently.search.models import EventChange, InventoryChange

EVENT_CHANGED = EventChange.TOPIC
INVENTORY_CHANGED = InventoryChange.TOPIC

INDEX_UPDATES = Counter(
    "evently_search_index_updates_total",
    "Messages applied to the search index, by topic and outcome (applied or stale).",
    ["topic", "outcome"],
)


async def apply_event_changed(
    backend: SearchBackend, conn: asyncpg.Connection, message: InboxMessage
) -> bool:
    """Index a published event; hide drafts, cancelled and completed ones."""
    event = parse(EventChange, message.payload)
    if event.searchable:
        applied = await backend.index_event(conn, event)
    else:
        applied = await backend.remove(conn, event)
    INDEX_UPDATES.labels(EVENT_CHANGED, "applied" if applied else "stale").inc()
    return applied


async def apply_inventory_changed(
    backend: SearchBackend, conn: asyncpg.Connection, message: InboxMessage
) -> bool:
    """Record an event's availability (seats left, sold out)."""
    inventory = parse(InventoryChange, message.payload)
    applied = await backend.apply_availability(conn, inventory)
    INDEX_UPDATES.labels(INVENTORY_CHANGED, "applied" if applied else "stale").inc()
    return applied


def inbox_handlers(backend: SearchBackend) -> dict[str, InboxHandler]:
    """The inbox's topic -> handler table, bound to this app's backend."""

    async def on_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
        await apply_event_changed(backend, conn, message)

    async def on_inventory_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
        await apply_inventory_changed(backend, conn, message)

    return {EVENT_CHANGED: on_event_changed, INVENTORY_CHANGED: on_inventory_changed}
