"""The bookings outbox relay: delivers booking.changed, waitlist.changed,
inventory.changed and ticket.checked_in to their consumers (``core/outbox.py``, routed
by ``core/contracts.py``)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from evently.bookings.settings import BookingsSettings
from evently.core.contracts import consumers
from evently.core.outbox import HttpConsumer, OutboxRelay, contract_relay


def bookings_relay(
    settings: BookingsSettings, session: Callable[[], aiohttp.ClientSession]
) -> OutboxRelay:
    """The relay delivering this service's outbox to each consumer's inbox."""
    urls = {
        "search": settings.search_url,
        "events": settings.events_url,
        "analytics": settings.analytics_url,
        "notifications": settings.notifications_url,
        "waiting_room": settings.waiting_room_url,
    }
    return contract_relay(
        settings.database_url,
        "bookings",
        {
            name: HttpConsumer(session, urls[name], settings.internal_api_key)
            for name in consumers("bookings")
        },
        poll_interval_s=settings.outbox_poll_interval_s,
        max_backoff_s=settings.outbox_max_backoff_s,
        batch_size=settings.outbox_batch_size,
    )
