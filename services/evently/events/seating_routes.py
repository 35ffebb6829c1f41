"""HTTP routes for venues and seat maps (docs/seating.md), declared on the events ``api``.

Admin (``events:write``): venues (create, list, read, replace with ``If-Match``), seat
maps (upload or generate a new map or version, read, draw). Public: a venue with its
maps, and a seated event's map as JSON or SVG. Internal: one map version, for bookings.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from evently.core.api import ETAG, Header, check_json_strings, json_response, parse_body
from evently.core.auth import principal, require_internal
from evently.core.contracts import EventSeating
from evently.core.db import POOL
from evently.core.errors import ApiError, BadRequest, FieldError
from evently.core.seat_maps import SeatMapDocument, SeatMapVersion, SeatMapVersionInfo
from evently.events import seat_maps, venue_changes, venues
from evently.events.errors import EventNotSeated, SeatMapTooLarge
from evently.events.etags import etag, if_match_header, if_match_version
from evently.events.event_seating import public_seat_status
from evently.events.routes import admin, api, bookings, visible_event
from evently.events.seat_map_generator import RectangularMapSpec, rectangular_document
from evently.events.seat_map_rules import ValidSeatMap, parse_seat_map
from evently.events.seat_map_svg import render_seat_map_svg
from evently.events.seating_models import (
    AdminVenue,
    PublicVenue,
    SeatMapDetail,
    VenueDetails,
    VenueListQuery,
    VenuePage,
)

# 100,000 seats with ids, flags and zones fit in well under this.
SEAT_MAP_MAX_BYTES = 16 * 1024 * 1024
ID = {"id": int}
VERSION = {"id": int, "version": int}
SVG = {"response": {"type": "string"}, "response_content_type": "image/svg+xml"}
LOCATION = Header("Location", "The created resource's admin URL", required=True)


async def read_seat_map(request: web.Request) -> ValidSeatMap:
    """The body as a validated seat map: up to ``SEAT_MAP_MAX_BYTES`` (more than the
    services' usual body limit), every rule of ``seat_map_rules`` applied."""
    if request.content_type != "application/json":
        raise ApiError(
            f"Expected Content-Type application/json, got {request.content_type or 'none'}",
            status=415,
            code="unsupported_media_type",
            title="Unsupported media type",
        )
    if (request.content_length or 0) > SEAT_MAP_MAX_BYTES:
        raise SeatMapTooLarge(SEAT_MAP_MAX_BYTES)
    raw = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        raw += chunk
        if len(raw) > SEAT_MAP_MAX_BYTES:
            raise SeatMapTooLarge(SEAT_MAP_MAX_BYTES)
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(
            f"The body is not valid JSON: {exc}",
            code="malformed_json",
            title="Malformed JSON",
            errors=[FieldError("body", "malformed JSON")],
        ) from exc
    # PostgreSQL text cannot hold NUL; a seat map's strings are checked only when one
    # could be there (walking 100,000 seats for nothing costs a third of a second).
    if b"\\u0000" in raw:
        check_json_strings(data)
    return parse_seat_map(data)


async def rectangular_map(request: web.Request) -> ValidSeatMap:
    """The body as rectangular map parameters, built into a validated seat map."""
    spec = await parse_body(request, RectangularMapSpec)
    return parse_seat_map(rectangular_document(spec))


def version_created(info: SeatMapVersionInfo) -> web.Response:
    return json_response(
        info,
        status=201,
        headers={"Location": f"/api/v1/admin/seat-maps/{info.map_id}/versions/{info.version}"},
    )


async def store_version(
    request: web.Request,
    store: Callable[..., Awaitable[SeatMapVersionInfo]],
    id: int,
    body: ValidSeatMap,
    source: str,
) -> web.Response:
    """Store ``body`` with ``store`` (a new map of venue ``id``, or the next version of
    map ``id``), recording its source and the admin, and answer 201 with its Location."""
    async with request.app[POOL].acquire() as conn:
        info = await store(conn, id, body, source=source, created_by=principal(request).user_id)
    return version_created(info)


def svg_response(svg: str, *, public: bool, max_age_s: int = 60) -> web.Response:
    """An SVG drawing; an admin's is for no shared cache."""
    cache = f"{'public' if public else 'private'}, max-age={max_age_s}"
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": cache})


# --- Venues ------------------------------------------------------------------------


@api.get(
    "/api/v1/admin/venues",
    summary="Venues, by city and name",
    query=VenueListQuery,
    response=VenuePage,
    auth=admin,
)
async def list_venues(request: web.Request, query: VenueListQuery) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return json_response(await venues.list_venues(conn, query))


@api.post(
    "/api/v1/admin/venues",
    summary="Create a venue; (name, city) is unique in any case (409 venue_exists)",
    body=VenueDetails,
    response=AdminVenue,
    status=201,
    errors=(409,),
    auth=admin,
    response_headers=(ETAG, LOCATION),
)
async def create_venue(request: web.Request, body: VenueDetails) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        venue = await venues.create_venue(conn, body)
    return json_response(
        venue,
        status=201,
        headers={"ETag": etag(venue.version), "Location": f"/api/v1/admin/venues/{venue.id}"},
    )


@api.get(
    "/api/v1/admin/venues/{id}",
    summary="One venue with its seat maps and legacy layout, and its ETag",
    response=AdminVenue,
    path_params=ID,
    auth=admin,
    response_headers=(ETAG,),
)
async def get_admin_venue(request: web.Request, id: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        venue = await venues.get_venue(conn, id)
    return json_response(venue, headers={"ETag": etag(venue.version)})


@api.put(
    "/api/v1/admin/venues/{id}",
    summary="Replace a venue's details (If-Match); its events get a new version",
    description=(
        "Requires `If-Match` (428 without it, 412 `version_mismatch` if stale). Every "
        "event at the venue gets a new version and an `event.changed`. 409 `venue_exists` "
        "when renamed onto another venue's name and city; 400 on `capacity` below an "
        "event's there."
    ),
    body=VenueDetails,
    response=AdminVenue,
    path_params=ID,
    errors=(409, 412, 428, 503),
    auth=admin,
    headers=(if_match_header(required=True),),
    response_headers=(ETAG,),
)
async def replace_venue(request: web.Request, id: int, body: VenueDetails) -> web.Response:
    expected = if_match_version(request, required=True)
    async with request.app[POOL].acquire() as conn:
        venue = await venue_changes.update_venue(conn, id, body, expected_version=expected)
    return json_response(venue, headers={"ETag": etag(venue.version)})


@api.get(
    "/api/v1/venues/{id}",
    summary="One venue with its seat maps",
    response=PublicVenue,
    path_params=ID,
)
async def get_public_venue(request: web.Request, id: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        venue = await venues.get_venue(conn, id)
    return json_response(PublicVenue.model_validate(venue.model_dump()))


# --- Seat maps ---------------------------------------------------------------------


@api.post(
    "/api/v1/admin/venues/{id}/seat-maps",
    summary="Upload a new seat map (JSON, docs/seating.md); it becomes version 1",
    description=f"At most {SEAT_MAP_MAX_BYTES:,} bytes and 100,000 seats. A 400 names the "
    "JSON path of each problem (the first 50).",
    body=SeatMapDocument,
    body_parser=read_seat_map,
    response=SeatMapVersionInfo,
    status=201,
    path_params=ID,
    auth=admin,
    response_headers=(LOCATION,),
)
async def upload_seat_map(request: web.Request, id: int, body: ValidSeatMap) -> web.Response:
    return await store_version(request, seat_maps.create_seat_map, id, body, "upload")


@api.post(
    "/api/v1/admin/venues/{id}/seat-maps/rectangular",
    summary="Build a new rectangular seat map from parameters; it becomes version 1",
    body=RectangularMapSpec,
    body_parser=rectangular_map,
    response=SeatMapVersionInfo,
    status=201,
    path_params=ID,
    auth=admin,
    response_headers=(LOCATION,),
)
async def generate_seat_map(request: web.Request, id: int, body: ValidSeatMap) -> web.Response:
    return await store_version(request, seat_maps.create_seat_map, id, body, "rectangular")


@api.post(
    "/api/v1/admin/seat-maps/{id}/versions",
    summary="Upload the next version of a seat map (events keep the version they pin)",
    body=SeatMapDocument,
    body_parser=read_seat_map,
    response=SeatMapVersionInfo,
    status=201,
    path_params=ID,
    auth=admin,
    response_headers=(LOCATION,),
)
async def upload_seat_map_version(
    request: web.Request, id: int, body: ValidSeatMap
) -> web.Response:
    return await store_version(request, seat_maps.add_version, id, body, "upload")


@api.post(
    "/api/v1/admin/seat-maps/{id}/versions/rectangular",
    summary="Build the next version of a seat map from parameters",
    body=RectangularMapSpec,
    body_parser=rectangular_map,
    response=SeatMapVersionInfo,
    status=201,
    path_params=ID,
    auth=admin,
    response_headers=(LOCATION,),
)
async def generate_seat_map_version(
    request: web.Request, id: int, body: ValidSeatMap
) -> web.Response:
    return await store_version(request, seat_maps.add_version, id, body, "rectangular")


@api.get(
    "/api/v1/admin/seat-maps/{id}",
    summary="A seat map and the counts of each of its versions",
    response=SeatMapDetail,
    path_params=ID,
    auth=admin,
)
async def get_seat_map(request: web.Request, id: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return json_response(await seat_maps.get_seat_map(conn, id))


@api.get(
    r"/api/v1/admin/seat-maps/{id}/versions/{version:\d+}",
    summary="One version of a seat map with its document",
    response=SeatMapVersion,
    path_params=VERSION,
    auth=admin,
)
async def get_seat_map_version(request: web.Request, id: int, version: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return json_response(await seat_maps.version_json(conn, id, version))


@api.get(
    r"/api/v1/admin/seat-maps/{id}/versions/{version:\d+}.svg",
    summary="One version of a seat map drawn as SVG",
    path_params=VERSION,
    auth=admin,
    **SVG,
)
async def draw_seat_map_version(request: web.Request, id: int, version: int) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        document = await seat_maps.version_document(conn, id, version)
    return svg_response(render_seat_map_svg(document), public=False)


# --- A seated event's map (public) -------------------------------------------------


async def event_seating(request: web.Request, event_id: int) -> EventSeating:
    event = await visible_event(request, event_id)
    if event.seating is None:
        raise EventNotSeated(event_id)
    return event.seating


async def seated_event_map(request: web.Request, event_id: int) -> tuple[int, int]:
    seating = await event_seating(request, event_id)
    return seating.map_id, seating.map_version


@api.get(
    "/api/v1/events/{id}/seat-map",
    summary="A seated event's seat map (the version it sells)",
    response=SeatMapVersion,
    path_params=ID,
)
async def get_event_seat_map(request: web.Request, id: int) -> web.Response:
    map_id, version = await seated_event_map(request, id)
    async with request.app[POOL].acquire() as conn:
        return json_response(await seat_maps.version_json(conn, map_id, version))


@api.get(
    "/api/v1/events/{id}/seat-map.svg",
    summary="A seated event's seat map drawn as SVG, with each seat's live status",
    description="Held and sold seats take the status colours, as bookings reports them "
    "now (read over its internal API for each drawing; cached 5 s), and free seats kept "
    "back for a channel are drawn `kept back` (not for public sale); 503 "
    "bookings_unavailable when bookings cannot say.",
    path_params=ID,
    errors=(503,),
    **SVG,
)
async def draw_event_seat_map(request: web.Request, id: int) -> web.Response:
    seating = await event_seating(request, id)
    live = await bookings(request).seat_status(id)
    async with request.app[POOL].acquire() as conn:
        document = await seat_maps.version_document(conn, seating.map_id, seating.map_version)
    status = public_seat_status(live, seating.channels)
    return svg_response(render_seat_map_svg(document, status), public=True, max_age_s=5)


# --- Internal ----------------------------------------------------------------------


@api.get(
    r"/internal/v1/seat-maps/{id}/versions/{version:\d+}",
    summary="One immutable seat map version with its document (bookings builds seats from it)",
    response=SeatMapVersion,
    path_params=VERSION,
    auth=require_internal,
)
async def get_internal_seat_map_version(
    request: web.Request, id: int, version: int
) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        body = await seat_maps.version_json(conn, id, version)
    # A version never changes: a cache may keep it for good.
    return json_response(body, headers={"Cache-Control": "max-age=31536000, immutable"})
