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

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.inventory import event_lock_arguments, note_published
from evently.bookings.metrics import LOCK_WAIT, WAITLIST_OFFERS, lock_timed_out
from evently.bookings.models import WaitlistEntryOut
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.core.locks import locked_call


async def join_waitlist(
    ctx: BookingsContext, *, event_id: int, user_id: int, quantity: int
) -> WaitlistEntryOut:
    """Put the user in line for ``quantity`` seats; returns the entry."""
    key_ns, key_ids = event_lock_arguments(event_id)
    row = await locked_call(
        ctx.pool.fetchrow(
            queries.JOIN_WAITLIST,
            event_id,
            user_id,
            quantity,
            key_ns,
            key_ids,
            ctx.settings.lock_timeout_ms,
        ),
        on_timeout=lock_timed_out("waitlist"),
    )
    LOCK_WAIT.labels("waitlist").observe(row["lock_wait_s"])
    outcome = Outcome(row["outcome"])
    entry = None
    if row["entry"] is not None:
        entry = WaitlistEntryOut.from_row(row["entry"], row["place_in_line"])
    if outcome is Outcome.JOINED and entry is not None:
        return entry
    raise refuse(outcome, row["details"], event_id=event_id, entry=entry)


async def my_waitlist_entry(
    ctx: BookingsContext, *, event_id: int, user_id: int
) -> WaitlistEntryOut:
    """The user's latest entry for the event with its place in line."""
    row = await ctx.pool.fetchrow(queries.MY_WAITLIST_ENTRY, event_id, user_id)
    if row is None:
        raise refuse(Outcome.NOT_WAITLISTED)
    return WaitlistEntryOut.from_row(row, row["place_in_line"])


async def leave_waitlist(ctx: BookingsContext, *, event_id: int, user_id: int) -> WaitlistEntryOut:
    """Leave the line (declining an open offer); returns the entry."""
    key_ns, key_ids = event_lock_arguments(event_id)
    row = await locked_call(
        ctx.pool.fetchrow(
            queries.LEAVE_WAITLIST, event_id, user_id, key_ns, key_ids, ctx.settings.lock_timeout_ms
        ),
        on_timeout=lock_timed_out("waitlist"),
    )
    LOCK_WAIT.labels("waitlist").observe(row["lock_wait_s"])
    outcome = Outcome(row["outcome"])
    if outcome is not Outcome.LEFT or row["entry"] is None:
        raise refuse(outcome, event_id=event_id)
    WAITLIST_OFFERS.inc(row["offers"])
    note_published(row["published"])
    return WaitlistEntryOut.from_row(row["entry"], row["place_in_line"])
