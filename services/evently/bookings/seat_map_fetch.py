"""Seat map versions, fetched from the events service once per version.

A seated event's ``event.changed`` names a map version (``EventSeating``); the map is
too big for a message, so bookings asks the events service for it
(``GET /internal/v1/seat-maps/{id}/versions/{v}``, ``X-Internal-Key``). A version never
changes, so it is fetched once and kept in bookings' own tables
(``bookings.seat_map_versions`` and ``bookings.seat_map_seats``, one transaction: a
version is stored whole or not at all). Every seated event on that version builds its
seat rows from the stored copy (``sql/apply_event_changed.sql``).

A failed fetch raises: the inbox leaves the message unacknowledged and the events
relay delivers it again, so nothing is half-applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import asyncpg
import pydantic

from evently.bookings import queries
from evently.bookings.best_available import SeatIndex
from evently.bookings.metrics import SEAT_MAP_FETCHES
from evently.core.clients import InternalClient
from evently.core.seat_maps import ResolvedSeat, SeatMapVersion, resolved_seats

log = logging.getLogger("evently.bookings.seat_maps")

VersionKey = tuple[int, int]
# A 100,000-seat version is a few MB: longer than the session's default 5 s may be needed.
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=2)


class SeatMapUnavailable(RuntimeError):
    """The events service did not give us the version (retried with the message)."""


class SeatMapFetcher:
    """Makes sure a map version is stored in bookings' schema, fetching it at most once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        session: Callable[[], aiohttp.ClientSession],
        events_url: str,
        api_key: str,
    ) -> None:
        self.pool = pool
        self._session = session
        self.events_url = events_url
        self.api_key = api_key
        self._stored: set[VersionKey] = set()
        self._locks: dict[VersionKey, asyncio.Lock] = {}

    async def ensure(self, map_id: int, version: int) -> None:
        """Store ``map_id`` version ``version`` unless it is stored already."""
        key = (map_id, version)
        if key in self._stored:
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per version in this process
            if key in self._stored:
                return
            if not await self.pool.fetchval(queries.SEAT_MAP_VERSION_STORED, map_id, version):
                fetched = await self._fetch(map_id, version)
                await store_version(self.pool, fetched)
            self._stored.add(key)
        self._locks.pop(key, None)

    async def _fetch(self, map_id: int, version: int) -> SeatMapVersion:
        client = InternalClient(self._session(), self.events_url, self.api_key, "events")
        try:
            status, data = await client.get(
                f"/internal/v1/seat-maps/{map_id}/versions/{version}", timeout=FETCH_TIMEOUT
            )
            if status != 200:
                raise SeatMapUnavailable(
                    f"seat map {map_id} version {version}: the events service answered {status}"
                )
            try:
                fetched = SeatMapVersion.model_validate(data)
            except pydantic.ValidationError as exc:
                raise SeatMapUnavailable(
                    f"seat map {map_id} version {version}: unexpected shape ({exc.error_count()} "
                    "problems)"
                ) from exc
        except Exception:
            SEAT_MAP_FETCHES.labels("failed").inc()
            raise
        if (fetched.map_id, fetched.version) != (map_id, version):
            SEAT_MAP_FETCHES.labels("failed").inc()
            raise SeatMapUnavailable(f"asked for seat map {map_id} v{version}, got another")
        SEAT_MAP_FETCHES.labels("stored").inc()
        log.info("fetched seat map %s version %s (%s seats)", map_id, version, fetched.stats.seats)
        return fetched


async def store_version(pool: asyncpg.Pool, fetched: SeatMapVersion) -> None:
    """Store a version and its seats in one transaction (a concurrent replica storing
    the same version wins or loses as a whole: the version row is the claim)."""
    seats = list(resolved_seats(fetched.document))
    async with pool.acquire() as conn, conn.transaction():
        await store_seats(conn, fetched.map_id, fetched.version, seats)


async def store_seats(
    conn: asyncpg.Connection, map_id: int, version: int, seats: list[ResolvedSeat]
) -> bool:
    """Store a version's seats (document order) with best-available's layout of each
    (``SeatIndex.layout``), in the caller's transaction; False if it was stored already."""
    claimed = await conn.fetchval(
        queries.CLAIM_SEAT_MAP_VERSION, map_id, version, len(seats), sum(s.sellable for s in seats)
    )
    if not claimed:
        return False
    await conn.execute(queries.STORE_SEAT_MAP_SEATS, map_id, version, *_seat_columns(seats))
    return True


def _seat_columns(seats: list[ResolvedSeat]) -> tuple[list[object], ...]:
    """The seats as the column arrays ``STORE_SEAT_MAP_SEATS`` unnests."""
    layout = SeatIndex.build(seats).layout()
    places = [layout[s.id] for s in seats]
    return (
        [s.id for s in seats],
        [s.label for s in seats],
        [s.section for s in seats],
        [s.row for s in seats],
        [s.rank for s in seats],
        [s.zone for s in seats],
        [s.x for s in seats],
        [s.y for s in seats],
        # text[][] must be rectangular: flags travel as one comma-joined string each.
        [",".join(sorted(s.flags)) for s in seats],
        [s.section_label or s.section for s in seats],
        [s.row_label or s.row for s in seats],
        [place.row_pos for place in places],
        [place.block for place in places],
        [place.row_centre for place in places],
        [place.row_order for place in places],
    )


async def stored_seats(pool: asyncpg.Pool, map_id: int, version: int) -> list[ResolvedSeat]:
    """A stored version's seats, in document order (for best-available's index)."""
    rows = await pool.fetch(queries.SEAT_MAP_SEATS, map_id, version)
    return [
        ResolvedSeat(
            id=r["seat_id"],
            label=r["label"],
            section=r["section"],
            row=r["row_id"],
            rank=r["rank"],
            zone=r["zone"],
            x=r["x"],
            y=r["y"],
            flags=frozenset(r["flags"]),
            section_label=r["section_label"],
            row_label=r["row_label"],
        )
        for r in rows
    ]
