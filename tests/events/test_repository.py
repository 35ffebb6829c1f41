"""The repository as the Kubernetes operator uses it: plain calls on a connection."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from evently.events import queries, repository
from evently.events.errors import (
    CapacityBelowReserved,
    CapacityCheckUnavailable,
    EventManagedByKubernetes,
    EventNotFound,
    EventNotOwned,
    ManagedByTaken,
    VersionMismatch,
)
from evently.events.models import EventInput, ReservedSeats
from tests.events.conftest import NOW, event_body

OWNER = "kubernetes:shows/opera"


def spec(**overrides) -> EventInput:
    return EventInput.model_validate(event_body(**overrides))


async def outbox_count(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM events.outbox")


@pytest.fixture
async def plain_conn(database_url):
    """A connection with no Evently codecs, as the operator might open it."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def test_the_operator_creates_finds_updates_and_cancels_its_event(plain_conn):
    conn = plain_conn
    created = await repository.create_event(conn, spec(), managed_by=OWNER)
    assert created.managed_by == OWNER and created.version == 1
    assert created.venue.name == "Grand Hall" and created.seating is None
    found = await repository.find_event_by_managed_by(conn, OWNER)
    assert found == created
    updated = await repository.update_event(
        conn, created.id, spec(name="Encore"), actor_managed_by=OWNER
    )
    assert updated.name == "Encore" and updated.version == 2
    cancelled = await repository.cancel_event(conn, created.id, actor_managed_by=OWNER)
    assert cancelled.status == "cancelled" and cancelled.version == 3
    versions = await conn.fetch("SELECT version, payload::text FROM events.outbox ORDER BY id")
    assert [r["version"] for r in versions] == [1, 2, 3]
    assert await outbox_count(conn) == 3


async def test_find_by_managed_by_is_none_for_unknown_resources(db):
    assert await repository.find_event_by_managed_by(db, "kubernetes:x/y") is None
    assert await repository.get_event(db, 123) is None


async def test_one_resource_owns_at_most_one_event(db):
    await repository.create_event(db, spec(), managed_by=OWNER)
    with pytest.raises(ManagedByTaken):
        await repository.create_event(db, spec(name="Twin"), managed_by=OWNER)
    assert await db.fetchval("SELECT count(*) FROM events.events") == 1
    assert await outbox_count(db) == 1


async def test_only_the_owning_resource_may_change_an_owned_event(db):
    event = await repository.create_event(db, spec(), managed_by=OWNER)
    with pytest.raises(EventManagedByKubernetes):
        await repository.update_event(db, event.id, spec(name="X"))
    with pytest.raises(EventManagedByKubernetes):
        await repository.update_event(
            db, event.id, spec(name="X"), actor_managed_by="kubernetes:shows/other"
        )
    with pytest.raises(EventManagedByKubernetes):
        await repository.cancel_event(db, event.id)
    plain = await repository.create_event(db, spec(name="Plain"))
    with pytest.raises(EventNotOwned):
        await repository.update_event(db, plain.id, spec(), actor_managed_by=OWNER)
    assert await outbox_count(db) == 2


async def test_retiring_cancels_and_releases_so_the_name_can_own_a_new_event(db):
    event = await repository.create_event(db, spec(), managed_by=OWNER)
    with pytest.raises(EventManagedByKubernetes):
        await repository.retire_event(db, event.id, actor_managed_by="kubernetes:shows/other")
    retired = await repository.retire_event(db, event.id, actor_managed_by=OWNER)
    assert (retired.status, retired.version, retired.managed_by) == ("cancelled", 2, None)
    payload = await db.fetchval("SELECT payload FROM events.outbox ORDER BY id DESC LIMIT 1")
    assert (payload["status"], payload["managed_by"], payload["version"]) == ("cancelled", None, 2)
    assert await repository.find_event_by_managed_by(db, OWNER) is None
    fresh = await repository.create_event(db, spec(), managed_by=OWNER)
    assert fresh.id != event.id and fresh.status == "published"
    await db.execute("UPDATE events.events SET status = 'completed' WHERE id = $1", fresh.id)
    done = await repository.retire_event(db, fresh.id, actor_managed_by=OWNER)
    assert (done.status, done.managed_by) == ("completed", None)  # it happened; not cancelled
    with pytest.raises(EventNotOwned):
        await repository.retire_event(db, event.id, actor_managed_by=OWNER)


async def test_the_same_spec_again_bumps_nothing_and_announces_nothing(db):
    event = await repository.create_event(db, spec(), managed_by=OWNER)
    again = await repository.update_event(db, event.id, spec(), actor_managed_by=OWNER)
    assert again == event
    assert await outbox_count(db) == 1


