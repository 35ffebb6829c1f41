"""Holding seats: ``POST /api/v1/bookings``.

One round trip: ``bookings.hold_seats`` probes the idempotency key, takes the event's
advisory lock (bounded by ``lock_timeout``), replays a stored response or checks the
event, the sale window, the quantity, the per-user limit and availability, then writes
the booking, the inventory, the idempotency record and the outbox message together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.idempotency import in_flight_probe
from evently.bookings.inventory import event_lock
from evently.bookings.metrics import BOOKINGS_TOTAL, HELD_SEATS, HOLDS, LOCK_TIMEOUTS, LOCK_WAIT
from evently.bookings.refusals import refuse
from evently.core.locks import LockRequest, LockTimeout

_OUTCOMES = {}


def _count(outcome: str) -> None:
    counter = _OUTCOMES.get(outcome)
    if counter is None:
        counter = _OUTCOMES[outcome] = BOOKINGS_TOTAL.labels(outcome)
    counter.inc()


@dataclass(frozen=True)
class Hold:
    """A successful hold: the booking as JSON text, and whether it is a replay."""

    body: str
    replayed: bool


async def hold_seats(
    ctx: BookingsContext,
    *,
    user_id: int,
    event_id: int,
    quantity: int,
    idempotency_key: str,
    request_hash: str,
) -> Hold:
    """Hold ``quantity`` seats for ``user_id``, or raise the refusal (nothing changed)."""
    locks = LockRequest.of([event_lock(event_id)], [in_flight_probe(user_id, idempotency_key)])
    key_ns, key_ids, probe_ns, probe_ids = locks.arguments()
    started = time.perf_counter()
    try:
        outcome, body, lock_wait_s = await ctx.pool.fetchrow(
            queries.HOLD_SEATS,
            event_id,
            user_id,
            quantity,
            idempotency_key,
            request_hash,
            ctx.settings.idempotency_ttl_s,
            key_ns,
            key_ids,
            probe_ns,
            probe_ids,
            ctx.settings.lock_timeout_ms,
        )
    except asyncpg.LockNotAvailableError as exc:
        LOCK_WAIT.labels("hold").observe(time.perf_counter() - started)
        LOCK_TIMEOUTS.labels("hold").inc()
        _count("lock_timeout")
        raise LockTimeout() from exc
    _count(outcome)
    if lock_wait_s is not None and lock_wait_s >= 0:
        LOCK_WAIT.labels("hold").observe(lock_wait_s)
    if outcome == "held":
        HOLDS.inc()
        HELD_SEATS.inc(quantity)
        ctx.publisher.mark(event_id)
        return Hold(body, replayed=False)
    if outcome == "replayed":
        return Hold(body, replayed=True)
    raise refuse(outcome, body, event_id=event_id)
