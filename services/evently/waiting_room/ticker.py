"""The admission ticker: at most one per room at a time, across every replica.

Every replica runs ``Ticker.run``; each tick visits every enabled room in a transaction
of its own that first tries the room's transaction-scoped advisory lock
(``pg_try_advisory_xact_lock``): a replica that does not get it skips the room, since
another is ticking it right now. The tick then:

1. at sale opening, **shuffles the pre-queue** (``shuffle.py``) and reveals the seed;
2. **ends** admitted sessions, freeing their slots: past the room's ``session_ttl_s``;
   done buying (a confirmed booking, no hold left open: ``completed``); or idle, with no
   open hold and no booking activity for ``idle_s`` (``WAITING_ROOM_SESSION_IDLE_S``).
   What a visitor did reaches the room in bookings' ``booking.changed`` (``purchases.py``);
3. **admits** the next visitors in position order: as many as the time elapsed since the
   room's last tick earns at ``admission_rate_per_minute`` (stored credit, so ticks from
   different replicas add up to the configured rate), capped by the free shopper slots
   (``shopper_slots``: the active-shopper cap, and the seats bookings last reported
   available less the holds heard since (``seats_left``), at the buyers' average seats
   for each admitted visitor who has not held yet), and nobody at all once the event is
   sold out;
4. bumps the room's ``state_version`` if visitors can see a change, and notifies every
   replica (``notify_room``), which is what lets status polls answer 304 from memory.

The clock is an argument, so tests drive time. ``Ticker.tick`` ticks each room on its
own: a room whose tick fails (a lock timeout, a lost connection) is logged and counted
(``evently_waiting_room_tick_failures_total``) and retried at the next pass, and never
holds up the rooms after it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from evently.core.locks import LockKey
from evently.waiting_room import queries
from evently.waiting_room.metrics import (
    ACTIVE_SHOPPERS,
    ADMISSIONS,
    LAST_TICK,
    QUEUE_LENGTH,
    ROOM_ADMISSIONS,
    SESSIONS_COMPLETED,
    SESSIONS_EXPIRED,
    TICK_FAILURES,
    TICKS,
    WAIT_TIME,
)
from evently.waiting_room.shuffle import prequeue_order

log = logging.getLogger("evently.waiting_room.ticker")

# A room's credit never banks more than five seconds' admissions (at least one), so an idle
# or full room does not release a burst when it frees up.
CREDIT_CAP_S = 5.0


def tick_lock(event_id: int) -> LockKey:
    """The lock only the replica ticking a room holds."""
    return LockKey.of("waiting-room-tick", event_id)


def shuffle_lock(event_id: int) -> LockKey:
    """Joins of the pre-queue share it; the shuffle takes it alone."""
    return LockKey.of("waiting-room-shuffle", event_id)


@dataclass(frozen=True)
class Admissions:
    """How many visitors a tick admits, the credit it leaves, and whether something other
    than the rate capped it (sold out, no free slot, the queue shorter than the rate's
    due): only uncapped ticks measure the rate achieved."""

    count: int
    credit: float
    capped: bool = False


def admissions_due(
    *,
    credit: float,
    elapsed_s: float,
    rate_per_minute: int,
    free_slots: int,
    waiting: int,
    sold_out: bool,
) -> Admissions:
    """Visitors to admit now: what the elapsed time earns, within the free slots."""
    per_second = rate_per_minute / 60.0
    credit = min(credit + max(elapsed_s, 0.0) * per_second, max(1.0, per_second * CREDIT_CAP_S))
    if sold_out:
        return Admissions(0, credit, capped=True)
    due = math.floor(credit + 1e-9)
    limit = min(free_slots, waiting)
    count = max(0, min(due, limit))
    # Capped when the slots or the queue stop what the rate would admit now or one more.
    return Admissions(count, credit - count, capped=limit < max(1, due))


def shopper_slots(
    *,
    max_active: int,
    active: int,
    available: int | None,
    undecided: int | None = None,
    seats_per_buyer: float | None = None,
) -> int:
    """Visitors that may be admitted now: the active-shopper cap, and no more than the
    seats bookings last reported ``available`` (``None``: not reported yet) can serve.

    Each admitted visitor who has not held yet (``undecided``, by default every active
    one) is counted as wanting ``seats_per_buyer`` seats, the event's buyers' average so
    far (at least 1; 1 before the first hold); a visitor with a hold already has their
    seats out of ``available``. So admission pauses while the seats left are spoken for,
    rather than admitting visitors to race for seats that earlier ones will take; a
    remainder of seats smaller than the average still admits one more."""
    free = max_active - active
    if available is not None:
        per_buyer = max(1.0, seats_per_buyer or 1.0)
        waiting_on = active if undecided is None else undecided
        # Rounded up: the last few seats, fewer than a buyer's average, still go to someone.
        free = min(free, math.ceil(available / per_buyer - 1e-9) - waiting_on)
    return max(0, free)


def seats_left(available: int | None, unreported: int) -> int | None:
    """The seats bookings last reported ``available`` (``None``: not yet), less those held
    since that report (``unreported``): a hold heard before the inventory that includes
    it, its visitor no longer undecided, must not leave its seats counted as free too."""
    return None if available is None else max(0, available - unreported)


@dataclass(frozen=True)
class TickResult:
    """What one tick of one room did (``ticked`` is False when another replica had it)."""

    ticked: bool
    shuffled: int = 0
    expired: int = 0
    completed: int = 0
    admitted: int = 0
    serving: int = 0
    failed: bool = False


async def tick_room(
    conn: asyncpg.Connection, event_id: int, now: datetime, idle_s: float = 0.0
) -> TickResult:
    """Tick one room at ``now``, unless another replica is ticking it; sessions idle for
    ``idle_s`` end (0: only their TTL or a purchase ends them)."""
    key = tick_lock(event_id)
    async with conn.transaction():
        await conn.execute(queries.SET_LOCK_TIMEOUT)
        if not await conn.fetchval(queries.TRY_TICK_LOCK, key.namespace, key.ident):
            return TickResult(ticked=False)
        room = await conn.fetchrow(queries.READ_ROOM, event_id)
        if room is None or not room["enabled"]:
            return TickResult(ticked=True)
        changed = False
        shuffled = 0
        opens = room["sale_opens_at"]
        if opens is not None and now < opens:
            await conn.execute(
                queries.SAVE_TICK, event_id, room["serving"], 0, 0.0, now, False, True, 0.0
            )
            return TickResult(ticked=True, serving=room["serving"])
        if room["shuffled_at"] is None:
            shuffled = await _shuffle(conn, event_id, room["seed"], now)
            changed = True
        ended = [r["status"] for r in await conn.fetch(queries.END_SESSIONS, event_id, now, idle_s)]
        completed = ended.count("completed")
        expired = len(ended) - completed
        changed = changed or bool(ended)
        queue = await conn.fetchrow(queries.COUNT_QUEUE, event_id)
        last = room["last_tick_at"]
        elapsed_s = max(0.0, (now - last).total_seconds()) if last is not None else 0.0
        due = admissions_due(
            credit=room["admission_credit"],
            elapsed_s=elapsed_s,
            rate_per_minute=room["admission_rate_per_minute"],
            free_slots=shopper_slots(
                max_active=room["max_active_shoppers"],
                active=queue["active"],
                available=seats_left(room["available"], room["unreported_seats"]),
                undecided=queue["undecided"],
                seats_per_buyer=await conn.fetchval(queries.SEATS_PER_BUYER, event_id),
            ),
            waiting=queue["waiting"],
            sold_out=room["sold_out"],
        )
        serving = room["serving"]
        waits: list[float] = []
        if due.count:
            rows = await conn.fetch(
                queries.ADMIT_NEXT, event_id, due.count, now, float(room["session_ttl_s"])
            )
            serving = max([serving, *(r["position"] for r in rows)])
            waits = [max(0.0, (now - r["joined_at"]).total_seconds()) for r in rows]
            changed = True
        # The rate is measured over ticks the rate alone decided, this one and the one
        # before (whose credit this one spends): the report's achieved rate.
        measured_s = 0.0 if due.capped or room["last_tick_capped"] else elapsed_s
        await conn.execute(
            queries.SAVE_TICK,
            event_id,
            serving,
            due.count,
            due.credit,
            now,
            changed,
            due.capped,
            measured_s,
        )
        if changed:
            await conn.execute(queries.NOTIFY_ROOM, event_id)
    TICKS.inc()
    ADMISSIONS.inc(due.count)
    if due.count:
        ROOM_ADMISSIONS.labels(str(event_id)).inc(due.count)
    for wait_s in waits:
        WAIT_TIME.observe(wait_s)
    SESSIONS_EXPIRED.inc(expired)
    SESSIONS_COMPLETED.inc(completed)
    return TickResult(
        ticked=True,
        shuffled=shuffled,
        expired=expired,
        completed=completed,
        admitted=due.count,
        serving=serving,
    )


async def _shuffle(conn: asyncpg.Connection, event_id: int, seed: bytes, now: datetime) -> int:
    """Give the pre-queue its positions (``shuffle.prequeue_order``); returns its size."""
    lock = shuffle_lock(event_id)
    await conn.execute(queries.TAKE_SHUFFLE_LOCK, lock.namespace, lock.ident)
    ids = [r["id"] for r in await conn.fetch(queries.PREQUEUE_TICKETS, event_id)]
    order = prequeue_order(seed, ids)
    await conn.execute(queries.PLACE_TICKETS, event_id, order, list(range(1, len(order) + 1)))
    await conn.execute(queries.MARK_SHUFFLED, event_id, now, len(order))
    log.info("room %s: shuffled a pre-queue of %d, seed revealed", event_id, len(order))
    return len(order)


# A pass never waits longer than this for a pooled connection (then it fails, is logged,
# and the next pass retries), so an exhausted pool cannot park the ticker for good.
ACQUIRE_TIMEOUT_S = 10.0


class Ticker:
    """Ticks every enabled room, forever (``core.tasks.every`` calls ``tick``)."""

    def __init__(self, pool: asyncpg.Pool, idle_s: float = 0.0) -> None:
        self.pool = pool
        self.idle_s = idle_s
        self._exported: set[int] = set()

    async def tick(self, now: datetime | None = None) -> list[TickResult]:
        """One pass: tick each enabled room on its own (a failure stays that room's), then
        export each room's queue figures."""
        now = now or datetime.now(UTC)
        results = []
        async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
            rooms = [r["event_id"] for r in await conn.fetch(queries.ENABLED_ROOMS)]
            for event_id in rooms:
                try:
                    results.append(await tick_room(conn, event_id, now, self.idle_s))
                except Exception:
                    TICK_FAILURES.inc()
                    log.exception("room %s: tick failed; retrying at the next pass", event_id)
                    if conn.is_closed():
                        raise  # the connection is gone: the rest of this pass would fail too
                    results.append(TickResult(ticked=False, failed=True))
            await self._export(conn, rooms)
        LAST_TICK.set(time.time())
        return results

    async def _export(self, conn: asyncpg.Connection, rooms: list[int]) -> None:
        """Set each room's queue length and active shoppers; drop rooms switched off."""
        for event_id in rooms:
            queue = await conn.fetchrow(queries.COUNT_QUEUE, event_id)
            QUEUE_LENGTH.labels(str(event_id)).set(queue["queued"])
            ACTIVE_SHOPPERS.labels(str(event_id)).set(queue["active"])
        for gone in self._exported - set(rooms):
            for gauge in (QUEUE_LENGTH, ACTIVE_SHOPPERS):
                with contextlib.suppress(KeyError):
                    gauge.remove(str(gone))
        self._exported = set(rooms)
