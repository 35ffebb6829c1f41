"""Request and response shapes of the bookings API, and the one place bodies are made.

The functions in ``sql/`` return typed rows (``bookings.bookings`` and
``bookings.waitlist_entries`` rows, availability columns); ``from_row`` turns them into
these models, which ``core.api.json_response`` renders. A booking is the same shape in
the API and in ``booking.changed`` (``core.contracts.Booking``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field
from typing_extensions import TypedDict

from evently.core.contracts import BookedSeat, Booking, BookingStatus, Money, Refund, WaitlistEntry
from evently.core.errors import FieldError
from evently.core.seat_maps import SeatId, Slug

INT32_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Any whole number PostgreSQL's integer holds; the event's own bounds are checked by the
# booking rules, which answer quantity_out_of_range.
Quantity = Annotated[int, Field(ge=-(2**31), le=INT32_MAX, description="Seats, 1..max_per_user")]


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)


# The most seats one request may name (an event's max_per_user is checked by the rules).
MAX_SEATS_PER_HOLD = 100


class BookingCreate(_Strict):
    """``POST /api/v1/bookings``: hold ``quantity`` seats of ``event_id`` (general
    admission; on a seated event, best-available), or the seats ``seat_ids`` of a seated
    event."""

    event_id: Id
    quantity: Quantity | None = Field(
        None, description="Seats, 1..max_per_user; on a seated event: best-available"
    )
    seat_ids: list[SeatId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SEATS_PER_HOLD,
        description="A seated event: exactly these seats (ids of its seat map), each once",
    )
    zone: Slug | None = Field(None, description="Best-available: only seats of this zone")
    accessible: bool = Field(False, description="Best-available: accessible seats only")
    channel: Slug | None = Field(
        None,
        description="With seat_ids: hold seats kept back for this channel (an admin, or an "
        "account granted channels:hold or channels:hold:<channel>; else 403 "
        "channel_not_allowed)",
    )

    @pydantic.field_validator("seat_ids")
    @classmethod
    def _each_seat_once(cls, seat_ids: list[str] | None) -> list[str] | None:
        if seat_ids is not None and len(set(seat_ids)) != len(seat_ids):
            twice = sorted({s for s in seat_ids if seat_ids.count(s) > 1})
            raise ValueError(f"each seat once: {', '.join(twice)} listed more than once")
        return seat_ids

    def problems(self) -> list[FieldError]:
        """What the shape alone cannot say: quantity or seat_ids, and what goes with
        which."""
        if self.seat_ids is None and self.quantity is None:
            return [FieldError("body.quantity", "required (or seat_ids, on a seated event)")]
        problems = []
        if self.seat_ids is not None:
            if self.quantity is not None:
                problems.append(FieldError("body.quantity", "send quantity or seat_ids, not both"))
            if self.zone is not None:
                problems.append(FieldError("body.zone", "only with quantity (best-available)"))
            if self.accessible:
                problems.append(
                    FieldError("body.accessible", "only with quantity (best-available)")
                )
        elif self.channel is not None:
            problems.append(FieldError("body.channel", "only with seat_ids"))
        return problems

    def fingerprint(self) -> dict[str, Any]:
        """The fields that were sent (as before seating: ``{event_id, quantity}`` for a
        general-admission hold), for the idempotency hash."""
        return self.model_dump(exclude_defaults=True)


class WaitlistJoin(_Strict):
    """``POST /api/v1/events/{id}/waitlist``: wait for ``quantity`` seats."""

    quantity: Quantity


class BookingOut(Booking):
    """A booking: a hold until confirmed, cancelled or expired."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BookingOut:
        """From a ``bookings.bookings`` row.

        Validated, not ``model_construct``ed: pydantic's validation runs in Rust and
        measured cheaper than its Python-level construct on the hold path (py-spy, make bench).
        """
        return cls.model_validate(dict(row))


# BookingOut's fields with their types, as a TypedDict: pydantic serialises a dict of
# them exactly as it serialises the model, without building (and validating) one.
_BOOKING_FIELDS = tuple(BookingOut.model_fields)
# Seats are stored as JSON text and loaded as plain dicts (see booking_json).
_BOOKING_JSON = pydantic.TypeAdapter(
    TypedDict(  # type: ignore[operator]
        "BookingJson",
        {
            name: list[dict[str, str | None]] if name == "seats" else f.annotation
            for name, f in BookingOut.model_fields.items()
        },
    )
)
_AMOUNT = BookingOut.model_fields["amount"].default_factory


