"""Publishing seat changes (docs/seating.md, "Live seat status"): every write that
changes seats notes them in ``bookings.unpublished_seats``; a publication sends exactly
the noted seats whose status changed, drains their entries, and leaves a seat that a
confirmation still has locked for the next one. The seat rows' writes after the hold's
claim (the confirmation, the publications) are in-place (HOT) updates: no index entry
per seat sold, so nothing piles up for a publication to read."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from evently.bookings.inventory import event_lock_arguments
from evently.core import migrations
from evently.core.db import init_connection
from tests.bookings.conftest import Buyer, build_rectangular_map, seating_of, send_event
from tests.bookings.test_seat_holds import hold_seats

EVENT = 1701
# No publisher run during a test: the tests publish themselves.
QUIET = {"BOOKINGS_PUBLISH_INTERVAL_S": "3600", "BOOKINGS_RECONCILE_INTERVAL_S": "3600"}


@pytest.fixture
async def quiet_client(aiohttp_client, bookings_app, events_server, events_client, tokens):
    """The bookings app with no background publication, and event 1701 on a 2 x 10 map."""
    url = str(events_server.make_url("")).rstrip("/")
    client = await aiohttp_client(bookings_app({"EVENTS_URL": url, **QUIET}))
    seat_map = await build_rectangular_map(events_client, tokens, rows=2, seats_per_row=10)
    await send_event(client, EVENT, max_per_user=10, **seating_of(seat_map))
    return client


async def held(client: Any, tokens: Any, user_id: int, seat_ids: list[str]) -> dict:
    status, booking, _ = await hold_seats(Buyer(client, tokens, user_id), seat_ids, event_id=EVENT)
    assert status == 201, booking
    return booking


async def noted(db: Any) -> list[str]:
    """The event's seats waiting for a publication, sorted (each once)."""
    rows = await db.fetch(
        "SELECT DISTINCT unnest(seat_ids) AS seat_id FROM bookings.unpublished_seats"
        " WHERE event_id = $1 ORDER BY 1",
        EVENT,
    )
    return [r["seat_id"] for r in rows]


async def publish(db: Any) -> None:
    """One publication through the publisher's entry point (under the event's lock)."""
    key_ns, key_ids = event_lock_arguments(EVENT)
    await db.execute("SELECT bookings.publish_inventory($1, $2, $3, 5000)", EVENT, key_ns, key_ids)


async def published_statuses(db: Any, seat_ids: list[str]) -> list[str]:
    rows = await db.fetch(
        "SELECT seat_id, published_status FROM bookings.event_seats"
        " WHERE event_id = $1 AND seat_id = ANY ($2) ORDER BY seat_id",
        EVENT,
        seat_ids,
    )
    return [r["published_status"] for r in rows]


async def unpublished_events(db: Any) -> list[int]:
    return [
        r["event_id"] for r in await db.fetch("SELECT bookings.unpublished_events(100) AS event_id")
    ]


async def test_a_hold_notes_its_seats_and_a_publication_sends_and_drains_them(
    quiet_client, tokens, db
):
    await held(quiet_client, tokens, 1, ["S1-A-1", "S1-A-2"])
    assert await noted(db) == ["S1-A-1", "S1-A-2"]
    assert EVENT in await unpublished_events(db)  # the reconciliation finds it

    diff = await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT)

    assert diff == {"held": ["S1-A-1", "S1-A-2"]}
    assert await noted(db) == []
    assert await published_statuses(db, ["S1-A-1", "S1-A-2"]) == ["held", "held"]
    assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {}


async def test_confirmations_and_cancellations_note_the_seats_they_change(quiet_client, tokens, db):
    first = await held(quiet_client, tokens, 1, ["S1-A-1", "S1-A-2"])
    second = await held(quiet_client, tokens, 2, ["S1-B-5"])
    await publish(db)
    assert await noted(db) == []

    assert (await Buyer(quiet_client, tokens, 1).confirm(first["id"]))[0] == 200
    assert await noted(db) == ["S1-A-1", "S1-A-2"]
    assert await published_statuses(db, ["S1-A-1", "S1-A-2"]) == ["held", "held"]
    # A cancellation frees its seats and publishes in its transaction: what the
    # confirmation noted goes with it.
    assert (await Buyer(quiet_client, tokens, 2).cancel(second["id"]))[0] == 200
    assert await noted(db) == []
    assert await published_statuses(db, ["S1-A-1", "S1-A-2", "S1-B-5"]) == ["sold", "sold", "free"]


