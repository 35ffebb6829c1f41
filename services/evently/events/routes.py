"""HTTP routes of the events service: every endpoint, each a thin handler.

Public: the published catalogue and live availability. Admin (``events:write``): the
full list, create, replace (``If-Match``) and cancel. Internal: one event's full state
for other services, and the inbox bookings' ``inventory.changed`` arrives at.
"""

from __future__ import annotations

from aiohttp import web

from evently.core.api import ETAG, Api, Header, json_response
from evently.core.app import SETTINGS
from evently.core.auth import principal, require_admin, require_internal
from evently.core.clients import HTTP_SESSION
from evently.core.contracts import EventChanged
from evently.core.db import POOL
from evently.core.inbox import add_inbox_route
from evently.events import listing, repository
from evently.events.availability import apply_inventory_changed, live_availability
from evently.events.bookings_client import BookingsClient
from evently.events.errors import EventNotFound
from evently.events.etags import etag, if_match_header, if_match_version
from evently.events.models import (
    AdminEventListQuery,
    AdminEventPage,
    Event,
    EventInput,
    EventListQuery,
    EventPage,
    LiveAvailability,
    PublicEvent,
)

api = Api("events")
admin = require_admin("events:write")
ID = {"id": int}


def bookings(request: web.Request) -> BookingsClient:
    settings = request.app[SETTINGS]
    return BookingsClient(
        request.app[HTTP_SESSION], settings.bookings_url, settings.internal_api_key
    )


async def visible_event(request: web.Request, event_id: int) -> Event:
    """The event unless it does not exist or is a draft (drafts are not public)."""
    async with request.app[POOL].acquire() as conn:
        event = await repository.get_event(conn, event_id)
    if event is None or event.status == "draft":
        raise EventNotFound(event_id)
    return event


LOCATION = Header("Location", "The created event's admin URL", required=True)


def event_response(event: Event | PublicEvent | EventChanged, status: int = 200) -> web.Response:
    return json_response(event, status=status, headers={"ETag": etag(event.version)})


# --- Public ------------------------------------------------------------------------


@api.get(
    "/api/v1/events",
    summary="Published events: filter, sort, paginate",
    query=EventListQuery,
    response=EventPage,
)
async def list_published_events(request: web.Request, query: EventListQuery) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        page = await listing.published_events(conn, query)
    return json_response(page)


@api.get(
    "/api/v1/events/{id}",
    summary="One event with its venue (published, cancelled or completed)",
    response=PublicEvent,
    path_params=ID,
    response_headers=(ETAG,),
)
async def get_public_event(request: web.Request, id: int) -> web.Response:
    return event_response((await visible_event(request, id)).public())


@api.get(
    "/api/v1/events/{id}/availability",
    summary="Live seat figures from the bookings service",
    response=LiveAvailability,
    path_params=ID,
    errors=(503,),
)
async def get_event_availability(request: web.Request, id: int) -> web.Response:
    event = await visible_event(request, id)
    figures = await live_availability(bookings(request), event)
    return json_response(figures, headers={"Cache-Control": "no-store"})


# --- Admin -------------------------------------------------------------------------


@api.get(
    "/api/v1/admin/events",
    summary="Every event, drafts and cancelled included",
    query=AdminEventListQuery,
    response=AdminEventPage,
    auth=admin,
)
async def list_all_events(request: web.Request, query: AdminEventListQuery) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        page = await listing.all_events(conn, query)
    return json_response(page)


@api.get(
    "/api/v1/admin/events/{id}",
    summary="One event in any status, with its ETag",
    response=Event,
    path_params=ID,
    auth=admin,
    response_headers=(ETAG,),
)
async def get_admin_event(request: web.Request, id: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        event = await repository.get_event(conn, id)
    if event is None:
        raise EventNotFound(id)
    return event_response(event)


@api.post(
    "/api/v1/admin/events",
    summary="Create an event; its venue is upserted by name and city",
    description=(
        "422 `invalid_zone_prices` when a seated event prices a zone its map version does "
        "not sell, or at a negative price; 422 `invalid_channels` when a channel names a "
        "seat that is not a sellable seat of the version, or a seat twice (docs/seating.md)."
    ),
    body=EventInput,
    response=Event,
    status=201,
    errors=(422,),
    auth=admin,
    response_headers=(ETAG, LOCATION),
)
async def create_event(request: web.Request, body: EventInput) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        event = await repository.create_event(conn, body, created_by=principal(request).user_id)
    response = event_response(event, status=201)
    response.headers["Location"] = f"/api/v1/admin/events/{event.id}"
    return response


@api.put(
    "/api/v1/admin/events/{id}",
    summary="Replace an event (If-Match: its version); capacity never below sold + held",
    description=(
        "Requires `If-Match` with the version from the event's `ETag` (428 without it, "
        "412 `version_mismatch` if it moved on). 409 `capacity_below_reserved` when the "
        "new capacity is below the seats bookings has sold and holds, "
        "409 `event_managed_by_kubernetes` for events a custom resource owns, "
        "409 `event_cancelled` for cancelled events. 422 `invalid_zone_prices` and "
        "`invalid_channels` as for creation."
    ),
    body=EventInput,
    response=Event,
    path_params=ID,
    errors=(409, 412, 422, 428, 503),
    auth=admin,
    headers=(if_match_header(required=True),),
    response_headers=(ETAG,),
)
async def replace_event(request: web.Request, id: int, body: EventInput) -> web.Response:
    expected = if_match_version(request, required=True)
    async with request.app[POOL].acquire() as conn:
        event = await repository.update_event(
            conn,
            id,
            body,
            expected_version=expected,
            reserved_seats=bookings(request).reserved_seats,
        )
    return event_response(event)


@api.delete(
    "/api/v1/admin/events/{id}",
    summary="Cancel an event (it stays in history with status cancelled)",
    description="`If-Match` is optional here; when sent, a stale version gets 412.",
    response=Event,
    path_params=ID,
    errors=(409, 412),
    auth=admin,
    headers=(if_match_header(required=False),),
    response_headers=(ETAG,),
)
async def cancel_event(request: web.Request, id: int) -> web.Response:
    expected = if_match_version(request, required=False)
    async with request.app[POOL].acquire() as conn:
        event = await repository.cancel_event(conn, id, expected_version=expected)
    return event_response(event)


# --- Internal ----------------------------------------------------------------------


@api.get(
    "/internal/events/{id}",
    summary="An event's full state (the event.changed payload), any status",
    response=EventChanged,
    path_params=ID,
    auth=require_internal,
)
async def get_internal_event(request: web.Request, id: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        event = await repository.get_event(conn, id)
    if event is None:
        raise EventNotFound(id)
    return event_response(event.changed_payload())


add_inbox_route(api, "events", {"inventory.changed": apply_inventory_changed})
