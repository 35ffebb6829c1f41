"""Contract-shaped messages for the notifications inbox (as the relays post them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.analytics.contract import Message, event_changed, message

__all__ = ["booking_changed", "event_changed", "user_changed", "waitlist_offered"]


def user_changed(
    user_id: int, email: str, *, version: int = 1, name: str = "Ann", verified: bool = False
) -> Message:
    payload = {
        "id": user_id,
        "version": version,
        "email": email,
        "email_verified": verified,
        "name": name,
        "active": True,
    }
    return message("users", "user.changed", user_id, version, payload)


def booking_changed(
    booking_id: int,
    user_id: int,
    event_id: int,
    transition: str,
    *,
    version: int = 1,
    quantity: int = 2,
    waitlist_entry_id: int | None = None,
) -> Message:
    now = datetime.now(UTC)
    status = {"held": "held", "confirmed": "confirmed"}.get(transition, transition)
    booking: dict[str, Any] = {
        "id": booking_id,
        "event_id": event_id,
        "user_id": user_id,
        "quantity": quantity,
        "status": status,
        "unit_price": "49.90",
        "currency": "EUR",
        "hold_expires_at": (now + timedelta(minutes=10)).isoformat(),
        "created_at": now.isoformat(),
        "confirmed_at": now.isoformat() if status == "confirmed" else None,
        "cancelled_at": now.isoformat() if status == "cancelled" else None,
        "expired_at": None,
        "waitlist_entry_id": waitlist_entry_id,
        "version": version,
    }
    payload = {"transition": transition, "at": now.isoformat(), "booking": booking}
    return message("bookings", "booking.changed", booking_id, version, payload)


def waitlist_offered(
    entry_id: int, user_id: int, event_id: int, booking_id: int, expires_at: datetime
) -> Message:
    entry = {
        "id": entry_id,
        "event_id": event_id,
        "user_id": user_id,
        "quantity": 1,
        "status": "offered",
        "offer_expires_at": expires_at.isoformat(),
        "booking_id": booking_id,
        "version": 2,
    }
    payload = {"transition": "offered", "at": datetime.now(UTC).isoformat(), "entry": entry}
    return message("bookings", "waitlist.changed", entry_id, 2, payload)


def refund_changed(
    refund_id: int,
    user_id: int,
    event_id: int,
    booking_id: int,
    transition: str,
    version: int,
    reason: str = "event_cancelled",
) -> Message:
    status = {"created": "pending"}.get(transition, transition)
    at = datetime.now(UTC).isoformat()
    refund = {
        "id": refund_id,
        "booking_id": booking_id,
        "event_id": event_id,
        "user_id": user_id,
        "reason": reason,
        "amount": "99.80",
        "currency": "EUR",
        "status": status,
        "attempts": 0 if status != "failed" else 5,
        "last_error": None if status != "failed" else "refund refused",
        "created_at": at,
        "updated_at": at,
        "version": version,
    }
    payload = {"transition": transition, "at": at, "refund": refund}
    return message("bookings", "refund.changed", refund_id, version, payload)
