"""``booking_json`` renders the hot responses without building ``BookingOut``: its bytes
must be exactly the model's, for every shape a booking row takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evently.bookings.models import BookingOut, booking_json

NOW = datetime(2026, 12, 4, 12, 30, 15, 123456, tzinfo=UTC)


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "event_id": 3,
        "user_id": 11,
        "quantity": 2,
        "status": "held",
        "unit_price": Decimal("49.90"),
        "currency": "EUR",
        "hold_expires_at": NOW + timedelta(minutes=10),
        "created_at": NOW,
        "confirmed_at": None,
        "cancelled_at": None,
        "expired_at": None,
        "waitlist_entry_id": None,
        "payment_reference": "pay_1",  # a column the API does not show
        "version": 1,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "booking",
    [
        row(),
        row(status="confirmed", confirmed_at=NOW, version=2, payment_reference=None),
        row(status="cancelled", cancelled_at=NOW, quantity=1, unit_price=Decimal("0.00")),
        row(status="expired", expired_at=NOW, waitlist_entry_id=5, unit_price=Decimal("1234.5")),
        row(quantity=3, unit_price=Decimal("0.10"), currency="USD", id=2**62),
        row(seats="[]"),
        # A seated booking's seats as the hold function stores them (jsonb's key order).
        row(
            quantity=2,
            seats='[{"id": "S1-A-1", "row": "A", "zone": "std", "label": "1", "section": "S1"}, '
            '{"id": "S1-A-2", "row": "A", "zone": "std", "label": "2", "section": "S1"}]',
        ),
        # ... with the section and row labels kept since migration 0016.
        row(
            quantity=1,
            seats='[{"id": "b-r1-1", "row": "r1", "zone": "std", "label": "1", "section": "b", '
            '"row_label": "Row A", "section_label": "Block 112"}]',
        ),
    ],
)
def test_booking_json_is_byte_for_byte_the_models_rendering(booking) -> None:
    model = BookingOut.from_row(booking)
    assert booking_json(booking) == model.__pydantic_serializer__.to_json(model, by_alias=True)