async def test_a_row_edited_behind_the_operators_back_is_restored_with_a_new_version(db):
    event = await repository.create_event(db, spec(), managed_by=OWNER)
    await db.execute("UPDATE events.events SET name = 'tampered', capacity = 7")
    restored = await repository.update_event(db, event.id, spec(), actor_managed_by=OWNER)
    assert restored.name == event.name and restored.capacity == 100
    assert restored.version == 2
    assert await outbox_count(db) == 2


async def test_lowering_capacity_needs_bookings_figures(db):
    event = await repository.create_event(db, spec(capacity=100))
    with pytest.raises(CapacityCheckUnavailable):
        await repository.update_event(db, event.id, spec(capacity=50))

    async def ten_sold_five_held(event_id: int) -> ReservedSeats:
        assert event_id == event.id
        return ReservedSeats(sold=10, held=5)

    with pytest.raises(CapacityBelowReserved) as refused:
        await repository.update_event(
            db, event.id, spec(capacity=14), reserved_seats=ten_sold_five_held
        )
    assert refused.value.extra == {
        "requested": 14, "sold": 10, "held": 5, "minimum_capacity": 15,
    }  # fmt: skip
    lowered = await repository.update_event(
        db, event.id, spec(capacity=15), reserved_seats=ten_sold_five_held
    )
    assert lowered.capacity == 15
    assert await outbox_count(db) == 2


async def test_concurrent_updates_at_the_same_version_one_wins(database_url, db):
    event = await repository.create_event(db, spec())
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(
                repository.update_event(c, event.id, spec(name=f"by-{i}"), expected_version=1)
                for i, c in enumerate(conns)
            ),
            return_exceptions=True,
        )
    finally:
        for c in conns:
            await c.close()
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and winners[0].version == 2
    assert len(losers) == 1 and isinstance(losers[0], VersionMismatch)
    assert await outbox_count(db) == 2


async def test_a_change_and_its_outbox_rows_commit_together(db):
    """If the outbox write fails, the event change is rolled back with it."""
    event = await repository.create_event(db, spec())
    await db.execute("ALTER TABLE events.outbox ADD CONSTRAINT no_more CHECK (version < 2)")
    with pytest.raises(asyncpg.CheckViolationError):
        await repository.update_event(db, event.id, spec(name="lost"))
    assert await db.fetchval("SELECT name FROM events.events") == event.name
    assert await db.fetchval("SELECT version FROM events.events") == 1


async def test_the_venue_upsert_returns_an_unchanged_venues_id_in_one_statement(db):
    args = ("Grand Hall", "1 Main St", "Springfield", 500)
    first = await db.fetchrow(queries.UPSERT_VENUE, *args)
    again = await db.fetchrow(queries.UPSERT_VENUE, *args)
    assert again is not None and (again["id"], again["updated"]) == (first["id"], False)
    assert await db.fetchval("SELECT version FROM events.venues") == 1
    moved = await db.fetchrow(queries.UPSERT_VENUE, "Grand Hall", "2 Side St", *args[2:])
    assert (moved["id"], moved["updated"]) == (first["id"], True)
    assert await db.fetchval("SELECT count(*) FROM events.venues") == 1


async def test_a_change_inside_the_callers_transaction_rolls_back_with_it(db):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await repository.create_event(db, spec())
            raise RuntimeError("caller changed its mind")
    assert await db.fetchval("SELECT count(*) FROM events.events") == 0
    assert await outbox_count(db) == 0


async def test_unknown_events_are_refused(db):
    with pytest.raises(EventNotFound):
        await repository.update_event(db, 77, spec())
    with pytest.raises(EventNotFound):
        await repository.cancel_event(db, 77)


BROKEN_INVARIANTS = [
    ("ends_at", "starts_at - interval '1 hour'"),
    ("capacity", "0"),
    ("price", "-0.01"),
    ("currency", "'eur'"),
    ("status", "'gone'"),
    ("sale_closes_at", "ends_at + interval '1 minute'"),
    ("sale_opens_at", "sale_closes_at + interval '1 minute'"),
    ("max_per_user", "capacity + 1"),
    ("managed_by", "'someone'"),
]


async def test_database_constraints_hold_the_invariants(db, subtests):
    """The last line of defence, below the request validation."""
    await repository.create_event(db, spec())
    for column, value in BROKEN_INVARIANTS:
        with (
            subtests.test(column=column, value=value),
            pytest.raises(asyncpg.CheckViolationError),
        ):
            await db.execute(f"UPDATE events.events SET {column} = {value}")


async def test_payload_times_are_iso_8601_utc_and_sale_bounds_may_be_open(db):
    event = await repository.create_event(db, spec(sale_opens_at=None, sale_closes_at=None))
    payload = await db.fetchval("SELECT payload FROM events.outbox")
    assert payload["sale_opens_at"] is None and payload["sale_closes_at"] is None
    assert payload["starts_at"] == (NOW + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert payload["created_by"] is None and payload["id"] == event.id
