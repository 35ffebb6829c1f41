"""The events service definition."""

from __future__ import annotations

from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.tasks import background_task
from evently.events import seating_routes  # noqa: F401  (declares its routes on ``api``)
from evently.events.relay import run_outbox_relay
from evently.events.routes import api
from evently.events.settings import EventsSettings


def setup(app: web.Application, settings: EventsSettings) -> None:
    """Run the outbox relay in every replica unless disabled."""
    if settings.outbox_relay_enabled:
        app.cleanup_ctx.append(background_task("events-outbox-relay", run_outbox_relay))


SERVICE = ServiceDefinition(
    name="events",
    schema="events",
    settings_class=EventsSettings,
    api=api,
    description=(
        "Venues and events: the public catalogue, admin management with optimistic "
        "concurrency, and the transactional outbox that announces every change."
    ),
    setup=setup,
)
