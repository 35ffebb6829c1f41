"""Analytics' own facts, applied from outbox messages delivered to ``/internal/inbox``.

One handler per topic (see docs/outbox.md for the payload contract). The inbox records
each message id, so a re-delivery is a no-op; each upsert also compares the aggregate's
``version``, so a message older than the stored fact changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg
import pydantic
from prometheus_client import Counter

from evently.analytics import queries
from evently.core.inbox import InboxHandler, InboxMessage

FACTS_APPLIED = Counter(
    "evently_analytics_facts_applied_total",
    "Outbox messages analytics received, by topic and outcome (applied, stale).",
    ["topic", "outcome"],
)


class _Fact(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class EventChanged(_Fact):
    """``event.changed``: the fields analytics keeps of an event."""

    id: int
    version: int
    name: str
    status: str
    capacity: int = pydantic.Field(ge=0)
    price: Decimal | None = None
    currency: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    sale_opens_at: datetime | None = None
    sale_closes_at: datetime | None = None
    created_at: datetime | None = None


class InventoryChanged(_Fact):
    """``inventory.changed``: bookings' own seat counts for one event."""

    event_id: int
    version: int
    capacity: int
    sold: int
    held: int
    available: int
    on_sale: bool
    sold_out: bool
    status: str | None = None


class BookingState(_Fact):
    id: int
    event_id: int
    user_id: int | None = None
    quantity: int = pydantic.Field(ge=0)
    status: str
    unit_price: Decimal | None = None
    currency: str | None = None
    amount: Decimal | None = None
    hold_expires_at: datetime | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    expired_at: datetime | None = None
    waitlist_entry_id: int | None = None
    version: int | None = None


class BookingChanged(_Fact):
    """``booking.changed``: one transition and the booking's full state after it."""

    transition: Literal["held", "confirmed", "cancelled", "expired"]
    at: datetime
    booking: BookingState


class WaitlistEntryState(_Fact):
    id: int
    event_id: int
    user_id: int | None = None
    quantity: int = pydantic.Field(ge=0)
    status: str
    offer_expires_at: datetime | None = None
    booking_id: int | None = None
    version: int | None = None


class WaitlistChanged(_Fact):
    """``waitlist.changed``: one transition and the entry's full state after it."""

    transition: Literal["joined", "offered", "converted", "offer_expired", "left"]
    at: datetime
    entry: WaitlistEntryState


def _count(topic: str, applied: bool | None) -> None:
    FACTS_APPLIED.labels(topic, "applied" if applied else "stale").inc()


async def apply_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the event's name, status, capacity, price and sale window."""
    event = EventChanged.model_validate(message.payload)
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
    inventory = InventoryChanged.model_validate(message.payload)
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
    change = BookingChanged.model_validate(message.payload)
    booking = change.booking
    at = {change.transition: change.at}
    applied = await conn.fetchval(
        queries.UPSERT_BOOKING,
        booking.id,
        booking.version if booking.version is not None else message.version,
        booking.event_id,
        booking.user_id,
        booking.quantity,
        booking.status,
        booking.unit_price,
        booking.currency,
        booking.amount,
        booking.created_at or change.at,
        booking.hold_expires_at,
        booking.confirmed_at or at.get("confirmed"),
        booking.cancelled_at or at.get("cancelled"),
        booking.expired_at or at.get("expired"),
        booking.waitlist_entry_id,
    )
    _count(message.topic, applied)


async def apply_waitlist_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Keep the entry's latest state and log the transition (an entry can be offered twice)."""
    change = WaitlistChanged.model_validate(message.payload)
    entry = change.entry
    version = entry.version if entry.version is not None else message.version
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


INBOX_HANDLERS: dict[str, InboxHandler] = {
    "event.changed": apply_event_changed,
    "inventory.changed": apply_inventory_changed,
    "booking.changed": apply_booking_changed,
    "waitlist.changed": apply_waitlist_changed,
}
