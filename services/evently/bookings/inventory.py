"""Inventory per event: fed by event.changed, published as inventory.changed.

* **In**: the events service's ``event.changed`` messages reach ``POST /internal/inbox``;
  ``apply_event_changed`` applies only newer versions (capacity, sale window, limits,
  status, TTLs, waitlist settings, price, seating). A capacity below the seats already
  reserved is clamped to them, never violating ``sold + held <= capacity``, and logged.
  A seated event's map version is fetched once (``seat_map_fetch.py``) before the message
  is applied, and its seats become the event's seat rows (docs/seating.md).
* **Out**: ``InventoryPublisher`` publishes an event's state (``inventory.changed`` for
  search, events and analytics, and a NOTIFY for the availability streams) at most once
  per ``BOOKINGS_PUBLISH_INTERVAL_S`` per event, coalescing a burst of holds into one
  message with the latest full state. The state to publish is never lost: it is derived
  from committed rows, and a periodic reconciliation republishes any event whose state
  differs from what was last published (a crash before publishing, a sale window opening
  or closing, a confirmation made by another replica).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from decimal import Decimal
from typing import Any

import asyncpg

from evently.bookings import admission, queries, verified_email
from evently.bookings.metrics import (
    INVENTORY_GAUGES,
    LOCK_TIMEOUTS,
    LOCK_WAIT,
    PUBLISHED,
    RESEAT_REFUSED,
    WAITLIST_OFFERS,
)
from evently.bookings.models import AvailabilityOut
from evently.bookings.seat_map_fetch import SeatMapFetcher
from evently.bookings.settings import BookingsSettings
from evently.core.contracts import EventChanged, EventSeating, parse
from evently.core.inbox import InboxHandler, InboxMessage
from evently.core.locks import LockKey, LockRequest, LockTimeout, locked_call
from evently.core.seat_maps import LiveSeatStatus
from evently.core.tasks import wait_at_most

log = logging.getLogger("evently.bookings.inventory")


def event_lock(event_id: int) -> LockKey:
    """The advisory key every change to an event's seats takes."""
    return LockKey.of("bookings-event", event_id)


def event_lock_arguments(event_id: int) -> tuple[list[int], list[int]]:
    """The event's lock as the ``(namespaces, ids)`` arrays the SQL functions take."""
    key_ns, key_ids, _, _ = LockRequest.of([event_lock(event_id)]).arguments()
    return key_ns, key_ids


async def read_availability(
    pool: asyncpg.Pool, event_id: int, *, public: bool
) -> AvailabilityOut | None:
    """Live availability, or None for an unknown (or, if public, draft) event."""
    sql = queries.PUBLIC_AVAILABILITY if public else queries.AVAILABILITY
    row = await pool.fetchrow(sql, event_id)
    return None if row is None else AvailabilityOut.from_row(row)


async def read_live_seat_status(pool: asyncpg.Pool, event_id: int) -> LiveSeatStatus | None:
    """A seated event's seats that are not free now; None for general admission or an
    event bookings does not know."""
    row = await pool.fetchrow(queries.LIVE_SEAT_STATUS, event_id)
    return None if row is None else LiveSeatStatus.model_validate(dict(row))


async def is_seated(pool: asyncpg.Pool, event_id: int) -> bool:
    """Whether ``event_id`` is a seated event (it has seat rows)."""
    return bool(await pool.fetchval(queries.EVENT_IS_SEATED, event_id))


class InventoryPublisher:
    """Publishes changed inventory soon after it changes, coalescing bursts."""

    def __init__(self, pool: asyncpg.Pool, settings: BookingsSettings) -> None:
        self.pool = pool
        self.settings = settings
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()

    def mark(self, event_id: int) -> None:
        """Note that ``event_id``'s seats changed (after the change committed)."""
        self._dirty.add(event_id)
        self._wake.set()

    async def publish(self, event_id: int) -> dict[str, Any] | None:
        """Publish one event's state if it changed; returns the published snapshot."""
        key_ns, key_ids = event_lock_arguments(event_id)
        try:
            text = await locked_call(
                self.pool.fetchval(
                    queries.PUBLISH_INVENTORY,
                    event_id,
                    key_ns,
                    key_ids,
                    self.settings.lock_timeout_ms,
                ),
                on_timeout=lambda _waited_s: LOCK_TIMEOUTS.labels("publish").inc(),
            )
        except LockTimeout:
            self._dirty.add(event_id)  # try again next round
            return None
        if text is None:
            return None
        return note_published(text)

    async def publish_pending(self, *, reconcile: bool) -> int:
        """Publish every marked event (and, with ``reconcile``, every unpublished one)."""
        dirty, self._dirty = self._dirty, set()
        if reconcile:
            rows = await self.pool.fetch(queries.UNPUBLISHED_EVENTS, 1000)
            dirty.update(r["event_id"] for r in rows)
        published = 0
        for event_id in sorted(dirty):
            try:
                if await self.publish(event_id) is not None:
                    published += 1
            except (asyncpg.PostgresError, OSError):
                log.exception("could not publish inventory of event %s", event_id)
                self._dirty.add(event_id)
        return published

    async def run(self) -> None:
        """Forever: wait for changes, let a burst gather, publish; reconcile periodically."""
        last_reconcile = float("-inf")
        while True:
            await wait_at_most(self._wake, self.settings.reconcile_interval_s)
            self._wake.clear()
            await asyncio.sleep(self.settings.publish_interval_s)
            reconcile = time.monotonic() - last_reconcile >= self.settings.reconcile_interval_s
            try:
                await self.publish_pending(reconcile=reconcile)
            except (asyncpg.PostgresError, OSError):
                log.exception("inventory publishing failed; retrying")
                await asyncio.sleep(self.settings.reconcile_interval_s)
                continue
            if reconcile:
                last_reconcile = time.monotonic()


