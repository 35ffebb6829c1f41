"""A bookings database that the code before repeatable SQL migrated, with data that
code wrote, upgrades cleanly: stored idempotent responses replay, its bookings
confirm, and the messages it left in the outbox are still delivered, per contract."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from evently.bookings import idempotency
from evently.bookings.inventory import event_lock, event_lock_arguments
from evently.core import migrations
from evently.core.auth import AUTHENTICATOR
from evently.core.contracts import TOPICS
from evently.core.db import init_connection
from evently.core.locks import LockRequest
from evently.services import all_services
from tests.bookings.conftest import FAST_ENV, Buyer, OutboxTap, event_payload
from tests.support.postgres import migrate_as_before_repeatable_sql

OLD_APPLY_EVENT = "SELECT * FROM bookings.apply_event_changed($1::jsonb, $2, $3, $4, $5)"
OLD_HOLD = """SELECT outcome, body FROM bookings.hold_seats(
    $1, $2, $3, $4, $5, 86400, $6, $7, $8, $9, 5000)"""


@pytest.fixture
async def old_database(databases, tmp_path):
    dsn = await databases.create(migrated=False)
    await migrate_as_before_repeatable_sql(dsn, tmp_path)
    yield dsn
    await databases.drop(dsn)


async def write_as_the_old_code(dsn: str) -> str:
    """Event 1 on sale and user 7's hold of 2 seats (key ``old-key``), through the old
    functions; returns the hold's response body as the old code answered it."""
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    try:
        key_ns, key_ids = event_lock_arguments(1)
        await conn.fetchrow(OLD_APPLY_EVENT, event_payload(1), 1, key_ns, key_ids, 5000)
        locks = LockRequest.of([event_lock(1)], [idempotency.in_flight_probe(7, "old-key")])
        row = await conn.fetchrow(
            OLD_HOLD,
            1,
            [7],
            [2],
            ["old-key"],
            [idempotency.request_hash({"event_id": 1, "quantity": 2})],
            *locks.arguments(),
        )
        assert row["outcome"] == "held"
        return row["body"]
    finally:
        await conn.close()


def same_booking(answer: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal field by field; times compared as instants (renderings may differ in form)."""
    if set(answer) != set(old):
        return False
    for name, value in old.items():
        if name.endswith("_at") and value is not None:
            if datetime.fromisoformat(answer[name]) != datetime.fromisoformat(value):
                return False
        elif answer[name] != value:
            return False
    return True


async def test_an_old_database_with_old_data_upgrades_and_keeps_working(
    old_database, aiohttp_client, make_app, tokens
):
    old_body = json.loads(await write_as_the_old_code(old_database))
    applied = await migrations.migrate_dsn(
        old_database, [(s.name, s.schema) for s in all_services()]
    )
    # Every migration after the old code's two, in order (later releases add more).
    # (Numbers may have gaps while parallel branches reserve theirs.)
    versions = [m.version for m in applied["bookings"].migrations]
    shipped = [m.version for m in migrations.discover("bookings")]
    assert versions == [v for v in shipped if v >= 3] and versions
    assert applied["bookings"].sql_files

    app = make_app("bookings", env={**FAST_ENV, "DATABASE_URL": old_database})
    app[AUTHENTICATOR] = tokens.authenticator()
    buyer = Buyer(await aiohttp_client(app), tokens, 7)

    # The stored response (rendered by the old SQL) replays as it was answered.
    status, replayed = await buyer.hold(1, 2, key="old-key")
    assert status == 201
    # ... with the fields added since (seats: none, general admission).
    assert same_booking(replayed, {**old_body, "seats": []}), (replayed, old_body)
    # The old booking confirms; new holds work.
    status, confirmed = await buyer.confirm(old_body["id"])
    assert (status, confirmed["status"]) == (200, "confirmed")
    # The old booking gets its tickets (the table of migration 0006), one per seat.
    status, tickets = await buyer.get(f"/api/v1/bookings/{old_body['id']}/tickets")
    assert status == 200 and [t["seat"] for t in tickets["tickets"]] == [1, 2]
    assert (await buyer.hold(1, 1))[0] == 201

    # Messages the old code wrote (one row per consumer, rendered in SQL) and the new
    # ones (one row, routed by the relay) all reach their consumers, per contract.
    received = await OutboxTap(old_database).drain()
    transitions = [
        m.payload["transition"] for m in received["analytics"] if m.topic == "booking.changed"
    ]
    assert transitions == ["held", "confirmed", "held"]
    for name, messages in received.items():
        assert all(m.payload["schema_version"] == 1 for m in messages)
        if name in TOPICS["inventory.changed"].consumers:
            assert any(m.topic == "inventory.changed" for m in messages), name
    # A consumer added since (notifications) gets what was written after the upgrade.
    assert [
        m.payload["transition"] for m in received["notifications"] if m.topic == "booking.changed"
    ] == ["confirmed", "held"]
    held = next(m for m in received["analytics"] if m.topic == "booking.changed")
    assert same_booking(held.payload["booking"], {**old_body, "seats": []})
    conn = await asyncpg.connect(old_database)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM bookings.outbox WHERE delivered_at IS NULL")
            == 0
        )
    finally:
        await conn.close()
