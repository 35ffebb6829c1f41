"""Request and response shapes of the analytics API (they also document it in OpenAPI).

Money is always a decimal string (``"149.70"``) keyed by ISO 4217 currency; ratios are
floats in [0, 1] rounded to 4 places, or null when the denominator is zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import pydantic
from pydantic import AwareDatetime, Field

from evently.analytics.traffic import MAX_WINDOW_S, MIN_WINDOW_S, window_seconds
from evently.core.query_params import IsoOnly

Money = dict[str, str]


class _Query(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)


class OverviewQuery(_Query):
    top: int = Field(10, ge=1, le=100, description="How many top-selling events to list")


class EventReportQuery(_Query):
    bucket: Literal["1m", "5m", "1h"] = Field("1h", description="Sales timeline bucket width")
    from_: Annotated[AwareDatetime | None, IsoOnly] = Field(
        None,
        alias="from",
        description="Timeline start (ISO 8601 with zone); default: the first booking",
    )
    to: Annotated[AwareDatetime | None, IsoOnly] = Field(
        None, description="Timeline end, exclusive (ISO 8601 with zone); default: now"
    )


class TrafficQuery(_Query):
    window: str = Field("15m", description="Range for rates and quantiles: <n>s|m|h|d, 10s-7d")
    at: AwareDatetime | None = Field(
        None, description="Evaluate at this instant (ISO 8601 or Unix seconds); default: now"
    )

    @pydantic.field_validator("window")
    @classmethod
    def _window_in_range(cls, value: str) -> str:
        seconds = window_seconds(value)
        if seconds is None or not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
            raise ValueError("expected a duration like 15m (<n>s|m|h|d, between 10s and 7d)")
        return value


class _Out(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class EventCounts(_Out):
    on_sale: int = Field(description="Published, inside the sale window, not sold out")
    published: int
    sold_out: int
    known: int = Field(description="Events analytics has heard of, in any status")


class SellThrough(_Out):
    capacity: int = Field(description="Seats of published and completed events")
    sold: int
    rate: float | None


class TopEvent(_Out):
    event_id: int
    name: str | None
    status: str | None
    tickets_sold: int
    bookings_confirmed: int
    capacity: int | None
    sell_through: float | None
    revenue_by_currency: Money


class RecentWindow(_Out):
    holds: int = Field(description="Bookings placed (held) in the window")
    confirmed: int = Field(description="Bookings confirmed in the window")
    tickets_sold: int


class RecentBookings(_Out):
    last_hour: RecentWindow
    last_24h: RecentWindow


class Overview(_Out):
    as_of: datetime
    events: EventCounts
    tickets_sold: int
    bookings_confirmed: int
    revenue_by_currency: Money
    sell_through: SellThrough
    top_events: list[TopEvent]
    recent_bookings: RecentBookings


class BookingCounts(_Out):
    holds_placed: int = Field(description="Every booking, since each starts as a hold")
    confirmed: int = Field(description="Bookings ever confirmed (even if cancelled later)")
    cancelled: int
    expired: int
    active_holds: int
    tickets_sold: int
    tickets_held: int
    tickets_cancelled: int
    tickets_expired: int


class WaitlistFigures(_Out):
    joins: int
    offers: int
    conversions: int
    offer_expirations: int
    left: int
    offer_conversion: float | None = Field(description="conversions / offers")
    entries_by_status: dict[str, int]


class CheckinFigures(_Out):
    checked_in: int = Field(description="Tickets checked in at the door (first valid scans)")
    check_in_rate: float | None = Field(description="checked_in / tickets sold")
    by_gate: dict[str, int] = Field(description="Check-ins per gate")
    last_checked_in_at: datetime | None


class TimelinePoint(_Out):
    start: datetime
    holds: int
    confirmed: int
    tickets_sold: int
    revenue_by_currency: Money
    cancelled: int
    expired: int
    checked_in: int = Field(description="Tickets checked in at the door in this bucket")
    tickets_per_minute: float


class Timeline(_Out):
    bucket: str
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    points: list[TimelinePoint]

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)


class EventReport(_Out):
    event_id: int
    name: str | None
    status: str | None
    currency: str | None
    as_of: datetime
    capacity: int | None
    sold: int
    held: int
    available: int | None
    utilization: float | None = Field(description="(sold + held) / capacity")
    sell_through: float | None = Field(description="sold / capacity")
    on_sale: bool | None
    sold_out: bool | None
    seats_source: Literal["inventory", "bookings"] = Field(
        description="inventory: bookings' own counts (inventory.changed); "
        "bookings: derived from booking facts"
    )
    inventory_version: int | None
    revenue_by_currency: Money
    bookings: BookingCounts
    hold_to_confirm_conversion: float | None = Field(description="confirmed / holds placed")
    waitlist: WaitlistFigures
    checkins: CheckinFigures
    timeline: Timeline


class OutboxConsumer(_Out):
    lag_seconds: float | None = None
    max_lag_seconds: float | None = None
    pending_messages: float | None = None


class ServiceTraffic(_Out):
    request_rate: float | None = Field(description="Requests per second")
    error_rate: float | None = Field(description="5xx responses per second")
    error_ratio: float | None = Field(description="error_rate / request_rate")
    latency_p95_seconds: float | None
    latency_p99_seconds: float | None
    outbox: dict[str, OutboxConsumer] = Field(description="This service's outbox, by consumer")
    booking_outcomes_per_second: dict[str, float | None] | None = None
    lock_wait_p99_seconds: float | None = None


class Traffic(_Out):
    window: str
    evaluated_at: datetime
    evaluated_at_unix: float
    services: dict[str, ServiceTraffic]
    queries: dict[str, str] = Field(description="The PromQL behind each figure")
