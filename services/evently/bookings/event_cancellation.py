"""Cancelling every booking of an event the organiser cancelled, in the background.

When ``event.changed`` says an event is cancelled, the inbox only records it (no new
holds or confirmations). ``cancel_bookings_of_cancelled_events`` then finds cancelled
events that still have held or confirmed bookings and, per event, calls
``bookings.cancel_event_bookings`` repeatedly: each call is one transaction that takes
the event's lock once and cancels up to ``BOOKINGS_EVENT_CANCEL_BATCH_SIZE`` bookings
set-based (seats back, tickets void, booking.changed, a refund for each paid one), so
the lock is held for milliseconds at a time, never for the whole event. Progress is
the bookings' own status, so a crash or a restart resumes where it stopped, and any
number of replicas may run it (the lock serialises batches; SKIP LOCKED and the
re-check under the lock make each booking cancelled once). docs/payments.md has the
figures for 10,000 bookings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import (
    EVENT_CANCELLATION_BOOKINGS,
    EVENT_CANCELLATION_LOCK_HOLD,
    LOCK_WAIT,
    lock_timed_out,
)
from evently.core.locks import LockTimeout, locked_call

log = logging.getLogger("evently.bookings.event_cancellation")

MAX_EVENTS_PER_ROUND = 20


@dataclass
class EventCancellationReport:
    cancelled: int = 0
    refunds: int = 0
    batches: int = 0
    lock_holds_s: list[float] = field(default_factory=list)
    events: set[int] = field(default_factory=set)

    @property
    def longest_lock_hold_s(self) -> float:
        return max(self.lock_holds_s, default=0.0)


async def cancel_event_bookings(
    ctx: BookingsContext, event_id: int, report: EventCancellationReport
) -> bool:
    """Cancel the event's active bookings batch by batch; returns whether none is left
    (False: its lock was busy, or a confirmation had a row locked: next round)."""
    key_ns, key_ids = event_lock_arguments(event_id)
    batch_size = ctx.settings.event_cancel_batch_size
    while True:
        try:
            batch = await locked_call(
                ctx.pool.fetchrow(
                    queries.CANCEL_EVENT_BOOKINGS,
                    event_id,
                    key_ns,
                    key_ids,
                    ctx.settings.lock_timeout_ms,
                    batch_size,
                ),
                on_timeout=lock_timed_out("event_cancel"),
            )
        except LockTimeout:
            log.info("event %s is busy; its bookings are cancelled next round", event_id)
            return False
        LOCK_WAIT.labels("event_cancel").observe(batch["lock_wait_s"])
        EVENT_CANCELLATION_LOCK_HOLD.observe(batch["lock_held_s"])
        EVENT_CANCELLATION_BOOKINGS.inc(batch["cancelled"])
        note_published(batch["published"])
        report.batches += 1
        report.cancelled += batch["cancelled"]
        report.refunds += batch["refunds"]
        report.lock_holds_s.append(batch["lock_held_s"])
        if batch["cancelled"]:
            report.events.add(event_id)
        if batch["cancelled"] < batch_size:
            return True


async def cancel_bookings_of_cancelled_events(ctx: BookingsContext) -> EventCancellationReport:
    """One round: every cancelled event that still has active bookings, in batches."""
    report = EventCancellationReport()
    rows = await ctx.pool.fetch(queries.CANCELLED_EVENTS_WITH_BOOKINGS, MAX_EVENTS_PER_ROUND)
    for row in rows:
        await cancel_event_bookings(ctx, row["event_id"], report)
    if report.cancelled:
        log.info(
            "cancelled %s bookings of cancelled events %s (%s refunds, %s batches, longest "
            "lock hold %.1f ms)",
            report.cancelled,
            sorted(report.events),
            report.refunds,
            report.batches,
            report.longest_lock_hold_s * 1000,
        )
    return report


class EventCanceller:
    """The background loop: one round every ``BOOKINGS_EVENT_CANCEL_INTERVAL_S``."""

    def __init__(self, ctx: BookingsContext) -> None:
        self.ctx = ctx

    async def step(self) -> None:
        await cancel_bookings_of_cancelled_events(self.ctx)
