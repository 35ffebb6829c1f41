"""The search service definition."""

from __future__ import annotations

from evently.core.app import ServiceDefinition
from evently.search.routes import api
from evently.search.settings import SearchSettings

SERVICE = ServiceDefinition(
    name="search",
    schema="search",
    settings_class=SearchSettings,
    api=api,
    description="The search service.",
)
