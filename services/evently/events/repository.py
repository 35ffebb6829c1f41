"""Creating, changing and reading events: the one way event data changes.

Plain async functions over an asyncpg connection, independent of aiohttp, so the HTTP
API and the Kubernetes operator share them. Every change runs in one transaction that
also writes its ``event.changed`` message to the outbox (``core.outbox``),
so a change and its announcement commit or roll back together. A call that changes
nothing (the same state again) bumps no version and writes no message.

Refusals are the exceptions in ``evently.events.errors``. See docs/events.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple

import asyncpg
from prometheus_client import Counter

from evently.core.outbox import enqueue
from evently.events import event_seating, queries, venues
from evently.events.errors import (
    CapacityBelowReserved,
    CapacityCheckUnavailable,
    EventBusy,
    EventCancelled,
    EventCompleted,
    EventManagedByKubernetes,
    EventNotFound,
    EventNotOwned,
    ManagedByTaken,
    SeatingChangeRefused,
    VersionMismatch,
)
from evently.events.models import Event, EventInput, ReservedSeats

SOURCE = "events"

# Seats bookings has sold and holds for an event (``BookingsClient.reserved_seats``).
ReservedSeatsLookup = Callable[[int], Awaitable[ReservedSeats]]

EVENT_CHANGES = Counter(
    "evently_event_changes_total",
    "Committed changes to events, by operation (create, update, cancel, retire, venue).",
    ["operation"],
)


async def get_event(conn: asyncpg.Connection, event_id: int) -> Event | None:
    """The event with its venue, whatever its status; None if there is none."""
    return _event(await conn.fetchrow(queries.SELECT_EVENT, event_id))


async def find_event_by_managed_by(conn: asyncpg.Connection, managed_by: str) -> Event | None:
    """The event a Kubernetes resource (``kubernetes:<ns>/<name>``) owns, if any."""
    return _event(await conn.fetchrow(queries.SELECT_EVENT_BY_MANAGED_BY, managed_by))


class ManagedState(NamedTuple):
    """An owned event's version and status, with bookings' last published figures
    (None until bookings has published any)."""

    id: int
    version: int
    status: str
    sold: int | None
    held: int | None
    available: int | None


async def managed_states(
    conn: asyncpg.Connection, managed_by: Iterable[str]
) -> dict[str, ManagedState]:
    """``managed_by`` -> state of the events these resources own (absent: no row)."""
    rows = await conn.fetch(queries.SELECT_MANAGED_STATES, list(managed_by))
    return {row["managed_by"]: ManagedState(*tuple(row)[1:]) for row in rows}


async def find_event_id(
    conn: asyncpg.Connection, name: str, venue_name: str, city: str
) -> int | None:
    """The id of an event called ``name`` at the venue (name, city), if any."""
    return await conn.fetchval(queries.SELECT_EVENT_ID_BY_NAME_AT_VENUE, name, venue_name, city)


async def create_event(
    conn: asyncpg.Connection,
    data: EventInput,
    *,
    created_by: int | None = None,
    managed_by: str | None = None,
) -> Event:
    """Create an event (version 1), upserting its venue by (name, city).

    ``managed_by`` (``kubernetes:<ns>/<name>``) marks the event as owned by that
    resource: the HTTP API then refuses to change it. Raises ``ManagedByTaken`` if the
    resource already owns an event.
    """
    data = await event_seating.with_seated_capacity(conn, data)
    async with _change(conn):
        venue_id, venue_changed = await venues.event_venue(conn, data)
        await event_seating.check_map_at_venue(conn, data, venue_id)
        try:
            event_id = await conn.fetchval(
                queries.INSERT_EVENT,
                *_event_values(data),
                venue_id,
                created_by,
                managed_by,
                _waiting_room_json(data),
                *_hold_policies(data),
            )
        except asyncpg.UniqueViolationError as exc:
            raise ManagedByTaken(managed_by or "") from exc
        await event_seating.pin_seating(conn, event_id, data)
        event = await _announce(conn, event_id)
        if venue_changed:
            await _announce_venue_change(conn, venue_id, event_id)
    EVENT_CHANGES.labels("create").inc()
    return event


async def update_event(
    conn: asyncpg.Connection,
    event_id: int,
    data: EventInput,
    *,
    expected_version: int | None = None,
    actor_managed_by: str | None = None,
    reserved_seats: ReservedSeatsLookup | None = None,
) -> Event:
    """Replace an event's state with ``data`` (a full description, as for create).

    * ``expected_version``: refuse with ``VersionMismatch`` unless the event is at it.
    * ``actor_managed_by``: who is changing it. An event owned by a resource can only
      be changed by that resource (the operator passes its own ``kubernetes:<ns>/<name>``);
      the HTTP API passes None, so owned events are read-only there.
    * ``reserved_seats``: how to ask bookings for sold and held seats; required to lower
      the capacity, which may never drop below them (``CapacityBelowReserved``).

    Cancelled events cannot change (``EventCancelled``).
    """
    # Ask bookings before taking any lock, so no lock waits on a network round trip;
    # bookings itself never sells beyond the capacity it last heard of.
    data = await event_seating.with_seated_capacity(conn, data)
    assert data.capacity is not None  # general admission requires it; seated: derived
    reserved: ReservedSeats | None = None
    stored_capacity = await conn.fetchval(queries.SELECT_CAPACITY, event_id)
    if stored_capacity is not None and data.capacity < stored_capacity:
        reserved = await _reserved(event_id, reserved_seats)
    # Sold or held seats pin the seating: general admission bookings have no seats,
    # and seat bookings name seats of one map version.
    if await event_seating.seating_differs(conn, event_id, data):
        reserved = reserved or await _reserved(event_id, reserved_seats)
        if reserved.total > 0:
            raise SeatingChangeRefused(event_id, reserved.sold, reserved.held)
    async with _change(conn):
        venue_id, venue_changed = await venues.event_venue(conn, data)
        await event_seating.check_map_at_venue(conn, data, venue_id)
        current = await conn.fetchrow(queries.LOCK_EVENT, event_id)
        if current is None:
            raise EventNotFound(event_id)
        _check_owner(event_id, current["managed_by"], actor_managed_by)
        if expected_version is not None and current["version"] != expected_version:
            raise VersionMismatch(event_id, expected_version, current["version"])
        if current["status"] == "cancelled":
            raise EventCancelled(event_id)
        if data.capacity < current["capacity"]:
            reserved = reserved or await _reserved(event_id, reserved_seats)
            if data.capacity < reserved.total:
                raise CapacityBelowReserved(event_id, data.capacity, reserved.sold, reserved.held)
        seating_changed = await event_seating.pin_seating(conn, event_id, data)
        changed = await conn.fetchval(
            queries.UPDATE_EVENT,
            event_id,
            *_event_values(data),
            venue_changed or seating_changed,
            venue_id,
            _waiting_room_json(data),
            *_hold_policies(data),
        )
        if changed is None:
            return await _require(conn, event_id)
        event = await _announce(conn, event_id)
        if venue_changed:
            await _announce_venue_change(conn, venue_id, event_id)
    EVENT_CHANGES.labels("update").inc()
    return event


async def cancel_event(
    conn: asyncpg.Connection,
    event_id: int,
    *,
    expected_version: int | None = None,
    actor_managed_by: str | None = None,
) -> Event:
    """Cancel an event (soft: the row stays, with status ``cancelled``).

    Cancelling a cancelled event changes nothing. A completed event cannot be cancelled
    (``EventCompleted``). ``expected_version`` and ``actor_managed_by`` work as in
    ``update_event``.
    """
    async with _change(conn):
        current = await conn.fetchrow(queries.LOCK_EVENT, event_id)
        if current is None:
            raise EventNotFound(event_id)
        _check_owner(event_id, current["managed_by"], actor_managed_by)
        if expected_version is not None and current["version"] != expected_version:
            raise VersionMismatch(event_id, expected_version, current["version"])
        if current["status"] == "cancelled":
            return await _require(conn, event_id)
        if current["status"] == "completed":
            raise EventCompleted(event_id)
        await conn.execute(queries.CANCEL_EVENT, event_id)
        event = await _announce(conn, event_id)
    EVENT_CHANGES.labels("cancel").inc()
    return event


async def retire_event(conn: asyncpg.Connection, event_id: int, *, actor_managed_by: str) -> Event:
    """The resource that owned the event is gone: cancel the event (bookings are kept;
    a completed one stays completed) and release it (``managed_by`` NULL), in one version.

    Released, the name is free: a new resource of the same name starts its own event
    instead of adopting this one. Only the owner may retire an event (else
    ``EventManagedByKubernetes``/``EventNotOwned``).
    """
    async with _change(conn):
        current = await conn.fetchrow(queries.LOCK_EVENT, event_id)
        if current is None:
            raise EventNotFound(event_id)
        _check_owner(event_id, current["managed_by"], actor_managed_by)
        await conn.execute(queries.RETIRE_EVENT, event_id)
        event = await _announce(conn, event_id)
    EVENT_CHANGES.labels("retire").inc()
    return event


class _change:
    """One transaction with bounded lock waits; lock trouble becomes ``EventBusy`` (503)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.transaction = conn.transaction()

    async def __aenter__(self) -> None:
        await self.transaction.start()
        try:
            await self.conn.execute(queries.SET_LOCK_TIMEOUT)
        except BaseException:
            await self.transaction.rollback()
            raise

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            await self.transaction.rollback()
            if isinstance(exc, asyncpg.LockNotAvailableError | asyncpg.DeadlockDetectedError):
                raise EventBusy() from exc
            return False
        await self.transaction.commit()
        return False