async def test_a_seat_held_and_freed_between_two_publications_is_not_sent(quiet_client, tokens, db):
    await publish(db)
    booking = await held(quiet_client, tokens, 1, ["S1-A-3"])
    await db.execute(
        "UPDATE bookings.bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1",
        booking["id"],
    )
    async with db.transaction():
        # Freed as an expiry frees it, without publishing: noted twice, never sent.
        await db.execute("SELECT bookings.free_booking_seats($1, $2)", EVENT, [booking["id"]])
        assert await noted(db) == ["S1-A-3"]
        assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {}
    assert await noted(db) == []


async def test_a_seat_a_confirmation_has_locked_is_published_by_the_next_publication(
    quiet_client, tokens, db, database_url
):
    booking = await held(quiet_client, tokens, 1, ["S1-A-7", "S1-A-8"])
    confirming = await asyncpg.connect(database_url)
    await init_connection(confirming)
    try:
        transaction = confirming.transaction()
        await transaction.start()
        rows = await confirming.fetch(
            "SELECT outcome FROM bookings.confirm_bookings($1, $2, $3, 5000)",
            [booking["id"]], [1], ["pay-1"],
        )  # fmt: skip
        assert rows[0]["outcome"] == "confirmed"  # not committed: its seat rows are locked

        # Not waited for: the locked seats are skipped and noted again.
        assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {}
        assert await noted(db) == ["S1-A-7", "S1-A-8"]
        assert await published_statuses(db, ["S1-A-7", "S1-A-8"]) == ["free", "free"]

        await transaction.commit()
    finally:
        await confirming.close()
    assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {
        "sold": ["S1-A-7", "S1-A-8"]
    }
    assert await noted(db) == []


async def test_confirming_and_publishing_update_the_seat_rows_in_place(quiet_client, tokens, db):
    booking = await held(quiet_client, tokens, 1, ["S1-B-1", "S1-B-2", "S1-B-3"])
    hot_updates = "SELECT pg_stat_get_xact_tuples_hot_updated('bookings.event_seats'::regclass)"
    async with db.transaction():
        rows = await db.fetch(
            "SELECT outcome FROM bookings.confirm_bookings($1, $2, $3, 5000)",
            [booking["id"]], [1], ["pay-1"],
        )  # fmt: skip
        assert rows[0]["outcome"] == "confirmed"
        assert await db.fetchval(hot_updates) == 3  # status alone: no index reads it
        assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {
            "sold": ["S1-B-1", "S1-B-2", "S1-B-3"]
        }
        assert await db.fetchval(hot_updates) == 6  # published_status alone


async def test_migration_0017_notes_the_seats_the_old_index_held_unpublished(
    quiet_client, tokens, db
):
    await held(quiet_client, tokens, 1, ["S1-B-9", "S1-B-10"])
    # The database as 0016 left it: the partial index, no list, the hold unpublished.
    await db.execute(
        "DROP TABLE bookings.unpublished_seats;"
        " DELETE FROM bookings.schema_migrations WHERE version = 17;"
        " CREATE INDEX event_seats_unpublished_idx ON bookings.event_seats (event_id)"
        "  WHERE status <> published_status AND status <> 'blocked'"
    )

    applied = await migrations.migrate(db, "bookings", "bookings")

    assert [m.version for m in applied.migrations] == [17]
    assert await noted(db) == ["S1-B-10", "S1-B-9"]
    assert await db.fetchval("SELECT to_regclass('bookings.event_seats_unpublished_idx')") is None
    assert await db.fetchval("SELECT bookings.publish_seat_changes($1)", EVENT) == {
        "held": ["S1-B-10", "S1-B-9"]
    }
