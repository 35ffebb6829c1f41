"""Best-available (docs/seating.md, "Best available"): explicit examples, then
property-based tests that compare ``SeatIndex.choose`` with a brute-force search over
every placement of random maps at random occupancy."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evently.bookings.best_available import AISLE_FACTOR, SeatIndex
from evently.core.seat_maps import ResolvedSeat, SeatMapDocument, resolved_seats
from evently.events.seat_map_generator import RectangularMapSpec, rectangular_document

# --- building maps -------------------------------------------------------------------


def row_of(
    row: str,
    layout: str,
    *,
    rank: int = 1,
    section: str = "S",
    zone: str = "z",
    y: float = 100.0,
) -> list[ResolvedSeat]:
    """Seats from a picture: ``.`` a plain seat, ``a`` accessible, ``c`` companion,
    ``x`` blocked, ``|`` an aisle (a wide gap); seats are 10 apart, labelled 1, 2..."""
    flags = {".": frozenset(), "a": frozenset({"accessible"}), "c": frozenset({"companion"})}
    flags["x"] = frozenset({"blocked"})
    seats, x, label = [], 10.0, 0
    for char in layout:
        if char == "|":
            x += 30
            continue
        label += 1
        seats.append(
            ResolvedSeat(
                id=f"{section}-{row}-{label}",
                label=str(label),
                section=section,
                row=row,
                rank=rank,
                zone=zone,
                x=x,
                y=y,
                flags=flags[char],
            )
        )
        x += 10
    return seats


def ids(row: str, *labels: int, section: str = "S") -> list[str]:
    return [f"{section}-{row}-{label}" for label in labels]


# --- explicit examples -----------------------------------------------------------------


def test_an_empty_map_gives_the_centre_of_the_best_ranked_row() -> None:
    index = SeatIndex.build(row_of("B", "." * 10, rank=2) + row_of("A", "." * 10, rank=1))
    assert index.choose(set(), 4) == ids("A", 4, 5, 6, 7)
    assert index.choose(set(), 1) == ids("A", 5)  # 5 and 6 are as central: the first


def test_a_row_without_room_for_the_whole_party_is_skipped() -> None:
    index = SeatIndex.build(row_of("A", "." * 6, rank=1) + row_of("B", "." * 6, rank=2))
    taken = set(ids("A", 1, 5, 6))  # A has 2, 3, 4 free: room for three, not four
    # B: 2-5 is central but strands 1 and 6; 1-4 and 3-6 are as central: the first.
    assert index.choose(taken, 4) == ids("B", 1, 2, 3, 4)
    assert index.choose(taken, 3) == ids("A", 2, 3, 4)


def test_an_aisle_breaks_adjacency() -> None:
    index = SeatIndex.build(row_of("A", "...|..."))
    assert index.choose(set(), 4) is None
    assert index.choose(set(), 3) in (ids("A", 1, 2, 3), ids("A", 4, 5, 6))


def test_an_aisle_is_a_step_well_above_the_rows_usual_pitch() -> None:
    seats = row_of("A", "....")
    # Seat 3 moves right by less than half a pitch: still adjacent; then by more: an aisle.
    near = [s if s.label != "3" else _moved(s, 10 * (AISLE_FACTOR - 1) - 1) for s in seats]
    far = [s if s.label not in "34" else _moved(s, 10 * (AISLE_FACTOR - 1) + 1) for s in seats]
    assert SeatIndex.build(near).choose(set(), 4) == ids("A", 1, 2, 3, 4)
    assert SeatIndex.build(far).choose(set(), 4) is None


def _moved(seat: ResolvedSeat, dx: float) -> ResolvedSeat:
    return ResolvedSeat(**{**_fields(seat), "x": seat.x + dx})


def _fields(seat: ResolvedSeat) -> dict[str, object]:
    return {name: getattr(seat, name) for name in ResolvedSeat.__slots__}


def test_a_blocked_seat_is_never_chosen_and_breaks_adjacency() -> None:
    index = SeatIndex.build(row_of("A", "..x.."))
    assert index.choose(set(), 3) is None
    assert index.choose(set(), 2) in (ids("A", 1, 2), ids("A", 4, 5))


def test_seats_come_in_x_order_whatever_the_document_order() -> None:
    seats = row_of("A", ".....")
    index = SeatIndex.build(list(reversed(seats)))
    assert index.choose(set(ids("A", 3)), 2) in (ids("A", 1, 2), ids("A", 4, 5))


def test_a_worse_row_is_taken_rather_than_strand_a_single_seat() -> None:
    # Row A has four free seats: three of them leave the fourth alone, either way.
    index = SeatIndex.build(row_of("A", "....", rank=1) + row_of("B", "...", rank=2))
    assert index.choose(set(), 3) == ids("B", 1, 2, 3)


def test_in_a_row_the_placement_that_strands_no_seat_wins_over_the_central_one() -> None:
    # Seven free seats, three asked: 3-4-5 is central but 1-2-3 or 5-6-7 strand nothing...
    index = SeatIndex.build(row_of("A", "." * 7))
    assert index.choose(set(), 3) == ids("A", 3, 4, 5)  # ...and 3-4-5 leaves two on each side
    # Six free seats, four asked: the central 2-5 strands 1 and 6; 1-4 strands nothing.
    index = SeatIndex.build(row_of("A", "." * 6))
    assert index.choose(set(), 4) == ids("A", 1, 2, 3, 4)


def test_a_single_seat_is_stranded_only_when_no_placement_avoids_it() -> None:
    index = SeatIndex.build(row_of("A", "....", rank=1) + row_of("B", "....", rank=2))
    assert index.choose(set(), 3) == ids("A", 1, 2, 3)  # both rows strand one: the best row


def test_an_orphan_is_a_single_free_seat_left_beside_the_placement() -> None:
    index = SeatIndex.build(row_of("A", "......|..x..."))
    assert index.creates_orphan(set(), ids("A", 2, 3))  # seat 1, against the row's end
    assert not index.creates_orphan(set(), ids("A", 3, 4))
    assert index.creates_orphan(set(ids("A", 1)), ids("A", 3, 4))  # seat 2, beside 1
    assert index.creates_orphan(set(), ids("A", 4, 5))  # seat 6, against the aisle
    assert index.creates_orphan(set(), ids("A", 11))  # seat 10, against blocked 9
    assert not index.creates_orphan(set(ids("A", 2)), ids("A", 3, 4, 5, 6))


def test_guards_name_the_seats_that_would_strand_a_neighbour_if_taken() -> None:
    index = SeatIndex.build(row_of("A", "......|..x..."))
    # 3-4: seat 2 is stranded once 1 is taken, seat 5 once 6 is.
    assert sorted(index.guards(set(), ids("A", 3, 4))) == [
        tuple(ids("A", 2, 1)),
        tuple(ids("A", 5, 6)),
    ]
    assert index.guards(set(ids("A", 1)), ids("A", 3, 4)) == [tuple(ids("A", 5, 6))]
    assert index.guards(set(ids("A", 2, 5)), ids("A", 3, 4)) == []  # nothing free beside
    # Seat 5 is taken only tentatively (an earlier request of the batch): should that
    # request fail, 5 is stranded once 6 is taken; with 1 taken, 2 is stranded anyway.
    tentative = set(ids("A", 5))
    assert index.guards(set(ids("A", 1, 5)), ids("A", 3, 4), tentative) == [tuple(ids("A", 5, 6))]
    assert index.guards(set(ids("A", 5, 6)), ids("A", 1, 2, 3, 4), tentative) == [
        (ids("A", 5)[0], None)
    ]


def test_a_single_buyer_fills_a_hole_rather_than_split_a_pair() -> None:
    index = SeatIndex.build(row_of("A", "......"))
    taken = set(ids("A", 2, 4))  # free: 1 (alone), 3 (alone), 5-6
    assert index.choose(taken, 1) == ids("A", 3)  # a hole, the most central one


def test_plain_requests_keep_accessible_and_companion_seats_for_those_who_need_them() -> None:
    index = SeatIndex.build(row_of("A", "ac..", rank=1) + row_of("B", "....", rank=5))
    assert index.choose(set(), 2) == ids("A", 3, 4)
    # Three: A has two plain seats only; in B any three strand the fourth, and the two
    # placements are as central: the first.
    assert index.choose(set(), 3) == ids("B", 1, 2, 3)
    # Nothing plain is left: companion seats first, accessible seats last.
    taken = set(ids("B", 1, 2, 3, 4))
    assert index.choose(taken, 3) == ids("A", 2, 3, 4)
    assert index.choose(taken, 4) == ids("A", 1, 2, 3, 4)


def test_an_accessible_request_takes_an_accessible_seat_and_companion_seats_next_to_it() -> None:
    index = SeatIndex.build(row_of("A", "....ac..", rank=1) + row_of("B", "ca..", rank=3))
    assert index.choose(set(), 2, accessible=True) == ids("A", 5, 6)
    assert index.choose(set(), 1, accessible=True) == ids("A", 5)
    # Three: no three accessible and companion seats are adjacent anywhere, so a plain
    # seat completes the party, in the best row, centrally (3-4-5 and 4-5-6 tie: the first).
    assert index.choose(set(), 3, accessible=True) == ids("A", 3, 4, 5)
    # No accessible seat free: no placement at all.
    assert index.choose(set(ids("A", 5) + ids("B", 2)), 1, accessible=True) is None


def test_a_zone_limits_the_choice_to_its_seats() -> None:
    seats = row_of("A", "....", zone="front", rank=1) + row_of("B", "....", zone="rear", rank=2)
    index = SeatIndex.build(seats)
    assert index.choose(set(), 2, zone="rear") == ids("B", 1, 2)  # 2-3 would strand 1 and 4
    assert index.choose(set(), 2, zone="balcony") is None
    assert index.choose(set(), 5, zone="front") is None


def test_a_mixed_zone_row_gives_only_adjacent_seats_of_the_zone() -> None:
    front = row_of("A", "...", zone="front")
    rear = [ResolvedSeat(**{**_fields(s), "zone": "rear"}) for s in row_of("A", "....")[3:]]
    index = SeatIndex.build(front + rear)
    assert index.choose(set(), 3, zone="front") == ids("A", 1, 2, 3)
    assert index.choose(set(), 2, zone="rear") is None  # one seat of the zone, not two


def test_rows_of_equal_rank_compare_by_centrality_in_their_own_row() -> None:
    index = SeatIndex.build(
        row_of("A", "." * 8, section="S1", y=100) + row_of("A", "." * 8, section="S2", y=100)
    )
    first = index.choose(set(), 2)
    assert first == ids("A", 4, 5, section="S1")
    assert index.choose(set(first), 2) == ids("A", 4, 5, section="S2")  # as central: later


def test_free_seat_counts_let_rows_without_room_go_unread() -> None:
    index = SeatIndex.build(row_of("A", "....", rank=1) + row_of("B", "....", rank=2))
    taken = set(ids("A", 1, 2, 3))
    assert index.choose(taken, 1, free_seats={("S", "A"): 1}) == ids("A", 4)
    # A count is trusted, not checked: a row counted too low is not read.
    assert index.choose(taken, 1, free_seats={("S", "A"): 0}) == ids("B", 1)
    assert index.choose(taken, 1, free_seats={("S", "B"): 4}) == ids("A", 4)  # A unnamed: read


def test_a_quantity_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="quantity"):
        SeatIndex.build(row_of("A", "...")).choose(set(), 0)


def test_a_full_map_has_no_choice() -> None:
    seats = row_of("A", "....")
    assert SeatIndex.build(seats).choose({s.id for s in seats}, 1) is None


def test_a_rectangular_map_agrees_with_brute_force_at_every_occupancy() -> None:
    spec = RectangularMapSpec(
        name="Hall",
        sections=3,
        rows=12,
        seats_per_row=20,
        zones=[
            {"zone": {"id": "front", "name": "Front"}, "from_row": 1, "to_row": 4},
            {"zone": {"id": "rear", "name": "Rear"}, "from_row": 5, "to_row": 12},
        ],
    )
    seats = list(resolved_seats(SeatMapDocument.model_validate(rectangular_document(spec))))
    index = SeatIndex.build(seats)
    rng = random.Random(18)
    for occupancy in (0.0, 0.3, 0.6, 0.9, 0.97):
        taken = {seat.id for seat in seats if rng.random() < occupancy}
        for quantity in (1, 2, 3, 4, 6):
            for zone in (None, "front", "rear"):
                expected = brute_force_best(seats, taken, quantity, zone, False)
                got = index.choose(taken, quantity, zone=zone)
                assert got == (expected.seat_ids if expected else None)


# --- the brute force -----------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    key: tuple[int, bool, int, float, int, int]
    seat_ids: list[str]

    @property
    def tier(self) -> int:
        return self.key[0]

    @property
    def orphan(self) -> bool:
        return self.key[1]

    @property
    def rank(self) -> int:
        return self.key[2]


def brute_force_rows(seats: Iterable[ResolvedSeat]) -> list[list[list[ResolvedSeat]]]:
    """Rows in document order, each as its blocks (the documented aisle rule)."""
    rows: dict[tuple[str, str], list[ResolvedSeat]] = {}
    for seat in seats:
        rows.setdefault((seat.section, seat.row), []).append(seat)
    result = []
    for row in rows.values():
        row = sorted(row, key=lambda s: (s.x, s.y, s.id))
        steps = [math.hypot(b.x - a.x, b.y - a.y) for a, b in itertools.pairwise(row)]
        pitch = sorted(steps)[(len(steps) - 1) // 2] if steps else 0.0
        blocks = [[row[0]]]
        for seat, step in zip(row[1:], steps, strict=True):
            if step > AISLE_FACTOR * pitch:
                blocks.append([])
            blocks[-1].append(seat)
        result.append(blocks)
    return result


def brute_force_placements(
    seats: list[ResolvedSeat],
    taken: set[str],
    quantity: int,
    zone: str | None,
    accessible: bool,
) -> list[Placement]:
    """Every placement the rule allows, with its documented sort key."""

    def free(seat: ResolvedSeat) -> bool:
        return seat.sellable and seat.id not in taken

    placements = []
    for order, blocks in enumerate(brute_force_rows(seats)):
        row_seats = [seat for block in blocks for seat in block]
        centre = (row_seats[0].x + row_seats[-1].x) / 2
        start_of_block = 0
        for block in blocks:
            for i in range(len(block) - quantity + 1):
                chosen = block[i : i + quantity]
                if not all(free(s) for s in chosen):
                    continue
                if zone is not None and any(s.zone != zone for s in chosen):
                    continue
                n_accessible = sum("accessible" in s.flags for s in chosen)
                n_companion = sum(
                    "companion" in s.flags and "accessible" not in s.flags for s in chosen
                )
                if accessible:
                    if not n_accessible:
                        continue
                    tier = 0 if n_accessible + n_companion == quantity else 1
                else:
                    tier = 2 if n_accessible else (1 if n_companion else 0)
                left, right = block[:i], block[i + quantity :]
                orphan = (
                    len(left) >= 1 and free(left[-1]) and (len(left) == 1 or not free(left[-2]))
                )
                orphan = orphan or (
                    len(right) >= 1 and free(right[0]) and (len(right) == 1 or not free(right[1]))
                )
                distance = abs((chosen[0].x + chosen[-1].x) / 2 - centre)
                key = (tier, orphan, chosen[0].rank, distance, order, start_of_block + i)
                placements.append(Placement(key, [s.id for s in chosen]))
            start_of_block += len(block)
    return placements


def brute_force_best(
    seats: list[ResolvedSeat],
    taken: set[str],
    quantity: int,
    zone: str | None,
    accessible: bool,
) -> Placement | None:
    placements = brute_force_placements(seats, taken, quantity, zone, accessible)
    return min(placements, key=lambda p: p.key) if placements else None


# --- random maps -----------------------------------------------------------------------

FLAG_SETS = [
    frozenset(),
    frozenset(),
    frozenset(),
    frozenset(),
    frozenset({"accessible"}),
    frozenset({"companion"}),
    frozenset({"blocked"}),
    frozenset({"restricted_view"}),
    frozenset({"accessible", "companion"}),
]


@st.composite
def seat_maps(draw: st.DrawFn) -> list[ResolvedSeat]:
    """1-6 rows of 1-14 seats: pitches of 10 (sometimes uneven, or two seats at one x),
    aisles, ranks that tie, one or two zones, every flag; rows and seats in any order."""
    seats = []
    for r in range(draw(st.integers(1, 6))):
        rank = draw(st.integers(1, 4))
        row_zone = draw(st.sampled_from(["z1", "z2"]))
        mixed = draw(st.booleans()) and draw(st.booleans())
        x, y = draw(st.integers(0, 50)) * 1.0, 20.0 * r + 10
        for n in range(draw(st.integers(1, 14))):
            if n:
                x += draw(
                    st.sampled_from([10.0, 10.0, 10.0, 10.0, 9.0, 11.0, 12.0, 35.0, 50.0, 0.0])
                )
            zone = draw(st.sampled_from(["z1", "z2"])) if mixed else row_zone
            seats.append(
                ResolvedSeat(
                    id=f"R{r}-{n}",
                    label=str(n + 1),
                    section="S",
                    row=f"R{r}",
                    rank=rank,
                    zone=zone,
                    x=x,
                    y=y,
                    flags=draw(st.sampled_from(FLAG_SETS)),
                )
            )
    return draw(st.permutations(seats))


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[ResolvedSeat], set[str], int, str | None, bool]:
    seats = draw(seat_maps())
    occupancy = draw(st.sampled_from([0.0, 0.2, 0.5, 0.8, 0.95]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    taken = {s.id for s in seats if rng.random() < occupancy}
    if draw(st.booleans()):  # callers may count blocked seats as taken, or not
        taken |= {s.id for s in seats if not s.sellable}
    quantity = draw(st.integers(1, 5))
    zone = draw(st.sampled_from([None, None, "z1", "z2"]))
    return seats, taken, quantity, zone, draw(st.booleans())


PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(requests())
def test_none_only_when_no_block_can_take_the_party(request_: tuple) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    assert (got is None) == (not brute_force_placements(seats, taken, quantity, zone, accessible))


@PROPERTIES
@given(requests())
def test_chosen_seats_are_free_distinct_adjacent_in_one_row_and_in_the_zone(
    request_: tuple,
) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    if got is None:
        return
    by_id = {s.id: s for s in seats}
    assert len(got) == quantity == len(set(got))
    assert all(by_id[i].sellable and i not in taken for i in got)
    assert zone is None or all(by_id[i].zone == zone for i in got)
    blocks = [block for row in brute_force_rows(seats) for block in row]
    block_ids = [[s.id for s in block] for block in blocks]
    assert any(got == block[i : i + quantity] for block in block_ids for i in range(len(block))), (
        "not consecutive seats of one block of one row"
    )


@PROPERTIES
@given(requests())
def test_no_better_ranked_row_could_take_the_party_in_the_same_class(request_: tuple) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    placements = brute_force_placements(seats, taken, quantity, zone, accessible)
    if got is None:
        return
    mine = next(p for p in placements if p.seat_ids == got)
    assert not any(
        (p.tier, p.orphan) == (mine.tier, mine.orphan) and p.rank < mine.rank for p in placements
    )
    assert not any((p.tier, p.orphan) < (mine.tier, mine.orphan) for p in placements)


@PROPERTIES
@given(requests())
def test_a_single_seat_is_stranded_only_when_every_placement_strands_one(
    request_: tuple,
) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    placements = brute_force_placements(seats, taken, quantity, zone, accessible)
    if got is None:
        return
    mine = next(p for p in placements if p.seat_ids == got)
    if _strands_a_seat(seats, taken | set(got), taken):
        assert mine.orphan
        assert all(p.orphan for p in placements if p.tier == mine.tier)


@PROPERTIES
@given(requests())
def test_creates_orphan_says_what_the_rule_calls_an_orphan_for_every_placement(
    request_: tuple,
) -> None:
    seats, taken, quantity, zone, accessible = request_
    index = SeatIndex.build(seats)
    for placement in brute_force_placements(seats, taken, quantity, zone, accessible):
        assert index.creates_orphan(taken, placement.seat_ids) == placement.orphan


@PROPERTIES
@given(requests())
def test_a_placement_strands_a_seat_later_only_when_a_guards_far_seat_is_taken(
    request_: tuple,
) -> None:
    seats, taken, quantity, zone, accessible = request_
    index = SeatIndex.build(seats)
    for placement in brute_force_placements(seats, taken, quantity, zone, accessible):
        guards = index.guards(taken, placement.seat_ids)
        for near, far in guards:
            assert near not in taken and far not in taken
            assert index.creates_orphan(taken | {far}, placement.seat_ids)
        # Any other free seat taken meanwhile leaves an orphan-free placement orphan-free.
        if not placement.orphan:
            guarded = {far for _, far in guards} | {near for near, _ in guards}
            others = {s.id for s in seats} - taken - set(placement.seat_ids) - guarded
            assert not index.creates_orphan(taken | others, placement.seat_ids)


def _strands_a_seat(seats: list[ResolvedSeat], after: set[str], before: set[str]) -> bool:
    """Whether a free seat with no free neighbour in its block exists after, not before."""

    def lonely(taken: set[str]) -> set[str]:
        result = set()
        for blocks in brute_force_rows(seats):
            for block in blocks:
                free = [s.sellable and s.id not in taken for s in block]
                for i, seat in enumerate(block):
                    left = i > 0 and free[i - 1]
                    right = i + 1 < len(block) and free[i + 1]
                    if free[i] and not left and not right:
                        result.add(seat.id)
        return result

    return bool(lonely(after) - lonely(before))


@PROPERTIES
@given(requests())
def test_accessible_and_companion_seats_follow_the_rules(request_: tuple) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    if got is None:
        return
    by_id = {s.id: s for s in seats}
    flags = [by_id[i].flags for i in got]
    placements = brute_force_placements(seats, taken, quantity, zone, accessible)
    if accessible:
        assert any("accessible" in f for f in flags)
        if not all({"accessible", "companion"} & f for f in flags):
            # Plain seats complete the party only where no accessible+companion block fits.
            assert not any(p.tier == 0 for p in placements)
    elif any({"accessible", "companion"} & f for f in flags):
        assert not any(p.tier == 0 for p in placements)


@PROPERTIES
@given(requests())
def test_the_choice_is_the_smallest_placement_under_the_documented_order(
    request_: tuple,
) -> None:
    seats, taken, quantity, zone, accessible = request_
    got = SeatIndex.build(seats).choose(taken, quantity, zone=zone, accessible=accessible)
    best = brute_force_best(seats, taken, quantity, zone, accessible)
    assert got == (best.seat_ids if best else None)


@PROPERTIES
@given(requests())
def test_choosing_does_not_change_the_index_or_taken(request_: tuple) -> None:
    seats, taken, quantity, zone, accessible = request_
    index = SeatIndex.build(seats)
    before = set(taken)
    first = index.choose(taken, quantity, zone=zone, accessible=accessible)
    assert taken == before
    assert index.choose(taken, quantity, zone=zone, accessible=accessible) == first


@PROPERTIES
@given(requests(), st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_free_seat_counts_at_or_above_the_truth_change_nothing(
    request_: tuple, extra: list[int]
) -> None:
    seats, taken, quantity, zone, accessible = request_
    counts: dict[tuple[str, str], int] = {}
    for seat in seats:
        key = (seat.section, seat.row)
        counts[key] = counts.get(key, 0) + (seat.sellable and seat.id not in taken)
    high = {key: n + extra[int(key[1][1:]) % 6] for key, n in counts.items()}
    index = SeatIndex.build(seats)
    plain = index.choose(taken, quantity, zone=zone, accessible=accessible)
    for hint in (counts, high):
        assert (
            index.choose(taken, quantity, zone=zone, accessible=accessible, free_seats=hint)
            == plain
        )
