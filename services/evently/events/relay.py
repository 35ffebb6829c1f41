"""The events outbox relay: delivers ``event.changed`` to its consumers (``core.contracts``).

Every replica runs one (``OUTBOX_RELAY_ENABLED``); the relay's advisory lock lets only
one deliver at a time (``core.outbox``).
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from aiohttp import web

from evently.core.app import SETTINGS
from evently.core.clients import HTTP_SESSION
from evently.core.contracts import consumers
from evently.core.outbox import HttpConsumer, OutboxRelay, contract_relay
from evently.events.repository import SOURCE
from evently.events.settings import EventsSettings


def consumer_urls(settings: EventsSettings) -> dict[str, str]:
    """Each consumer of what events publishes, and the base URL of its inbox."""
    urls = {
        "bookings": settings.bookings_url,
        "search": settings.search_url,
        "analytics": settings.analytics_url,
        "notifications": settings.notifications_url,
        "waiting_room": settings.waiting_room_url,
    }
    return {name: urls[name] for name in consumers(SOURCE)}


def build_outbox_relay(
    settings: EventsSettings, session: Callable[[], aiohttp.ClientSession]
) -> OutboxRelay:
    return contract_relay(
        settings.database_url,
        SOURCE,
        {
            name: HttpConsumer(session, url, settings.internal_api_key)
            for name, url in consumer_urls(settings).items()
        },
        poll_interval_s=settings.outbox_poll_interval_s,
        max_backoff_s=settings.outbox_max_backoff_s,
        batch_size=settings.outbox_batch_size,
    )


async def run_outbox_relay(app: web.Application) -> None:
    """Background task: relay the outbox for as long as the app runs."""
    await build_outbox_relay(app[SETTINGS], lambda: app[HTTP_SESSION]).run()
