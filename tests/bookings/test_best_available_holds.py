"""Best-available on a seated event: ``quantity`` (optionally ``zone``, ``accessible``)
holds adjacent seats picked by ``best_available.SeatIndex`` from the current taken set,
claimed in the one locked hold call; a pick another buyer claimed first is picked again."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from evently.bookings.best_available import SeatIndex
from evently.bookings.context import BOOKINGS
from evently.bookings.inventory import event_lock
from evently.bookings.seat_picker import CONTENDED_BATCHES, EventSeats, SeatChoice, SeatPicker
from evently.core.seat_maps import SeatMapDocument, resolved_seats
from evently.events.seat_map_generator import RectangularMapSpec, rectangular_document
from tests.bookings.conftest import (
    Buyer,
    build_rectangular_map,
    event_seat_rows,
    eventually,
    seat_counts,
    seating_of,
    send_event,
    upload_map,
)
from tests.bookings.test_seat_holds import hold_seats, live_seats
from tests.events.test_seat_map_rules import small_map

EVENT = 801


async def best(
    buyer: Buyer, quantity: int, *, event_id: int = EVENT, key: str | None = None, **extra: Any
) -> tuple[int, dict[str, Any]]:
    headers = {**buyer.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    response = await buyer.client.post(
        "/api/v1/bookings",
        json={"event_id": event_id, "quantity": quantity, **extra},
        headers=headers,
    )
    return response.status, await response.json()


async def hold_while_another_claims(
    database_url: str,
    db: asyncpg.Pool,
    hold: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    claim: Callable[[asyncpg.Connection], Awaitable[None]],
) -> tuple[int, dict[str, Any]]:
    """Runs ``hold`` while a transaction of its own holds the event's lock: once the
    hold has picked and waits for the lock to claim, ``claim`` takes seats in that
    transaction (as another replica would), which then commits; the hold's answer."""
    key = event_lock(EVENT)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            task = asyncio.create_task(hold())

            async def waiting_for_the_lock() -> bool:
                return bool(await db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ))  # fmt: skip

            await eventually(waiting_for_the_lock)
            await claim(blocker)
        return await task
    finally:
        await blocker.close()


def claim_seats(seat_ids: list[str]) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """Another buyer's claim of these seats, stamped as every claim is (migration 0014)."""

    async def claim(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "UPDATE bookings.event_seats SET status = 'sold', booking_id = 999999,"
            " changed = nextval('bookings.seat_changes')"
            " WHERE event_id = $1 AND seat_id = ANY ($2)",
            EVENT,
            seat_ids,
        )
        await conn.execute(
            "UPDATE bookings.event_seating SET seat_changes = currval('bookings.seat_changes')"
            " WHERE event_id = $1",
            EVENT,
        )

    return claim


def adjacent_in_one_row(booking: dict[str, Any]) -> bool:
    rows = {(s["section"], s["row"]) for s in booking["seats"]}
    labels = sorted(int(s["label"]) for s in booking["seats"])
    return len(rows) == 1 and labels == list(range(labels[0], labels[0] + len(labels)))


async def test_a_quantity_on_a_seated_event_holds_adjacent_seats_in_the_best_row(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=4, seats_per_row=10)
    await send_event(seated_client, EVENT, **seating_of(seat_map))

    status, booking = await best(Buyer(seated_client, tokens, 1), 3)

    assert status == 201, booking
    assert booking["quantity"] == 3 and len(booking["seats"]) == 3
    assert adjacent_in_one_row(booking) and booking["seats"][0]["row"] == "A"  # rank 1
    assert live_seats(await event_seat_rows(db, EVENT)) == {
        s["id"]: booking["id"] for s in booking["seats"]
    }
    assert (await seat_counts(db, EVENT))["reserved"] == 3


async def test_best_available_keeps_to_the_zone_asked(seated_client, events_client, tokens):
    admin = tokens.admin()
    venue = await events_client.post(
        "/api/v1/admin/venues",
        json={"name": "Zoned", "address": "1 Ring", "city": "Graz", "capacity": 1000},
        headers=admin,
    )
    body = {
        "name": "Zoned",
        "sections": 1,
        "rows": 4,
        "seats_per_row": 6,
        "zones": [
            {"zone": {"id": "front", "name": "Front"}, "from_row": 1, "to_row": 2},
            {"zone": {"id": "rear", "name": "Rear"}, "from_row": 3, "to_row": 4},
        ],
    }
    response = await events_client.post(
        f"/api/v1/admin/venues/{(await venue.json())['id']}/seat-maps/rectangular",
        json=body,
        headers=admin,
    )
    assert response.status == 201, await response.text()
    await send_event(seated_client, EVENT, **seating_of(await response.json()))

    status, booking = await best(Buyer(seated_client, tokens, 1), 2, zone="rear")

    assert status == 201, booking
    assert {s["zone"] for s in booking["seats"]} == {"rear"}
    assert booking["seats"][0]["row"] == "C"


