"""Best-available for quantity holds on a seated event: which seats to claim.

For each batch of holds (``holds.py``) with best-available requests, the picker brings
its copy of the event's seats up to date and picks for each request in turn with the
version's ``SeatIndex`` (``best_available.py``, the rule in docs/seating.md); each pick
counts as taken for the next, so one batch never picks a seat twice. The batch then
claims the picks in its one locked call, which re-checks every seat.

Reading stays cheap late in a sale: every change of a seat between free and taken is
stamped (migration 0014), so the copy (``EventSeats``: the taken seats and free seats
per row, which let ``choose`` skip full rows unread) reads only the seats stamped since
its last read, one query, no lock. Another replica may claim seats between that read
and the claim: a pick that lost a seat is refused as a whole, and a pick that would now
strand a seat is refused by its guards (``SeatIndex.guards``); the holder picks again,
a bounded number of times, the last time without guards. While an event's picks keep
losing seats to another replica (``contended``), each pick also names ``ALTERNATIVES``
more placements, the next best after every first pick of the batch, and the claim takes
the first one still free and guarded: one round trip instead of a pick again. The index
is built once per map version in each process, from bookings' own copy of the version
(``seat_map_fetch.stored_seats``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg

from evently.bookings import queries
from evently.bookings.best_available import SeatIndex
from evently.bookings.models import MAX_SEATS_PER_HOLD
from evently.bookings.seat_map_fetch import VersionKey, stored_seats

# Seated events whose seats a process keeps (the most recently sold); one that was
# dropped is read whole again on its next batch.
KEPT_EVENTS = 64
# While picks lose seats to other replicas: more placements per pick, and for how many
# batches after the last loss.
ALTERNATIVES = 2
CONTENDED_BATCHES = 32


@dataclass
class EventSeats:
    """One replica's copy of a seated event's seats, as of seat stamp ``stamp``."""

    version: VersionKey
    index: SeatIndex
    stamp: int = -1  # nothing read yet: the first read reads every seat
    taken: set[str] = field(default_factory=set)
    free: dict[tuple[str, str], int] = field(default_factory=dict)  # per (section, row)
    contention: int = 0  # batches left that pick alternatives (a loss resets it)
    # Per (zone, accessible): the smallest quantity ``choose`` found no placement for,
    # since the last seat freed. Taking seats never makes room, and a placement of more
    # seats holds one of fewer, so a larger or equal quantity needs no search.
    none_fits: dict[tuple[str | None, bool], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = self.free or self.index.row_sizes()

    def apply(self, stamp: int, taken: Iterable[str], freed: Iterable[str]) -> None:
        """The seats stamped since the last read: now taken, or free again."""
        self.take(taken)
        self.release(freed)
        self.stamp = stamp

    def take(self, seats: Iterable[str]) -> list[str]:
        """Count ``seats`` as taken; the ones that were not yet (seats the map does not
        have are left out: their request is refused anyway)."""
        added = []
        for seat in seats:
            row = self.index.row_key(seat)
            if row is not None and seat not in self.taken:
                self.taken.add(seat)
                self.free[row] -= 1
                added.append(seat)
        return added

    def release(self, seats: Iterable[str]) -> None:
        """Count ``seats`` as free again."""
        for seat in seats:
            row = self.index.row_key(seat)
            if row is not None and seat in self.taken:
                self.taken.remove(seat)
                self.free[row] += 1
                self.none_fits.clear()

    def choose(self, quantity: int, zone: str | None, accessible: bool) -> list[str] | None:
        """``SeatIndex.choose`` on this copy, skipped where no placement is known to fit."""
        key = (zone, accessible)
        if quantity >= self.none_fits.get(key, quantity + 1):
            return None
        chosen = self.index.choose(
            self.taken, quantity, zone=zone, accessible=accessible, free_seats=self.free
        )
        if chosen is None:
            self.none_fits[key] = quantity
        return chosen


class SeatChoice:
    """One batch's picks: seats it counts as taken until the claim says which it got."""

    def __init__(self, seats: EventSeats) -> None:
        self.seats = seats
        self._tentative: dict[int, list[str]] = {}  # request position -> seats marked
        self._firsts: dict[int, tuple[str, ...]] = {}  # best-available position -> first pick

    @property
    def contended(self) -> bool:
        """Whether picks lately lost seats to another replica: worth alternatives."""
        return self.seats.contention > 0

    def reserve(self, position: int, seat_ids: Iterable[str]) -> None:
        """The request at ``position`` names these seats: no request after it picks
        them (requests are claimed in order)."""
        self._tentative[position] = self.seats.take(seat_ids)

    def pick(
        self, position: int, quantity: int, *, zone: str | None, accessible: bool, guarded: bool
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]]:
        """The best seats for the request at ``position``, now counted as taken, and
        their guards (none unless ``guarded``); ``()`` when no block fits or the
        quantity is one the hold's rules refuse anyway."""
        if not 1 <= quantity <= MAX_SEATS_PER_HOLD:
            return (), ()
        taken = self.seats.taken
        chosen = self.seats.choose(quantity, zone, accessible)
        if not chosen:
            return (), ()
        guards = ()
        if guarded:  # earlier requests of the batch may yet fail: their seats too
            tentative = {seat for seats in self._tentative.values() for seat in seats}
            guards = tuple(self.seats.index.guards(taken, chosen, tentative))
        self.reserve(position, chosen)
        self._firsts[position] = tuple(chosen)
        return tuple(chosen), guards

    def alternative(
        self, position: int, quantity: int, *, zone: str | None, accessible: bool, guarded: bool
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]]:
        """Another placement for the request at ``position``, asked once every request
        has its first pick: the best one left, now counted as taken too, and its guards
        (any seat the batch marked may stay free); ``()`` when none fits."""
        taken = self.seats.taken
        chosen = self.seats.choose(quantity, zone, accessible)
        if not chosen:
            return (), ()
        guards = ()
        if guarded:
            tentative = {seat for seats in self._tentative.values() for seat in seats}
            guards = tuple(self.seats.index.guards(taken, chosen, tentative))
        self._tentative.setdefault(position, []).extend(self.seats.take(chosen))
        return tuple(chosen), guards

    def settle(
        self,
        held: list[bool],
        taken: Iterable[str] = (),
        claimed: Mapping[int, Collection[str]] | None = None,
        unavailable: Collection[int] = (),
    ) -> None:
        """After the claim: the seats of requests that did not hold are not taken (the
        ones others took come back stamped in the next read), nor the placements a held
        request did not take (``claimed``: the seats each held request got, where it
        named several placements), but for ``taken``, the seats the claim found taken
        (they count at once). A pick that lost its first placement (taken by a later
        one, or refused: ``unavailable``, the positions answered seats_unavailable)
        makes the event ``contended`` for the next ``CONTENDED_BATCHES`` batches."""
        claimed = claimed or {}
        for position, seats in self._tentative.items():
            if not held[position]:
                self.seats.release(seats)
            elif position in claimed:
                self.seats.release(s for s in seats if s not in claimed[position])
        lost = any(
            position in unavailable or set(claimed.get(position, first)) != set(first)
            for position, first in self._firsts.items()
        )
        if lost:
            self.seats.contention = CONTENDED_BATCHES
        elif self._firsts and self.seats.contention > 0:
            self.seats.contention -= 1
        self._tentative.clear()
        self._firsts.clear()
        self.seats.take(taken)


