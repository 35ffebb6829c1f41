"""The events service's data shapes: what comes in, what is stored, what goes out.

* ``EventInput`` (with ``EventVenueInput``) is a full description of an event as an admin or
  the Kubernetes operator sends it; its validators state every rule a request can
  break, so a bad request is refused before any SQL runs.
* ``Event`` is one stored event with its venue, as the repository returns it.
* ``PublicEvent`` is what anonymous callers see; ``EventChanged`` (``core.contracts``) is
  the exact payload of the ``event.changed`` outbox topic and of
  ``GET /internal/events/{id}``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AwareDatetime, Field, StringConstraints
from pydantic_core import PydanticCustomError

from evently.core.contracts import (
    EventChanged,
    EventFields,
    EventSeating,
    EventStatus,
    EventVenueSummary,
    Money,
    WaitingRoomConfig,
    WhenSoldOut,
    WhenUnavailable,
)
from evently.core.query_params import IsoOnly
from evently.events.seating_models import EventSeatingInput

# Cancellation is its own operation (DELETE / ``cancel_event``) and cannot be undone.
WritableStatus = Literal["draft", "published", "completed"]
EventType = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z][a-z0-9-]{0,39}$"),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ManagedBy = Annotated[
    str,
    StringConstraints(
        pattern=r"^kubernetes:[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
        max_length=330,
    ),
]
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
MAX_CAPACITY = 1_000_000
MAX_EVENT_DURATION = timedelta(days=366)
DEFAULT_MAX_PER_USER = 10
MAX_LAYOUT_BYTES = 64 * 1024

_strict = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventVenueInput(pydantic.BaseModel):
    """A venue embedded in an event; the same (name, city) means the same venue."""

    model_config = _strict

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    city: str = Field(min_length=1, max_length=100)
    capacity: int = Field(gt=0, le=MAX_CAPACITY)
    layout: dict[str, Any] = Field(
        default_factory=dict,
        description="Deprecated and ignored (seat maps replaced it, docs/seating.md); "
        "accepted so that existing clients keep working",
        json_schema_extra={"deprecated": True},
    )

    @pydantic.field_validator("layout")
    @classmethod
    def _layout_bounded(cls, layout: dict[str, Any]) -> dict[str, Any]:
        if len(pydantic_core_json(layout)) > MAX_LAYOUT_BYTES:
            raise ValueError("the layout must be at most 64 KiB of JSON")
        return layout


# Earlier name, kept for callers (the operator); the class name stays unique in OpenAPI.
VenueInput = EventVenueInput


class WaitingRoomInput(WaitingRoomConfig):
    """An event's waiting room settings as an admin sends them (docs/waiting-room.md)."""

    model_config = _strict

    enabled: bool = True
    prequeue_opens_at: AwareDatetime | None = None
    admission_rate_per_minute: int = Field(ge=1, le=1_000_000)
    max_active_shoppers: int = Field(ge=1, le=1_000_000)
    session_ttl_s: int = Field(default=600, ge=30, le=86400)
    when_sold_out: WhenSoldOut = "offer_waitlist"
    when_unavailable: WhenUnavailable = "fail_closed"


