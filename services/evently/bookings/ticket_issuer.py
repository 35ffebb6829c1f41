"""Issuing tickets: signing a booking's codes and storing them, after its confirmation.

Issuing happens OUTSIDE the confirm transaction, and not during the sale's busiest
seconds either: a ticket is needed at the door, not within the second. Each committed
confirmation batch hands its bookings to ``TicketIssuer.defer``, which only queues them.
The issuer's loop (``run``) issues the queue once confirmations have paused for
``quiet_s``, or once the oldest waiting booking is ``max_delay_s`` old, in statements of
``batch_size`` bookings (sql/issue_ticket_batch.sql): the signing and the inserts of a
flash sale happen after its rush, in a few large batches.

Nothing is lost if the queue is: reading a confirmed booking's tickets
(``tickets.booking_tickets``) issues whatever is missing, shutdown issues the queue, and
start-up issues the tickets of any confirmed booking still missing some. The SQL makes
every path idempotent and race-safe against a cancel, which voids the tickets in its
own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from evently.bookings import queries, ticket_codes
from evently.bookings.metrics import TICKETS_ISSUED, TICKETS_WAITING
from evently.core.signing_keys import KeyRing

log = logging.getLogger("evently.bookings.tickets")

RETRY_AFTER_FAILURE_S = 1.0
STARTUP_PAGE = 1000


@dataclass(frozen=True)
class IssuePolicy:
    """When the deferred issuer issues its queue (docs/tickets.md)."""

    quiet_s: float = 0.5
    max_delay_s: float = 60.0
    batch_size: int = 500


@dataclass(frozen=True)
class WaitingBooking:
    """What issuing a booking's tickets needs: its id, event and number of seats."""

    id: int
    event_id: int
    quantity: int


class TicketIssuer:
    """Signs ticket codes with the active ticket key and stores them, now or deferred."""

    def __init__(
        self, pool: asyncpg.Pool, keys: KeyRing, policy: IssuePolicy | None = None
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.policy = policy or IssuePolicy()
        self._waiting: dict[int, WaitingBooking] = {}
        self._first_waiting_at = 0.0
        self._last_deferred_at = 0.0
        self._arrived = asyncio.Event()
        self._issuing = asyncio.Lock()

    def codes(self, booking: Mapping[str, Any] | WaitingBooking) -> list[str]:
        """The signed codes of seats 1..quantity of ``booking``."""
        if isinstance(booking, WaitingBooking):
            event_id, booking_id, quantity = booking.event_id, booking.id, booking.quantity
        else:
            event_id, booking_id = booking["event_id"], booking["id"]
            quantity = booking["quantity"]
        return [
            ticket_codes.sign(
                ticket_codes.TicketClaims(event_id, booking_id, seat), self.keys.active
            )
            for seat in range(1, quantity + 1)
        ]

    async def issue(self, booking: Mapping[str, Any]) -> list[asyncpg.Record]:
        """Issue the booking's missing tickets now if it is confirmed; returns all its
        tickets (none, or void ones, if it is not)."""
        return await self.pool.fetch(queries.ISSUE_TICKETS, booking["id"], self.codes(booking))

    def defer(self, bookings: Iterable[Mapping[str, Any]]) -> None:
        """Queue just-confirmed ``bookings`` for the deferred issuer (no I/O, no task)."""
        now = asyncio.get_running_loop().time()
        for b in bookings:
            if not self._waiting:
                self._first_waiting_at = now
            self._waiting[b["id"]] = WaitingBooking(b["id"], b["event_id"], b["quantity"])
            self._last_deferred_at = now
        TICKETS_WAITING.set(len(self._waiting))
        if self._waiting:
            self._arrived.set()

    @property
    def waiting(self) -> int:
        """Bookings queued and not issued yet."""
        return len(self._waiting)

    async def run(self) -> None:
        """Issue what start-up finds missing, then the queue whenever it is due, forever."""
        await self._issue_missing()
        while True:
            await self._arrived.wait()
            await self._until_due()
            try:
                await self.flush()
            except Exception:
                log.exception("issuing deferred tickets failed; retrying")
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)

    async def _until_due(self) -> None:
        """Sleep until confirmations have paused for ``quiet_s`` or the oldest waiting
        booking is ``max_delay_s`` old (both move while it sleeps)."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            due = min(
                self._last_deferred_at + self.policy.quiet_s,
                self._first_waiting_at + self.policy.max_delay_s,
            )
            if loop.time() >= due:
                return
            await asyncio.sleep(due - loop.time())

    async def flush(self) -> int:
        """Issue every queued booking now, ``batch_size`` at a time; returns the tickets
        inserted. A failed batch goes back to the queue, and the error is raised."""
        issued = 0
        async with self._issuing:
            while self._waiting:
                ids = list(self._waiting)[: self.policy.batch_size]
                batch = [self._waiting.pop(i) for i in ids]
                if not self._waiting:
                    self._arrived.clear()
                try:
                    issued += await self.issue_batch(batch)
                except BaseException:
                    self._requeue(batch)
                    raise
                finally:
                    TICKETS_WAITING.set(len(self._waiting))
        return issued

    def _requeue(self, batch: list[WaitingBooking]) -> None:
        self._waiting.update((b.id, b) for b in batch)
        self._first_waiting_at = asyncio.get_running_loop().time()
        self._arrived.set()

    async def issue_batch(self, bookings: Iterable[WaitingBooking]) -> int:
        """The tickets of ``bookings`` in one statement; returns how many were inserted."""
        booking_ids: list[int] = []
        seats: list[int] = []
        codes: list[str] = []
        for booking in bookings:
            for seat, code in enumerate(self.codes(booking), start=1):
                booking_ids.append(booking.id)
                seats.append(seat)
                codes.append(code)
        if not codes:
            return 0
        inserted = await self.pool.fetchval(queries.ISSUE_TICKET_BATCH, booking_ids, seats, codes)
        TICKETS_ISSUED.inc(inserted)
        return inserted

    async def _issue_missing(self) -> None:
        """Issue the tickets of confirmed bookings still missing some: a previous
        process's queue, lost in a crash."""
        after = 0
        while True:
            rows = await self.pool.fetch(queries.CONFIRMED_WITHOUT_ALL_TICKETS, after, STARTUP_PAGE)
            if not rows:
                return
            await self.issue_batch(
                WaitingBooking(r["id"], r["event_id"], r["quantity"]) for r in rows
            )
            after = rows[-1]["id"]

    async def issue_missing_for_event(self, event_id: int) -> int:
        """Issue now every ticket the event's confirmed bookings still miss (queued or
        lost), before something needs them all, such as a check-in list."""
        rows = await self.pool.fetch(queries.EVENT_CONFIRMED_WITHOUT_ALL_TICKETS, event_id)
        issued = 0
        for start in range(0, len(rows), self.policy.batch_size):
            issued += await self.issue_batch(
                WaitingBooking(r["id"], r["event_id"], r["quantity"])
                for r in rows[start : start + self.policy.batch_size]
            )
        return issued

    async def close(self) -> None:
        """Issue the queue before the pool closes (a failure is logged: start-up or the
        first read issues what is left)."""
        try:
            await self.flush()
        except Exception:
            log.exception("issuing %d bookings' tickets at shutdown failed", self.waiting)