def booking_amount(row: Mapping[str, Any]) -> Decimal:
    """What a ``bookings.bookings`` row costs: its stored ``amount`` (a seated booking's
    seats' prices), or unit_price x quantity for a row stored before amounts were."""
    amount = row.get("amount")
    return _AMOUNT(row) if amount is None else amount  # type: ignore[call-arg, misc]


_SEAT_FIELDS = tuple(BookedSeat.model_fields)


# A seat stored before bookings kept labels names its section and row by id; one stored
# before zone prices has no price.
_FALLBACK = {"section_label": "section", "row_label": "row"}


def _seats(stored: str) -> list[dict[str, str | None]]:
    """A row's seats (JSON text, keys in jsonb's order) in ``BookedSeat``'s field order."""
    return [
        {
            name: seat.get(name) or (seat[_FALLBACK[name]] if name in _FALLBACK else None)
            for name in _SEAT_FIELDS
        }
        for seat in json.loads(stored)
    ]


def booking_json(row: Mapping[str, Any]) -> bytes:
    """A ``bookings.bookings`` row as ``BookingOut``'s JSON, byte for byte.

    For the two hot responses (hold, confirm): the row comes typed from PostgreSQL, so
    validating it again would only cost time (about half of ``from_row`` + rendering).
    ``tests/bookings/test_models.py`` checks it against ``BookingOut``."""
    fields = dict(row)
    fields["amount"] = booking_amount(fields)
    seats = fields.get("seats")
    fields["seats"] = _seats(seats) if seats and seats != "[]" else []
    return _BOOKING_JSON.dump_json({name: fields[name] for name in _BOOKING_FIELDS})


class BookedEventVenue(pydantic.BaseModel):
    name: str
    city: str


class BookedEvent(pydantic.BaseModel):
    """The event a booking is for, from bookings' own copy of ``event.changed``."""

    name: str
    starts_at: datetime
    venue: BookedEventVenue


class BookingListItem(BookingOut):
    """A booking in the caller's list, with what to show of its event."""

    event: BookedEvent | None = Field(
        description="The event's name, start and venue; null until bookings has received "
        "them (an event unchanged since the upgrade that added them)"
    )

    @classmethod
    def from_rows(
        cls, booking: Mapping[str, Any], summary: Mapping[str, Any] | None
    ) -> BookingListItem:
        """From a ``bookings.bookings`` row and its ``bookings.event_summaries`` row."""
        event = None
        if summary is not None:
            event = {
                "name": summary["name"],
                "starts_at": summary["starts_at"],
                "venue": {"name": summary["venue_name"], "city": summary["venue_city"]},
            }
        return cls.model_validate({**booking, "event": event})


class BookingPage(pydantic.BaseModel):
    items: list[BookingListItem]
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


class WaitlistEntryOut(WaitlistEntry):
    """A place in an event's waitlist."""

    position: int | None = Field(description="1-based place in line while waiting")
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any], position: int | None) -> WaitlistEntryOut:
        """From a ``bookings.waitlist_entries`` row and its place in line."""
        return cls.model_validate({**row, "position": position})


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

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AvailabilityOut:
        """From a ``bookings.availability`` row."""
        return cls.model_validate(dict(row))


TicketStatus = Literal["valid", "void"]


class TicketOut(pydantic.BaseModel):
    """One seat's ticket: its signed code (docs/tickets.md) and its QR images."""

    id: int
    booking_id: int
    event_id: int
    seat: int = Field(description="1..the booking's quantity")
    code: str = Field(description="ET1.<kid>.<payload>.<signature>, verifiable offline")
    status: TicketStatus = Field(description="void once the booking is cancelled")
    issued_at: datetime
    voided_at: datetime | None
    qr_svg_url: str
    qr_png_url: str

    assigned_seat: BookedSeat | None = Field(
        description="A seated event's ticket: the seat it admits to (the booking's "
        "`seat`-th seat); null for general admission"
    )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], booking_seats: str = "[]") -> TicketOut:
        """From a ``bookings.tickets`` row and its booking's stored ``seats``; the image
        URLs are relative to the API root."""
        qr = f"/api/v1/bookings/{row['booking_id']}/tickets/{row['seat']}"
        fields = {name: row[name] for name in _TICKET_COLUMNS}
        return cls.model_validate(
            {
                **fields,
                "qr_svg_url": f"{qr}.svg",
                "qr_png_url": f"{qr}.png",
                "assigned_seat": ticket_seat(booking_seats, row["seat"]),
            }
        )


def ticket_seat(booking_seats: str | None, seat: int) -> dict[str, str] | None:
    """The seat ticket ``seat`` (1..quantity) of a booking admits to: the booking's
    ``seat``-th stored seat (JSON text), or None for general admission. The same rule as
    ``bookings.ticket_seat`` (sql/ticket_seats.sql)."""
    if not booking_seats or booking_seats == "[]":
        return None
    return _seats(booking_seats)[seat - 1]


