"""The one search contract, and choosing its implementation from settings.

``SEARCH_BACKEND=postgres`` (default) searches the service's own document table;
``SEARCH_BACKEND=opensearch`` keeps that table as the source of truth and mirrors it
into an OpenSearch index it searches instead. Both answer identically shaped results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

import asyncpg
from aiohttp import web

from evently.core.db import POOL
from evently.search.backend_opensearch import OpenSearchBackend
from evently.search.backend_postgres import PostgresBackend
from evently.search.models import (
    EventChange,
    InventoryChange,
    ReindexReport,
    SearchQuery,
    SearchResults,
    Suggestions,
)
from evently.search.settings import SearchSettings


class SearchBackend(Protocol):
    """Indexes events and answers searches. Writes run inside the inbox transaction."""

    name: str

    async def index_event(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        """Make a published event searchable; False if this version is not newer."""
        ...

    async def remove(self, conn: asyncpg.Connection, event: EventChange) -> bool:
        """Hide a draft/cancelled/completed event, remembering its version."""
        ...

    async def apply_availability(
        self, conn: asyncpg.Connection, inventory: InventoryChange
    ) -> bool:
        """Record seats/sold-out flags; False if this inventory version is not newer."""
        ...

    async def search(self, query: SearchQuery) -> SearchResults: ...

    async def suggest(self, prefix: str, limit: int) -> Suggestions: ...

    async def health(self) -> str | None:
        """None when able to search and index, else what is wrong."""
        ...

    async def reindex(self) -> ReindexReport:
        """Rebuild the index from the document table without interrupting searches."""
        ...

    async def start(self) -> None:
        """Connect and prepare; must not fail when the engine is down (retry later)."""
        ...

    async def close(self) -> None: ...


SEARCH_BACKEND: web.AppKey[SearchBackend] = web.AppKey("search_backend", object)


def create_backend(settings: SearchSettings, pool: asyncpg.Pool) -> SearchBackend:
    """The backend ``SEARCH_BACKEND`` names, over this service's pool."""
    postgres = PostgresBackend(pool, settings.count_limit)
    if settings.search_backend == "postgres":
        return postgres
    return OpenSearchBackend(settings, pool, store=postgres)


def backend_context(
    settings: SearchSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` owning ``app[SEARCH_BACKEND]`` (after the pool exists)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        backend = create_backend(settings, app[POOL])
        await backend.start()
        app[SEARCH_BACKEND] = backend
        try:
            yield
        finally:
            await backend.close()

    return ctx


async def search_backend_ready(app: web.Application) -> str | None:
    """Readiness: the configured search backend can search and index."""
    return await app[SEARCH_BACKEND].health()