async def test_accessible_asks_for_an_accessible_seat(seated_client, events_client, tokens):
    seat_map = await upload_map(events_client, tokens, small_map())
    await send_event(seated_client, EVENT, **seating_of(seat_map))

    status, booking = await best(Buyer(seated_client, tokens, 1), 1, accessible=True)

    assert status == 201, booking
    assert [s["id"] for s in booking["seats"]] == ["stalls-A-1"]  # the one accessible seat
    status, problem = await best(Buyer(seated_client, tokens, 2), 1, accessible=True)
    assert (status, problem["code"]) == (409, "no_seats_together"), problem


async def test_no_block_that_fits_is_409_and_changes_nothing(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=1, seats_per_row=5)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    status, _, _ = await hold_seats(Buyer(seated_client, tokens, 1), ["S1-A-3"], event_id=EVENT)
    assert status == 201
    before = await event_seat_rows(db, EVENT)

    status, problem = await best(Buyer(seated_client, tokens, 2), 3)

    assert (status, problem["code"]) == (409, "no_seats_together"), problem
    assert await event_seat_rows(db, EVENT) == before
    assert (await seat_counts(db, EVENT))["reserved"] == 1
    status, booking = await best(Buyer(seated_client, tokens, 2), 2)
    assert status == 201 and adjacent_in_one_row(booking)


async def test_zone_or_accessible_on_a_general_admission_event_is_400_naming_it(
    seated_client, tokens, db
):
    await send_event(seated_client, 802, capacity=10)
    status, problem = await best(Buyer(seated_client, tokens, 1), 1, event_id=802, zone="front")
    assert (status, problem["code"]) == (400, "event_not_seated"), problem
    assert [e["field"] for e in problem["errors"]] == ["body.zone"]
    status, problem = await best(Buyer(seated_client, tokens, 1), 1, event_id=802, accessible=True)
    assert [e["field"] for e in problem["errors"]] == ["body.accessible"]
    assert (await seat_counts(db, 802))["reserved"] == 0
    # A plain quantity on it stays general admission.
    status, booking = await best(Buyer(seated_client, tokens, 1), 2, event_id=802)
    assert status == 201 and booking["seats"] == []


async def test_a_quantity_out_of_range_names_the_quantity(seated_client, events_client, tokens):
    seat_map = await build_rectangular_map(events_client, tokens, rows=1, seats_per_row=5)
    await send_event(seated_client, EVENT, max_per_user=2, **seating_of(seat_map))
    for quantity in (0, 3):
        status, problem = await best(Buyer(seated_client, tokens, 1), quantity)
        assert (status, problem["code"]) == (422, "quantity_out_of_range"), problem
        assert [e["field"] for e in problem["errors"]] == ["body.quantity"]


async def test_the_same_key_replays_the_seats_it_got(seated_client, events_client, tokens, db):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=4)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    me = Buyer(seated_client, tokens, 1)
    status, booking = await best(me, 2, key="again")
    assert status == 201
    assert (await best(Buyer(seated_client, tokens, 2), 2))[0] == 201

    status, replayed = await best(me, 2, key="again")

    assert status == 201 and replayed == booking
    assert await db.fetchval("SELECT count(*) FROM bookings.bookings") == 2


async def test_concurrent_best_available_buyers_never_share_a_seat(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=10)
    await send_event(seated_client, 803, max_per_user=4, **seating_of(seat_map))

    results = await asyncio.gather(
        *(best(Buyer(seated_client, tokens, u), 1 + u % 3, event_id=803) for u in range(1, 31))
    )

    held = [body for status, body in results if status == 201]
    for status, body in results:
        assert status == 201 or body["code"] in ("no_seats_together", "seats_unavailable"), body
    granted = [s["id"] for b in held for s in b["seats"]]
    assert len(granted) == len(set(granted)), "a seat was granted twice"
    assert all(adjacent_in_one_row(b) and len(b["seats"]) == b["quantity"] for b in held)
    assert live_seats(await event_seat_rows(db, 803)) == {
        s["id"]: b["id"] for b in held for s in b["seats"]
    }
    counts = await seat_counts(db, 803)
    assert counts["reserved"] == counts["held_bookings"] == len(granted) <= 20