class EventInput(pydantic.BaseModel):
    """Everything that defines an event: the body of admin POST/PUT and the operator's spec.

    ``price`` is a decimal string (``"49.90"``); numbers are accepted but strings never
    lose precision. Times must carry a timezone. A missing sale bound means no bound.
    """

    model_config = _strict

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    type: EventType = Field(description="Lower-case slug such as concert, sports, theatre")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int | None = Field(
        default=None,
        gt=0,
        le=MAX_CAPACITY,
        description="Seats on sale; required for general admission. A seated event's is its "
        "map's sellable seats: omit it, or give exactly that number",
    )
    price: Price
    currency: Currency = Field(description="ISO 4217 code, e.g. EUR")
    status: WritableStatus = "draft"
    sale_opens_at: AwareDatetime | None = None
    sale_closes_at: AwareDatetime | None = None
    max_per_user: int = Field(
        default=DEFAULT_MAX_PER_USER,
        ge=1,
        le=100,
        description=f"Seats one buyer may hold; default: {DEFAULT_MAX_PER_USER}, or the "
        "capacity when that is smaller",
    )
    hold_ttl_seconds: int = Field(default=600, ge=1, le=3600)
    max_per_address: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Seats on hold from one client address at a time, against hoarding "
        "with throwaway accounts in a flash sale; null (the default): no limit",
    )
    waitlist_enabled: bool = True
    waitlist_offer_ttl_seconds: int = Field(default=900, ge=1, le=86400)
    waiting_room: WaitingRoomInput | None = Field(
        default=None,
        description="A virtual waiting room for the sale; null (the default): none",
    )
    require_verified_email: pydantic.StrictBool = Field(
        default=False,
        description="Only buyers whose email is verified may hold seats (against hoarding "
        "with throwaway accounts); default false",
    )
    hold_expiry_reminder_s: pydantic.StrictInt | None = Field(
        default=None,
        ge=30,
        le=86400,
        description="Mail the buyer this many seconds before their hold expires; null (the "
        "default): no reminder. A hold no longer than this gets none",
    )
    venue: EventVenueInput | None = Field(
        default=None, description="The venue, upserted by (name, city); or give venue_id"
    )
    venue_id: int | None = Field(
        default=None, ge=1, lt=2**63, description="A venue of the venues API; or give venue"
    )
    seating: EventSeatingInput | None = Field(
        default=None,
        description="Seated on this version of one of the venue's seat maps; null (the "
        "default): general admission",
    )

    @pydantic.model_validator(mode="before")
    @classmethod
    def _default_max_per_user(cls, data: Any) -> Any:
        """Without ``max_per_user``, a small event's limit follows its capacity (as the
        operator's does), instead of failing for exceeding it."""
        if isinstance(data, dict) and data.get("max_per_user") is None:
            capacity = data.get("capacity")
            if isinstance(capacity, int) and not isinstance(capacity, bool) and capacity > 0:
                data = {**data, "max_per_user": min(DEFAULT_MAX_PER_USER, capacity)}
        return data

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> EventInput:
        """The cross-field rules (the database checks them again as constraints)."""
        problems: list[tuple[str, str]] = []
        if self.ends_at <= self.starts_at:
            problems.append(("ends_at", "must be after starts_at"))
        elif self.ends_at - self.starts_at > MAX_EVENT_DURATION:
            problems.append(("ends_at", "an event lasts at most 366 days"))
        opens, closes = self.sale_opens_at, self.sale_closes_at
        if opens is not None and closes is not None and closes <= opens:
            problems.append(("sale_closes_at", "must be after sale_opens_at"))
        if closes is not None and closes > self.ends_at:
            problems.append(("sale_closes_at", "the sale cannot close after the event ends"))
        if opens is not None and opens >= self.ends_at:
            problems.append(("sale_opens_at", "the sale must open before the event ends"))
        if (self.venue is None) == (self.venue_id is None):
            problems.append(("venue", "give either venue or venue_id"))
        if self.capacity is None:
            if self.seating is None:
                problems.append(("capacity", "required for a general admission event"))
        else:
            if self.venue is not None and self.capacity > self.venue.capacity:
                problems.append(("capacity", "cannot exceed the venue's capacity"))
            if self.max_per_user > self.capacity:
                problems.append(("max_per_user", "cannot exceed the event's capacity"))
        room = self.waiting_room
        if room is not None and room.prequeue_opens_at is not None:
            if opens is None:
                problems.append(
                    (
                        "waiting_room.prequeue_opens_at",
                        "a pre-queue needs sale_opens_at: it is shuffled when the sale opens",
                    )
                )
            elif room.prequeue_opens_at >= opens:
                problems.append(("waiting_room.prequeue_opens_at", "must be before sale_opens_at"))
        if problems:
            raise field_errors(type(self).__name__, problems)
        return self


class EventVenue(EventVenueSummary):
    """The venue as the API shows it (its seat maps: ``GET /api/v1/venues/{id}``)."""


class PublicEventSeating(pydantic.BaseModel):
    """A seated event's map as anyone may see it: no channel allocations (which seats are
    kept back for whom is the organiser's business; docs/seating.md)."""

    map_id: int
    map_version: int
    zone_prices: dict[str, Money] = Field(
        default_factory=dict, description="Price per zone id; a zone not named costs `price`"
    )


class PublicEvent(EventFields):
    """An event as anyone may see it: every field but ``created_by`` and the seating's
    ``channels``, with its venue."""

    venue: EventVenue
    seating: PublicEventSeating | None = None  # type: ignore[assignment]


