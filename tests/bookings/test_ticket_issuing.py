"""When tickets are issued (docs/tickets.md): deferred until confirmations pause or the
oldest waiting booking is old enough, in batches, and never lost: the queue is issued at
shutdown and whatever a crash left is issued at the next start-up."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evently.bookings import ticket_codes
from evently.bookings.context import BOOKINGS
from evently.bookings.ticket_issuer import IssuePolicy, TicketIssuer, WaitingBooking
from tests.bookings.conftest import Buyer, eventually, send_event

EVENT = 1
NEVER = {"TICKET_ISSUE_QUIET_S": "3600", "TICKET_ISSUE_MAX_DELAY_S": "3600"}


async def sold(client: TestClient, buyer: Buyer, quantity: int) -> dict[str, Any]:
    status, booking = await buyer.hold(EVENT, quantity)
    assert status == 201, booking
    status, confirmed = await buyer.confirm(booking["id"])
    assert status == 200, confirmed
    return confirmed


async def tickets_of(db, booking_id: int) -> list[Any]:
    return await db.fetch(
        "SELECT seat, code, status FROM bookings.tickets WHERE booking_id = $1 ORDER BY seat",
        booking_id,
    )


@pytest.fixture
async def patient(aiohttp_client, bookings_app) -> TestClient:
    """A bookings app whose issuer would wait an hour: nothing is due during a test."""
    client = await aiohttp_client(bookings_app(NEVER))
    await send_event(client, EVENT)
    return client


async def test_confirmations_queue_their_tickets_until_due_and_a_flush_issues_them(
    patient, tokens, db
):
    issuer = patient.app[BOOKINGS].tickets
    bookings = [await sold(patient, Buyer(patient, tokens, 10 + i), 2) for i in range(3)]
    assert issuer.waiting == 3
    assert await db.fetchval("SELECT count(*) FROM bookings.tickets") == 0

    assert await issuer.flush() == 6
    assert issuer.waiting == 0
    for booking in bookings:
        rows = await tickets_of(db, booking["id"])
        assert [r["seat"] for r in rows] == [1, 2]
        assert all(r["status"] == "valid" for r in rows)
        claims = ticket_codes.verify(
            rows[0]["code"], ticket_codes.public_keys_from_jwks(issuer.keys.jwks())
        )
        assert (claims.booking_id, claims.event_id) == (booking["id"], EVENT)


async def test_reading_a_booking_issues_its_tickets_before_the_queue_does(patient, tokens, db):
    buyer = Buyer(patient, tokens, 10)
    booking = await sold(patient, buyer, 3)
    status, body = await buyer.get(f"/api/v1/bookings/{booking['id']}/tickets")
    assert status == 200
    assert [t["seat"] for t in body["tickets"]] == [1, 2, 3]
    # The queued issuance that follows changes nothing: one ticket per seat, same codes.
    assert await patient.app[BOOKINGS].tickets.flush() == 0
    assert [r["code"] for r in await tickets_of(db, booking["id"])] == [
        t["code"] for t in body["tickets"]
    ]


async def test_shutdown_issues_the_queue(aiohttp_client, bookings_app, tokens, db):
    client = await aiohttp_client(bookings_app(NEVER))
    await send_event(client, EVENT)
    booking = await sold(client, Buyer(client, tokens, 10), 2)
    assert await tickets_of(db, booking["id"]) == []
    await client.close()
    assert len(await tickets_of(db, booking["id"])) == 2


async def test_start_up_issues_what_a_crash_left_unissued(aiohttp_client, bookings_app, tokens, db):
    first = await aiohttp_client(bookings_app(NEVER))
    await send_event(first, EVENT)
    booking = await sold(first, Buyer(first, tokens, 10), 2)
    first.app[BOOKINGS].tickets._waiting.clear()  # the queue dies with the process
    await first.close()
    assert await tickets_of(db, booking["id"]) == []

    await aiohttp_client(bookings_app(NEVER))
    await eventually(lambda: _has(db, booking["id"], 2))


@pytest.mark.parametrize(
    ("quiet_s", "max_delay_s"),
    [("0.05", "3600"), ("3600", "0.2")],
    ids=["once-confirmations-pause", "once-the-oldest-is-old-enough"],
)
async def test_the_queue_is_issued_when_due(
    aiohttp_client, bookings_app, tokens, db, quiet_s, max_delay_s
):
    env = {"TICKET_ISSUE_QUIET_S": quiet_s, "TICKET_ISSUE_MAX_DELAY_S": max_delay_s}
    client = await aiohttp_client(bookings_app(env))
    await send_event(client, EVENT)
    booking = await sold(client, Buyer(client, tokens, 10), 2)
    await eventually(lambda: _has(db, booking["id"], 2))
    assert client.app[BOOKINGS].tickets.waiting == 0


async def test_a_batch_issues_nothing_for_cancelled_bookings_and_keeps_existing_tickets(
    patient, tokens, db
):
    issuer: TicketIssuer = patient.app[BOOKINGS].tickets
    kept = await sold(patient, Buyer(patient, tokens, 10), 1)
    cancelled = await sold(patient, Buyer(patient, tokens, 11), 2)
    status, _ = await Buyer(patient, tokens, 11).cancel(cancelled["id"])
    assert status == 200
    issued_before = await issuer.issue_batch([WaitingBooking(kept["id"], EVENT, 1)])
    assert issued_before == 1

    batch = [
        WaitingBooking(kept["id"], EVENT, 1),
        WaitingBooking(cancelled["id"], EVENT, 2),
        WaitingBooking(kept["id"] + 10_000, EVENT, 1),  # no such booking
    ]
    assert await issuer.issue_batch(batch) == 0
    assert await tickets_of(db, cancelled["id"]) == []
    assert len(await tickets_of(db, kept["id"])) == 1


async def test_a_failed_batch_goes_back_to_the_queue(patient, tokens, db):
    issuer: TicketIssuer = patient.app[BOOKINGS].tickets
    booking = await sold(patient, Buyer(patient, tokens, 10), 2)
    broken = TicketIssuer(issuer.pool, issuer.keys, IssuePolicy(batch_size=1))
    broken._waiting = dict(issuer._waiting)
    issuer._waiting.clear()  # the app's own issuer stays out of it, at shutdown too
    await db.execute("ALTER FUNCTION bookings.issue_ticket_batch RENAME TO issue_ticket_batch_gone")
    try:
        with pytest.raises(Exception, match="issue_ticket_batch"):
            await broken.flush()
        assert broken.waiting == 1
    finally:
        await db.execute(
            "ALTER FUNCTION bookings.issue_ticket_batch_gone RENAME TO issue_ticket_batch"
        )
    assert await broken.flush() == 2
    assert len(await tickets_of(db, booking["id"])) == 2


async def _has(db, booking_id: int, count: int) -> bool:
    return len(await tickets_of(db, booking_id)) == count


async def test_an_events_missing_tickets_can_be_issued_at_once(patient, tokens, db):
    issuer: TicketIssuer = patient.app[BOOKINGS].tickets
    bookings = [await sold(patient, Buyer(patient, tokens, 10 + i), 2) for i in range(3)]
    await issuer.issue_batch([WaitingBooking(bookings[0]["id"], EVENT, 2)])

    assert await issuer.issue_missing_for_event(EVENT) == 4
    assert await issuer.issue_missing_for_event(EVENT + 1) == 0
    for booking in bookings:
        assert len(await tickets_of(db, booking["id"])) == 2
    assert await issuer.flush() == 0  # the queue finds them issued
