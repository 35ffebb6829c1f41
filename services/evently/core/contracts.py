"""Every message services exchange through the outbox, defined once (docs/outbox.md).

Each topic has one pydantic contract, a version, the service that produces it and the
services that consume it:

* **producers** write the aggregate's state to their outbox (in SQL or with
  ``core.outbox.enqueue``); the relay renders it with ``render`` just before delivery,
  so what leaves a service is always the contract, with ``schema_version`` set;
* **consumers** read a payload with ``parse``, which refuses a ``schema_version`` newer
  than the one this code knows (``UnsupportedVersion``): the inbox then leaves the
  message unacknowledged, so it stays in the producer's outbox until the consumer is
  upgraded, and says so loudly in its log and metrics;
* **fan-out** is ``TOPICS[topic].consumers``: the relay reads it to route each message
  to its consumers; nothing else lists them.

A compatible change (a new optional field) keeps the version; anything else is a new
version, which consumers must learn before producers send it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

import pydantic
from pydantic import Field

EventStatus = Literal["draft", "published", "cancelled", "completed"]
BookingStatus = Literal["held", "confirmed", "cancelled", "expired"]
WaitlistStatus = Literal["waiting", "offered", "converted", "expired", "left"]
BookingTransition = Literal["held", "confirmed", "cancelled", "expired"]
WaitlistTransition = Literal["joined", "offered", "converted", "offer_expired", "left"]
WhenSoldOut = Literal["offer_waitlist", "close"]
# What bookings does with holds on an event whose waiting room cannot be reached.
WhenUnavailable = Literal["fail_closed", "fail_open"]
# Money: a Decimal, rendered as a decimal string ("49.90"), never a float. Its scale is
# the column's (numeric(12, 2)); stored rows carry it as text so that it survives JSON.
Money = Decimal


class UnsupportedVersion(ValueError):
    """A message written for a newer contract than this code knows."""


class Shape(pydantic.BaseModel):
    """A shape inside a contract: unknown fields are ignored (additions are compatible)."""

    model_config = pydantic.ConfigDict(extra="ignore")


class Contract(Shape):
    """A message payload; ``TOPIC`` and ``VERSION`` say what it is."""

    TOPIC: ClassVar[str]
    VERSION: ClassVar[int]

    schema_version: int = Field(1, ge=1, description="The contract version of this payload")


# ---------------------------------------------------------------- event.changed


class EventVenueSummary(Shape):
    """The venue as other services receive it."""

    id: int
    name: str
    address: str
    city: str
    capacity: int


class WaitingRoomConfig(Shape):
    """An event's virtual waiting room, as the events API and ``event.changed`` carry it
    (docs/waiting-room.md)."""

    enabled: bool = Field(description="Whether buyers queue in the room before they may hold seats")
    prequeue_opens_at: datetime | None = Field(
        description="When visitors may start joining (null: as soon as the room exists); "
        "everyone who joins before the sale opens is placed by a seeded shuffle"
    )
    admission_rate_per_minute: int = Field(description="Visitors admitted per minute")
    max_active_shoppers: int = Field(description="Admitted visitors shopping at once, at most")
    session_ttl_s: int = Field(description="Seconds an admitted visitor may shop")
    when_sold_out: WhenSoldOut = Field(
        description="offer_waitlist: waiters are told and offered the waitlist; close: "
        "waiters are told and the room closes"
    )
    when_unavailable: WhenUnavailable = Field(
        "fail_closed",
        description="While the room cannot be reached (bookings cannot fetch its keys): "
        "fail_closed refuses holds without a valid admission token; fail_open lets them "
        "through (counted). Absent in older messages: fail_closed",
    )


class EventSeating(Shape):
    """A seated event's map: bookings fetches this version once from the events
    service (``GET /internal/v1/seat-maps/{map_id}/versions/{map_version}``,
    ``core.seat_maps``); the map is too big for a message."""

    map_id: int
    map_version: int
    zone_prices: dict[str, Money] = Field(
        default_factory=dict,
        description="Price per zone id; a zone not named costs the event's price (none in "
        "messages sent before the field existed)",
    )
    channels: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Seats kept back per channel (a promoter, say): channel name -> seat ids; "
        "none in messages sent before the field existed",
    )


class EventFields(Shape):
    """An event's own fields, as the events API and ``event.changed`` show them."""

    id: int
    version: int
    name: str
    description: str
    type: str
    status: EventStatus
    starts_at: datetime
    ends_at: datetime
    capacity: int
    price: Money
    currency: str
    sale_opens_at: datetime | None
    sale_closes_at: datetime | None
    max_per_user: int
    hold_ttl_seconds: int
    waitlist_enabled: bool
    waitlist_offer_ttl_seconds: int
    # Seats on hold from one client address at a time; None (and in messages sent
    # before the field existed): no limit.
    max_per_address: int | None = None
    # The event's waiting room; None (and in messages sent before the field existed):
    # no room, anyone may hold seats.
    waiting_room: WaitingRoomConfig | None = None
    # The seat map a seated event sells; None (and in messages sent before the field
    # existed): general admission.
    seating: EventSeating | None = None
    # Holds need a verified email (the anti-hoarding defence); False in messages sent
    # before the field existed.
    require_verified_email: bool = False
    # Seconds before a hold expires that its buyer is mailed a reminder; None (and in
    # older messages): no reminder.
    hold_expiry_reminder_s: int | None = None
    managed_by: str | None
    created_at: datetime
    updated_at: datetime


