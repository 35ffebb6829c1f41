"""The waitlist: join, see your place, leave.

Joining is allowed only while the event is sold out (for the quantity asked) or not yet
on sale, once per user. When seats come back (a cancellation, an expired hold or offer,
a capacity increase), ``bookings.promote_waitlist`` offers them to the line in join
order, inside the same transaction and under the event's lock: each offer is a held
booking for the offer TTL, so general buyers can never take those seats, no entry gets
two offers, and many replicas can promote safely. The offered user confirms with the
normal confirm endpoint; an unaccepted offer expires and passes to the next in line.
When fewer seats come back than the head of the line asked for, the head is offered
what there is (strict FIFO: nobody behind it is served first).
"""

from __future__ import annotations

import time

import asyncpg

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import LOCK_TIMEOUTS, LOCK_WAIT, WAITLIST_OFFERS
from evently.bookings.refusals import refuse
from evently.core.locks import LockTimeout


async def join_waitlist(ctx: BookingsContext, *, event_id: int, user_id: int, quantity: int) -> str:
    """Put the user in line for ``quantity`` seats; returns the entry as JSON text."""
    key_ns, key_ids = event_lock_arguments(event_id)
    started = time.perf_counter()
    try:
        outcome, body, lock_wait_s = await ctx.pool.fetchrow(
            queries.JOIN_WAITLIST,
            event_id,
            user_id,
            quantity,
            key_ns,
            key_ids,
            ctx.settings.lock_timeout_ms,
        )
    except asyncpg.LockNotAvailableError as exc:
        LOCK_WAIT.labels("waitlist").observe(time.perf_counter() - started)
        LOCK_TIMEOUTS.labels("waitlist").inc()
        raise LockTimeout() from exc
    LOCK_WAIT.labels("waitlist").observe(lock_wait_s)
    if outcome == "joined":
        return body
    raise refuse(outcome, body, event_id=event_id)


async def my_waitlist_entry(ctx: BookingsContext, *, event_id: int, user_id: int) -> str:
    """The user's latest entry for the event with its place in line, as JSON text."""
    body = await ctx.pool.fetchval(queries.MY_WAITLIST_ENTRY, event_id, user_id)
    if body is None:
        raise refuse("not_waitlisted")
    return body


async def leave_waitlist(ctx: BookingsContext, *, event_id: int, user_id: int) -> str:
    """Leave the line (declining an open offer); returns the entry as JSON text."""
    key_ns, key_ids = event_lock_arguments(event_id)
    started = time.perf_counter()
    try:
        outcome, body, lock_wait_s, offers, published = await ctx.pool.fetchrow(
            queries.LEAVE_WAITLIST, event_id, user_id, key_ns, key_ids, ctx.settings.lock_timeout_ms
        )
    except asyncpg.LockNotAvailableError as exc:
        LOCK_WAIT.labels("waitlist").observe(time.perf_counter() - started)
        LOCK_TIMEOUTS.labels("waitlist").inc()
        raise LockTimeout() from exc
    LOCK_WAIT.labels("waitlist").observe(lock_wait_s)
    if outcome != "left":
        raise refuse(outcome, body, event_id=event_id)
    WAITLIST_OFFERS.inc(offers)
    note_published(published)
    return body
