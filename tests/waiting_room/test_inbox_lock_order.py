"""The room's inbox and its ticker take their row locks in one order: tickets, then the
room. Before 2026-12-04 a grouped inbox transaction (``core/inbox.py``,
``per_transaction``) applied a relay batch in message order, so an ``inventory.changed``
ahead of a ``booking.changed`` locked the room row, then the visitor's ticket, while a
tick ends sessions (locking tickets) and saves itself on the room row last: two
transactions each waiting for the other, which PostgreSQL broke after its deadlock
timeout by aborting one (the inbox group, then applied again one message at a time).

The test interleaves the two for real, on PostgreSQL, step by step: a third connection
holds the next waiting visitor's ticket, so the tick stops inside its transaction with
the expired session's ticket locked; the inbox batch then starts; the holder lets go.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from evently.core.db import POOL
from tests.analytics.conftest import deliver
from tests.analytics.contract import ScriptedBookings
from tests.waiting_room.conftest import configure_room, join, tick, utc

T0 = utc(2030, 1, 1, 12, 0, 0)
TTL_S = 30

# Bounds a wait on a backend reaching a lock; never a speed assertion.
LOCK_WAIT_ROUNDS = 500


async def waiting_on_lock(observer: asyncpg.Connection, statement: str) -> None:
    """Return once a backend running ``statement`` (a fragment) waits for a lock."""
    for _ in range(LOCK_WAIT_ROUNDS):
        waiting = await observer.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND position($1 IN query) > 0""",
            statement,
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no backend waited for a lock in {statement!r}")


async def test_an_inbox_batch_and_a_tick_on_the_same_tickets_do_not_deadlock(room, tokens, caplog):
    caplog.set_level(logging.INFO, logger="evently.inbox")
    await configure_room(
        room, 1, admission_rate_per_minute=60, max_active_shoppers=1, session_ttl_s=TTL_S
    )
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    await join(room, tokens, 1, 2)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 1  # visitor 1
    # What bookings' relay sends next, in one batch: the event's seats, then visitor 1's
    # hold (ahead of their session's end, which the tick below records).
    bookings = ScriptedBookings(event_id=1, capacity=10)
    _, held = bookings.hold(2, user_id=1, at=T0 + timedelta(seconds=2))
    booking_changed, inventory_changed = held
    batch = [inventory_changed, booking_changed]

    pool = room.app[POOL]
    async with pool.acquire() as holder, pool.acquire() as observer:
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            "SELECT 1 FROM waiting_room.tickets WHERE event_id = 1 AND user_id = 2 FOR UPDATE"
        )
        # The tick ends visitor 1's session (their ticket locked), then stops admitting
        # visitor 2, whose ticket the holder has.
        ticking = asyncio.ensure_future(tick(room, 1, T0 + timedelta(seconds=1 + TTL_S)))
        await waiting_on_lock(observer, "ORDER BY position LIMIT")
        # The batch reaches visitor 1's ticket, which the tick holds.
        delivering = asyncio.ensure_future(deliver(room, batch))
        await waiting_on_lock(observer, "record_booking_changes")
        await holding.rollback()
        result = await ticking
        acknowledged = await delivering

    assert (result.failed, result.expired, result.admitted) == (False, 1, 1)
    assert acknowledged == [m["id"] for m in batch]
    fallbacks = [r.getMessage() for r in caplog.records if "one at a time" in r.getMessage()]
    assert fallbacks == []  # the batch committed as one transaction, not after a deadlock
    row = await pool.fetchrow(
        "SELECT available, inventory_version FROM waiting_room.rooms WHERE event_id = 1"
    )
    assert (row["available"], row["inventory_version"]) == (8, 1)


async def test_an_inbox_batch_and_a_tick_lock_several_tickets_in_one_order(room, tokens, caplog):
    """Tickets among themselves: a batch locked them in message order, a tick's session
    ends in the order it found them; both now lock them by ticket id."""
    caplog.set_level(logging.INFO, logger="evently.inbox")
    await configure_room(
        room, 1, admission_rate_per_minute=120, max_active_shoppers=10, session_ttl_s=TTL_S
    )
    await tick(room, 1, T0)
    await join(room, tokens, 1, 1)
    await join(room, tokens, 1, 2)
    assert (await tick(room, 1, T0 + timedelta(seconds=1))).admitted == 2  # visitors 1, 2
    await join(room, tokens, 1, 3)
    assert (await tick(room, 1, T0 + timedelta(seconds=2))).admitted == 1  # visitor 3
    # Visitors 2, 3 and 1 held, in that order; at T0+1+TTL the sessions of 1 and 2 end.
    bookings = ScriptedBookings(event_id=1, capacity=10)
    batch = [
        bookings.hold(1, user_id=user, at=T0 + timedelta(seconds=3))[1][0] for user in (2, 3, 1)
    ]

    pool = room.app[POOL]
    async with pool.acquire() as holder, pool.acquire() as observer:
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            "SELECT 1 FROM waiting_room.tickets WHERE event_id = 1 AND user_id = 3 FOR UPDATE"
        )
        # The batch takes what it can before visitor 3's ticket, which the holder has.
        delivering = asyncio.ensure_future(deliver(room, batch))
        await waiting_on_lock(observer, "record_booking_changes")
        # The tick ends the sessions of visitors 1 and 2.
        ticking = asyncio.ensure_future(tick(room, 1, T0 + timedelta(seconds=1 + TTL_S)))
        await waiting_on_lock(observer, "status = 'admitted' AND")
        await holding.rollback()
        result = await ticking
        acknowledged = await delivering

    assert (result.failed, result.expired) == (False, 2)
    assert acknowledged == [m["id"] for m in batch]
    fallbacks = [r.getMessage() for r in caplog.records if "one at a time" in r.getMessage()]
    assert fallbacks == []  # the batch committed as one transaction, not after a deadlock
