"""A seated waitlist offer takes the seats best-available would (docs/seating.md,
"Seated waitlist"): ``bookings.best_available_seats`` is best_available.py's rule in SQL,
checked here against ``SeatIndex.choose`` on random maps and occupancies, and through
the API on a map where the old rule (the first seats of the best-ranked row with room)
stranded a seat."""

from __future__ import annotations

import random
from importlib.resources import files

from evently.bookings.best_available import SeatIndex
from evently.bookings.seat_map_fetch import store_seats, stored_seats
from evently.core.seat_maps import ResolvedSeat
from tests.bookings.conftest import Buyer, build_rectangular_map, seating_of, send_event
from tests.bookings.test_best_available import FLAG_SETS
from tests.bookings.test_seat_holds import hold_seats

EVENT = 985
MIGRATIONS = files("evently.bookings") / "migrations"
STEPS = [10.0, 10.0, 10.0, 10.0, 9.0, 11.0, 12.0, 35.0, 50.0, 0.0]


def random_map(rng: random.Random) -> list[ResolvedSeat]:
    """1-6 rows of 1-14 seats in one or two sections: uneven pitches, aisles, seats at
    one x, tied ranks, every flag; rows and seats in any document order."""
    seats = []
    for r in range(rng.randint(1, 6)):
        section, rank = rng.choice(["S", "T"]), rng.randint(1, 4)
        x, y = rng.randint(0, 50) * 1.0, 20.0 * r + 10
        for n in range(rng.randint(1, 14)):
            x += rng.choice(STEPS) if n else 0.0
            seats.append(
                ResolvedSeat(
                    id=f"{section}-R{r}-{n}",
                    label=str(n + 1),
                    section=section,
                    row=f"R{r}",
                    rank=rank,
                    zone="z",
                    x=x,
                    y=y,
                    flags=rng.choice(FLAG_SETS),
                )
            )
    rng.shuffle(seats)
    return seats


async def offer_of(buyer: Buyer) -> dict:
    status, entry = await buyer.get(f"/api/v1/events/{EVENT}/waitlist/me")
    assert (status, entry["status"]) == (200, "offered"), entry
    status, booking = await buyer.get(f"/api/v1/bookings/{entry['booking_id']}")
    assert status == 200, booking
    return booking


async def test_the_sql_pick_is_best_availables_on_random_maps_and_occupancies(db) -> None:
    rng = random.Random(18)
    compared = placed = 0
    for case in range(1, 61):
        assert await store_seats(db, case, 1, random_map(rng))
        seats = await stored_seats(db, case, 1)  # document order, as the picker reads them
        index = SeatIndex.build(seats)
        for occupancy in (0.0, 0.3, 0.6, 0.9):
            event_id = case * 10 + int(occupancy * 10)
            taken = {s.id for s in seats if s.sellable and rng.random() < occupancy}
            # Taken seats are kept back for a channel here: the pick never takes those.
            await db.executemany(
                "INSERT INTO bookings.event_seats (event_id, seat_id, status, channel) "
                "VALUES ($1, $2, $3, $4)",
                [
                    (event_id, s.id, "free" if s.sellable else "blocked",
                     "x" if s.id in taken else None)
                    for s in seats
                ],
            )  # fmt: skip
            for quantity in (1, 2, 3, 4):
                expected = index.choose(taken, quantity)
                got = await db.fetchval(
                    "SELECT bookings.best_available_seats($1, $2, 1, $3)", event_id, case, quantity
                )
                assert got == expected, (case, occupancy, quantity, sorted(taken))
                compared += 1
                placed += expected is not None
    assert compared == 960 and 300 < placed < 960  # the cases cover both answers


async def test_an_offer_strands_no_seat_when_another_row_avoids_it(
    seated_client, events_client, tokens
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=4)
    await send_event(seated_client, EVENT, max_per_user=8, **seating_of(seat_map))
    first = Buyer(seated_client, tokens, 50)
    status, seven, _ = await hold_seats(
        first, [f"S1-A-{n}" for n in range(1, 5)] + ["S1-B-1", "S1-B-2", "S1-B-3"], event_id=EVENT
    )
    assert status == 201, seven
    status, b4, _ = await hold_seats(Buyer(seated_client, tokens, 51), ["S1-B-4"], event_id=EVENT)
    assert status == 201, b4
    alice = Buyer(seated_client, tokens, 1)
    assert (await alice.post(f"/api/v1/events/{EVENT}/waitlist", {"quantity": 3}))[0] == 201

    # Row A (rank 1) comes back whole, row B but B-4. The old rule offered A-1..A-3
    # (the best-ranked row with room), stranding A-4; best-available's rule offers
    # B-1..B-3, which strands nothing.
    assert (await first.cancel(seven["id"]))[0] == 200

    offer = await offer_of(alice)
    assert [seat["id"] for seat in offer["seats"]] == ["S1-B-1", "S1-B-2", "S1-B-3"]


async def test_migration_0020_lays_out_stored_versions_as_the_picker_does(db) -> None:
    # Versions stored before migration 0020 get their layout from its SQL; it must be
    # what SeatIndex.layout gives (which stores new versions).
    rng = random.Random(20)
    for map_id in range(1, 41):
        assert await store_seats(db, map_id, 1, random_map(rng))
    columns = "map_id, seat_id, row_pos, block, row_centre, row_order"
    laid_out = await db.fetch(f"SELECT {columns} FROM bookings.seat_map_seats ORDER BY 1, 2")
    await db.execute(
        "UPDATE bookings.seat_map_seats SET row_pos = NULL, block = NULL, row_centre = NULL, "
        "row_order = NULL"
    )
    migration = MIGRATIONS.joinpath("0020_seat_layout.sql").read_text()
    await db.execute(migration[migration.index("WITH ordered AS") :])

    recomputed = await db.fetch(f"SELECT {columns} FROM bookings.seat_map_seats ORDER BY 1, 2")
    assert [tuple(r) for r in recomputed] == [tuple(r) for r in laid_out]
