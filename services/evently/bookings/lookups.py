"""Reading bookings: one booking (owner or admin), a user's bookings page by page."""

from __future__ import annotations

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.models import BookingListItem, BookingOut, BookingPage
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.core.auth import Principal

READ_PERMISSION = "bookings:read"


async def get_booking(ctx: BookingsContext, *, booking_id: int, viewer: Principal) -> BookingOut:
    """The booking, for its owner or an admin with ``bookings:read``.

    Anyone else gets the same 404 as for a missing booking, so ids reveal nothing.
    """
    row = await ctx.pool.fetchrow(queries.GET_BOOKING, booking_id)
    if row is None or (row["user_id"] != viewer.user_id and not viewer.can(READ_PERMISSION)):
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    return BookingOut.from_row(row)


async def list_bookings(
    ctx: BookingsContext,
    *,
    user_id: int,
    page: int,
    limit: int,
    event_id: int | None = None,
    status: str | None = None,
) -> BookingPage:
    """One page (newest first) of the user's bookings."""
    row = await ctx.pool.fetchrow(
        queries.LIST_USER_BOOKINGS, user_id, limit, (page - 1) * limit, event_id, status
    )
    items = [
        BookingListItem.from_rows(booking, summary)
        for booking, summary in zip(row["items"], row["events"], strict=True)
    ]
    return BookingPage(items=items, total=row["total"], page=page, limit=limit)
