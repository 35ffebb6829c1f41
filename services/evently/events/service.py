"""The events service definition."""

from __future__ import annotations

from evently.core.app import ServiceDefinition
from evently.events.routes import api
from evently.events.settings import EventsSettings

SERVICE = ServiceDefinition(
    name="events",
    schema="events",
    settings_class=EventsSettings,
    api=api,
    description="The events service.",
)
