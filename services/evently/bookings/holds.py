"""Holding seats: ``POST /api/v1/bookings``.

One round trip per batch: concurrent holds of one event are gathered (``batching.py``)
into one ``bookings.hold_seats`` call, which takes the event's advisory lock and probes
each request's idempotency key in one lock call (bounded by ``lock_timeout``), then per
request replays a stored response or checks the event, the sale window, the quantity,
the per-user limit and availability, and writes the booking, the idempotency record
and the outbox message; the inventory row is updated once, and everything commits
together. A lock timeout refuses the whole batch with 503 and changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from evently.bookings import queries
from evently.bookings.batching import Batchers
from evently.bookings.idempotency import in_flight_probe
from evently.bookings.inventory import InventoryPublisher, event_lock
from evently.bookings.metrics import BOOKINGS_TOTAL, HELD_SEATS, HOLDS, LOCK_TIMEOUTS, LOCK_WAIT
from evently.bookings.refusals import refuse
from evently.bookings.settings import BookingsSettings
from evently.core.locks import LockRequest, LockTimeout

_OUTCOME_COUNTERS: dict[str, object] = {}


def _count(outcome: str) -> None:
    counter = _OUTCOME_COUNTERS.get(outcome)
    if counter is None:
        counter = _OUTCOME_COUNTERS[outcome] = BOOKINGS_TOTAL.labels(outcome)
    counter.inc()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class HoldRequest:
    user_id: int
    quantity: int
    idempotency_key: str
    request_hash: str


@dataclass(frozen=True)
class HoldOutcome:
    outcome: str
    body: str | None


@dataclass(frozen=True)
class Hold:
    """A successful hold: the booking as JSON text, and whether it is a replay."""

    body: str
    replayed: bool


class SeatHolder:
    """Holds seats for requests, batching concurrent ones per event."""

    def __init__(
        self, pool: asyncpg.Pool, settings: BookingsSettings, publisher: InventoryPublisher
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.publisher = publisher
        self._batchers: Batchers[int, HoldRequest, HoldOutcome] = Batchers(
            self._hold_batch, settings.hold_batch_max
        )
        self._in_flight: set[tuple[int, str]] = set()

    async def hold_seats(
        self,
        *,
        user_id: int,
        event_id: int,
        quantity: int,
        idempotency_key: str,
        request_hash: str,
    ) -> Hold:
        """Hold ``quantity`` seats for ``user_id``, or raise the refusal (nothing changed)."""
        claim = (user_id, idempotency_key)
        if claim in self._in_flight:
            # The same key is already on its way to the database from this process.
            _count("idempotency_request_in_flight")
            raise refuse("idempotency_request_in_flight")
        self._in_flight.add(claim)
        try:
            request = HoldRequest(user_id, quantity, idempotency_key, request_hash)
            result = await self._batchers.submit(event_id, request)
        finally:
            self._in_flight.discard(claim)
        _count(result.outcome)
        if result.outcome == "held":
            HOLDS.inc()
            HELD_SEATS.inc(quantity)
            self.publisher.mark(event_id)
            return Hold(result.body or "", replayed=False)
        if result.outcome == "replayed":
            return Hold(result.body or "", replayed=True)
        raise refuse(result.outcome, result.body, event_id=event_id)

    async def _hold_batch(self, event_id: int, requests: list[HoldRequest]) -> list[HoldOutcome]:
        locks = LockRequest.of(
            [event_lock(event_id)],
            [in_flight_probe(r.user_id, r.idempotency_key) for r in requests],
        )
        key_ns, key_ids, probe_ns, probe_ids = locks.arguments()
        started = time.perf_counter()
        try:
            rows = await self.pool.fetch(
                queries.HOLD_SEATS,
                event_id,
                [r.user_id for r in requests],
                [r.quantity for r in requests],
                [r.idempotency_key for r in requests],
                [r.request_hash for r in requests],
                self.settings.idempotency_ttl_s,
                key_ns,
                key_ids,
                probe_ns,
                probe_ids,
                self.settings.lock_timeout_ms,
            )
        except asyncpg.LockNotAvailableError as exc:
            LOCK_WAIT.labels("hold").observe(time.perf_counter() - started)
            LOCK_TIMEOUTS.labels("hold").inc()
            for _ in requests:
                _count("lock_timeout")
            raise LockTimeout() from exc
        if rows:
            LOCK_WAIT.labels("hold").observe(rows[0]["lock_wait_s"])
        return [HoldOutcome(row["outcome"], row["body"]) for row in rows]
