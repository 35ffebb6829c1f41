"""Refusals: the outcome codes the booking functions return, as problem responses.

Every refusal changes nothing. The codes are stable and documented in docs/bookings.md
and docs/errors.md ("Bookings").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evently.core.errors import ApiError, FieldError


@dataclass(frozen=True)
class Refusal:
    status: int
    title: str
    detail: str


REFUSALS: dict[str, Refusal] = {
    "event_not_found": Refusal(404, "Event not found", "No bookable event has this id."),
    "event_cancelled": Refusal(409, "Event cancelled", "The event was cancelled."),
    "sale_not_open": Refusal(409, "Sale not open", "Tickets for this event are not on sale yet."),
    "sale_closed": Refusal(409, "Sale closed", "Ticket sales for this event have ended."),
    "quantity_out_of_range": Refusal(
        422, "Quantity out of range", "The quantity is outside what this event allows."
    ),
    "per_user_limit_exceeded": Refusal(
        409,
        "Per-user limit exceeded",
        "Together with your held and confirmed bookings for this event, this exceeds "
        "the per-user limit.",
    ),
    "sold_out": Refusal(409, "Sold out", "Not enough seats are left for this quantity."),
    "booking_not_found": Refusal(404, "Booking not found", "You have no booking with this id."),
    "hold_expired": Refusal(
        409, "Hold expired", "The hold expired before it was confirmed; its seats were released."
    ),
    "booking_not_confirmable": Refusal(
        409, "Booking not confirmable", "Only a held booking can be confirmed."
    ),
    "booking_not_cancellable": Refusal(
        409, "Booking not cancellable", "An expired booking cannot be cancelled."
    ),
    "event_already_started": Refusal(
        409, "Event already started", "Bookings of an event that has started cannot be cancelled."
    ),
    "idempotency_key_reused": Refusal(
        422,
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request body.",
    ),
    "idempotency_request_in_flight": Refusal(
        409,
        "Request in flight",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    ),
    "waitlist_disabled": Refusal(409, "Waitlist disabled", "This event has no waitlist."),
    "waitlist_not_needed": Refusal(
        409, "Waitlist not needed", "Seats are available: book them directly."
    ),
    "already_waitlisted": Refusal(
        409, "Already waitlisted", "You are already in this event's waitlist."
    ),
    "not_waitlisted": Refusal(404, "Not waitlisted", "You are not in this event's waitlist."),
}


def refuse(code: str, details: str | None = None, *, event_id: int | None = None) -> ApiError:
    """The problem for refusal ``code``; ``details`` is the JSON the function returned."""
    refusal = REFUSALS[code]
    extra: dict[str, Any] = json.loads(details) if details else {}
    errors: list[FieldError] = []
    headers: dict[str, str] = {}
    detail = refusal.detail
    if code == "quantity_out_of_range":
        low, high = extra.get("min_quantity", 1), extra.get("max_quantity")
        reason = f"must be between {low} and {high}" if high is not None else "out of range"
        errors.append(FieldError("body.quantity", reason))
        detail = f"The quantity {reason} for this event."
    elif code == "sold_out":
        waitlist_enabled = extra.pop("waitlist_enabled", False)
        if waitlist_enabled and event_id is not None:
            extra["waitlist"] = f"/api/v1/events/{event_id}/waitlist"
        detail = f"Only {extra.get('available', 0)} seat(s) left; not enough for this quantity."
    elif code == "sale_not_open" and extra.get("sale_opens_at"):
        detail = f"Tickets go on sale at {extra['sale_opens_at']}."
    elif code == "idempotency_request_in_flight":
        headers["Retry-After"] = "1"
    return ApiError(
        detail,
        status=refusal.status,
        code=code,
        title=refusal.title,
        errors=errors,
        headers=headers,
        **extra,
    )
