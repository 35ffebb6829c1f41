"""Analytics' own facts, applied from outbox messages delivered to ``/internal/inbox``.

One handler per topic; each reads its payload with the topic's contract
(``core.contracts``). The inbox records
each message id, so a re-delivery is a no-op; each upsert also compares the aggregate's
``version``, so a message older than the stored fact changes nothing.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from evently.analytics import queries
from evently.core.contracts import (
    BookingChanged,
    EventChanged,
    InventoryChanged,
    RefundChanged,
    TicketCheckedIn,
    WaitlistChanged,
    parse,
)
from evently.core.inbox import InboxHandler, InboxMessage

FACTS_APPLIED = Counter(
    "evently_analytics_facts_applied_total",
    "Outbox messages analytics received, by topic and outcome (applied, stale, counted).",
    ["topic", "outcome"],
)


def _count(topic: str, applied: bool | None) -> None:
    FACTS_APPLIED.labels(topic, "applied" if applied else "stale").inc()


async def apply_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the event's name, status, capacity, price and sale window."""
    event = parse(EventChanged, message.payload)
    applied = await conn.fetchval(
        queries.UPSERT_EVENT,
        event.id,
        event.version,
        event.name,
        event.status,
        event.capacity,
        event.price,
        event.currency,
        event.starts_at,
        event.ends_at,
        event.sale_opens_at,
        event.sale_closes_at,
        event.created_at,
    )
    _count(message.topic, applied)


async def apply_inventory_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep bookings' latest seat counts for the event."""
    inventory = parse(InventoryChanged, message.payload)
    applied = await conn.fetchval(
        queries.UPSERT_INVENTORY,
        inventory.event_id,
        inventory.version,
        inventory.capacity,
        inventory.sold,
        inventory.held,
        inventory.available,
        inventory.on_sale,
        inventory.sold_out,
        inventory.status,
    )
    _count(message.topic, applied)


async def apply_booking_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the booking's latest state; a transition's ``at`` fills a missing timestamp."""
    change = parse(BookingChanged, message.payload)
    booking = change.booking
    at = {change.transition: change.at}
    applied = await conn.fetchval(
        queries.UPSERT_BOOKING,
        booking.id,
        booking.version,
        booking.event_id,
        booking.user_id,
        booking.quantity,
        booking.status,
        booking.unit_price,
        booking.currency,
        booking.amount,
        booking.created_at,
        booking.hold_expires_at,
        booking.confirmed_at or at.get("confirmed"),
        booking.cancelled_at or at.get("cancelled"),
        booking.expired_at or at.get("expired"),
        booking.waitlist_entry_id,
    )
    _count(message.topic, applied)


async def apply_waitlist_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the entry's latest state and log the transition (an entry can be offered twice)."""
    change = parse(WaitlistChanged, message.payload)
    entry = change.entry
    version = entry.version
    await conn.fetchval(
        queries.RECORD_WAITLIST_TRANSITION,
        entry.id,
        version,
        entry.event_id,
        change.transition,
        entry.quantity,
        change.at,
    )
    applied = await conn.fetchval(
        queries.UPSERT_WAITLIST_ENTRY,
        entry.id,
        version,
        entry.event_id,
        entry.user_id,
        entry.quantity,
        entry.status,
        entry.offer_expires_at,
        entry.booking_id,
    )
    _count(message.topic, applied)


async def apply_ticket_checked_in(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Record a ticket's check-in (once: a ticket is checked in only once)."""
    checkin = parse(TicketCheckedIn, message.payload)
    applied = await conn.fetchval(
        queries.RECORD_CHECKIN,
        checkin.ticket_id,
        checkin.event_id,
        checkin.booking_id,
        checkin.seat,
        checkin.gate,
        checkin.checked_in_at,
    )
    _count(message.topic, applied)


async def count_refund_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Refunds are not analytics facts yet: check the contract, count the message."""
    parse(RefundChanged, message.payload)
    FACTS_APPLIED.labels(message.topic, "counted").inc()


INBOX_HANDLERS: dict[str, InboxHandler] = {
    EventChanged.TOPIC: apply_event_changed,
    InventoryChanged.TOPIC: apply_inventory_changed,
    BookingChanged.TOPIC: apply_booking_changed,
    WaitlistChanged.TOPIC: apply_waitlist_changed,
    TicketCheckedIn.TOPIC: apply_ticket_checked_in,
    RefundChanged.TOPIC: count_refund_changed,
}
