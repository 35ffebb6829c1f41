"""The bookings service's Prometheus metrics (documented in docs/metrics.md).

Labels are bounded: ``outcome`` and ``operation`` take the fixed values listed in
docs/bookings.md. The per-event inventory gauges are the one exception to "no event ids
as labels", bounded by ``InventoryGauges``: only the ``BOOKINGS_INVENTORY_GAUGE_EVENTS``
events this process published most recently are exported.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

BOOKINGS_TOTAL = Counter(
    "evently_bookings_total",
    "Booking (hold) requests answered, by outcome (held, replayed, sold_out, ...).",
    ["outcome"],
)
HOLDS = Counter("evently_bookings_holds_total", "Seats holds created (bookings in 'held').")
HELD_SEATS = Counter("evently_bookings_held_seats_total", "Seats taken by holds.")
CONFIRMATIONS = Counter("evently_bookings_confirmations_total", "Bookings confirmed.")
CANCELLATIONS = Counter("evently_bookings_cancellations_total", "Bookings cancelled.")
EXPIRATIONS = Counter(
    "evently_bookings_expirations_total", "Holds (including waitlist offers) that expired."
)
WAITLIST_OFFERS = Counter(
    "evently_bookings_waitlist_offers_total", "Waitlist offers made (each holds seats)."
)
WAITLIST_OFFERS_EXPIRED = Counter(
    "evently_bookings_waitlist_offers_expired_total", "Waitlist offers that expired unused."
)
LOCK_WAIT = Histogram(
    "evently_bookings_lock_wait_seconds",
    "Time spent waiting for an event's advisory lock, by operation.",
    ["operation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LOCK_TIMEOUTS = Counter(
    "evently_bookings_lock_timeouts_total",
    "Operations refused because an event's lock was not granted in time.",
    ["operation"],
)


def lock_timed_out(operation: str) -> Callable[[float], None]:
    """``core.locks.locked_call``'s ``on_timeout`` for ``operation``: observe and count."""

    def record(waited_s: float) -> None:
        LOCK_WAIT.labels(operation).observe(waited_s)
        LOCK_TIMEOUTS.labels(operation).inc()

    return record


EXPIRY_LAST_RUN = Gauge(
    "evently_bookings_expiry_last_run_timestamp_seconds",
    "Unix time of the last expiry sweep that completed (alert when it stalls).",
)
PUBLISHED = Counter(
    "evently_bookings_inventory_published_total",
    "Inventory states published (inventory.changed and the availability stream).",
)
TICKETS_ISSUED = Counter(
    "evently_bookings_tickets_issued_total",
    "Tickets issued by the deferred issuer (its batches and its start-up check).",
)
TICKETS_WAITING = Gauge(
    "evently_bookings_tickets_waiting_bookings",
    "Confirmed bookings whose tickets the deferred issuer has not issued yet.",
)
STREAM_SUBSCRIBERS = Gauge(
    "evently_bookings_availability_streams", "Open availability streams in this process."
)
STREAM_SKIPPED = Counter(
    "evently_bookings_availability_updates_skipped_total",
    "Availability updates a slow stream subscriber skipped (it got the latest instead).",
)
# Per-event inventory, bounded: only events on sale (and at most
# BOOKINGS_INVENTORY_GAUGE_EVENTS of them, the most recently changed) have series; an
# event's series go away when its sale ends.
INVENTORY_AVAILABLE = Gauge(
    "evently_inventory_available_seats",
    "Seats neither sold nor held, per on-sale event.",
    ["event_id"],
)
INVENTORY_SOLD = Gauge(
    "evently_inventory_sold_seats", "Confirmed seats, per on-sale event.", ["event_id"]
)
INVENTORY_HELD = Gauge(
    "evently_inventory_held_seats",
    "Seats held (by buyers or waitlist offers), per on-sale event.",
    ["event_id"],
)
_INVENTORY_GAUGES = {
    "available": INVENTORY_AVAILABLE,
    "sold": INVENTORY_SOLD,
    "held": INVENTORY_HELD,
}

CHECKIN_SCANS = Counter(
    "evently_checkin_scans_total",
    "Ticket scans answered, by result (valid, already_checked_in, void, "
    "not_for_this_event, invalid).",
    ["result"],
)
for _result in ("valid", "already_checked_in", "void", "not_for_this_event", "invalid"):
    CHECKIN_SCANS.labels(_result)

OPERATIONS = ("hold", "confirm", "cancel", "expire", "waitlist", "inventory", "publish")
for _operation in OPERATIONS:
    LOCK_WAIT.labels(_operation)
    LOCK_TIMEOUTS.labels(_operation)


class InventoryGauges:
    """Per-event seat gauges for at most ``limit`` on-sale events (most recent first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._events: OrderedDict[int, None] = OrderedDict()

    def update(self, snapshot: dict[str, Any]) -> None:
        """Apply one published inventory state (the inventory.changed payload)."""
        event_id = int(snapshot["event_id"])
        if not snapshot.get("on_sale") or self.limit <= 0:
            self._forget(event_id)
            return
        self._events[event_id] = None
        self._events.move_to_end(event_id)
        for state, gauge in _INVENTORY_GAUGES.items():
            gauge.labels(str(event_id)).set(snapshot[state])
        while len(self._events) > self.limit:
            self._forget(next(iter(self._events)))

    def _forget(self, event_id: int) -> None:
        self._events.pop(event_id, None)
        for gauge in _INVENTORY_GAUGES.values():
            with contextlib.suppress(KeyError):
                gauge.remove(str(event_id))


# The process's one set of per-event gauges; service setup applies the configured limit.
INVENTORY_GAUGES = InventoryGauges(limit=50)

# Refunds and event cancellation (docs/payments.md).
REFUNDS = Counter(
    "evently_bookings_refunds_total",
    "Refund attempts with the provider, by outcome (succeeded, failed, pending, retry).",
    ["outcome"],
)
REFUND_WEBHOOKS = Counter(
    "evently_bookings_payment_webhooks_total",
    "Payment provider webhooks received, by outcome (applied, ignored, invalid).",
    ["outcome"],
)
EVENT_CANCELLATION_BOOKINGS = Counter(
    "evently_bookings_event_cancellation_bookings_total",
    "Bookings cancelled because their event was cancelled.",
)
EVENT_CANCELLATION_LOCK_HOLD = Histogram(
    "evently_bookings_event_cancellation_lock_hold_seconds",
    "How long one event-cancellation batch held the event's lock.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ADMISSION_FAIL_OPEN = Counter(
    "evently_bookings_admission_fail_open_total",
    "Holds let through without a valid admission token because the event's waiting room "
    "could not be reached and the event fails open.",
)
SEAT_MAP_FETCHES = Counter(
    "evently_bookings_seat_map_fetches_total",
    "Seat map versions fetched from the events service, by outcome (stored, failed).",
    ["outcome"],
)
RESEAT_REFUSED = Counter(
    "evently_bookings_reseat_refused_total",
    "event.changed messages whose new seating bookings kept out because the event already "
    "has seats held or sold (the event keeps the seating it has).",
)
BEST_AVAILABLE_RETRIES = Counter(
    "evently_bookings_best_available_retries_total",
    "Best-available picks claimed by another buyer first (the hold picked again).",
)
