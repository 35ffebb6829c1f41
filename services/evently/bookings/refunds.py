"""Refunds: the worker that asks the provider, its webhooks, and reading a refund.

A refund row is created in the transaction that cancels a paid booking
(``sql/refunds.sql``), so it is never lost. Then:

* ``process_due_refunds`` (the worker, on every replica) claims due pending refunds in
  one short transaction (``FOR UPDATE SKIP LOCKED``, leasing each for
  ``PAYMENT_TIMEOUT_S`` plus a margin), calls the provider for all of them at once,
  **outside** any transaction, with the idempotency key ``refund-<id>``, and records
  each answer: succeeded or failed
  is final; pending waits for a webhook (or a recheck, which is the same idempotent
  call); an error or a timeout is retried with exponential backoff until
  ``BOOKINGS_REFUND_MAX_ATTEMPTS``, then the refund fails (metric, and the refund shows
  it). Because the key never changes, a retry, a second replica or a crash between the
  call and the record can never refund twice.
* ``apply_payment_webhook`` verifies a provider notification and resolves the pending
  refund it names; a redelivery finds it no longer pending and changes nothing.

Every state change emits ``refund.changed`` in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
import pydantic

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.bookings.lookups import READ_PERMISSION
from evently.bookings.metrics import REFUND_WEBHOOKS, REFUNDS
from evently.bookings.models import RefundOut
from evently.bookings.outcomes import Outcome
from evently.bookings.payment import (
    InvalidWebhook,
    PaymentTimeout,
    PaymentUnavailable,
    refund_id_of,
    refund_key,
    within,
)
from evently.bookings.refusals import refuse
from evently.core.auth import Principal
from evently.core.errors import ApiError, BadRequest

log = logging.getLogger("evently.bookings.refunds")

# A claimed refund is leased for the provider timeout plus this, so a worker that dies
# mid-call leaves it due again soon, and a live one always records before the lease ends.
LEASE_MARGIN_S = 30.0
MAX_RETRY_S = 3600.0


@dataclass
class RefundRound:
    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    retried: int = 0


def retry_delay_s(base_s: float, attempts_so_far: int) -> float:
    """Backoff before the next try after ``attempts_so_far + 1`` failed calls."""
    return min(base_s * 2**attempts_so_far, MAX_RETRY_S)


async def process_due_refunds(ctx: BookingsContext) -> RefundRound:
    """One worker round: claim due pending refunds, ask the provider, record answers."""
    settings = ctx.settings
    claimed = await ctx.pool.fetch(
        queries.CLAIM_REFUNDS,
        settings.refund_batch_size,
        settings.payment_timeout_s + LEASE_MARGIN_S,
    )
    report = RefundRound()
    # Concurrently: every claimed refund is answered within one provider timeout, well
    # inside its lease, so no other replica can claim it while its call is in flight.
    outcomes = await asyncio.gather(*(attempt_refund(ctx, refund) for refund in claimed))
    for outcome in outcomes:
        if outcome == "resolved":
            continue
        REFUNDS.labels(outcome).inc()
        if outcome == "succeeded":
            report.succeeded += 1
        elif outcome == "failed":
            report.failed += 1
        elif outcome == "pending":
            report.pending += 1
        else:
            report.retried += 1
    return report


async def attempt_refund(ctx: BookingsContext, refund: asyncpg.Record) -> str:
    """Ask the provider for one claimed refund and record its answer; returns the
    outcome (succeeded, failed, pending or retry; resolved: a webhook was faster)."""
    settings = ctx.settings
    try:
        answer = await within(
            settings.payment_timeout_s,
            ctx.payments.create_refund(
                idempotency_key=refund_key(refund["id"]),
                payment_id=refund["payment_reference"],
                amount=refund["amount"],
                currency=refund["currency"],
                reference=refund_key(refund["id"]),
            ),
        )
    except (PaymentTimeout, PaymentUnavailable) as exc:
        status, provider_id, error = "error", None, f"{type(exc).__name__}: {exc}"
        delay_s = retry_delay_s(settings.refund_retry_base_s, refund["attempts"])
    except Exception as exc:  # a provider bug: counted as an attempt, so it ends visible
        log.exception("refund %s: unexpected error from the payment provider", refund["id"])
        status, provider_id, error = "error", None, f"{type(exc).__name__}: {exc}"
        delay_s = retry_delay_s(settings.refund_retry_base_s, refund["attempts"])
    else:
        status, provider_id, error = answer.status, answer.id, answer.failure_reason
        delay_s = settings.refund_pending_recheck_s
    row = await ctx.pool.fetchrow(
        queries.RECORD_REFUND_ATTEMPT,
        refund["id"],
        status,
        provider_id,
        error,
        delay_s,
        settings.refund_max_attempts,
    )
    if row is None or row["id"] is None:
        return "resolved"  # a webhook settled it meanwhile: nothing left to record
    if row["status"] == "failed":
        log.error("refund %s failed for good: %s", refund["id"], row["last_error"])
        return "failed"
    if row["status"] == "succeeded":
        return "succeeded"
    return "retry" if status == "error" else "pending"


class WebhookReceipt(pydantic.BaseModel):
    """What ``POST /api/v1/payments/webhooks`` answers the provider."""

    received: bool = True
    event_id: str
    type: str
    applied: bool = pydantic.Field(description="Whether it changed a refund (false: a redelivery)")


async def apply_payment_webhook(
    ctx: BookingsContext, body: bytes, signature: str | None
) -> WebhookReceipt:
    """Verify a provider webhook and resolve the pending refund it settles."""
    try:
        event = ctx.payments.parse_webhook(body, signature)
    except InvalidWebhook as exc:
        REFUND_WEBHOOKS.labels("invalid").inc()
        raise BadRequest(
            f"The webhook does not verify: {exc}",
            code="invalid_webhook",
            title="Invalid webhook",
        ) from exc
    applied = False
    refund = event.refund
    if refund is not None and refund.status in ("succeeded", "failed"):
        row = await ctx.pool.fetchrow(
            queries.RESOLVE_REFUND,
            refund_id_of(refund.reference),
            refund.id,
            refund.status,
            refund.failure_reason,
        )
        applied = row is not None and row["id"] is not None
    REFUND_WEBHOOKS.labels("applied" if applied else "ignored").inc()
    return WebhookReceipt(event_id=event.id, type=event.type, applied=applied)


async def booking_refund(ctx: BookingsContext, *, booking_id: int, viewer: Principal) -> RefundOut:
    """The booking's refund, for the booking's owner or an admin with bookings:read."""
    row = await ctx.pool.fetchrow(queries.BOOKING_REFUND, booking_id)
    if row is None:
        owner = await ctx.pool.fetchrow(queries.BOOKING_OWNER, booking_id)
        if owner is None or not _may_read(viewer, owner["user_id"]):
            raise refuse(Outcome.BOOKING_NOT_FOUND)
        raise ApiError(
            "This booking has no refund: it was not paid, or it is not cancelled.",
            status=404,
            code="refund_not_found",
            title="No refund",
        )
    if not _may_read(viewer, row["user_id"]):
        raise refuse(Outcome.BOOKING_NOT_FOUND)
    return RefundOut.from_row(row)


def _may_read(viewer: Principal, owner_id: int) -> bool:
    return owner_id == viewer.user_id or viewer.can(READ_PERMISSION)


class RefundWorker:
    """The background loop: one round every ``BOOKINGS_REFUND_INTERVAL_S``."""

    def __init__(self, ctx: BookingsContext) -> None:
        self.ctx = ctx

    async def step(self) -> None:
        await process_due_refunds(self.ctx)