async def test_a_pick_claimed_by_another_first_is_picked_again(
    seated_client, events_client, tokens, db, database_url
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    # The pick the hold will make on the empty map (the app's own index).
    picker = seated_client.app[BOOKINGS].holder.picker
    index = await picker.index(seat_map["map_id"], seat_map["version"])
    first_pick = index.choose(frozenset(), 2, zone="std")
    assert first_pick
    retries = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")

    # With a zone, the holder goes straight to best-available: it picks, then waits
    # for the lock to claim; another buyer takes the picked seats meanwhile.
    status, booking = await hold_while_another_claims(
        database_url,
        db,
        lambda: best(Buyer(seated_client, tokens, 1), 2, zone="std"),
        claim_seats(first_pick),
    )

    assert status == 201, booking
    got = [s["id"] for s in booking["seats"]]
    assert not set(got) & set(first_pick) and len(got) == 2
    after = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")
    assert after == retries + 1


async def test_a_pick_that_another_claim_would_leave_stranding_a_seat_is_picked_again(
    seated_client, events_client, tokens, db, database_url
):
    # Two replicas read the same seats: while one picks 3-4 in row A, the other takes
    # seat 1. Claimed as picked, 3-4 would leave seat 2 alone between 1 and 3.
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    picker = seated_client.app[BOOKINGS].holder.picker
    index = await picker.index(seat_map["map_id"], seat_map["version"])
    assert index.choose(frozenset(), 2, zone="std") == ["S1-A-3", "S1-A-4"]
    retries = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")

    status, booking = await hold_while_another_claims(
        database_url,
        db,
        lambda: best(Buyer(seated_client, tokens, 1), 2, zone="std"),
        claim_seats(["S1-A-1"]),
    )

    assert status == 201, booking
    got = [s["id"] for s in booking["seats"]]
    assert got == index.choose({"S1-A-1"}, 2, zone="std") == ["S1-A-2", "S1-A-3"]
    assert not index.creates_orphan({"S1-A-1"}, got)
    after = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")
    assert after == retries + 1


async def test_a_pick_next_to_seats_an_earlier_request_of_its_batch_failed_to_get_is_redone(
    seated_client, events_client, tokens, db, database_url
):
    # Row A: 1-5 free, 6 taken. In one batch, buyer 2 asks for seat 5 (refused: buyer 2
    # is at max_per_user), then buyer 3 asks for four seats: counting 5 as taken, 1-4
    # strands nothing; once buyer 2 is refused, seat 5 is stranded between 4 and 6.
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, max_per_user=4, **seating_of(seat_map))
    at_limit = Buyer(seated_client, tokens, 2)
    status, body, _ = await hold_seats(
        at_limit, ["S1-A-6", "S1-B-1", "S1-B-2", "S1-B-3"], event_id=EVENT
    )
    assert status == 201, body
    index = await seated_client.app[BOOKINGS].holder.picker.index(
        seat_map["map_id"], seat_map["version"]
    )
    retries = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")
    batchers = seated_client.app[BOOKINGS].holder._batchers._batchers
    key = event_lock(EVENT)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", key.namespace, key.ident)
            # A first batch waits for the lock; the next one gathers behind it, in order.
            first = asyncio.create_task(
                hold_seats(Buyer(seated_client, tokens, 5), ["S1-B-6"], event_id=EVENT)
            )

            async def pending(count: int) -> bool:
                return EVENT in batchers and len(batchers[EVENT]._pending) == count

            await eventually(lambda: pending(0))
            refused = asyncio.create_task(hold_seats(at_limit, ["S1-A-5"], event_id=EVENT))
            await eventually(lambda: pending(1))
            hold = asyncio.create_task(best(Buyer(seated_client, tokens, 3), 4, zone="std"))
            await eventually(lambda: pending(2))
        assert (await first)[0] == 201
        status, body, _ = await refused
        assert status == 409 and body["code"] == "per_user_limit_exceeded", body
        status, booking = await hold
    finally:
        await blocker.close()

    assert status == 201, booking
    got = [s["id"] for s in booking["seats"]]
    taken = {"S1-A-6", "S1-B-1", "S1-B-2", "S1-B-3", "S1-B-6"}
    assert got == index.choose(taken, 4, zone="std") == ["S1-A-2", "S1-A-3", "S1-A-4", "S1-A-5"]
    after = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")
    assert after == retries + 1


