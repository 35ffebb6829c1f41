"""Contract-shaped outbox messages (docs/outbox.md), as events and bookings publish them.

``ScriptedBookings`` plays a scripted sequence of bookings-side changes (holds, confirms,
cancels, expiries, waitlist joins and offers) and returns, for each step, exactly the
messages the bookings service's outbox delivers to analytics: ``booking.changed`` or
``waitlist.changed`` followed by ``inventory.changed``. It is a script, not a bookings
implementation: it trusts the caller to ask for valid transitions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Message = dict[str, Any]
_message_ids = itertools.count(1)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def now() -> datetime:
    return datetime.now(UTC)


def message(source: str, topic: str, key: int | str, version: int, payload: dict) -> Message:
    """One message as the relay posts it to ``/internal/inbox``."""
    return {
        "id": next(_message_ids),
        "source": source,
        "topic": topic,
        "key": str(key),
        "version": version,
        "payload": payload,
        "created_at": now().isoformat(),
    }


def event_changed(
    event_id: int,
    *,
    version: int = 1,
    name: str = "Concert",
    status: str = "published",
    capacity: int = 10,
    price: str = "49.90",
    currency: str = "EUR",
    sale_opens_at: datetime | None = None,
    sale_closes_at: datetime | None = None,
    **fields: Any,
) -> Message:
    """An ``event.changed`` message with the event's full state (``fields`` override)."""
    stamp = now().isoformat()
    payload = {
        "id": event_id,
        "version": version,
        "name": name,
        "description": "",
        "type": "concert",
        "status": status,
        "starts_at": "2031-06-01T19:00:00+00:00",
        "ends_at": "2031-06-01T23:00:00+00:00",
        "capacity": capacity,
        "price": price,
        "currency": currency,
        "sale_opens_at": iso(sale_opens_at),
        "sale_closes_at": iso(sale_closes_at),
        "max_per_user": 6,
        "hold_ttl_seconds": 600,
        "waitlist_enabled": True,
        "waitlist_offer_ttl_seconds": 900,
        "venue": {"id": 1, "name": "Hall", "address": "1 Main St", "city": "X", "capacity": 500},
        "managed_by": None,
        "created_by": 1,
        "created_at": stamp,
        "updated_at": stamp,
        **fields,
    }
    return message("events", "event.changed", event_id, version, payload)


@dataclass
class ScriptedBookings:
    """The bookings side of one event, producing bookings' outbox messages step by step."""

    event_id: int
    capacity: int
    unit_price: str = "49.90"
    currency: str = "EUR"
    inventory_version: int = 0
    bookings: dict[int, dict[str, Any]] = field(default_factory=dict)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def sold(self) -> int:
        return sum(b["quantity"] for b in self.bookings.values() if b["status"] == "confirmed")

    @property
    def held(self) -> int:
        return sum(b["quantity"] for b in self.bookings.values() if b["status"] == "held")

    def _new_id(self) -> int:
        return self.event_id * 1000 + next(self._ids)

    def inventory(self) -> Message:
        self.inventory_version += 1
        available = self.capacity - self.sold - self.held
        payload = {
            "event_id": self.event_id,
            "version": self.inventory_version,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "available": available,
            "on_sale": available > 0,
            "sold_out": available == 0,
            "status": "published",
        }
        return message(
            "bookings", "inventory.changed", self.event_id, self.inventory_version, payload
        )

    def _booking_message(self, booking: dict[str, Any], transition: str, at: datetime) -> Message:
        booking["version"] += 1
        payload = {
            "transition": transition,
            "at": at.isoformat(),
            "booking": dict(booking),
            # As bookings does: the inventory version under the event's lock, so the next
            # inventory.changed (a greater version) is the first to include this change.
            "inventory_version": self.inventory_version,
        }
        return message("bookings", "booking.changed", booking["id"], booking["version"], payload)

    def hold(
        self,
        quantity: int,
        *,
        user_id: int = 7,
        at: datetime | None = None,
        entry: int | None = None,
    ) -> tuple[int, list[Message]]:
        """A new hold; returns its booking id and the messages."""
        at = at or now()
        booking_id = self._new_id()
        amount = Decimal(self.unit_price) * quantity
        booking = {
            "id": booking_id,
            "event_id": self.event_id,
            "user_id": user_id,
            "quantity": quantity,
            "status": "held",
            "unit_price": self.unit_price,
            "currency": self.currency,
            "amount": str(amount),
            "hold_expires_at": iso(at),
            "created_at": at.isoformat(),
            "confirmed_at": None,
            "cancelled_at": None,
            "expired_at": None,
            "waitlist_entry_id": entry,
            "version": 0,
        }
        self.bookings[booking_id] = booking
        return booking_id, [self._booking_message(booking, "held", at), self.inventory()]

    def _finish(
        self, booking_id: int, status: str, stamp: str, at: datetime | None
    ) -> list[Message]:
        at = at or now()
        booking = self.bookings[booking_id]
        booking["status"] = status
        booking[stamp] = at.isoformat()
        return [self._booking_message(booking, status, at), self.inventory()]

    def confirm(self, booking_id: int, at: datetime | None = None) -> list[Message]:
        return self._finish(booking_id, "confirmed", "confirmed_at", at)

    def cancel(self, booking_id: int, at: datetime | None = None) -> list[Message]:
        return self._finish(booking_id, "cancelled", "cancelled_at", at)

    def expire(self, booking_id: int, at: datetime | None = None) -> list[Message]:
        return self._finish(booking_id, "expired", "expired_at", at)

    def _entry_message(self, entry: dict[str, Any], transition: str) -> Message:
        entry["version"] += 1
        payload = {"transition": transition, "at": now().isoformat(), "entry": dict(entry)}
        return message("bookings", "waitlist.changed", entry["id"], entry["version"], payload)

    def join_waitlist(self, quantity: int, *, user_id: int = 8) -> tuple[int, list[Message]]:
        entry_id = self._new_id()
        entry = {
            "id": entry_id,
            "event_id": self.event_id,
            "user_id": user_id,
            "quantity": quantity,
            "status": "waiting",
            "offer_expires_at": None,
            "booking_id": None,
            "version": 0,
        }
        self.entries[entry_id] = entry
        return entry_id, [self._entry_message(entry, "joined")]

    def offer(self, entry_id: int) -> list[Message]:
        entry = self.entries[entry_id]
        entry["status"] = "offered"
        entry["offer_expires_at"] = now().isoformat()
        return [self._entry_message(entry, "offered")]

    def convert(self, entry_id: int) -> tuple[int, list[Message]]:
        """The offer is taken: a hold for the entry's seats, then the entry converts."""
        entry = self.entries[entry_id]
        booking_id, messages = self.hold(
            entry["quantity"], user_id=entry["user_id"], entry=entry_id
        )
        entry["status"] = "converted"
        entry["booking_id"] = booking_id
        return booking_id, [*messages, self._entry_message(entry, "converted")]

    def expire_offer(self, entry_id: int) -> list[Message]:
        entry = self.entries[entry_id]
        entry["status"] = "expired"
        return [self._entry_message(entry, "offer_expired")]

    def leave(self, entry_id: int) -> list[Message]:
        entry = self.entries[entry_id]
        entry["status"] = "left"
        return [self._entry_message(entry, "left")]
