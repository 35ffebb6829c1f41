"""The search service definition."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.health import READINESS_CHECKS
from evently.search.backend import backend_context, search_backend_ready
from evently.search.cli import add_search_commands
from evently.search.routes import api
from evently.search.settings import SearchSettings


def setup(app: web.Application, settings: Any) -> None:
    """Open the configured search backend with the app and report it in /readyz."""
    app.cleanup_ctx.append(backend_context(settings))
    app[READINESS_CHECKS].append(search_backend_ready)


SERVICE = ServiceDefinition(
    name="search",
    schema="search",
    settings_class=SearchSettings,
    api=api,
    description=(
        "Full-text event search with filters, facets and suggestions, fed by the events "
        "and bookings outboxes. PostgreSQL by default, OpenSearch when configured."
    ),
    setup=setup,
    cli=add_search_commands,
)
