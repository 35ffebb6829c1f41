"""The analytics service definition."""

from __future__ import annotations

from evently.analytics.routes import api
from evently.analytics.settings import AnalyticsSettings
from evently.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="analytics",
    schema="analytics",
    settings_class=AnalyticsSettings,
    api=api,
    description=(
        "Sales analytics from analytics' own facts (fed by the events and bookings "
        "outboxes) and traffic analytics from Prometheus. Admin only."
    ),
)
