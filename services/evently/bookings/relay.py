"""The bookings outbox relay: delivers booking.changed, waitlist.changed and
inventory.changed to analytics, search and events (``core/outbox.py``)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from evently.bookings.settings import BookingsSettings
from evently.core.outbox import HttpConsumer, OutboxRelay

# Who consumes what this service publishes (docs/outbox.md).
OUTBOX_CONSUMERS = ("search", "events", "analytics")


def bookings_relay(
    settings: BookingsSettings, session: Callable[[], aiohttp.ClientSession]
) -> OutboxRelay:
    """The relay delivering this service's outbox to each consumer's inbox."""
    urls = {
        "search": settings.search_url,
        "events": settings.events_url,
        "analytics": settings.analytics_url,
    }
    consumers = {
        name: HttpConsumer(session, urls[name], settings.internal_api_key)
        for name in OUTBOX_CONSUMERS
    }
    return OutboxRelay(
        settings.database_url,
        "bookings",
        consumers,
        poll_interval_s=settings.outbox_poll_interval_s,
        max_backoff_s=settings.outbox_max_backoff_s,
    )
