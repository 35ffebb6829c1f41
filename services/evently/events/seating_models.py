"""Shapes of the venue and seat map APIs (docs/seating.md).

The seat map document itself is ``evently.core.seat_maps`` (bookings reads it too).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import pydantic
from pydantic import Field

from evently.core.seat_maps import SeatId, SeatMapVersionInfo, Slug

MAX_VENUE_CAPACITY = 1_000_000
_strict = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)


class VenueDetails(pydantic.BaseModel):
    """A venue as an admin creates or replaces it; (name, city) is unique, in any case."""

    model_config = _strict

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    city: str = Field(min_length=1, max_length=100)
    capacity: int = Field(gt=0, le=MAX_VENUE_CAPACITY)


class SeatMapSummary(pydantic.BaseModel):
    """A venue's seat map: its name (that of its latest version) and latest version."""

    id: int
    venue_id: int
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


class SeatMapDetail(SeatMapSummary):
    """A seat map with every version's counts (``GET /api/v1/admin/seat-maps/{id}``)."""

    versions: list[SeatMapVersionInfo]


class PublicVenue(pydantic.BaseModel):
    """A venue as anyone may see it, with its seat maps."""

    id: int
    version: int
    name: str
    address: str
    city: str
    capacity: int
    seat_maps: list[SeatMapSummary] = Field(default_factory=list)


class AdminVenue(PublicVenue):
    """A venue as admins see it: with the free-form layout venues had before seat maps."""

    legacy_layout: dict[str, object] | None = Field(
        description="The free-form layout stored before seat maps replaced it (read-only; "
        "null when there was none). Nothing reads it; transcribe it into a seat map."
    )
    created_at: datetime
    updated_at: datetime


class VenuePage(pydantic.BaseModel):
    """One page of venues (``GET /api/v1/admin/venues``)."""

    items: list[AdminVenue]
    total: int
    page: int
    limit: int


class VenueListQuery(pydantic.BaseModel):
    """Query parameters of ``GET /api/v1/admin/venues``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)


class EventSeatingInput(pydantic.BaseModel):
    """A seated event's map: one version of one of its venue's seat maps."""

    model_config = _strict

    map_id: int = Field(ge=1, lt=2**63)
    map_version: int = Field(ge=1, lt=2**31)
    zone_prices: dict[str, Annotated[Decimal, Field(max_digits=12, decimal_places=2)]] = Field(
        default_factory=dict,
        max_length=100,
        description="Price per zone id of the map version, a decimal string such as "
        '"89.00"; a zone not named costs the event\'s `price`. 422 `invalid_zone_prices` '
        "naming `body.seating.zone_prices.<zone>` for a zone the version does not sell or a "
        "negative price",
    )
    channels: dict[Slug, list[SeatId]] = Field(
        default_factory=dict,
        max_length=100,
        description="Channel allocations: seats kept back from public sale for a channel "
        "(a promoter, say), channel name -> seat ids; held only by an admin or an account "
        "granted `channels:hold` or `channels:hold:<name>` naming the channel; released by "
        "removing them. 422 "
        "`invalid_channels` naming `body.seating.channels.<name>.<i>` for a seat that is "
        "not a sellable seat of the version or is in two channels",
    )
