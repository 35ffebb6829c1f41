"""HTTP routes of the search service: thin handlers over the search backend."""

from __future__ import annotations

from aiohttp import web

from evently.core.api import Api, json_response
from evently.core.auth import require_internal
from evently.core.db import inbox_pool
from evently.core.inbox import InboxAck, InboxBatch, apply_within
from evently.core.settings import SETTINGS
from evently.search.backend import SEARCH_BACKEND
from evently.search.indexing import inbox_handlers
from evently.search.models import SearchQuery, SearchResults, Suggestions, SuggestQuery

api = Api("search")


@api.get(
    "/api/v1/search",
    summary="Search published events: full text, filters, facets, pages",
    description=(
        "Only published, not cancelled events appear. Without `q` it is a filtered "
        "listing sorted by date. Facets count by type and by city, each honouring every "
        "other filter. Highlights are HTML-escaped with `<em>` around matches."
    ),
    query=SearchQuery,
    response=SearchResults,
    errors=(400, 503),
)
async def search_events(request: web.Request, query: SearchQuery) -> web.Response:
    return json_response(await request.app[SEARCH_BACKEND].search(query))


@api.get(
    "/api/v1/search/suggest",
    summary="Autocomplete event and venue names from what was typed so far",
    query=SuggestQuery,
    response=Suggestions,
    errors=(400, 503),
)
async def suggest_names(request: web.Request, query: SuggestQuery) -> web.Response:
    return json_response(await request.app[SEARCH_BACKEND].suggest(query.q, query.limit))


# The inbox of core/inbox.py, with handlers bound to this app's search backend (which
# `add_inbox_route`'s module-level handlers could not reach).
@api.post(
    "/internal/inbox",
    summary="Receive event.changed and inventory.changed (at-least-once, idempotent)",
    body=InboxBatch,
    response=InboxAck,
    auth=require_internal,
)
async def receive_outbox_messages(request: web.Request, body: InboxBatch) -> web.Response:
    handlers = inbox_handlers(request.app[SEARCH_BACKEND])
    budget_s = request.app[SETTINGS].inbox_batch_budget_s
    return json_response(
        await apply_within(inbox_pool(request.app), "search", handlers, body, budget_s)
    )
