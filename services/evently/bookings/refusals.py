"""Refusals: the outcomes of the booking functions that change nothing, as problems.

``REFUSALS`` is the one table of refusal codes: their HTTP status, title and detail.
docs/bookings.md and docs/errors.md list the same codes; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic

from evently.bookings.models import BookingOut, WaitlistEntryOut
from evently.bookings.outcomes import Outcome
from evently.core.errors import ApiError, FieldError


@dataclass(frozen=True)
class Refusal:
    status: int
    title: str
    detail: str


REFUSALS: dict[Outcome, Refusal] = {
    Outcome.EVENT_NOT_FOUND: Refusal(404, "Event not found", "No bookable event has this id."),
    Outcome.EVENT_CANCELLED: Refusal(409, "Event cancelled", "The event was cancelled."),
    Outcome.SALE_NOT_OPEN: Refusal(
        409, "Sale not open", "Tickets for this event are not on sale yet."
    ),
    Outcome.SALE_CLOSED: Refusal(409, "Sale closed", "Ticket sales for this event have ended."),
    Outcome.QUANTITY_OUT_OF_RANGE: Refusal(
        422, "Quantity out of range", "The quantity is outside what this event allows."
    ),
    Outcome.PER_USER_LIMIT_EXCEEDED: Refusal(
        409,
        "Per-user limit exceeded",
        "Together with your held and confirmed bookings for this event, this exceeds "
        "the per-user limit.",
    ),
    Outcome.PER_ADDRESS_LIMIT_EXCEEDED: Refusal(
        409,
        "Per-address limit exceeded",
        "Too many seats of this event are on hold from your network address; confirm or "
        "cancel those holds first.",
    ),
    Outcome.SOLD_OUT: Refusal(409, "Sold out", "Not enough seats are left for this quantity."),
    Outcome.BOOKING_NOT_FOUND: Refusal(
        404, "Booking not found", "You have no booking with this id."
    ),
    Outcome.HOLD_EXPIRED: Refusal(
        409, "Hold expired", "The hold expired before it was confirmed; its seats were released."
    ),
    Outcome.BOOKING_NOT_CONFIRMABLE: Refusal(
        409, "Booking not confirmable", "Only a held booking can be confirmed."
    ),
    Outcome.BOOKING_NOT_CANCELLABLE: Refusal(
        409, "Booking not cancellable", "An expired booking cannot be cancelled."
    ),
    Outcome.EVENT_ALREADY_STARTED: Refusal(
        409, "Event already started", "Bookings of an event that has started cannot be cancelled."
    ),
    Outcome.IDEMPOTENCY_KEY_REUSED: Refusal(
        422,
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request body.",
    ),
    Outcome.IDEMPOTENCY_REQUEST_IN_FLIGHT: Refusal(
        409,
        "Request in flight",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    ),
    Outcome.WAITLIST_DISABLED: Refusal(409, "Waitlist disabled", "This event has no waitlist."),
    Outcome.WAITLIST_NOT_NEEDED: Refusal(
        409, "Waitlist not needed", "Seats are available: book them directly."
    ),
    Outcome.ALREADY_WAITLISTED: Refusal(
        409, "Already waitlisted", "You are already in this event's waitlist."
    ),
    Outcome.NOT_WAITLISTED: Refusal(404, "Not waitlisted", "You are not in this event's waitlist."),
    Outcome.EVENT_NOT_SEATED: Refusal(
        400,
        "Event not seated",
        "This event is general admission: ask for a quantity, not seat_ids.",
    ),
    Outcome.INVALID_SEATS: Refusal(
        400, "Invalid seats", "Some seats do not exist in this event's map or are not for sale."
    ),
    Outcome.SEATS_UNAVAILABLE: Refusal(
        409,
        "Seats unavailable",
        "Some of these seats are already held or sold; nothing was held. Choose others.",
    ),
    Outcome.SEAT_SELECTION_REQUIRED: Refusal(
        409,
        "Seat selection required",
        "This event has reserved seating: name the seats you want in seat_ids.",
    ),
    Outcome.NO_SEATS_TOGETHER: Refusal(
        409,
        "No seats together",
        "No block of that many adjacent free seats is left (in that zone, or accessible); "
        "ask for fewer, or choose seats with seat_ids.",
    ),
    Outcome.BOOKING_NOT_CONFIRMED: Refusal(
        409, "Booking not confirmed", "Only a confirmed booking has tickets; confirm it first."
    ),
    Outcome.BOOKING_CHECKED_IN: Refusal(
        409,
        "Booking checked in",
        "A ticket of this booking was checked in at the door; it cannot be cancelled.",
    ),
    Outcome.TICKET_NOT_FOUND: Refusal(
        404, "Ticket not found", "This booking has no valid ticket for this seat."
    ),
}


class RefusalDetails(pydantic.BaseModel):
    """Extension members a refusal may carry, as the booking functions return them."""

    model_config = pydantic.ConfigDict(extra="forbid")

    sale_opens_at: datetime | None = None
    sale_closes_at: datetime | None = None
    starts_at: datetime | None = None
    min_quantity: int | None = None
    max_quantity: int | None = None
    available: int | None = None
    waitlist_enabled: bool | None = None
    max_per_user: int | None = None
    already_booked: int | None = None
    max_per_address: int | None = None
    already_held: int | None = None
    seat_ids: list[str] | None = None
    unknown_seat_ids: list[str] | None = None
    blocked_seat_ids: list[str] | None = None


def refuse(
    code: Outcome | str,
    details: Mapping[str, Any] | None = None,
    *,
    event_id: int | None = None,
    booking: BookingOut | None = None,
    entry: WaitlistEntryOut | None = None,
    seat_ids: Sequence[str] | None = None,
    field: str = "body.seat_ids",
) -> ApiError:
    """The problem for refusal ``code``, with the details the function returned and the
    booking or waitlist entry it is about; ``seat_ids``: the seats the request named
    (its field errors then name ``body.seat_ids``); ``field``: what ``event_not_seated``
    names."""
    code = Outcome(code)
    refusal = REFUSALS[code]
    extra = RefusalDetails.model_validate(details or {}).model_dump(mode="json", exclude_unset=True)
    if booking is not None:
        extra["booking"] = booking.model_dump(mode="json")
    if entry is not None:
        extra["entry"] = entry.model_dump(mode="json")
    errors: list[FieldError] = []
    headers: dict[str, str] = {}
    detail = refusal.detail
    if code is Outcome.QUANTITY_OUT_OF_RANGE:
        low, high = extra.get("min_quantity", 1), extra.get("max_quantity")
        reason = f"must be between {low} and {high}" if high is not None else "out of range"
        if seat_ids is not None:
            errors.append(FieldError("body.seat_ids", f"{reason} seats"))
            detail = f"The number of seats {reason} for this event."
        else:
            errors.append(FieldError("body.quantity", reason))
            detail = f"The quantity {reason} for this event."
    elif code is Outcome.SOLD_OUT:
        waitlist_enabled = extra.pop("waitlist_enabled", False)
        if waitlist_enabled and event_id is not None:
            extra["waitlist"] = f"/api/v1/events/{event_id}/waitlist"
        detail = f"Only {extra.get('available', 0)} seat(s) left; not enough for this quantity."
    elif code is Outcome.INVALID_SEATS:
        errors.extend(_invalid_seat_errors(extra, seat_ids or ()))
    elif code is Outcome.EVENT_NOT_SEATED:
        errors.append(FieldError(field, "general admission: only quantity applies"))
    elif code is Outcome.SEATS_UNAVAILABLE:
        taken = extra.get("seat_ids") or []
        detail = f"Already held or sold: {', '.join(taken)}. Nothing was held; choose others."
    elif code is Outcome.SALE_NOT_OPEN and extra.get("sale_opens_at"):
        detail = f"Tickets go on sale at {extra['sale_opens_at']}."
    elif code is Outcome.IDEMPOTENCY_REQUEST_IN_FLIGHT:
        headers["Retry-After"] = "1"
    return ApiError(
        detail,
        status=refusal.status,
        code=code.value,
        title=refusal.title,
        errors=errors,
        headers=headers,
        **extra,
    )


def _invalid_seat_errors(extra: Mapping[str, Any], seat_ids: Sequence[str]) -> list[FieldError]:
    """One error per unknown or blocked seat, naming its place in ``body.seat_ids``."""
    position = {seat: i for i, seat in enumerate(seat_ids)}
    reasons = [(s, "no such seat in this event's map") for s in extra.get("unknown_seat_ids", [])]
    reasons += [(s, "blocked: never for sale") for s in extra.get("blocked_seat_ids", [])]
    reasons.sort(key=lambda r: position.get(r[0], -1))
    return [
        FieldError(f"body.seat_ids.{position[s]}" if s in position else "body.seat_ids", why)
        for s, why in reasons
    ]
