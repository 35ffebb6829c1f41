"""The events side of a seated event: which map version it sells, and its capacity.

A seated event pins one immutable version of one of its venue's seat maps; its
capacity is that version's sellable seats (every seat not flagged ``blocked``). The
seat inventory itself is bookings' (a later step), built from the map version that
``event.changed`` names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

import asyncpg

from evently.core.errors import FieldError, ValidationFailed
from evently.core.seat_maps import LiveSeatStatus
from evently.events import queries
from evently.events.errors import InvalidChannels, InvalidZonePrices
from evently.events.models import EventInput
from evently.events.seat_map_svg import SeatStatus


async def with_seated_capacity(conn: asyncpg.Connection, data: EventInput) -> EventInput:
    """``data`` with a seated event's capacity filled in from its map version.

    Versions never change, so this reads outside any lock. Refuses (400) a map version
    that does not exist, a capacity other than the sellable seats, a map without
    sellable seats, more sellable seats than an embedded venue's capacity, and
    ``max_per_user`` above the capacity.
    """
    seating = data.seating
    if seating is None:
        return data
    row = await conn.fetchrow(
        queries.SELECT_SEAT_MAP_VERSION_FIGURES, seating.map_id, seating.map_version
    )
    if row is None:
        raise _invalid(
            "body.seating",
            f"no version {seating.map_version} of seat map {seating.map_id}",
        )
    sellable = row["sellable_seats"]
    if sellable == 0:
        raise _invalid("body.seating", "the map version has no sellable seats")
    if data.capacity is not None and data.capacity != sellable:
        raise _invalid(
            "body.capacity",
            f"a seated event's capacity is its map's sellable seats ({sellable}); omit it",
        )
    if data.venue is not None and sellable > data.venue.capacity:  # (venue_id: venues.py)
        raise _invalid(
            "body.capacity",
            f"the map's {sellable} sellable seats exceed the venue's capacity",
        )
    if data.max_per_user > sellable:
        raise _invalid("body.max_per_user", "cannot exceed the event's capacity")
    check_zone_prices(seating.zone_prices, set(row["zones"]))
    await check_channels(conn, seating.map_id, seating.map_version, seating.channels)
    return data.model_copy(update={"capacity": sellable})


async def check_channels(
    conn: asyncpg.Connection, map_id: int, version: int, channels: Mapping[str, list[str]]
) -> None:
    """Refuse (422 ``invalid_channels``) a channel seat that is not a sellable seat of
    the version or is already in another channel, one error per seat."""
    wanted = [seat for seats in channels.values() for seat in seats]
    if not wanted:
        return
    sellable = set(await conn.fetchval(queries.SELLABLE_SEATS_AMONG, map_id, version, wanted) or ())
    errors, seen = [], set()
    for name, seats in channels.items():
        for i, seat in enumerate(seats):
            if seat not in sellable:
                reason = f"{seat!r} is not a sellable seat of the map version"
            elif seat in seen:
                reason = f"{seat!r} is in another channel (or listed twice)"
            else:
                seen.add(seat)
                continue
            errors.append(FieldError(f"body.seating.channels.{name}.{i}", reason))
    if errors:
        raise InvalidChannels(errors[:50])


def check_zone_prices(zone_prices: Mapping[str, Decimal], zones: set[str]) -> None:
    """Refuse (422 ``invalid_zone_prices``) a price for a zone the version does not sell
    (no sellable seat in it) or a negative price, one error per zone."""
    errors = [
        FieldError(f"body.seating.zone_prices.{zone}", reason)
        for zone, price in zone_prices.items()
        for reason in (
            f"no sellable seat of the map version is in zone {zone!r}" if zone not in zones else "",
            "a price cannot be negative" if price < 0 else "",
        )
        if reason
    ]
    if errors:
        raise InvalidZonePrices(errors)


async def check_map_at_venue(conn: asyncpg.Connection, data: EventInput, venue_id: int) -> None:
    """A seated event's map must be one of its venue's (400 naming ``body.seating``)."""
    seating = data.seating
    if seating is None:
        return
    row = await conn.fetchrow(
        queries.SELECT_SEAT_MAP_VERSION_FIGURES, seating.map_id, seating.map_version
    )
    if row is None or row["venue_id"] != venue_id:
        raise _invalid("body.seating.map_id", f"seat map {seating.map_id} is not at this venue")


async def seating_differs(conn: asyncpg.Connection, event_id: int, data: EventInput) -> bool:
    """Whether ``data`` moves a stored event to other seating (GA, or another map version)."""
    row = await conn.fetchrow(queries.SELECT_EVENT_SEATING, event_id)
    if row is None:
        return False
    return _pinned(data) != (row["seat_map_id"], row["seat_map_version"])


async def pin_seating(conn: asyncpg.Connection, event_id: int, data: EventInput) -> bool:
    """Store the event's seating and zone prices (inside its transaction); True if either
    changed (a price change alone is a new event version, not a new seating)."""
    map_id, version = _pinned(data)
    prices = {} if data.seating is None else data.seating.zone_prices
    stored = json.dumps({zone: str(p.quantize(CENTS)) for zone, p in sorted(prices.items())})
    channels = {} if data.seating is None else data.seating.channels
    kept = json.dumps({name: sorted(seats) for name, seats in sorted(channels.items())})
    changed = await conn.fetchval(
        queries.SET_EVENT_SEATING, event_id, map_id, version, stored, kept
    )
    return changed is not None


CENTS = Decimal("0.01")


def _pinned(data: EventInput) -> tuple[int | None, int | None]:
    seating = data.seating
    return (None, None) if seating is None else (seating.map_id, seating.map_version)


def _invalid(field: str, reason: str) -> ValidationFailed:
    name = field.removeprefix("body.")
    return ValidationFailed(f"Invalid field(s): {name}", errors=[FieldError(field, reason)])


def public_seat_status(
    live: LiveSeatStatus | None, channels: Mapping[str, list[str]]
) -> dict[str, SeatStatus]:
    """Each seat's status as the public drawing shows it: held and sold as bookings
    reports them (``live``; None: bookings knows no seat taken), and the other seats
    kept back for a channel as ``kept_back`` (not for public sale)."""
    status: dict[str, SeatStatus] = {}
    for seats in channels.values():
        status.update(dict.fromkeys(seats, "kept_back"))
    if live is not None:
        status.update(live.statuses())
    return status
