"""The waitlist: joining rules, offers that hold seats, expiry passing on, strict FIFO."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.bookings.conftest import Buyer, eventually, iso, seat_counts, send_event


async def sold_out_event(client, buyer, capacity: int = 2, **changes) -> list[dict]:
    """An event whose seats are all held, one seat per holder (users 100, 101, ...)."""
    await send_event(client, 1, capacity=capacity, **changes)
    holds = []
    for i in range(capacity):
        status, booking = await buyer(100 + i).hold(1, 1)
        assert status == 201, booking
        holds.append(booking)
    return holds


async def entry_of(buyer) -> dict:
    status, entry = await buyer.get("/api/v1/events/1/waitlist/me")
    assert status == 200, entry
    return entry


async def test_join_is_refused_while_seats_are_available(client, buyer):
    await send_event(client, 1, capacity=5)
    status, problem = await buyer(1).post("/api/v1/events/1/waitlist", {"quantity": 1})
    assert (status, problem["code"]) == (409, "waitlist_not_needed")
    assert problem["available"] == 5


async def test_join_when_sold_out_gives_a_position_once_per_user(client, buyer):
    await sold_out_event(client, buyer)
    alice, bob = buyer(1), buyer(2)
    status, entry = await alice.post("/api/v1/events/1/waitlist", {"quantity": 1})
    assert status == 201, entry
    assert (entry["status"], entry["position"]) == ("waiting", 1)
    assert (await bob.post("/api/v1/events/1/waitlist", {"quantity": 2}))[1]["position"] == 2
    status, problem = await alice.post("/api/v1/events/1/waitlist", {"quantity": 1})
    assert (status, problem["code"]) == (409, "already_waitlisted")
    assert (await entry_of(bob))["position"] == 2
    status, left = await alice.delete("/api/v1/events/1/waitlist/me")
    assert (status, left["status"]) == (200, "left")
    assert (await entry_of(bob))["position"] == 1
    status, problem = await alice.delete("/api/v1/events/1/waitlist/me")
    assert (status, problem["code"]) == (404, "not_waitlisted")


async def test_join_before_the_sale_opens_is_allowed(client, buyer):
    opens = iso(datetime.now(UTC) + timedelta(hours=2))
    await send_event(client, 1, capacity=5, sale_opens_at=opens)
    status, entry = await buyer(1).post("/api/v1/events/1/waitlist", {"quantity": 2})
    assert (status, entry["status"]) == (201, "waiting")


async def test_join_refusals(client, buyer):
    await sold_out_event(client, buyer, capacity=1, max_per_user=2)
    status, problem = await buyer(1).post("/api/v1/events/1/waitlist", {"quantity": 3})
    assert (status, problem["code"]) == (422, "quantity_out_of_range")
    await send_event(client, 2, capacity=0, waitlist_enabled=False)
    status, problem = await buyer(1).post("/api/v1/events/2/waitlist", {"quantity": 1})
    assert (status, problem["code"]) == (409, "waitlist_disabled")
    status, problem = await buyer(1).post("/api/v1/events/99/waitlist", {"quantity": 1})
    assert (status, problem["code"]) == (404, "event_not_found")


async def test_expired_hold_releases_seats_and_an_offer_follows(client, buyer, db):
    await send_event(client, 1, capacity=1, hold_ttl_seconds=1)
    holder, waiter = buyer(1), buyer(2)
    hold = (await holder.hold(1, 1))[1]
    assert (await waiter.post("/api/v1/events/1/waitlist", {"quantity": 1}))[0] == 201

    async def offered() -> bool:
        return (await entry_of(waiter))["status"] == "offered"

    await eventually(offered)
    assert (await holder.get(f"/api/v1/bookings/{hold['id']}"))[1]["status"] == "expired"
    entry = await entry_of(waiter)
    status, offer = await waiter.get(f"/api/v1/bookings/{entry['booking_id']}")
    assert (status, offer["status"], offer["waitlist_entry_id"]) == (200, "held", entry["id"])
    assert offer["hold_expires_at"] == entry["offer_expires_at"]
    # The offered seat is held: the general public cannot take it.
    status, problem = await buyer(3).hold(1, 1)
    assert (status, problem["code"]) == (409, "sold_out")
    # The offered user confirms through the normal confirm endpoint.
    status, confirmed = await waiter.confirm(offer["id"])
    assert (status, confirmed["status"]) == (200, "confirmed")
    assert (await entry_of(waiter))["status"] == "converted"
    counts = await seat_counts(db, 1)
    assert (counts["reserved"], counts["sold"]) == (1, 1)


async def test_unaccepted_offer_expires_and_passes_to_the_next_in_line(client, buyer, db):
    holds = await sold_out_event(client, buyer, capacity=1, waitlist_offer_ttl_seconds=1)
    first, second = buyer(1), buyer(2)
    assert (await first.post("/api/v1/events/1/waitlist", {"quantity": 1}))[0] == 201
    assert (await second.post("/api/v1/events/1/waitlist", {"quantity": 1}))[0] == 201
    assert (await buyer(100).cancel(holds[0]["id"]))[0] == 200
    assert (await entry_of(first))["status"] == "offered"
    assert (await entry_of(second))["status"] == "waiting"

    async def passed_on() -> bool:
        return (await entry_of(second))["status"] == "offered"

    await eventually(passed_on)
    first_entry = await entry_of(first)
    assert first_entry["status"] == "expired"
    status, problem = await first.confirm(first_entry["booking_id"])
    assert (status, problem["code"]) == (409, "hold_expired")
    transitions = await db.fetch(
        """SELECT payload->>'transition' AS t FROM bookings.outbox
           WHERE topic = 'waitlist.changed' AND key = $1 ORDER BY id""",
        str(first_entry["id"]),
    )
    assert [r["t"] for r in transitions] == ["joined", "offered", "offer_expired"]


async def test_declining_an_offer_by_leaving_passes_it_on(client, buyer, db):
    holds = await sold_out_event(client, buyer, capacity=1)
    first, second = buyer(1), buyer(2)
    await first.post("/api/v1/events/1/waitlist", {"quantity": 1})
    await second.post("/api/v1/events/1/waitlist", {"quantity": 1})
    await buyer(100).cancel(holds[0]["id"])
    offer_id = (await entry_of(first))["booking_id"]
    assert (await first.delete("/api/v1/events/1/waitlist/me"))[1]["status"] == "left"
    assert (await first.get(f"/api/v1/bookings/{offer_id}"))[1]["status"] == "cancelled"
    assert (await entry_of(second))["status"] == "offered"
    assert (await seat_counts(db, 1))["reserved"] == 1


async def test_fifo_order_holds_under_concurrent_joins(client, buyer, db):
    holds = await sold_out_event(client, buyer, capacity=6)
    users = [buyer(500 + i) for i in range(30)]
    results = await asyncio.gather(
        *(u.post("/api/v1/events/1/waitlist", {"quantity": 1}) for u in users)
    )
    assert all(status == 201 for status, _ in results)
    positions = sorted(entry["position"] for _, entry in results)
    assert positions == list(range(1, 31)), "every joiner got a distinct place"
    line = [
        r["user_id"]
        for r in await db.fetch(
            "SELECT user_id FROM bookings.waitlist_entries WHERE event_id = 1 ORDER BY id"
        )
    ]
    # Seats come back one at a time, concurrently: each goes to the next in line.
    await asyncio.gather(*(buyer(100 + i).cancel(h["id"]) for i, h in enumerate(holds)))
    offered = [
        r["user_id"]
        for r in await db.fetch(
            """SELECT user_id FROM bookings.waitlist_entries
               WHERE event_id = 1 AND status = 'offered' ORDER BY id"""
        )
    ]
    assert offered == line[:6]
    # Nobody got two offers.
    assert (
        await db.fetchval(
            """SELECT count(*) FROM (SELECT waitlist_entry_id FROM bookings.bookings
               WHERE waitlist_entry_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d"""
        )
        == 0
    )
    assert (await seat_counts(db, 1))["reserved"] == 6


async def test_head_of_line_is_offered_what_comes_back(client, buyer):
    holds = await sold_out_event(client, buyer, capacity=2)
    big, small = buyer(1), buyer(2)
    await big.post("/api/v1/events/1/waitlist", {"quantity": 2})
    await small.post("/api/v1/events/1/waitlist", {"quantity": 1})
    await buyer(100).cancel(holds[0]["id"])
    entry = await entry_of(big)
    assert entry["status"] == "offered"
    offer = (await big.get(f"/api/v1/bookings/{entry['booking_id']}"))[1]
    assert offer["quantity"] == 1
    assert (await entry_of(small))["status"] == "waiting"


async def test_capacity_increase_offers_the_new_seats_to_the_line(client, buyer):
    await sold_out_event(client, buyer, capacity=1)
    await buyer(1).post("/api/v1/events/1/waitlist", {"quantity": 1})
    await send_event(client, 1, version=2, capacity=2)
    assert (await entry_of(buyer(1)))["status"] == "offered"


async def test_promotion_is_safe_across_replicas(aiohttp_client, bookings_app, tokens, db):
    replicas = [await aiohttp_client(bookings_app()) for _ in range(2)]
    await send_event(replicas[0], 1, capacity=8)
    holds = []
    for i in range(8):
        status, booking = await Buyer(replicas[i % 2], tokens, 100 + i).hold(1, 1)
        assert status == 201
        holds.append(booking)
    for i in range(8):
        joiner = Buyer(replicas[i % 2], tokens, 500 + i)
        assert (await joiner.post("/api/v1/events/1/waitlist", {"quantity": 1}))[0] == 201
    # Every seat comes back at once, through both replicas.
    await asyncio.gather(
        *(Buyer(replicas[i % 2], tokens, 100 + i).cancel(h["id"]) for i, h in enumerate(holds))
    )
    rows = await db.fetch(
        """SELECT e.user_id, count(b.id) AS offers FROM bookings.waitlist_entries e
           LEFT JOIN bookings.bookings b ON b.waitlist_entry_id = e.id
           WHERE e.event_id = 1 GROUP BY e.id, e.user_id ORDER BY e.id"""
    )
    assert [(r["user_id"], r["offers"]) for r in rows] == [(500 + i, 1) for i in range(8)]
    assert (await seat_counts(db, 1))["reserved"] == 8
