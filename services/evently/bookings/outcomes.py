"""What a booking function answered: the ``outcome`` column of every write path.

The SQL functions in ``sql/`` return these values; each refusal among them is also a
row of ``refusals.REFUSALS`` (its HTTP status, title and detail).
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    # Successes.
    HELD = "held"
    REPLAYED = "replayed"
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    JOINED = "joined"
    LEFT = "left"
    # Refusals (refusals.REFUSALS).
    EVENT_NOT_FOUND = "event_not_found"
    EVENT_CANCELLED = "event_cancelled"
    SALE_NOT_OPEN = "sale_not_open"
    SALE_CLOSED = "sale_closed"
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
    PER_USER_LIMIT_EXCEEDED = "per_user_limit_exceeded"
    PER_ADDRESS_LIMIT_EXCEEDED = "per_address_limit_exceeded"
    SOLD_OUT = "sold_out"
    BOOKING_NOT_FOUND = "booking_not_found"
    HOLD_EXPIRED = "hold_expired"
    BOOKING_NOT_CONFIRMABLE = "booking_not_confirmable"
    BOOKING_NOT_CANCELLABLE = "booking_not_cancellable"
    EVENT_ALREADY_STARTED = "event_already_started"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_REQUEST_IN_FLIGHT = "idempotency_request_in_flight"
    WAITLIST_DISABLED = "waitlist_disabled"
    WAITLIST_NOT_NEEDED = "waitlist_not_needed"
    ALREADY_WAITLISTED = "already_waitlisted"
    NOT_WAITLISTED = "not_waitlisted"
    # Seated events (docs/seating.md).
    EVENT_NOT_SEATED = "event_not_seated"
    INVALID_SEATS = "invalid_seats"
    SEATS_UNAVAILABLE = "seats_unavailable"
    SEAT_SELECTION_REQUIRED = "seat_selection_required"
    NO_SEATS_TOGETHER = "no_seats_together"
    # Refusals of the ticket endpoints (bookings/tickets.py), not of a SQL function.
    BOOKING_NOT_CONFIRMED = "booking_not_confirmed"
    TICKET_NOT_FOUND = "ticket_not_found"
    # Refusal of cancel_booking once a ticket was used (docs/checkin.md).
    BOOKING_CHECKED_IN = "booking_checked_in"


# The outcomes that are not refusals.
SUCCESSES = frozenset(
    {
        Outcome.HELD,
        Outcome.REPLAYED,
        Outcome.CONFIRMED,
        Outcome.ALREADY_CONFIRMED,
        Outcome.CANCELLED,
        Outcome.ALREADY_CANCELLED,
        Outcome.JOINED,
        Outcome.LEFT,
    }
)
