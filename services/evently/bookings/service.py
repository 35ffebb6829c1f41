"""The bookings service definition."""

from __future__ import annotations

from evently.bookings.routes import api
from evently.bookings.settings import BookingsSettings
from evently.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="bookings",
    schema="bookings",
    settings_class=BookingsSettings,
    api=api,
    description="The bookings service.",
)