_TICKET_COLUMNS = (
    "id",
    "booking_id",
    "event_id",
    "seat",
    "code",
    "status",
    "issued_at",
    "voided_at",
)


class BookingTickets(pydantic.BaseModel):
    """A booking's tickets, one per seat (void ones too, for a cancelled booking)."""

    booking_id: int
    booking_status: BookingStatus
    tickets: list[TicketOut]


# ---------------------------------------------------------------- check-in (docs/checkin.md)

ScanResult = Literal["valid", "already_checked_in", "void", "not_for_this_event", "invalid"]


class ScanIn(_Strict):
    """``POST /api/v1/events/{id}/checkin/scans``: one scan of a ticket code at a gate."""

    code: str = Field(
        min_length=1, max_length=1024, description="The scanned text: ET1.<kid>.<payload>.<sig>"
    )
    gate: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Where the scan happened, e.g. 'north-2' (no control characters)",
    )


class ScannedTicket(pydantic.BaseModel):
    """What a code whose signature verifies states."""

    event_id: int
    booking_id: int
    seat: int


class ScanOut(pydantic.BaseModel):
    """The answer to a scan; only ``valid`` admits."""

    result: ScanResult = Field(
        description="valid: admit (this scan checked the ticket in); already_checked_in: "
        "an earlier scan did (checked_in_at, checked_in_gate); void: its booking was "
        "cancelled; not_for_this_event; invalid: not a ticket code of ours"
    )
    detail: str = Field(description="The answer in words, for the gate's display")
    event_id: int = Field(description="The event at this door (the path's id)")
    ticket: ScannedTicket | None = Field(description="Null for an invalid code")
    assigned_seat: BookedSeat | None = Field(
        description="The seat of a seated event's ticket (id, label, section, row, zone), "
        "for the gate's display; null for general admission or an invalid code"
    )
    checked_in_at: datetime | None = Field(description="When the ticket was first checked in")
    checked_in_gate: str | None = Field(description="Where it was first checked in")
    voided_at: datetime | None


class CheckinListTicket(pydantic.BaseModel):
    """One ticket of the offline check-in list."""

    code: str
    booking_id: int
    seat: int
    status: TicketStatus
    checked_in_at: datetime | None
    checked_in_gate: str | None
    assigned_seat: BookedSeat | None = Field(
        description="A seated event's ticket: its seat; null for general admission"
    )


class CheckinList(pydantic.BaseModel):
    """What the check-in list's signature covers (as canonical JSON, RFC 8785)."""

    format: Literal["evently-checkin-list/1"]
    event_id: int
    generated_at: datetime
    tickets: list[CheckinListTicket]


class CheckinListSignature(pydantic.BaseModel):
    """A detached Ed25519 signature by a ticket key (``/.well-known/ticket-keys.json``)."""

    alg: Literal["EdDSA"]
    kid: str
    value: str = Field(description="base64url (no padding) of the 64-byte signature")


class SignedCheckinList(pydantic.BaseModel):
    """``GET /api/v1/events/{id}/checkin/list``: the list and its signature."""

    list: CheckinList
    signature: CheckinListSignature


# ---------------------------------------------------------------- payments (docs/payments.md)


class RefundOut(Refund):
    """A cancelled paid booking's refund: pending until the provider settles it."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RefundOut:
        """From a ``bookings.refunds`` row."""
        return cls.model_validate(dict(row))


class PaymentIntentOut(pydantic.BaseModel):
    """A booking's payment intent: the customer pays it with the provider (using
    ``client_secret``), then confirms the booking with ``payment_intent_id``."""

    id: str
    booking_id: int
    amount: Money = Field(description="Decimal string, e.g. '99.80'")
    currency: str
    status: Literal["requires_payment", "succeeded", "failed"]
    client_secret: str = Field(description="For the provider's client-side payment form")
    failure_reason: str | None

    @classmethod
    def of(cls, intent: Any, booking_id: int) -> PaymentIntentOut:
        """From the seam's ``payment.PaymentIntent``."""
        return cls(
            id=intent.id,
            booking_id=booking_id,
            amount=intent.amount,
            currency=intent.currency,
            status=intent.status,
            client_secret=intent.client_secret,
            failure_reason=intent.failure_reason,
        )


class ConfirmQuery(pydantic.BaseModel):
    """``POST /api/v1/bookings/{id}/confirm?payment_intent_id=...``"""

    model_config = pydantic.ConfigDict(extra="forbid")

    payment_intent_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="The booking's paid payment intent; without it, confirming is the paid "
        "signal (free events, the demo)",
    )