def _check_owner(event_id: int, owner: str | None, actor: str | None) -> None:
    """Only the resource that owns an event changes it; unowned events are the API's."""
    if owner is not None and owner != actor:
        raise EventManagedByKubernetes(event_id, owner)
    if owner is None and actor is not None:
        raise EventNotOwned(event_id, actor)


async def _reserved(event_id: int, reserved_seats: ReservedSeatsLookup | None) -> ReservedSeats:
    if reserved_seats is None:
        raise CapacityCheckUnavailable(event_id)
    return await reserved_seats(event_id)


async def _announce(conn: asyncpg.Connection, event_id: int) -> Event:
    """Read the event's new state and write its ``event.changed`` messages."""
    event = await _require(conn, event_id)
    message = event.changed_payload()
    await enqueue(
        conn, SOURCE, message.TOPIC, event.id, event.version, message.model_dump(mode="json")
    )
    return event


async def _announce_venue_change(conn: asyncpg.Connection, venue_id: int, except_id: int) -> None:
    """The venue changed: every other event there has a new state, and says so."""
    for row in await conn.fetch(queries.BUMP_EVENTS_AT_VENUE, venue_id, except_id):
        await _announce(conn, row["id"])
        EVENT_CHANGES.labels("venue").inc()


async def _require(conn: asyncpg.Connection, event_id: int) -> Event:
    event = await get_event(conn, event_id)
    if event is None:
        raise EventNotFound(event_id)
    return event


