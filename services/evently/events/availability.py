"""Seat figures: live from bookings for one event, and bookings' feed for the list filter."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from evently.core.contracts import InventoryChanged, parse
from evently.core.inbox import InboxMessage
from evently.events import queries
from evently.events.bookings_client import BookingsClient
from evently.events.models import Event, LiveAvailability


def sale_is_open(event: Event, now: datetime) -> bool:
    """Published, not over, and inside its sale window (a missing bound is no bound)."""
    return (
        event.status == "published"
        and now < event.ends_at
        and (event.sale_opens_at is None or event.sale_opens_at <= now)
        and (event.sale_closes_at is None or now < event.sale_closes_at)
    )


async def live_availability(
    bookings: BookingsClient, event: Event, now: datetime | None = None
) -> LiveAvailability:
    """Bookings' figures for ``event``; while bookings holds no inventory for it yet,
    nothing is sold or held, so the whole capacity is available."""
    figures = await bookings.availability(event.id)
    if figures is not None:
        return figures
    return LiveAvailability(
        event_id=event.id,
        capacity=event.capacity,
        sold=0,
        held=0,
        available=event.capacity,
        on_sale=sale_is_open(event, now or datetime.now(UTC)),
        sold_out=False,
        waitlisted=0,
        status=event.status,
    )


async def apply_inventory_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
    """Inbox handler for bookings' ``inventory.changed``: keep the newest figures."""
    figures = parse(InventoryChanged, message.payload)
    await conn.execute(
        queries.UPSERT_AVAILABILITY,
        figures.event_id,
        figures.version,
        figures.capacity,
        figures.sold,
        figures.held,
        figures.available,
        figures.on_sale,
        figures.sold_out,
        figures.status,
    )
