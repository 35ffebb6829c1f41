"""Confirming a hold: ``POST /api/v1/bookings/{id}/confirm``.

A paid confirmation first checks its payment intent with the provider
(``payment_intents.py``); then the confirmation joins the current batch
(``batching.py``) and ``bookings.confirm_bookings`` flips each booking to confirmed in
one round trip and one commit per batch. A confirmation never touches the event's hot
inventory row (it counts the seat in a sold-seat shard row), so confirmations do not
queue behind holds. Confirming an already confirmed booking answers with it again.
Once a batch commits, its confirmed bookings are queued for the deferred ticket issuer
(``ticket_issuer.py``), which issues them after the rush: signing inside the transaction
would lengthen the hot path, and signing during the sale would take its CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from evently.bookings import queries
from evently.bookings.batching import Batcher
from evently.bookings.inventory import InventoryPublisher
from evently.bookings.metrics import CONFIRMATIONS, LOCK_TIMEOUTS
from evently.bookings.models import BookingOut, booking_json
from evently.bookings.outcomes import Outcome
from evently.bookings.payment import PaymentProvider
from evently.bookings.payment_intents import refund_unconfirmed_payment, verified_payment_reference
from evently.bookings.refusals import refuse
from evently.bookings.settings import BookingsSettings
from evently.bookings.ticket_issuer import TicketIssuer
from evently.core.locks import locked_call


@dataclass(frozen=True)
class ConfirmRequest:
    booking_id: int
    user_id: int
    payment_reference: str | None


@dataclass(frozen=True)
class ConfirmOutcome:
    outcome: Outcome
    booking: asyncpg.Record | None
    event_id: int | None


class BookingConfirmer:
    """Confirms bookings, batching concurrent confirmations into one transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: BookingsSettings,
        publisher: InventoryPublisher,
        tickets: TicketIssuer,
        payments: PaymentProvider,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.publisher = publisher
        self.tickets = tickets
        self.payments = payments
        self._batcher: Batcher[ConfirmRequest, ConfirmOutcome] = Batcher(
            self._confirm_batch, settings.confirm_batch_max
        )

    async def confirm_booking(
        self, *, booking_id: int, user_id: int, payment_intent_id: str | None = None
    ) -> bytes:
        """Confirm the user's held booking; returns it as ``BookingOut`` JSON or raises
        the refusal. With ``payment_intent_id``, the provider must first say that intent
        paid this booking's amount (``payment_intents.py``); it becomes the booking's
        ``payment_reference``. Without it (free events, the demo) nothing is asked and
        the path costs what it always did."""
        reference = None
        if payment_intent_id is not None:
            reference = await verified_payment_reference(
                self.pool,
                self.payments,
                self.settings.payment_timeout_s,
                booking_id=booking_id,
                user_id=user_id,
                intent_id=payment_intent_id,
            )
        result = await self._batcher.submit(ConfirmRequest(booking_id, user_id, reference))
        if reference is not None:
            await refund_unconfirmed_payment(self.pool, result.outcome, result.booking, reference)
        if result.outcome is Outcome.CONFIRMED:
            CONFIRMATIONS.inc()
            if result.event_id is not None:
                self.publisher.mark(result.event_id)
        if result.booking is not None and result.outcome in (
            Outcome.CONFIRMED,
            Outcome.ALREADY_CONFIRMED,
        ):
            return booking_json(result.booking)
        booking = None if result.booking is None else BookingOut.from_row(result.booking)
        raise refuse(result.outcome, event_id=result.event_id, booking=booking)

    async def _confirm_batch(self, requests: list[ConfirmRequest]) -> list[ConfirmOutcome]:
        rows = await locked_call(
            self.pool.fetch(
                queries.CONFIRM_BOOKINGS,
                [r.booking_id for r in requests],
                [r.user_id for r in requests],
                [r.payment_reference for r in requests],
                self.settings.lock_timeout_ms,
            ),
            on_timeout=lambda _waited_s: LOCK_TIMEOUTS.labels("confirm").inc(),
        )
        outcomes = [
            ConfirmOutcome(Outcome(r["outcome"]), r["booking"], r["event_id"]) for r in rows
        ]
        # The batch has committed: queue its tickets for the deferred issuer.
        self.tickets.defer(
            o.booking for o in outcomes if o.outcome is Outcome.CONFIRMED and o.booking
        )
        return outcomes