async def test_a_process_keeps_the_seats_of_its_most_recent_events_only(
    seated_client, events_client, tokens
):
    ctx = seated_client.app[BOOKINGS]
    ctx.holder.picker = SeatPicker(ctx.pool, kept_events=1)
    seat_map = await build_rectangular_map(events_client, tokens, rows=1, seats_per_row=8)
    await send_event(seated_client, 811, **seating_of(seat_map))
    await send_event(seated_client, 812, **seating_of(seat_map))
    buyer = Buyer(seated_client, tokens, 1)

    picked = []
    for event_id in (811, 812, 811):
        status, booking = await best(buyer, 2, event_id=event_id)
        assert status == 201, booking
        picked.append([s["id"] for s in booking["seats"]])
        assert ctx.holder.picker.kept == [event_id]

    # Event 811's seats were dropped and read whole again: its second pick is beside
    # the first, not the same seats.
    assert picked[0] == picked[1] and not set(picked[2]) & set(picked[0])


async def test_seats_freed_by_a_cancellation_are_picked_again(
    seated_client, events_client, tokens, db
):
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    first = Buyer(seated_client, tokens, 1)
    status, booking = await best(first, 2)
    assert status == 201, booking
    centre = [s["id"] for s in booking["seats"]]
    status, other = await best(Buyer(seated_client, tokens, 2), 2)
    assert status == 201 and not {s["id"] for s in other["seats"]} & set(centre), other

    status, _ = await first.cancel(booking["id"])
    assert status == 200
    status, again = await best(Buyer(seated_client, tokens, 3), 2)

    assert status == 201, again
    assert [s["id"] for s in again["seats"]] == centre  # the picker heard of the release


async def test_concurrent_best_available_buyers_all_get_seats_while_blocks_remain(
    seated_client, events_client, tokens, db
):
    # Requests gathered into one batch pick around each other's picks: none of them
    # loses its seats to a neighbour in the batch (before, each re-read the same taken
    # set, they all picked the same best block, and most ran out of retries).
    seat_map = await build_rectangular_map(events_client, tokens, rows=4, seats_per_row=10)
    await send_event(seated_client, 804, **seating_of(seat_map))

    results = await asyncio.gather(
        *(best(Buyer(seated_client, tokens, u), 2, event_id=804) for u in range(1, 16))
    )

    assert [status for status, _ in results] == [201] * 15, results
    granted = [s["id"] for _, b in results for s in b["seats"]]
    assert len(set(granted)) == 30
    assert (await seat_counts(db, 804))["reserved"] == 30


async def test_once_picks_lose_seats_to_another_replica_a_pick_takes_its_alternative_at_once(
    seated_client, events_client, tokens, db, database_url
):
    # The first loss makes the event contended: the next pick names ranked
    # alternatives, and when another replica claims its first placement the same call
    # takes the next one (no second pick, no second round trip).
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    holder = seated_client.app[BOOKINGS].holder
    index = await holder.picker.index(seat_map["map_id"], seat_map["version"])
    retries = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")
    first_pick = index.choose(frozenset(), 2, zone="std")
    assert first_pick == ["S1-A-3", "S1-A-4"]
    status, booking = await hold_while_another_claims(
        database_url, db, lambda: best(Buyer(seated_client, tokens, 1), 2, zone="std"),
        claim_seats(first_pick),
    )  # fmt: skip
    assert status == 201, booking
    taken = {*first_pick, *(s["id"] for s in booking["seats"])}
    assert REGISTRY.get_sample_value("evently_bookings_best_available_retries_total") == (
        retries + 1
    )

    second_pick = index.choose(taken, 2, zone="std")
    assert second_pick
    status, booking = await hold_while_another_claims(
        database_url, db, lambda: best(Buyer(seated_client, tokens, 2), 2, zone="std"),
        claim_seats(second_pick),
    )  # fmt: skip

    assert status == 201, booking
    got = [s["id"] for s in booking["seats"]]
    taken |= set(second_pick)
    assert got == index.choose(taken, 2, zone="std") and not index.creates_orphan(taken, got)
    # Taken from the alternative in the same call: not picked again.
    assert REGISTRY.get_sample_value("evently_bookings_best_available_retries_total") == (
        retries + 1
    )
    assert live_seats(await event_seat_rows(db, EVENT))[got[0]] == booking["id"]
    # The picker's copy keeps the seats it got and frees the alternatives it did not.
    choice = await holder.picker.read(EVENT)
    assert choice is not None and choice.contended
    assert choice.seats.taken == taken | set(got)


