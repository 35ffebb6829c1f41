"""Best-available seats: which adjacent free seats a ``quantity`` hold gets.

The rule is written down in docs/seating.md ("Best available"); in short, every
placement (``quantity`` adjacent free seats in one block of one row, all in the asked
zone) is ordered by the key

    (flag tier, creates an orphan, row rank, distance to the row's centre, row order, start)

and the smallest wins. ``SeatIndex.build`` runs once per map version and precomputes
each row's seats in x order, its blocks (an aisle is a step between neighbours longer
than ``AISLE_FACTOR`` times the row's median step) and prefix counts of accessible and
companion seats. ``SeatIndex.choose`` is pure: it walks the rows by rank and stops as
soon as no row further on can beat the best placement so far, so on a map with room it
reads a few rows, not the whole map; in a row it visits placements from the centre
outwards and stops just as early.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from evently.core.seat_maps import ResolvedSeat

# A step longer than this many times the row's usual pitch is an aisle (or a missing seat).
AISLE_FACTOR = 1.5


class SeatLayout(NamedTuple):
    """A seat's place as the rule sees it: its position in its row (x order, from 0), its
    block (aisles counted before it), and its row's centre and document order."""

    row_pos: int
    block: int
    row_centre: float
    row_order: int


class _Choice(NamedTuple):
    """A placement's sort key (compared as a tuple); ``start`` locates it in its row."""

    tier: int
    orphan: bool
    rank: int
    distance: float
    order: int
    start: int


@dataclass(frozen=True, slots=True)
class _Row:
    """One row, precomputed: seats in x order and what ``choose`` needs about them."""

    key: tuple[str, str]  # (section id, row id)
    rank: int
    order: int  # the row's position in the document: the last tie-break
    floor: _Choice  # below every placement in this row and in the rows after it
    ids: tuple[str, ...]
    xs: tuple[float, ...]
    centre: float
    aisles: tuple[int, ...]  # positions of seats that begin a block, but the first
    blocked_mask: int  # the blocked seats as a big-endian int, a byte per seat (0: none)
    zones: tuple[str, ...]
    single_zone: bool
    capacity: dict[str | None, int]  # sellable seats per zone, and in all (key None)
    accessible_prefix: tuple[int, ...]  # accessible seats among the first i
    companion_prefix: tuple[int, ...]  # companion (and not accessible) seats among the first i
    accessible_seats: int


