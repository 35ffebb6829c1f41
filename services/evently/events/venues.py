"""Venues as a resource: create, read and list them, and find an event's venue.

An event names its venue either embedded (``venue``: upserted by name and city, as
before venues had an API) or by ``venue_id``. Either way the venue row is locked before
the event's (the upsert's ``ON CONFLICT`` locks it; ``venue_id`` takes ``FOR SHARE``),
so every change touching both takes them in the same order. Changing a venue, which
re-announces its events, is ``venue_changes.update_venue``.
"""

from __future__ import annotations

import json

import asyncpg

from evently.core.errors import FieldError, ValidationFailed
from evently.events import queries
from evently.events.errors import VenueExists, VenueNotFound
from evently.events.models import EventInput
from evently.events.seating_models import (
    AdminVenue,
    SeatMapSummary,
    VenueDetails,
    VenueListQuery,
    VenuePage,
)


async def create_venue(conn: asyncpg.Connection, data: VenueDetails) -> AdminVenue:
    """A new venue (version 1); ``VenueExists`` if (name, city) is taken in any case."""
    row = await conn.fetchrow(
        queries.INSERT_VENUE, data.name, data.address, data.city, data.capacity
    )
    if row is None:
        existing = await conn.fetchval(queries.SELECT_VENUE_ID, data.name, data.city)
        raise VenueExists(data.name, data.city, existing)
    return venue_from_row(row, [])


async def get_venue(conn: asyncpg.Connection, venue_id: int) -> AdminVenue:
    """The venue with its seat maps; ``VenueNotFound`` if there is none."""
    row = await conn.fetchrow(queries.SELECT_VENUE, venue_id)
    if row is None:
        raise VenueNotFound(venue_id)
    return venue_from_row(row, await venue_seat_maps(conn, venue_id))


async def venue_seat_maps(conn: asyncpg.Connection, venue_id: int) -> list[SeatMapSummary]:
    rows = await conn.fetch(queries.SELECT_VENUE_SEAT_MAPS, venue_id)
    return [SeatMapSummary.model_validate(dict(row)) for row in rows]


async def list_venues(conn: asyncpg.Connection, query: VenueListQuery) -> VenuePage:
    """One page of venues by city and name (their seat maps are on each venue's page)."""
    offset = (query.page - 1) * query.limit
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        total = await conn.fetchval(queries.COUNT_VENUES, query.city)
        rows = await conn.fetch(queries.LIST_VENUES, query.city, query.limit, offset)
    items = [venue_from_row(row, []) for row in rows]
    return VenuePage(items=items, total=total, page=query.page, limit=query.limit)


async def event_venue(conn: asyncpg.Connection, data: EventInput) -> tuple[int, bool]:
    """The event's venue id, and whether an embedded venue's details changed.

    Runs inside the event's transaction. ``venue_id`` must exist and hold the event's
    capacity (400 naming ``body.venue_id`` / ``body.capacity`` otherwise).
    """
    if data.venue_id is None:
        return await _upsert_embedded_venue(conn, data)
    row = await conn.fetchrow(queries.SHARE_VENUE, data.venue_id)
    if row is None:
        raise ValidationFailed(
            f"There is no venue {data.venue_id}",
            errors=[FieldError("body.venue_id", "no such venue")],
        )
    if data.capacity is not None and data.capacity > row["capacity"]:
        raise ValidationFailed(
            "Invalid field(s): capacity",
            errors=[
                FieldError(
                    "body.capacity", f"cannot exceed the venue's capacity ({row['capacity']})"
                )
            ],
        )
    return data.venue_id, False


async def _upsert_embedded_venue(conn: asyncpg.Connection, data: EventInput) -> tuple[int, bool]:
    """Upsert the embedded venue by (name, city); its deprecated ``layout`` is ignored."""
    venue = data.venue
    assert venue is not None  # EventInput: venue or venue_id
    row = await conn.fetchrow(
        queries.UPSERT_VENUE, venue.name, venue.address, venue.city, venue.capacity
    )
    if row is not None:
        return row["id"], row["updated"]
    # Committed by another transaction after the upsert's snapshot (queries.UPSERT_VENUE).
    return await conn.fetchval(queries.SELECT_VENUE_ID, venue.name, venue.city), False


def venue_from_row(row: asyncpg.Record, seat_maps: list[SeatMapSummary]) -> AdminVenue:
    data = dict(row)
    layout = data.pop("legacy_layout")
    data["legacy_layout"] = json.loads(layout) if isinstance(layout, str) else layout
    return AdminVenue.model_validate({**data, "seat_maps": seat_maps})
