"""Grouped inbox transactions lock several rooms' rows in event id order. Before
2026-12-05 a group applied its messages in message order, so bookings' relay batch
(``inventory.changed`` for rooms 2, 3, 1) and the events service's (``event.changed``
for rooms 1, 2), delivered at the same time, could each hold a room the other waited
for: a deadlock, which PostgreSQL broke by aborting a group (then applied again one
message at a time).

The test interleaves them for real, on PostgreSQL: a third connection holds room 3, so
bookings' group stops half-way with its first room locked; the events group then starts
and waits; the holder lets go.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from evently.core.db import POOL
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings, event_changed
from tests.waiting_room.conftest import configure_room, room_settings
from tests.waiting_room.test_inbox_lock_order import LOCK_WAIT_ROUNDS


async def backends_waiting(observer: asyncpg.Connection, count: int) -> None:
    """Return once ``count`` backends wait for a lock in a waiting_room statement."""
    for _ in range(LOCK_WAIT_ROUNDS):
        waiting = await observer.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND position('waiting_room' IN query) > 0"""
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} backends waited for a lock")


async def test_two_grouped_deliveries_lock_the_rooms_in_one_order(room, caplog):
    caplog.set_level(logging.INFO, logger="evently.inbox")
    for event_id in (1, 2, 3):
        await configure_room(room, event_id)
    bookings_batch = [ScriptedBookings(event_id=e, capacity=10).inventory() for e in (2, 3, 1)]
    events_batch = [event_changed(e, version=2, waiting_room=room_settings()) for e in (1, 2)]

    pool = room.app[POOL]
    async with pool.acquire() as holder, pool.acquire() as observer:
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM waiting_room.rooms WHERE event_id = 3 FOR UPDATE")
        bookings = asyncio.ensure_future(deliver(room, bookings_batch))
        await backends_waiting(observer, 1)  # bookings' group, stopped at room 3
        events = asyncio.ensure_future(deliver(room, events_batch))
        await backends_waiting(observer, 2)  # the events group, waiting too
        await holding.rollback()
        acknowledged = [*(await bookings), *(await events)]

    assert sorted(acknowledged) == sorted(m["id"] for m in bookings_batch + events_batch)
    fallbacks = [r.getMessage() for r in caplog.records if "one at a time" in r.getMessage()]
    assert fallbacks == []  # both committed as one transaction each, not after a deadlock
    rows = await pool.fetch(
        "SELECT event_id, inventory_version, event_version FROM waiting_room.rooms ORDER BY 1"
    )
    assert [tuple(r) for r in rows] == [(1, 1, 2), (2, 1, 2), (3, 1, 1)]
