"""Request and response shapes of the bookings API.

Responses are rendered by PostgreSQL (``bookings.booking_json`` and friends) and passed
through as JSON text; these models document them in OpenAPI and let tests check them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import pydantic
from pydantic import Field

INT32_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Any whole number PostgreSQL's integer holds; the event's own bounds are checked by the
# booking rules, which answer quantity_out_of_range.
Quantity = Annotated[int, Field(ge=-(2**31), le=INT32_MAX, description="Seats, 1..max_per_user")]

BookingStatus = Literal["held", "confirmed", "cancelled", "expired"]
WaitlistStatus = Literal["waiting", "offered", "converted", "expired", "left"]


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)


class BookingCreate(_Strict):
    """``POST /api/v1/bookings``: hold ``quantity`` seats of ``event_id``."""

    event_id: Id
    quantity: Quantity


class WaitlistJoin(_Strict):
    """``POST /api/v1/events/{id}/waitlist``: wait for ``quantity`` seats."""

    quantity: Quantity


class BookingOut(pydantic.BaseModel):
    """A booking: a hold until confirmed, cancelled or expired."""

    id: int
    event_id: int
    user_id: int
    quantity: int
    status: BookingStatus
    unit_price: str = Field(description="Decimal string, e.g. '49.90'")
    currency: str
    amount: str = Field(description="unit_price x quantity, decimal string")
    hold_expires_at: datetime
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    waitlist_entry_id: int | None = Field(description="Set when the booking is a waitlist offer")
    version: int


class BookingPage(pydantic.BaseModel):
    items: list[BookingOut]
    total: int
    page: int
    limit: int


class BookingListQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(20, ge=1, le=100)
    event_id: Id | None = None
    status: BookingStatus | None = None


class PageQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(20, ge=1, le=100)


class WaitlistEntryOut(pydantic.BaseModel):
    """A place in an event's waitlist."""

    id: int
    event_id: int
    user_id: int
    quantity: int
    status: WaitlistStatus
    position: int | None = Field(description="1-based place in line while waiting")
    offer_expires_at: datetime | None
    booking_id: int | None = Field(description="The held booking of an open offer")
    created_at: datetime
    version: int


class AvailabilityOut(pydantic.BaseModel):
    """Live seat counts of one event."""

    event_id: int
    capacity: int
    sold: int
    held: int
    available: int
    on_sale: bool
    sold_out: bool
    waitlisted: int
    status: str
    version: int = Field(description="The inventory version last published")
