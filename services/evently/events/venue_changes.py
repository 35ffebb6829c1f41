"""Changing a venue through its API: its details are part of each of its events' state,
so every event there gets a new version and an ``event.changed``, in the same
transaction (as when an embedded venue's details change, ``repository``)."""

from __future__ import annotations

import asyncpg

from evently.core.errors import FieldError, ValidationFailed
from evently.events import queries
from evently.events.errors import VenueExists, VenueNotFound, VenueVersionMismatch
from evently.events.repository import announce_venue_change, change_transaction
from evently.events.seating_models import AdminVenue, VenueDetails
from evently.events.venues import get_venue

NO_EVENT = 0  # ``_announce_venue_change`` skips one event id; ids start at 1


async def update_venue(
    conn: asyncpg.Connection,
    venue_id: int,
    data: VenueDetails,
    *,
    expected_version: int | None = None,
) -> AdminVenue:
    """Replace the venue's details; the same details again change nothing.

    Refusals: ``VenueNotFound``, ``VenueVersionMismatch`` (``expected_version``),
    ``VenueExists`` (renamed onto another venue's name and city), 400 on ``capacity``
    below a live event's capacity there.
    """
    async with change_transaction(conn):
        current = await conn.fetchrow(queries.LOCK_VENUE, venue_id)
        if current is None:
            raise VenueNotFound(venue_id)
        if expected_version is not None and current["version"] != expected_version:
            raise VenueVersionMismatch(venue_id, expected_version, current["version"])
        largest = await conn.fetchval(queries.MAX_EVENT_CAPACITY_AT_VENUE, venue_id)
        if largest is not None and data.capacity < largest:
            raise ValidationFailed(
                "Invalid field(s): capacity",
                errors=[FieldError("body.capacity", f"an event here sells {largest} seats")],
            )
        try:
            async with conn.transaction():
                changed = await conn.fetchval(
                    queries.UPDATE_VENUE, venue_id, data.name, data.address, data.city,
                    data.capacity,
                )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            existing = await conn.fetchval(queries.SELECT_VENUE_ID, data.name, data.city)
            raise VenueExists(data.name, data.city, existing) from exc
        if changed is not None:
            await announce_venue_change(conn, venue_id, NO_EVENT)
    return await get_venue(conn, venue_id)
