"""Storing and reading seat maps: one immutable JSON document per version.

A map belongs to a venue; uploading to it again makes version n + 1 (the map's name
follows its latest version). A version never changes, so an event can pin one and
bookings can fetch it once. The document is stored normalised (``seat_map_rules``)
as jsonb with its counts beside it, and is served back as the stored text, not
re-encoded.
"""

from __future__ import annotations

import json
from typing import Literal

import asyncpg

from evently.core.seat_maps import SeatMapDocument, SeatMapVersionInfo
from evently.events import queries
from evently.events.errors import SeatMapNotFound, VenueNotFound
from evently.events.seat_map_rules import ValidSeatMap
from evently.events.seating_models import SeatMapDetail

Source = Literal["upload", "rectangular"]
MAX_VERSION = 2**31 - 1


async def create_seat_map(
    conn: asyncpg.Connection,
    venue_id: int,
    seat_map: ValidSeatMap,
    *,
    source: Source,
    created_by: int | None = None,
) -> SeatMapVersionInfo:
    """A new map at the venue, with ``seat_map`` as its version 1."""
    async with conn.transaction():
        if await conn.fetchval(queries.SELECT_VENUE, venue_id) is None:
            raise VenueNotFound(venue_id)
        map_id = await conn.fetchval(queries.INSERT_SEAT_MAP, venue_id, seat_map.document.name)
        await _insert_version(conn, map_id, 1, seat_map, source, created_by)
    return await version_info(conn, map_id, 1)


async def add_version(
    conn: asyncpg.Connection,
    map_id: int,
    seat_map: ValidSeatMap,
    *,
    source: Source,
    created_by: int | None = None,
) -> SeatMapVersionInfo:
    """``seat_map`` as the map's next version (concurrent uploads get consecutive ones)."""
    async with conn.transaction():
        version = await conn.fetchval(queries.NEXT_SEAT_MAP_VERSION, map_id, seat_map.document.name)
        if version is None:
            raise SeatMapNotFound(map_id)
        await _insert_version(conn, map_id, version, seat_map, source, created_by)
    return await version_info(conn, map_id, version)


async def _insert_version(
    conn: asyncpg.Connection,
    map_id: int,
    version: int,
    seat_map: ValidSeatMap,
    source: Source,
    created_by: int | None,
) -> None:
    stats = seat_map.stats
    await conn.execute(
        queries.INSERT_SEAT_MAP_VERSION,
        map_id,
        version,
        seat_map.document.name,
        source,
        stats.seats,
        stats.sellable_seats,
        stats.model_dump_json(),
        seat_map.document.model_dump_json(exclude_defaults=True),
        created_by,
    )


async def get_seat_map(conn: asyncpg.Connection, map_id: int) -> SeatMapDetail:
    """The map with every version's counts; ``SeatMapNotFound`` if there is none."""
    row = await conn.fetchrow(queries.SELECT_SEAT_MAP, map_id)
    if row is None:
        raise SeatMapNotFound(map_id)
    versions = await conn.fetch(queries.SELECT_SEAT_MAP_VERSIONS, map_id)
    return SeatMapDetail.model_validate(
        {**dict(row), "versions": [_info(version) for version in versions]}
    )


async def version_info(conn: asyncpg.Connection, map_id: int, version: int) -> SeatMapVersionInfo:
    row = await _version_row(conn, map_id, version)
    return _info(row)


async def version_json(conn: asyncpg.Connection, map_id: int, version: int) -> bytes:
    """The version as ``SeatMapVersion`` JSON, its document as stored (no re-encoding:
    100,000 seats are a few megabytes)."""
    row = await _version_row(conn, map_id, version)
    info = _info(row).model_dump_json()
    return (info[:-1] + ',"document":' + row["document"] + "}").encode()


async def version_document(conn: asyncpg.Connection, map_id: int, version: int) -> SeatMapDocument:
    """The version's document, parsed (for the SVG drawing)."""
    row = await _version_row(conn, map_id, version)
    return SeatMapDocument.model_validate_json(row["document"])


async def _version_row(conn: asyncpg.Connection, map_id: int, version: int) -> asyncpg.Record:
    if version > MAX_VERSION:  # the column is an integer: no such version
        raise SeatMapNotFound(map_id, version)
    row = await conn.fetchrow(queries.SELECT_SEAT_MAP_VERSION, map_id, version)
    if row is None:
        raise SeatMapNotFound(map_id, version)
    return row


def _info(row: asyncpg.Record) -> SeatMapVersionInfo:
    data = {key: row[key] for key in SeatMapVersionInfo.model_fields}
    data["stats"] = json.loads(row["stats"])
    return SeatMapVersionInfo.model_validate(data)