class EventChanged(EventFields, Contract):
    """``event.changed``: an event's full state (also ``GET /internal/events/{id}``)."""

    TOPIC = "event.changed"
    VERSION = 1

    venue: EventVenueSummary
    created_by: int | None


# ---------------------------------------------------------------- inventory.changed


class InventoryChanged(Contract):
    """``inventory.changed``: bookings' seat counts and waitlist length for one event."""

    TOPIC = "inventory.changed"
    VERSION = 1

    event_id: int
    version: int = Field(description="The inventory version (bookings' own counter)")
    capacity: int
    sold: int
    held: int
    available: int
    on_sale: bool
    sold_out: bool
    status: EventStatus
    waitlisted: int = Field(0, description="Entries waiting in line (0 in older messages)")


# ---------------------------------------------------------------- booking.changed


class BookedSeat(Shape):
    """A seat of a booking on a seated event (ids as in the seat map, docs/seating.md)."""

    id: str
    label: str = Field(description="As printed on the seat")
    section: str = Field(description="The section's id")
    row: str = Field(description="The row's id")
    zone: str = Field(description="The price zone's id")
    section_label: str = Field(
        "", description="The section's label, as printed (its id in older bookings)"
    )
    row_label: str = Field("", description="The row's label, as printed (its id in older bookings)")
    price: Money | None = Field(
        None,
        description="What the seat cost when held: its zone's price, else the event's "
        "(null in bookings made before zone prices)",
    )

    @pydantic.model_validator(mode="after")
    def _labels_default_to_ids(self) -> BookedSeat:
        """Seats stored before labels were kept name their section and row by id (equal to
        the labels on a rectangular map)."""
        if not self.section_label:
            self.section_label = self.section
        if not self.row_label:
            self.row_label = self.row
        return self


class Booking(Shape):
    """A booking, as the bookings API and ``booking.changed`` show it."""

    id: int
    event_id: int
    user_id: int
    quantity: int
    status: BookingStatus
    unit_price: Money = Field(
        description="The event's price, decimal string, e.g. '49.90' (a seated event's "
        "seats may cost their zone's price instead: see amount)"
    )
    currency: str
    amount: Money = Field(
        default_factory=lambda fields: fields["unit_price"] * fields["quantity"],
        description="What the booking costs, decimal string: the sum of its seats' prices "
        "on a seated event, else unit_price x quantity (also for rows stored before amount)",
    )
    hold_expires_at: datetime
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    waitlist_entry_id: int | None = Field(description="Set when the booking is a waitlist offer")
    version: int
    seats: list[BookedSeat] = Field(
        default_factory=list,
        description="The seats held or booked (a seated event); [] for general admission",
    )

    @pydantic.model_validator(mode="before")
    @classmethod
    def _amount_of_older_rows(cls, data: Any) -> Any:
        """Rows and messages from before ``amount`` was stored carry none (or null)."""
        if isinstance(data, Mapping) and data.get("amount", 0) is None:
            data = {k: v for k, v in data.items() if k != "amount"}
        return data

    @pydantic.field_validator("seats", mode="before")
    @classmethod
    def _seats_as_stored(cls, value: Any) -> Any:
        """A stored row keeps its seats as JSON text; older rows and messages have none."""
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else value


class BookingChanged(Contract):
    """``booking.changed``: one transition and the booking's full state after it."""

    TOPIC = "booking.changed"
    VERSION = 1

    transition: BookingTransition
    at: datetime
    booking: Booking
    inventory_version: int | None = Field(
        None,
        description="The event's inventory version when the transition was made (under the "
        "event's lock): the first inventory.changed that includes it has a greater version "
        "(null in older messages)",
    )


# ---------------------------------------------------------------- waitlist.changed


class WaitlistEntry(Shape):
    """A waitlist entry, as ``waitlist.changed`` carries it."""

    id: int
    event_id: int
    user_id: int
    quantity: int
    status: WaitlistStatus
    offer_expires_at: datetime | None
    booking_id: int | None = Field(description="The held booking of an open offer")
    version: int


class WaitlistChanged(Contract):
    """``waitlist.changed``: one transition and the entry's full state after it."""

    TOPIC = "waitlist.changed"
    VERSION = 1

    transition: WaitlistTransition
    at: datetime
    entry: WaitlistEntry


# ---------------------------------------------------------------- ticket.checked_in


