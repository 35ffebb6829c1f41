"""Best-available for quantity holds on a seated event: which seats to claim.

For each batch of holds (``holds.py``) with best-available requests, the picker reads
the event's seating and its taken seats once (one query, no lock) and picks for each
request in turn with the version's ``SeatIndex`` (``best_available.py``, the rule in
docs/seating.md); each pick counts as taken for the next, so one batch never picks a
seat twice. The index is built once per map version in each process, from bookings'
own copy of the version (``seat_map_fetch.stored_seats``). The batch then claims the
picks in its one locked call, which re-checks every seat: a seat another replica took
between the read and the claim refuses that request as a whole, and the holder picks
again, a bounded number of times.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from evently.bookings import queries
from evently.bookings.best_available import SeatIndex
from evently.bookings.models import MAX_SEATS_PER_HOLD
from evently.bookings.seat_map_fetch import VersionKey, stored_seats


@dataclass
class SeatChoice:
    """One batch's view of a seated event: its index and the seats taken so far."""

    index: SeatIndex
    taken: set[str]

    def pick(self, quantity: int, *, zone: str | None, accessible: bool) -> tuple[str, ...]:
        """The best seats for the request, now counted as taken; ``()`` when no block
        fits or the quantity is one the hold's rules refuse anyway."""
        if not 1 <= quantity <= MAX_SEATS_PER_HOLD:
            return ()
        chosen = self.index.choose(self.taken, quantity, zone=zone, accessible=accessible)
        if not chosen:
            return ()
        self.taken.update(chosen)
        return tuple(chosen)


class SeatPicker:
    """Reads a seated event's taken seats; keeps one ``SeatIndex`` per map version."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._indexes: dict[VersionKey, SeatIndex] = {}
        self._building: dict[VersionKey, asyncio.Lock] = {}

    async def read(self, event_id: int) -> SeatChoice | None:
        """The event's index and taken seats, or None when it is not seated."""
        row = await self.pool.fetchrow(queries.EVENT_SEATING_AND_TAKEN, event_id)
        if row is None:
            return None
        index = await self.index(row["map_id"], row["map_version"])
        return SeatChoice(index, set(row["taken"]))

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
