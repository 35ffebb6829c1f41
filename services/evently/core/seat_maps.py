"""A seat map document, defined once (docs/seating.md).

The events service validates and stores seat maps; bookings (a later step) fetches one
version at a time from ``GET /internal/v1/seat-maps/{id}/versions/{v}`` and builds its
seat inventory from it. Both read the document with these shapes, so it is written
down once. The shape alone is not the whole contract: the events service also checks
that ids are unique and zones exist (``evently.events.seat_map_rules``) before it
stores a version, and a stored version never changes.

Zones are inherited: a seat's zone is its own, else its row's, else its section's
(``resolved_seats`` applies the rule). A seat's id is unique in the map; without one in
an upload it is ``<section id>-<row id>-<seat label>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import pydantic
from pydantic import Field, StringConstraints

MAX_SEATS = 100_000
MAX_ZONES = 100
MAX_COORDINATE = 100_000.0
# Ids are what bookings and tickets will quote: short, printable, no spaces.
Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
SeatId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,119}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Coordinate = Annotated[float, Field(ge=0, le=MAX_COORDINATE, allow_inf_nan=False)]
SeatFlag = Literal["accessible", "companion", "restricted_view", "blocked"]
SEAT_FLAGS: tuple[SeatFlag, ...] = ("accessible", "companion", "restricted_view", "blocked")

_strict = pydantic.ConfigDict(extra="forbid")


class Zone(pydantic.BaseModel):
    """A price zone: a category of seats (what each zone costs is the event's business)."""

    model_config = _strict

    id: Slug
    name: Label
    color: Color | None = Field(default=None, description="#rrggbb; default: a palette colour")


class Stage(pydantic.BaseModel):
    """The stage (or pitch), drawn for orientation."""

    model_config = _strict

    x: Coordinate
    y: Coordinate
    width: Coordinate
    height: Coordinate
    label: Label = "Stage"


class Seat(pydantic.BaseModel):
    """One seat: its centre, its label as printed on it, and its flags."""

    model_config = _strict

    id: SeatId | None = Field(default=None, description="Unique in the map; default: derived")
    label: Label
    x: Coordinate
    y: Coordinate
    zone: Slug | None = Field(default=None, description="Overrides the row's zone")
    flags: list[SeatFlag] = Field(default_factory=list, max_length=len(SEAT_FLAGS))


class Row(pydantic.BaseModel):
    """A row of seats; ``rank`` orders rows for best-available (lower is better)."""

    model_config = _strict

    id: Slug
    label: Label | None = Field(default=None, description="Default: the id")
    rank: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Lower is better; default: the row's "
        "position in its section (1 = first)"
    )  # fmt: skip
    zone: Slug | None = Field(default=None, description="Overrides the section's zone")
    seats: list[Seat] = Field(min_length=1, max_length=MAX_SEATS)


class Section(pydantic.BaseModel):
    """A block of rows (stalls, balcony, block 112)."""

    model_config = _strict

    id: Slug
    label: Label | None = Field(default=None, description="Default: the id")
    zone: Slug | None = Field(default=None, description="The zone of rows that name none")
    rows: list[Row] = Field(min_length=1, max_length=MAX_SEATS)


class SeatMapDocument(pydantic.BaseModel):
    """A venue's seating plan as uploaded, and as stored (normalised) per version."""

    model_config = _strict

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    width: Coordinate | None = Field(default=None, description="Drawing width; default: fits")
    height: Coordinate | None = Field(default=None, description="Drawing height; default: fits")
    stage: Stage | None = None
    zones: list[Zone] = Field(min_length=1, max_length=MAX_ZONES)
    sections: list[Section] = Field(min_length=1, max_length=MAX_SEATS)


class SeatMapStats(pydantic.BaseModel):
    """Counts of one version, computed when it is stored."""

    seats: int
    sellable_seats: int = Field(description="Seats not flagged blocked: a seated event's capacity")
    accessible_seats: int
    zones: dict[str, int] = Field(description="Sellable seats per zone id")


class SeatMapVersionInfo(pydantic.BaseModel):
    """One stored version of a map, without its document."""

    map_id: int
    venue_id: int
    name: str
    version: int
    source: Literal["upload", "rectangular"]
    stats: SeatMapStats
    created_by: int | None
    created_at: datetime


class SeatMapVersion(SeatMapVersionInfo):
    """One stored version with its (normalised) document."""

    document: SeatMapDocument


class LiveSeatStatus(pydantic.BaseModel):
    """A seated event's seats that are not free right now, from bookings (which owns
    seat status): ``GET /internal/events/{id}/seats``, which the events service draws in
    the event's SVG. Every other sellable seat is available."""

    event_id: int
    version: int = Field(description="The inventory version last published")
    held: list[str] = Field(description="Ids of the seats held now")
    sold: list[str] = Field(description="Ids of the seats sold now")

    def statuses(self) -> dict[str, Literal["held", "sold"]]:
        """Seat id -> status, for ``render_seat_map_svg``."""
        taken: dict[str, Literal["held", "sold"]] = dict.fromkeys(self.held, "held")
        return taken | dict.fromkeys(self.sold, "sold")


@dataclass(frozen=True, slots=True)
class ResolvedSeat:
    """A seat with what it inherits filled in."""

    id: str
    label: str
    section: str
    row: str
    rank: int
    zone: str
    x: float
    y: float
    flags: frozenset[str]
    # The human labels of the seat's section and row (the ids when the map gives none;
    # empty: not known, read as the ids, e.g. a copy stored before bookings kept labels).
    section_label: str = ""
    row_label: str = ""

    @property
    def sellable(self) -> bool:
        return "blocked" not in self.flags


def resolved_seats(document: SeatMapDocument) -> Iterator[ResolvedSeat]:
    """Every seat of a validated document, in document order, zone and rank resolved."""
    for section in document.sections:
        for position, row in enumerate(section.rows, start=1):
            rank = row.rank if row.rank is not None else position
            row_zone = row.zone or section.zone
            for seat in row.seats:
                yield ResolvedSeat(
                    id=seat.id or f"{section.id}-{row.id}-{seat.label}",
                    label=seat.label,
                    section=section.id,
                    row=row.id,
                    rank=rank,
                    zone=seat.zone or row_zone or "",
                    x=seat.x,
                    y=seat.y,
                    flags=frozenset(seat.flags),
                    section_label=section.label or section.id,
                    row_label=row.label or row.id,
                )