class SeatPicker:
    """Keeps each seated event's seats up to date; one ``SeatIndex`` per map version."""

    def __init__(self, pool: asyncpg.Pool, kept_events: int = KEPT_EVENTS) -> None:
        self.pool = pool
        self._indexes: dict[VersionKey, SeatIndex] = {}
        self._building: dict[VersionKey, asyncio.Lock] = {}
        self._events: OrderedDict[int, EventSeats] = OrderedDict()
        self._kept_events = kept_events

    async def read(self, event_id: int) -> SeatChoice | None:
        """A batch's choice on the event's seats as they are now, or None when it is
        not seated. Batches of one event run one after another in a process
        (``batching.py``), so one choice at a time uses an event's copy."""
        known = self._events.get(event_id)
        row = await self.pool.fetchrow(
            queries.EVENT_SEAT_CHANGES, event_id, -1 if known is None else known.stamp
        )
        if row is None:
            self._events.pop(event_id, None)
            return None
        version = (row["map_id"], row["map_version"])
        if known is None or known.version != version:
            # A new seating stamps every seat it makes: this read holds them all.
            known = EventSeats(version, await self.index(*version))
            self._events[event_id] = known
        known.apply(row["seat_changes"], row["taken"], row["freed"])
        self._events.move_to_end(event_id)
        while len(self._events) > self._kept_events:
            self._events.popitem(last=False)
        return SeatChoice(known)

    @property
    def kept(self) -> list[int]:
        """The events whose seats this process keeps, least recently picked first."""
        return list(self._events)

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