def _aisles(xs: list[float], ys: list[float]) -> tuple[int, ...]:
    """Where blocks start after an aisle: a step above ``AISLE_FACTOR`` times the pitch."""
    steps = [math.hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]) for i in range(1, len(xs))]
    if not steps:
        return ()
    pitch = sorted(steps)[(len(steps) - 1) // 2]  # the lower median: the row's usual pitch
    return tuple(i for i, step in enumerate(steps, start=1) if step > AISLE_FACTOR * pitch)


def _prefix(values: Iterable[bool]) -> tuple[int, ...]:
    counts = [0]
    for value in values:
        counts.append(counts[-1] + value)
    return tuple(counts)


def _build_row(seats: list[ResolvedSeat], order: int) -> _Row:
    seats.sort(key=lambda seat: (seat.x, seat.y, seat.id))
    xs = [seat.x for seat in seats]
    zones = tuple(seat.zone for seat in seats)
    sellable = tuple(seat.sellable for seat in seats)
    accessible = [seat.sellable and "accessible" in seat.flags for seat in seats]
    companion = [
        seat.sellable and "companion" in seat.flags and "accessible" not in seat.flags
        for seat in seats
    ]
    capacity: dict[str | None, int] = {None: sum(sellable)}
    for zone, ok in zip(zones, sellable, strict=True):
        capacity[zone] = capacity.get(zone, 0) + ok
    return _Row(
        key=(seats[0].section, seats[0].row),
        rank=seats[0].rank,
        order=order,
        floor=_Choice(0, False, seats[0].rank, 0.0, order, -1),
        ids=tuple(seat.id for seat in seats),
        xs=tuple(xs),
        centre=(xs[0] + xs[-1]) / 2,
        aisles=_aisles(xs, [seat.y for seat in seats]),
        blocked_mask=int.from_bytes(bytes(not ok for ok in sellable), "big"),
        zones=zones,
        single_zone=len(set(zones)) == 1,
        capacity=capacity,
        accessible_prefix=_prefix(accessible),
        companion_prefix=_prefix(companion),
        accessible_seats=sum(accessible),
    )


class SeatIndex:
    """A map version's rows, ready for ``choose``; build once per version, share freely."""

    __slots__ = ("_places", "_rows", "_rows_by_zone")

    def __init__(self, rows: list[_Row]) -> None:
        self._rows = sorted(rows, key=lambda row: (row.rank, row.order))
        by_zone: dict[str, list[_Row]] = {}
        for row in self._rows:
            for zone in dict.fromkeys(row.zones):
                by_zone.setdefault(zone, []).append(row)
        self._rows_by_zone = by_zone
        self._places: dict[str, tuple[_Row, int]] | None = None  # built on first use

    @classmethod
    def build(cls, seats: Iterable[ResolvedSeat]) -> SeatIndex:
        """The index of a map's seats (``resolved_seats(document)``), rows by (section, row)."""
        rows: dict[tuple[str, str], list[ResolvedSeat]] = {}
        for seat in seats:
            rows.setdefault((seat.section, seat.row), []).append(seat)
        return cls([_build_row(row_seats, order) for order, row_seats in enumerate(rows.values())])

    def choose(
        self,
        taken: Container[str],
        quantity: int,
        *,
        zone: str | None = None,
        accessible: bool = False,
        free_seats: Mapping[tuple[str, str], int] | None = None,
    ) -> list[str] | None:
        """The best ``quantity`` adjacent free seats (ids in row order), or None if no
        block of the asked zone can take them. ``taken``: ids of seats that are not free.

        ``free_seats``, optional: free seats per ``(section id, row id)``, if the caller
        keeps such counts; a row counted below ``quantity`` is skipped unread (a row it
        does not name is read). A count may be high, never low: a low one may hide the
        best row (the answer would still be free seats)."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        rows = self._rows if zone is None else self._rows_by_zone.get(zone, ())
        best: _Choice | None = None
        best_row: _Row | None = None
        for row in rows:
            if best is not None and best < row.floor:
                break  # no placement here or further on can beat it
            if row.capacity.get(zone, 0) < quantity or (accessible and not row.accessible_seats):
                continue
            if free_seats is not None and free_seats.get(row.key, quantity) < quantity:
                continue
            choice = _best_in_row(row, taken, quantity, zone, accessible, best)
            if choice is not None and (best is None or choice < best):
                best, best_row = choice, row
        if best is None or best_row is None:
            return None
        return list(best_row.ids[best.start : best.start + quantity])

    def layout(self) -> dict[str, SeatLayout]:
        """Each seat's place in the rule (``SeatLayout``): what ``bookings.seat_map_seats``
        keeps per seat so that SQL (a seated waitlist's offer, sql/waitlist_pick.sql)
        applies this rule without reading whole rows."""
        places: dict[str, SeatLayout] = {}
        for row in self._rows:
            for position, seat_id in enumerate(row.ids):
                block = bisect.bisect_right(row.aisles, position)
                places[seat_id] = SeatLayout(position, block, row.centre, row.order)
        return places

    def row_sizes(self) -> dict[tuple[str, str], int]:
        """Seats per ``(section id, row id)``, blocked ones included: the free counts
        ``choose`` takes, before any seat is taken (``row_key`` finds a seat's row)."""
        return {row.key: len(row.ids) for row in self._rows}

    def row_key(self, seat_id: str) -> tuple[str, str] | None:
        """The ``(section id, row id)`` of a seat; None if the map has no such seat."""
        place = self._place_map().get(seat_id)
        return None if place is None else place[0].key

    def creates_orphan(self, taken: Container[str], seat_ids: Iterable[str]) -> bool:
        """Whether taking ``seat_ids`` (free, adjacent, in one block: a placement) would
        leave a single free seat between them and the next taken or blocked seat or the
        block's edge, the rule's *orphan*, given the seats ``taken`` now."""
        return any(far is None for far in self._sides(taken, seat_ids).values())

    def guards(
        self, taken: Container[str], seat_ids: Iterable[str], tentative: Container[str] = ()
    ) -> list[tuple[str, str | None]]:
        """What keeps a placement free of orphans while others take seats: ``(near,
        far)`` pairs, the near seat next to it. Should ``far`` be taken (or, for None,
        the near seat simply stay free) while the near seat is free, the near seat would
        be stranded. Pairs of free seats; and where the near seat is taken only
        ``tentative``ly (by a claim not made yet), the pair beyond it. A side already
        stranding a seat, or with no seat that may be free beside it, has no pair."""
        pairs = [(near, far) for near, far in self._sides(taken, seat_ids).items() if far]
        for near, far in self._sides(taken, seat_ids, tentative).items():
            if near in tentative:
                pairs.append((near, far))
        return pairs

    def _place_map(self) -> dict[str, tuple[_Row, int]]:
        """Each seat's row and position in it (built on first use)."""
        if self._places is None:
            self._places = {
                seat: (row, position) for row in self._rows for position, seat in enumerate(row.ids)
            }
        return self._places

    def _place(self, seat_id: str) -> tuple[_Row, int]:
        return self._place_map()[seat_id]

    def _sides(
        self, taken: Container[str], seat_ids: Iterable[str], tentative: Container[str] = ()
    ) -> dict[str, str | None]:
        """The free seat next to each end of a placement, in its block, mapped to the
        free seat beyond it (None: taken, blocked or the block's edge: an orphan); seats
        in ``tentative`` count as free here."""
        positions = [self._place(seat) for seat in seat_ids]
        row = positions[0][0]
        first = min(position for _, position in positions)
        last = max(position for _, position in positions)
        cut = bisect.bisect_right(row.aisles, first)
        block_start = row.aisles[cut - 1] if cut else 0
        block_end = row.aisles[cut] if cut < len(row.aisles) else len(row.ids)

        def free(position: int) -> bool:
            if not block_start <= position < block_end:
                return False
            blocked = row.blocked_mask >> (8 * (len(row.ids) - 1 - position)) & 1
            seat = row.ids[position]
            return not blocked and (seat not in taken or seat in tentative)

        sides: dict[str, str | None] = {}
        for near, far in ((first - 1, first - 2), (last + 1, last + 2)):
            if free(near):
                sides[row.ids[near]] = row.ids[far] if free(far) else None
        return sides


def _free_runs(row: _Row, taken: Container[str], quantity: int) -> Iterator[tuple[int, int]]:
    """Maximal runs ``[start, end)`` of at least ``quantity`` free seats within a block.

    The scan is C speed: one byte per seat (1: taken or blocked), then a regular
    expression finds the runs; aisles split them."""
    mask = bytes(map(taken.__contains__, row.ids))
    if row.blocked_mask:
        mask = (int.from_bytes(mask, "big") | row.blocked_mask).to_bytes(len(mask), "big")
    aisles = row.aisles
    for match in _run_pattern(quantity).finditer(mask):
        start, end = match.span()
        cut = bisect.bisect_right(aisles, start)
        while cut < len(aisles) and aisles[cut] < end:
            if aisles[cut] - start >= quantity:
                yield start, aisles[cut]
            start = aisles[cut]
            cut += 1
        if end - start >= quantity:
            yield start, end


@functools.cache
def _run_pattern(quantity: int) -> re.Pattern[bytes]:
    return re.compile(b"\\x00{%d,}" % quantity)


def _tier(row: _Row, start: int, end: int, accessible: bool) -> int | None:
    """0 is best; None: the window does not serve the request (an accessible request needs
    an accessible seat). Without ``accessible``: 0 plain seats only, 1 with companion
    seats, 2 with accessible seats. With it: 0 accessible and companion seats only, 1
    with plain seats too."""
    a = row.accessible_prefix[end] - row.accessible_prefix[start]
    c = row.companion_prefix[end] - row.companion_prefix[start]
    if accessible:
        if not a:
            return None
        return 0 if a + c == end - start else 1
    return 2 if a else (1 if c else 0)


def _best_in_row(
    row: _Row,
    taken: Container[str],
    quantity: int,
    zone: str | None,
    accessible: bool,
    best: _Choice | None,
) -> _Choice | None:
    """The row's best placement, if it beats ``best``."""
    found = best
    for run_start, run_end in _free_runs(row, taken, quantity):
        found = _best_in_run(row, run_start, run_end, quantity, zone, accessible, found)
    return found if found is not best else None


def _best_in_run(
    row: _Row,
    run_start: int,
    run_end: int,
    quantity: int,
    zone: str | None,
    accessible: bool,
    found: _Choice | None,
) -> _Choice | None:
    """The best of ``found`` and the run's placements.

    Placements are visited from the row's centre outwards (their midpoints grow with
    their start, as seats are in x order), so the search stops as soon as nothing
    further out can beat ``found``: the common case reads a seat or two per run."""
    xs, centre, q = row.xs, row.centre, quantity - 1
    check_zone = zone is not None and not row.single_zone
    last = run_end - quantity
    starts = range(run_start, last + 1)
    hi = run_start + bisect.bisect_left(starts, 2 * centre, key=lambda s: xs[s] + xs[s + q])
    lo = hi - 1
    while lo >= run_start or hi <= last:
        if hi > last or (
            lo >= run_start and 2 * centre - xs[lo] - xs[lo + q] <= xs[hi] + xs[hi + q] - 2 * centre
        ):
            start, lo = lo, lo - 1
        else:
            start, hi = hi, hi + 1
        distance = abs((xs[start] + xs[start + q]) / 2 - centre)
        if found is not None and found < _Choice(0, False, row.rank, distance, row.order, -1):
            break  # everything further out is at least this far from the centre
        end = start + quantity
        if check_zone and any(z != zone for z in row.zones[start:end]):
            continue
        tier = _tier(row, start, end, accessible)
        if tier is None:
            continue
        orphan = start - run_start == 1 or run_end - end == 1
        choice = _Choice(tier, orphan, row.rank, distance, row.order, start)
        if found is None or choice < found:
            found = choice
    return found