class Event(PublicEvent):
    """One stored event with its venue: what the repository returns and admins see."""

    created_by: int | None
    seating: EventSeating | None = None  # type: ignore[assignment]

    def public(self) -> PublicEvent:
        return PublicEvent.model_validate(
            self.model_dump(exclude={"created_by": True, "seating": {"channels"}})
        )

    def changed_payload(self) -> EventChanged:
        """The ``event.changed`` message for this state."""
        return EventChanged.model_validate(self.model_dump())


class EventPage(pydantic.BaseModel):
    """One page of the public list."""

    items: list[PublicEvent]
    total: int
    page: int
    limit: int


class AdminEventPage(pydantic.BaseModel):
    """One page of the admin list (drafts and cancelled events included)."""

    items: list[Event]
    total: int
    page: int
    limit: int


Sort = Literal["starts_at", "-starts_at", "price", "-price"]


def _bound(value: Any, *, end_of_day: bool) -> Any:
    """A bare date in a range filter means the start (``from``) or end (``to``) of that day."""
    if isinstance(value, str) and len(value) == 10:
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return value
        return day + timedelta(days=1, microseconds=-1) if end_of_day else day
    return value


class EventListQuery(pydantic.BaseModel):
    """Query parameters of ``GET /api/v1/events``; anything else is a 400."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    type: EventType | None = None
    venue_id: int | None = Field(default=None, ge=1, lt=2**63)
    from_: Annotated[AwareDatetime | None, IsoOnly] = Field(
        default=None, alias="from", description="Events starting at or after (ISO 8601 or date)"
    )
    to: Annotated[AwareDatetime | None, IsoOnly] = Field(
        default=None, description="Events starting at or before (a date means the whole day)"
    )
    min_price: Price | None = None
    max_price: Price | None = None
    currency: Currency | None = None
    available: bool | None = Field(
        default=None, description="true: seats left; false: sold out (bookings' figures)"
    )
    sort: Sort = "starts_at"
    include_past: bool = Field(
        default=False,
        description="Also list events that have ended; without it, and without from/to, "
        "the list shows events that have not ended yet",
    )

    @property
    def upcoming_only(self) -> bool:
        """Whether only events that have not ended are listed (the default)."""
        return not self.include_past and self.from_ is None and self.to is None

    @pydantic.field_validator("from_", mode="before")
    @classmethod
    def _from_day(cls, value: Any) -> Any:
        return _bound(value, end_of_day=False)

    @pydantic.field_validator("to", mode="before")
    @classmethod
    def _to_day(cls, value: Any) -> Any:
        return _bound(value, end_of_day=True)

    @pydantic.model_validator(mode="after")
    def _ranges_ordered(self) -> EventListQuery:
        problems = []
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            problems.append(("to", "must not be before from"))
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.max_price < self.min_price
        ):
            problems.append(("max_price", "must not be below min_price"))
        if problems:
            raise field_errors(type(self).__name__, problems)
        return self


class AdminEventListQuery(EventListQuery):
    """Query parameters of ``GET /api/v1/admin/events``: the public ones plus ``status``."""

    status: EventStatus | None = None
    managed: bool | None = Field(
        default=None, description="true: only events a Kubernetes resource owns; false: none"
    )


class LiveAvailability(pydantic.BaseModel):
    """Seat figures for one event, live from the bookings service."""

    event_id: int
    capacity: int
    sold: int
    held: int
    available: int
    on_sale: bool
    sold_out: bool
    waitlisted: int = 0
    status: str


class ReservedSeats(pydantic.BaseModel):
    """Seats bookings has sold or holds for an event: the floor for its capacity."""

    sold: int = 0
    held: int = 0

    @property
    def total(self) -> int:
        return self.sold + self.held


def field_errors(title: str, problems: list[tuple[str, str]]) -> pydantic.ValidationError:
    """A validation error naming each field that breaks a cross-field rule, and why."""
    return pydantic.ValidationError.from_exception_data(
        title,
        [
            {"type": PydanticCustomError("inconsistent", why), "loc": (field,), "input": None}
            for field, why in problems
        ],
    )


def pydantic_core_json(value: Any) -> bytes:
    """Compact JSON of a plain value (for size limits)."""
    return pydantic.TypeAdapter(Any).dump_json(value)
