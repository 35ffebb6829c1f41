"""Check-in: scanning a ticket code at a gate of an event (docs/checkin.md).

A scan first verifies the code's signature exactly as an offline scanner does
(``ticket_codes.verify`` against the published ticket keys), then asks PostgreSQL in one
statement (sql/check_in_ticket.sql), which checks the ticket in only if no scan did
before: however many gates and replicas scan one ticket at once, exactly one is told
``valid``; every later scan hears when and where that was.
"""

from __future__ import annotations

import json
from typing import Any

from evently.bookings import queries, ticket_codes
from evently.bookings.context import BookingsContext
from evently.bookings.metrics import CHECKIN_SCANS
from evently.bookings.models import ScannedTicket, ScanOut, ScanResult
from evently.core.auth import Principal

SCAN_PERMISSION = "checkin:scan"

DETAILS: dict[ScanResult, str] = {
    "valid": "Valid: admit.",
    "already_checked_in": "Already checked in.",
    "void": "Void: the booking was cancelled.",
    "not_for_this_event": "This ticket is for another event.",
    "invalid": "Not a valid ticket.",
}


async def scan_ticket(
    ctx: BookingsContext, *, event_id: int, code: str, gate: str, staff: Principal
) -> ScanOut:
    """The answer to one scan of ``code`` at ``gate`` of ``event_id`` by ``staff``."""
    try:
        claims = ticket_codes.verify(code, ctx.scan_keys)
    except ticket_codes.TicketCodeError as exc:
        return _answer(event_id, "invalid", None, f"Not a valid ticket: {exc}.")
    ticket = ScannedTicket(event_id=claims.event_id, booking_id=claims.booking_id, seat=claims.seat)
    if claims.event_id != event_id:
        # Signed facts suffice: nothing to read or write.
        return _answer(event_id, "not_for_this_event", ticket)
    row = await ctx.pool.fetchrow(queries.CHECK_IN_TICKET, code, event_id, gate, staff.user_id)
    if row["result"] == "not_issued":
        return _answer(event_id, "invalid", ticket, "Not a valid ticket: it was never issued.")
    seat = await ctx.pool.fetchval(queries.TICKET_SEAT, claims.booking_id, claims.seat)
    return _answer(event_id, row["result"], ticket, row=row["ticket"], seat=seat)


def _answer(
    event_id: int,
    result: ScanResult,
    ticket: ScannedTicket | None,
    detail: str | None = None,
    row: Any = None,
    seat: str | None = None,
) -> ScanOut:
    CHECKIN_SCANS.labels(result).inc()
    return ScanOut(
        result=result,
        detail=detail or DETAILS[result],
        event_id=event_id,
        ticket=ticket,
        assigned_seat=None if seat is None else json.loads(seat),
        checked_in_at=row["checked_in_at"] if row else None,
        checked_in_gate=row["checked_in_gate"] if row else None,
        voided_at=row["voided_at"] if row else None,
    )
