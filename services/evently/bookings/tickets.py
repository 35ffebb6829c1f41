"""Reading tickets: ``GET /api/v1/bookings/{id}/tickets`` and the QR images' codes.

A ticket is one seat of a confirmed booking, signed (``ticket_codes.py``), issued after
the confirmation commits (``ticket_issuer.py``) and voided when the booking is
cancelled (sql/cancel_booking.sql). See docs/tickets.md.
"""

from __future__ import annotations

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.lookups import READ_PERMISSION
from evently.bookings.models import BookingOut, BookingTickets, TicketOut
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.core.auth import Principal


async def booking_tickets(
    ctx: BookingsContext, *, booking_id: int, viewer: Principal
) -> BookingTickets:
    """The booking's tickets, for its owner or an admin with ``bookings:read``.

    A confirmed booking without all its tickets gets them now. A held or expired one is
    refused (``booking_not_confirmed``); a cancelled one shows its void tickets, if any.
    """
    booking = await ctx.pool.fetchrow(queries.GET_BOOKING, booking_id)
    if booking is None or (
        booking["user_id"] != viewer.user_id and not viewer.can(READ_PERMISSION)
    ):
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    if booking["status"] in ("held", "expired"):
        raise refuse(Outcome.BOOKING_NOT_CONFIRMED, booking=BookingOut.from_row(booking))
    rows = await ctx.pool.fetch(queries.BOOKING_TICKETS, booking_id)
    if booking["status"] == "confirmed" and len(rows) < booking["quantity"]:
        rows = await ctx.tickets.issue(booking)
    return BookingTickets(
        booking_id=booking_id,
        booking_status=booking["status"],
        tickets=[TicketOut.from_row(row, booking["seats"]) for row in rows],
    )


async def valid_ticket_code(
    ctx: BookingsContext, *, booking_id: int, seat: int, viewer: Principal
) -> str:
    """The code of the booking's valid ticket for ``seat`` (what its QR image shows)."""
    tickets = await booking_tickets(ctx, booking_id=booking_id, viewer=viewer)
    for ticket in tickets.tickets:
        if ticket.seat == seat and ticket.status == "valid":
            return ticket.code
    raise refuse(Outcome.TICKET_NOT_FOUND)
