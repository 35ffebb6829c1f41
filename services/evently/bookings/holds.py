"""Holding seats: ``POST /api/v1/bookings``.

One round trip per batch: concurrent holds of one event are gathered (``batching.py``)
into one ``bookings.hold_seats`` call, which takes the event's advisory lock and probes
each request's idempotency key in one lock call (bounded by ``lock_timeout``), then per
request replays a stored response or checks the event, the sale window, the quantity,
the per-user and per-address limits and availability, and writes the booking, the idempotency record
and the outbox message; the inventory row is updated once, and everything commits
together. A lock timeout refuses the whole batch with 503 and changes nothing.

On a seated event (docs/seating.md) a request names its seats (``seat_ids``); the same
call checks that each exists, is sellable and is free, and takes them (a transition
guarded by ``status = 'free'``), or refuses the request, naming the taken seats, with
nothing changed. A quantity on a seated event is best-available: ``seat_picker.py``
picks the seats from the current taken set, and the same call claims them; if another
buyer took one first, or took a seat that would leave one of the picked block's
neighbours stranded (the pick's guards), the holder picks again
(``BEST_AVAILABLE_ATTEMPTS`` in all, the last without guards), then answers 409. While
replicas keep taking each other's picks, a pick names a few ranked placements and the
call takes the first still free and guarded (``seat_picker.ALTERNATIVES``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from evently.bookings import queries
from evently.bookings.batching import Batchers
from evently.bookings.idempotency import in_flight_probe
from evently.bookings.inventory import InventoryPublisher, event_lock
from evently.bookings.metrics import (
    BEST_AVAILABLE_RETRIES,
    BOOKINGS_TOTAL,
    HELD_SEATS,
    HOLDS,
    LOCK_WAIT,
    lock_timed_out,
)
from evently.bookings.models import booking_json
from evently.bookings.outcomes import Outcome
from evently.bookings.refusals import refuse
from evently.bookings.seat_picker import ALTERNATIVES, SeatChoice, SeatPicker
from evently.bookings.settings import BookingsSettings
from evently.core.locks import LockRequest, LockTimeout, locked_call

_OUTCOME_COUNTERS: dict[str, object] = {}
# Picks of best-available seats per hold, when other buyers keep claiming them first.
BEST_AVAILABLE_ATTEMPTS = 3


def _count(outcome: str) -> None:
    counter = _OUTCOME_COUNTERS.get(outcome)
    if counter is None:
        counter = _OUTCOME_COUNTERS[outcome] = BOOKINGS_TOTAL.labels(outcome)
    counter.inc()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BestAvailable:
    """A quantity hold on a seated event: what the picked seats must be."""

    zone: str | None
    accessible: bool
    # The pick's guards go with the claim (every attempt but the last: a buyer would
    # rather hold seats beside a stranded one than be refused).
    guarded: bool = True


@dataclass(frozen=True)
class HoldRequest:
    user_id: int
    quantity: int
    idempotency_key: str
    request_hash: str
    client_address: str | None
    # A seated event's seats (None: a quantity request).
    seat_ids: tuple[str, ...] | None = None
    # Best-available: the batch picks ``seat_ids`` for it (seat_picker.py): ``placements``
    # ranked placements of ``quantity`` seats each, one after another, with their guards
    # (near, far, the placement guarded: 1, 2, ...).
    best: BestAvailable | None = None
    guards: tuple[tuple[str, str | None, int], ...] = ()
    placements: int = 1
    # The channel whose kept-back seats it may hold (None: public sale).
    channel: str | None = None


@dataclass(frozen=True)
class HoldOutcome:
    outcome: Outcome
    booking: asyncpg.Record | None
    details: dict[str, Any] | None


@dataclass(frozen=True)
class Hold:
    """A successful hold: the booking as ``BookingOut`` JSON, and whether it is a replay."""

    booking_json: bytes
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
        self.picker = SeatPicker(pool)
        # Events this process saw answer seat_selection_required: their quantity holds
        # go straight to best-available.
        self._seated: set[int] = set()

    async def hold_seats(
        self,
        *,
        user_id: int,
        event_id: int,
        quantity: int,
        idempotency_key: str,
        request_hash: str,
        client_address: str | None = None,
        seat_ids: Sequence[str] | None = None,
        zone: str | None = None,
        accessible: bool = False,
        channel: str | None = None,
    ) -> Hold:
        """Hold ``quantity`` seats for ``user_id`` (on a seated event: the seats
        ``seat_ids``, or the best available, in ``zone`` and ``accessible`` if asked),
        or raise the refusal (nothing changed).

        ``client_address`` (as ``core.net.address_bucket`` groups it) counts against the
        event's per-address limit, where the organiser set one. ``channel`` (with
        ``seat_ids``; the caller checked the holder may name it) lets it hold seats kept
        back for that channel."""
        claim = (user_id, idempotency_key)
        if claim in self._in_flight:
            # The same key is already on its way to the database from this process.
            _count("idempotency_request_in_flight")
            raise refuse("idempotency_request_in_flight")
        self._in_flight.add(claim)
        try:
            seats = None if seat_ids is None else tuple(seat_ids)
            if seats is not None:
                quantity = len(seats)
            best = None
            if seats is None and (zone is not None or accessible or event_id in self._seated):
                best = BestAvailable(zone, accessible)
            request = HoldRequest(
                user_id,
                quantity,
                idempotency_key,
                request_hash,
                client_address,
                seats,
                best,
                channel=channel,
            )
            result = await self._submit(event_id, request)
        finally:
            self._in_flight.discard(claim)
        _count(result.outcome)
        if result.outcome is Outcome.HELD and result.booking is not None:
            HOLDS.inc()
            HELD_SEATS.inc(quantity)
            self.publisher.mark(event_id)
            return Hold(booking_json(result.booking), replayed=False)
        if result.outcome is Outcome.REPLAYED and result.booking is not None:
            return Hold(booking_json(result.booking), replayed=True)
        # What event_not_seated names: the seats, or what only a seated event takes.
        field = "body.seat_ids" if seat_ids is not None else "body.zone"
        if seat_ids is None and zone is None:
            field = "body.accessible"
        raise refuse(
            result.outcome, result.details, event_id=event_id, seat_ids=seat_ids, field=field
        )

    async def _submit(self, event_id: int, request: HoldRequest) -> HoldOutcome:
        """Run the request through the event's batches; a quantity on a seated event
        becomes best-available, and a best-available pick another buyer claimed first
        is picked again (``BEST_AVAILABLE_ATTEMPTS`` picks in all)."""
        attempts = 0
        while True:
            attempts += 1
            result = await self._batchers.submit(event_id, request)
            if result.outcome is Outcome.SEAT_SELECTION_REQUIRED and request.best is None:
                self._seated.add(event_id)
                request = replace(request, best=BestAvailable(None, False))
            elif (
                result.outcome is Outcome.SEATS_UNAVAILABLE
                and request.best is not None
                and attempts < BEST_AVAILABLE_ATTEMPTS
            ):
                BEST_AVAILABLE_RETRIES.inc()
                guarded = attempts + 1 < BEST_AVAILABLE_ATTEMPTS
                request = replace(request, best=replace(request.best, guarded=guarded))
            else:
                return result

    async def _pick_seats(
        self, event_id: int, requests: list[HoldRequest]
    ) -> tuple[list[HoldRequest], SeatChoice | None]:
        """The batch with seats picked for its best-available requests, and the choice
        to settle after the claim: one read of the seats per batch; the seats named by
        the batch's requests and each pick count as taken for the picks after them, so
        requests of one batch never pick the same seats."""
        if all(r.best is None for r in requests):
            return requests, None
        choice = await self.picker.read(event_id)
        if choice is None:
            self._seated.discard(event_id)
        picked: list[HoldRequest] = []
        for position, r in enumerate(requests):
            if r.best is None:
                if choice is not None and r.seat_ids:
                    choice.reserve(position, r.seat_ids)
                picked.append(r)
            elif choice is None:
                # Not seated: a plain quantity is general admission; with a zone or
                # accessible, no seats (the hold function answers event_not_seated).
                plain = r.best.zone is None and not r.best.accessible
                picked.append(replace(r, seat_ids=None if plain else ()))
            else:
                seats, guards = choice.pick(
                    position,
                    r.quantity,
                    zone=r.best.zone,
                    accessible=r.best.accessible,
                    guarded=r.best.guarded,
                )
                picked.append(
                    replace(r, seat_ids=seats, guards=tuple((n, f, 1) for n, f in guards))
                )
        if choice is not None and choice.contended:
            picked = self._alternatives(choice, picked)
        return picked, choice

    @staticmethod
    def _alternatives(choice: SeatChoice, requests: list[HoldRequest]) -> list[HoldRequest]:
        """Each best-available pick with up to ``ALTERNATIVES`` more placements, picked
        round by round once every request has its first (so with one replica, or no
        loss, every request still gets its first pick)."""
        requests = list(requests)
        for placements in range(1, ALTERNATIVES + 1):
            for position, r in enumerate(requests):
                if r.best is None or not r.seat_ids or r.placements != placements:
                    continue  # not best-available, no first pick, or none left last round
                seats, guards = choice.alternative(
                    position,
                    r.quantity,
                    zone=r.best.zone,
                    accessible=r.best.accessible,
                    guarded=r.best.guarded,
                )
                if seats:
                    placement = r.placements + 1
                    requests[position] = replace(
                        r,
                        seat_ids=r.seat_ids + seats,
                        guards=r.guards + tuple((n, f, placement) for n, f in guards),
                        placements=placement,
                    )
        return requests

    async def _hold_batch(self, event_id: int, requests: list[HoldRequest]) -> list[HoldOutcome]:
        requests, choice = await self._pick_seats(event_id, requests)
        try:
            rows = await self._claim(event_id, requests)
        except BaseException:
            if choice is not None:
                choice.settle([False] * len(requests))
            raise
        if choice is not None:
            choice.settle(
                [r["outcome"] == Outcome.HELD for r in rows],
                [
                    seat
                    for r in rows
                    if r["outcome"] == Outcome.SEATS_UNAVAILABLE
                    for seat in (r["details"] or {}).get("seat_ids", ())
                ],
                claimed={
                    position: {seat["id"] for seat in json.loads(row["booking"]["seats"])}
                    for position, (row, r) in enumerate(zip(rows, requests, strict=True))
                    if r.placements > 1 and row["outcome"] == Outcome.HELD
                },
                unavailable={
                    position
                    for position, row in enumerate(rows)
                    if row["outcome"] == Outcome.SEATS_UNAVAILABLE
                },
            )
        if rows:
            LOCK_WAIT.labels("hold").observe(rows[0]["lock_wait_s"])
        return [HoldOutcome(Outcome(r["outcome"]), r["booking"], r["details"]) for r in rows]

    async def _claim(self, event_id: int, requests: list[HoldRequest]) -> list[asyncpg.Record]:
        """The batch's one locked call (``bookings.hold_seats``)."""
        locks = LockRequest.of(
            [event_lock(event_id)],
            [in_flight_probe(r.user_id, r.idempotency_key) for r in requests],
        )
        key_ns, key_ids, probe_ns, probe_ids = locks.arguments()
        try:
            rows = await locked_call(
                self.pool.fetch(
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
                    [r.client_address for r in requests],
                    [seat for r in requests for seat in r.seat_ids or ()],
                    [None if r.seat_ids is None else len(r.seat_ids) for r in requests],
                    [near for r in requests for near, _, _ in r.guards],
                    [far for r in requests for _, far, _ in r.guards],
                    [len(r.guards) for r in requests],
                    [r.placements for r in requests],
                    [placement for r in requests for _, _, placement in r.guards],
                    [r.channel for r in requests],
                ),
                on_timeout=lock_timed_out("hold"),
            )
        except LockTimeout:
            for _ in requests:
                _count("lock_timeout")
            raise
        return rows
