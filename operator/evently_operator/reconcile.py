"""Keeping an Event resource's row in the events service's database as the spec says.

Every write goes through the events service's own repository
(``evently.events.repository``), so each change commits with its ``event.changed``
outbox message, exactly as a change through the HTTP API does. The resource owns its
row: ``managed_by = kubernetes:<namespace>/<name>``, and the repository refuses other
writers.

``sync_row`` is level-based: it compares the row with the spec and writes only when they
differ, so the same call serves a new resource, an edited spec and drift repair (a row
edited or deleted behind the operator's back). Cancellation is terminal: a row cancelled
elsewhere stays cancelled and is reported, not revived.

A deleted resource *retires* its row (cancelled and released: ``managed_by`` NULL), so a
resource re-created under the same name is a new object with its own event, as GitOps
tools expect. A cancelled row the resource never recorded as its own (``status.eventId``)
is a leftover of an earlier object whose finalizer was removed by hand: it is released
and a new row created.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from evently.core.errors import ValidationFailed
from evently.events import repository
from evently.events.errors import (
    CapacityBelowReserved,
    EventCancelled,
    EventNotFound,
    InvalidChannels,
    InvalidZonePrices,
    ManagedByTaken,
    SeatingChangeRefused,
)
from evently.events.models import Event, EventInput, ReservedSeats
from evently_operator.spec import EventSpec, Problem, SpecError, to_event_input

ReservedSeatsLookup = Callable[[int], Awaitable[ReservedSeats]]


class RowAction(StrEnum):
    CREATED = "Created"  # first write for this resource
    RECREATED = "Recreated"  # the row had been deleted behind our back
    UPDATED = "Updated"  # the row differed from the spec and was rewritten
    UNCHANGED = "UpToDate"
    CANCELLED = "EventCancelled"  # cancelled elsewhere: left alone


@dataclass(frozen=True)
class RowSync:
    event: Event
    action: RowAction


def desired_status(spec: EventSpec, current: Event | None) -> str:
    """``published`` or ``draft`` from the spec; a completed event stays completed."""
    if current is not None and current.status == "completed":
        return "completed"
    return "published" if spec.published else "draft"


def row_matches(event: Event, data: EventInput) -> bool:
    """True if the stored event already says everything ``data`` says."""
    wanted: dict[str, Any] = data.model_dump(exclude={"venue", "venue_id"})
    # Dumped alike, so nested settings (the waiting room) compare as plain data.
    if event.model_dump(include=set(wanted)) != wanted:
        return False
    venue = data.venue
    stored = event.venue
    return (stored.name, stored.address, stored.city, stored.capacity) == (
        venue.name,
        venue.address,
        venue.city,
        venue.capacity,
    )


async def sync_row(
    conn: asyncpg.Connection,
    spec: EventSpec,
    managed_by: str,
    *,
    known_event_id: int | None,
    reserved_seats: ReservedSeatsLookup,
) -> RowSync:
    """Create or update the resource's row so it matches ``spec``.

    ``known_event_id`` (from the resource's status) tells a first write from a row that
    has since vanished. Raises ``SpecError`` when the events service refuses the spec
    (its own validation, or a capacity below the seats already sold and held, or a
    seat map it does not have).
    """
    try:
        return await _sync_row(
            conn, spec, managed_by, known_event_id=known_event_id, reserved_seats=reserved_seats
        )
    except ValidationFailed as exc:  # checked against stored rows: the seat map
        raise SpecError(
            [
                Problem("RejectedByEventsService", f"spec.{_spec_field(e.field)}: {e.reason}")
                for e in exc.errors
            ]
        ) from exc
    except (InvalidZonePrices, InvalidChannels) as exc:  # checked against the map version
        reason = "InvalidZonePrices" if isinstance(exc, InvalidZonePrices) else "InvalidChannels"
        raise SpecError(
            [Problem(reason, f"spec.{_spec_field(e.field)}: {e.reason}") for e in exc.errors]
        ) from exc
    except SeatingChangeRefused as exc:
        raise SpecError([Problem("SeatingChangeRefused", f"spec.seating: {exc.detail}")]) from exc


def _spec_field(field: str) -> str:
    """``body.seating.map_id`` -> ``seating.mapId``; ``body.capacity`` -> ``capacity``."""
    names = {
        "map_id": "mapId",
        "map_version": "mapVersion",
        "max_per_user": "maxPerUser",
        "zone_prices": "zonePrices",
    }
    return ".".join(names.get(part, part) for part in field.removeprefix("body.").split("."))


async def _sync_row(
    conn: asyncpg.Connection,
    spec: EventSpec,
    managed_by: str,
    *,
    known_event_id: int | None,
    reserved_seats: ReservedSeatsLookup,
) -> RowSync:
    if known_event_id is None:
        # Most often a new resource: insert at once (one round trip fewer); a row that
        # is already there (an earlier pass, or a leftover) is dealt with below.
        try:
            event = await repository.create_event(
                conn, to_event_input(spec, status=desired_status(spec, None)), managed_by=managed_by
            )
        except ManagedByTaken:
            pass
        else:
            return RowSync(event, RowAction.CREATED)
    current = await repository.find_event_by_managed_by(conn, managed_by)
    if current is not None and current.status == "cancelled" and current.id != known_event_id:
        # An earlier resource of this name left its cancelled row behind: not ours.
        await repository.retire_event(conn, current.id, actor_managed_by=managed_by)
        current = None
    if current is None:
        data = to_event_input(spec, status=desired_status(spec, None))
        try:
            event = await repository.create_event(conn, data, managed_by=managed_by)
        except ManagedByTaken:
            # Another pass created it a moment ago: treat it as the current row.
            current = await repository.find_event_by_managed_by(conn, managed_by)
            if current is None:
                raise
        else:
            action = RowAction.RECREATED if known_event_id is not None else RowAction.CREATED
            return RowSync(event, action)
    if current.status == "cancelled":
        return RowSync(current, RowAction.CANCELLED)
    data = to_event_input(spec, status=desired_status(spec, current))
    if row_matches(current, data):
        return RowSync(current, RowAction.UNCHANGED)
    try:
        event = await repository.update_event(
            conn, current.id, data, actor_managed_by=managed_by, reserved_seats=reserved_seats
        )
    except CapacityBelowReserved as exc:
        raise SpecError([Problem("CapacityBelowReserved", f"spec.capacity: {exc.detail}")]) from exc
    except EventCancelled:
        cancelled = await repository.get_event(conn, current.id)
        return RowSync(cancelled or current, RowAction.CANCELLED)
    return RowSync(event, RowAction.UPDATED)


async def retire_row(conn: asyncpg.Connection, managed_by: str) -> Event | None:
    """Cancel (bookings are kept; a completed event stays so) and release the resource's
    event; None if there is no row any more."""
    current = await repository.find_event_by_managed_by(conn, managed_by)
    if current is None:
        return None
    try:
        return await repository.retire_event(conn, current.id, actor_managed_by=managed_by)
    except EventNotFound:
        return None