class TicketCheckedIn(Contract):
    """``ticket.checked_in``: a ticket's first valid scan at the door (docs/checkin.md);
    sent once per ticket, in the scan's transaction."""

    TOPIC = "ticket.checked_in"
    VERSION = 1

    ticket_id: int
    event_id: int
    booking_id: int
    seat: int
    gate: str
    checked_in_at: datetime


# ---------------------------------------------------------------- user.changed


class UserChanged(Contract):
    """``user.changed``: what other services may know of an account (its mail address).

    Written by a trigger on ``users.users`` (``users/sql/publish_user.sql``) whenever one
    of these fields changes, so no writer can forget it."""

    TOPIC = "user.changed"
    VERSION = 1

    id: int
    version: int
    email: str
    email_verified: bool
    name: str
    active: bool = Field(description="False once an admin deactivated the account")


# ---------------------------------------------------------------- account.mail_requested

AccountMailKind = Literal["password_reset", "email_verification"]


class AccountMailRequested(Contract):
    """``account.mail_requested``: the users service asks for a mail carrying a
    single-use token (a password reset or an email verification) to one address.

    The token is in clear here, as the mail must carry it; users keeps only its digest,
    and the message leaves users' outbox a day after delivery (docs/notifications.md)."""

    TOPIC = "account.mail_requested"
    VERSION = 1

    kind: AccountMailKind
    request_id: int = Field(description="The token's id: one mail per request")
    user_id: int
    email: str = Field(description="Where the mail goes: the address the token is for")
    name: str
    token: str
    expires_at: datetime


# ---------------------------------------------------------------- refund.changed

RefundStatus = Literal["pending", "succeeded", "failed"]
RefundTransition = Literal["created", "succeeded", "failed"]


class Refund(Shape):
    """A refund of a cancelled paid booking, as the bookings API and ``refund.changed``
    show it."""

    id: int
    booking_id: int
    event_id: int
    user_id: int
    reason: Literal["booking_cancelled", "event_cancelled", "payment_not_confirmed"]
    amount: Money = Field(description="Decimal string, e.g. '99.80'")
    currency: str
    status: RefundStatus
    attempts: int = Field(description="Provider calls that failed or timed out so far")
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class RefundChanged(Contract):
    """``refund.changed``: one transition and the refund's full state after it."""

    TOPIC = "refund.changed"
    VERSION = 1

    transition: RefundTransition
    at: datetime
    refund: Refund


# ---------------------------------------------------------------- topics

C = TypeVar("C", bound=Contract)


@dataclass(frozen=True)
class Topic:
    contract: type[Contract]
    producer: str
    consumers: tuple[str, ...]


TOPICS: dict[str, Topic] = {
    EventChanged.TOPIC: Topic(
        EventChanged, "events", ("bookings", "search", "analytics", "notifications", "waiting_room")
    ),
    InventoryChanged.TOPIC: Topic(
        InventoryChanged, "bookings", ("search", "events", "analytics", "waiting_room")
    ),
    BookingChanged.TOPIC: Topic(
        BookingChanged, "bookings", ("analytics", "notifications", "waiting_room")
    ),
    WaitlistChanged.TOPIC: Topic(WaitlistChanged, "bookings", ("analytics", "notifications")),
    TicketCheckedIn.TOPIC: Topic(TicketCheckedIn, "bookings", ("analytics",)),
    UserChanged.TOPIC: Topic(UserChanged, "users", ("notifications",)),
    AccountMailRequested.TOPIC: Topic(AccountMailRequested, "users", ("notifications",)),
    RefundChanged.TOPIC: Topic(RefundChanged, "bookings", ("analytics", "notifications")),
}


def routes(producer: str) -> dict[str, tuple[str, ...]]:
    """Topic -> consumers for every topic ``producer`` publishes (what its relay routes)."""
    return {name: t.consumers for name, t in TOPICS.items() if t.producer == producer}


def consumers(producer: str) -> list[str]:
    """Every service that consumes something ``producer`` publishes, in a stable order."""
    return list(dict.fromkeys(c for cs in routes(producer).values() for c in cs))


def render(topic: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a ``topic`` message from the state a producer stored (JSON-ready)."""
    contract = TOPICS[topic].contract
    message = contract.model_validate(state)
    message.schema_version = contract.VERSION
    return message.model_dump(mode="json")


def render_json(topic: str, state_json: str | bytes) -> bytes:
    """``render`` for a state stored as JSON text, straight to JSON (the relay's path)."""
    contract = TOPICS[topic].contract
    message = contract.model_validate_json(state_json)
    message.schema_version = contract.VERSION
    return contract.__pydantic_serializer__.to_json(message)


def parse(contract: type[C], payload: Mapping[str, Any]) -> C:
    """A received payload as ``contract``; refuses a version newer than this code knows."""
    version = payload.get("schema_version", 1)
    if not isinstance(version, int) or version > contract.VERSION:
        raise UnsupportedVersion(
            f"{contract.TOPIC} schema_version {version!r} is not supported (this consumer "
            f"knows up to {contract.VERSION}); upgrade it"
        )
    return contract.model_validate(payload)
