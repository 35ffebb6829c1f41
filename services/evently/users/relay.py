"""The users outbox relay: delivers ``user.changed`` to its consumers (``core.contracts``).

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
from evently.users.settings import UsersSettings

SOURCE = "users"


def users_relay(
    settings: UsersSettings, session: Callable[[], aiohttp.ClientSession]
) -> OutboxRelay:
    """The relay delivering this service's outbox to each consumer's inbox."""
    urls = {"notifications": settings.notifications_url}
    return contract_relay(
        settings.database_url,
        SOURCE,
        {
            name: HttpConsumer(session, urls[name], settings.internal_api_key)
            for name in consumers(SOURCE)
        },
        poll_interval_s=settings.outbox_poll_interval_s,
        max_backoff_s=settings.outbox_max_backoff_s,
        batch_size=settings.outbox_batch_size,
    )


async def run_outbox_relay(app: web.Application) -> None:
    """Background task: relay the outbox for as long as the app runs."""
    await users_relay(app[SETTINGS], lambda: app[HTTP_SESSION]).run()