# The inbox is not latency-critical: it may wait longer for an event's lock than a buyer.
INBOX_LOCK_TIMEOUT_MS = 10_000


async def apply_event_changed(
    conn: asyncpg.Connection, message: InboxMessage, seat_maps: SeatMapFetcher
) -> None:
    """Inbox handler for ``event.changed``: apply it if newer, publish the new state.

    Runs inside the inbox's transaction, so the inventory change, the seat rows, the
    event's summary (what the bookings list shows of it), the inbox record and the
    inventory.changed messages commit together. A seated event's map version is stored
    first (fetched once per version); a failed fetch raises, and the message comes again.
    """
    event = parse(EventChanged, message.payload)
    seating = event.seating
    if seating is not None:
        await seat_maps.ensure(seating.map_id, seating.map_version)
    key_ns, key_ids = event_lock_arguments(event.id)
    started = time.perf_counter()
    row = await conn.fetchrow(
        queries.APPLY_EVENT_CHANGED,
        event.id,
        message.version,
        event.status,
        event.capacity,
        event.starts_at,
        event.ends_at,
        event.sale_opens_at,
        event.sale_closes_at,
        event.max_per_user,
        event.hold_ttl_seconds,
        event.waitlist_enabled,
        event.waitlist_offer_ttl_seconds,
        event.price,
        event.currency,
        key_ns,
        key_ids,
        INBOX_LOCK_TIMEOUT_MS,
        event.max_per_address,
        None if seating is None else seating.map_id,
        None if seating is None else seating.map_version,
        zone_prices_json(seating),
        None if seating is None else json.dumps(seating.channels),
    )
    LOCK_WAIT.labels("inventory").observe(time.perf_counter() - started)
    await admission.apply_event_changed(conn, event, message.version)
    await verified_email.apply_event_changed(conn, event, message.version)
    await conn.execute(
        queries.APPLY_EVENT_SUMMARY,
        event.id,
        message.version,
        event.name,
        event.starts_at,
        event.venue.name,
        event.venue.city,
    )
    if row["clamped"]:
        log.warning(
            "event %s: capacity %s is below the %s seats already held or sold; clamped to %s "
            "(seats that come back are retired until the capacity is reached)",
            event.id,
            row["requested_capacity"],
            row["reserved_seats"],
            row["new_capacity"],
        )
    if row["reseat_refused"]:
        RESEAT_REFUSED.inc()
        log.warning(
            "event %s: seats are held or sold, so its seating stays as it is (asked: %s)",
            event.id,
            "general admission" if seating is None else seating.model_dump(),
        )
    WAITLIST_OFFERS.inc(row["offers"])
    note_published(row["published"])


def zone_prices_json(seating: EventSeating | None) -> str | None:
    """A seated event's zone prices as ``apply_event_changed`` keeps them (zone id ->
    price with two places, JSON text); None for general admission."""
    if seating is None:
        return None
    cents = Decimal("0.01")
    return json.dumps({zone: str(p.quantize(cents)) for zone, p in seating.zone_prices.items()})


def inbox_handlers(seat_maps: SeatMapFetcher) -> dict[str, InboxHandler]:
    """The inbox's handlers, bound to the app's seat map fetcher."""

    async def on_event_changed(conn: asyncpg.Connection, message: InboxMessage) -> None:
        await apply_event_changed(conn, message, seat_maps)

    return {EventChanged.TOPIC: on_event_changed}


def note_published(snapshot_text: str | None) -> dict[str, Any] | None:
    """Count a published state (JSON text, or None) and update the inventory gauges."""
    if snapshot_text is None:
        return None
    PUBLISHED.inc()
    snapshot = json.loads(snapshot_text)
    INVENTORY_GAUGES.update(snapshot)
    return snapshot