def _event_values(data: EventInput) -> tuple[Any, ...]:
    """``data`` in the column order INSERT_EVENT and UPDATE_EVENT share."""
    return (
        data.name,
        data.description,
        data.type,
        data.starts_at,
        data.ends_at,
        data.capacity,
        data.price,
        data.currency,
        data.status,
        data.sale_opens_at,
        data.sale_closes_at,
        data.max_per_user,
        data.hold_ttl_seconds,
        data.waitlist_enabled,
        data.waitlist_offer_ttl_seconds,
        data.max_per_address,
    )


def _waiting_room_json(data: EventInput) -> str | None:
    """The event's waiting room settings as stored (jsonb text), or None for no room."""
    room = data.waiting_room
    return None if room is None else room.model_dump_json()


def _hold_policies(data: EventInput) -> tuple[bool, int | None]:
    """``require_verified_email`` and ``hold_expiry_reminder_s``, after the waiting room."""
    return data.require_verified_email, data.hold_expiry_reminder_s


def event_from_row(row: asyncpg.Record) -> Event:
    """An ``Event`` from a row selected with ``queries.EVENT_COLUMNS``."""
    data = dict(row)
    room = data.pop("waiting_room")
    data["waiting_room"] = json.loads(room) if isinstance(room, str) else room
    data["venue"] = {
        "id": data.pop("venue_id"),
        "name": data.pop("venue_name"),
        "address": data.pop("venue_address"),
        "city": data.pop("venue_city"),
        "capacity": data.pop("venue_capacity"),
    }
    map_id, map_version = data.pop("seat_map_id"), data.pop("seat_map_version")
    zone_prices = json.loads(data.pop("zone_prices") or "{}")
    channels = json.loads(data.pop("seat_channels") or "{}")
    data["seating"] = (
        None
        if map_id is None
        else {
            "map_id": map_id,
            "map_version": map_version,
            "zone_prices": zone_prices,
            "channels": channels,
        }
    )
    return Event.model_validate(data)


def _event(row: asyncpg.Record | None) -> Event | None:
    return None if row is None else event_from_row(row)


# For venue_changes: a venue's own changes use the same transaction and announcements.
change_transaction = _change
announce_venue_change = _announce_venue_change