async def test_an_alternative_whose_guard_fails_is_passed_over(
    seated_client, events_client, tokens, db, database_url
):
    # Contended, a pick of 2 on rows A and B (1-6) names first, A-1/A-2 next,
    # guarded by: A-3 must not stay free beside a taken
    # last. Another replica takes A-4 alone: the first placement is gone and the second
    # would strand A-3, so the same call passes it over and takes the third.
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=6)
    await send_event(seated_client, EVENT, **seating_of(seat_map))
    holder = seated_client.app[BOOKINGS].holder
    index = await holder.picker.index(seat_map["map_id"], seat_map["version"])
    choice = await holder.picker.read(EVENT)
    assert choice is not None
    first, _ = choice.pick(0, 2, zone="std", accessible=False, guarded=True)
    alternative, guards = choice.alternative(0, 2, zone="std", accessible=False, guarded=True)
    choice.settle([False])
    assert first == ("S1-A-3", "S1-A-4") and alternative == ("S1-A-1", "S1-A-2")
    assert guards == (("S1-A-3", "S1-A-4"),)
    choice.seats.contention = CONTENDED_BATCHES  # as after a loss
    retries = REGISTRY.get_sample_value("evently_bookings_best_available_retries_total")

    status, booking = await hold_while_another_claims(
        database_url, db, lambda: best(Buyer(seated_client, tokens, 1), 2, zone="std"),
        claim_seats(["S1-A-4"]),
    )  # fmt: skip

    assert status == 201, booking
    got = [s["id"] for s in booking["seats"]]
    assert got == index.choose({"S1-A-4"}, 2, zone="std") == ["S1-A-5", "S1-A-6"]
    assert not index.creates_orphan({"S1-A-4"}, got)
    assert REGISTRY.get_sample_value("evently_bookings_best_available_retries_total") == retries
    assert {seat for seat, _ in live_seats(await event_seat_rows(db, EVENT)).items()} == {
        "S1-A-4",
        *got,
    }


def test_contention_lasts_a_bounded_number_of_batches_after_the_last_loss():
    spec = RectangularMapSpec(
        name="Hall", sections=1, rows=4, seats_per_row=20,
        zones=[{"zone": {"id": "all", "name": "All"}, "from_row": 1, "to_row": 4}],
    )  # fmt: skip
    seats = list(resolved_seats(SeatMapDocument.model_validate(rectangular_document(spec))))
    copy = EventSeats((1, 1), SeatIndex.build(seats))
    choice = SeatChoice(copy)
    choice.pick(0, 1, zone=None, accessible=False, guarded=True)
    choice.settle([False], unavailable={0})  # lost to another replica
    assert choice.contended and copy.contention == CONTENDED_BATCHES
    for _ in range(CONTENDED_BATCHES):
        assert choice.contended
        picked, _ = choice.pick(0, 1, zone=None, accessible=False, guarded=True)
        assert picked
        choice.settle([True])  # got its first placement
    assert not choice.contended
    # A refusal for another reason (no loss) does not make it contended.
    choice.pick(0, 1, zone=None, accessible=False, guarded=True)
    choice.settle([False])
    assert not choice.contended


def test_a_copy_skips_searches_known_to_find_nothing_and_answers_as_the_index_does():
    # Taking seats never makes room, and a block of more seats holds one of fewer: once
    # no placement of q seats fits, q or more are answered without a search until a
    # seat is freed. Random takes and releases: every answer is the index's own.
    spec = RectangularMapSpec(
        name="Hall", sections=2, rows=3, seats_per_row=8,
        zones=[{"zone": {"id": "front", "name": "Front"}, "from_row": 1, "to_row": 1},
               {"zone": {"id": "rear", "name": "Rear"}, "from_row": 2, "to_row": 3}],
    )  # fmt: skip
    seats = list(resolved_seats(SeatMapDocument.model_validate(rectangular_document(spec))))
    ids = [seat.id for seat in seats]
    rng = random.Random(18)
    skipped = 0
    for _ in range(20):
        copy = EventSeats((1, 1), SeatIndex.build(seats))
        for _ in range(60):
            if rng.random() < 0.75:
                copy.take(rng.sample(ids, rng.randint(1, 4)))
            else:
                copy.release(rng.sample(sorted(copy.taken) or ids, 1))
            quantity, zone = rng.randint(1, 6), rng.choice([None, "front", "rear"])
            known = quantity >= copy.none_fits.get((zone, False), quantity + 1)
            skipped += known
            answer = copy.choose(quantity, zone, False)
            assert answer == copy.index.choose(
                copy.taken, quantity, zone=zone, free_seats=copy.free
            )
            assert not (known and answer)
    assert skipped > 50  # the shortcut was taken, and never changed an answer
