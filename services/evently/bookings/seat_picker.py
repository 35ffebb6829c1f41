"""Best-available for a quantity hold on a seated event: which seats to claim.

The picker reads the event's seating and its taken seats (one query, no lock), and asks
the version's ``SeatIndex`` (``best_available.py``, the rule in docs/seating.md) for the
best block. The index is built once per map version in each process, from bookings' own
copy of the version (``seat_map_fetch.stored_seats``). The hold then claims the picked
seats in its one locked call (``holds.py``), which re-checks every seat: a seat another
buyer took between the read and the claim makes the claim fail as a whole, and the
holder picks again, a bounded number of times.
"""

from __future__ import annotations

import asyncio

import asyncpg

from evently.bookings import queries
from evently.bookings.best_available import SeatIndex
from evently.bookings.models import MAX_SEATS_PER_HOLD
from evently.bookings.seat_map_fetch import VersionKey, stored_seats


class SeatPicker:
    """Picks best-available seats; keeps one ``SeatIndex`` per map version."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._indexes: dict[VersionKey, SeatIndex] = {}
        self._building: dict[VersionKey, asyncio.Lock] = {}

    async def pick(
        self, event_id: int, quantity: int, *, zone: str | None, accessible: bool
    ) -> tuple[str, ...] | None:
        """The seats to claim (``()``: no block fits, or a quantity the rules refuse), or
        None when the event is not seated (general admission, or unknown)."""
        row = await self.pool.fetchrow(queries.EVENT_SEATING_AND_TAKEN, event_id)
        if row is None:
            return None
        if not 1 <= quantity <= MAX_SEATS_PER_HOLD:
            return ()  # the hold's rules answer it (quantity_out_of_range, or no block)
        index = await self.index(row["map_id"], row["map_version"])
        chosen = index.choose(frozenset(row["taken"]), quantity, zone=zone, accessible=accessible)
        return tuple(chosen or ())

    async def index(self, map_id: int, version: int) -> SeatIndex:
        """The version's index, built on first use (from the stored copy)."""
        key = (map_id, version)
        index = self._indexes.get(key)
        if index is not None:
            return index
        async with self._building.setdefault(key, asyncio.Lock()):
            index = self._indexes.get(key)
            if index is None:
                index = SeatIndex.build(await stored_seats(self.pool, map_id, version))
                self._indexes[key] = index
        self._building.pop(key, None)
        return index
