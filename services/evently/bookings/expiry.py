"""Releasing expired holds (and expired waitlist offers) in the background.

``release_expired_holds`` finds events with overdue holds, then per event calls
``bookings.expire_holds``, which takes the event's lock and expires up to a small batch
of holds with ``FOR UPDATE SKIP LOCKED`` (a confirmation holding a row is skipped, not
waited for), returns the seats and offers them to the waitlist, all in one transaction.
Every replica may run the sweeper: the event lock serialises them and each row is
re-checked under it, so a hold is expired exactly once. Each completed sweep sets
``evently_bookings_expiry_last_run_timestamp_seconds``; an alert watches it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import (
    EXPIRATIONS,
    EXPIRY_LAST_RUN,
    LOCK_WAIT,
    WAITLIST_OFFERS,
    WAITLIST_OFFERS_EXPIRED,
    lock_timed_out,
)
from evently.core.locks import LockTimeout, locked_call

log = logging.getLogger("evently.bookings.expiry")

MAX_EVENTS_PER_SWEEP = 100
MAX_BATCHES_PER_EVENT = 50
PURGE_BATCH = 1000


@dataclass
class SweepReport:
    expired: int = 0
    offers_expired: int = 0
    offers: int = 0
    events: set[int] = field(default_factory=set)


async def release_expired_holds(ctx: BookingsContext) -> SweepReport:
    """One sweep: expire overdue holds event by event, in small batches."""
    report = SweepReport()
    rows = await ctx.pool.fetch(queries.EXPIRED_HOLD_EVENTS, MAX_EVENTS_PER_SWEEP)
    for row in rows:
        event_id = row["event_id"]
        key_ns, key_ids = event_lock_arguments(event_id)
        for _ in range(MAX_BATCHES_PER_EVENT):
            try:
                batch = await locked_call(
                    ctx.pool.fetchrow(
                        queries.EXPIRE_HOLDS,
                        event_id,
                        key_ns,
                        key_ids,
                        ctx.settings.lock_timeout_ms,
                        ctx.settings.expiry_batch_size,
                    ),
                    on_timeout=lock_timed_out("expire"),
                )
            except LockTimeout:
                log.info("event %s is busy; its expired holds wait for the next sweep", event_id)
                break
            LOCK_WAIT.labels("expire").observe(batch["lock_wait_s"])
            report.expired += batch["expired"]
            report.offers_expired += batch["offers_expired"]
            report.offers += batch["offers"]
            if batch["expired"]:
                report.events.add(event_id)
            note_published(batch["published"])
            if batch["expired"] < ctx.settings.expiry_batch_size:
                break
    EXPIRATIONS.inc(report.expired)
    WAITLIST_OFFERS_EXPIRED.inc(report.offers_expired)
    WAITLIST_OFFERS.inc(report.offers)
    EXPIRY_LAST_RUN.set(time.time())
    return report


async def purge_idempotency_keys(ctx: BookingsContext) -> int:
    """Forget idempotency keys older than their TTL (one bounded batch)."""
    status = await ctx.pool.execute(
        queries.PURGE_IDEMPOTENCY_KEYS, ctx.settings.idempotency_ttl_s, PURGE_BATCH
    )
    return int(status.split()[-1])


class ExpirySweeper:
    """The background loop: sweep every ``BOOKINGS_EXPIRY_INTERVAL_S``."""

    PURGE_EVERY_S = 60.0

    def __init__(self, ctx: BookingsContext) -> None:
        self.ctx = ctx
        self._last_purge = float("-inf")

    async def step(self) -> None:
        await release_expired_holds(self.ctx)
        if time.monotonic() - self._last_purge >= self.PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            await purge_idempotency_keys(self.ctx)
