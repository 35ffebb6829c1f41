"""The payment seam: the interface a payment provider implements (docs/payments.md).

It has the three parts every card provider offers (Stripe, Adyen, Mollie...), each
idempotent, so that a retry after a timeout can never charge or refund twice:

* **intents**: ``create_intent`` for an amount under an idempotency key (the same key
  returns the same intent), ``retrieve_intent`` to check what the customer paid;
* **refunds**: ``create_refund`` of a payment under an idempotency key (the same key
  returns the same refund, whatever state it reached), ``retrieve_refund``;
* **webhooks**: ``parse_webhook`` verifies a signed notification and returns it typed.

A call that gets no answer in time raises ``PaymentTimeout``: its outcome is unknown,
so the caller retries with the same key. Any other failure to get an answer raises
``PaymentUnavailable``. A definitive "no" (a declined card, a refused refund) is not an
exception: it is the returned object's ``status``.

Only the fake exists (``payment_fake.py``): no real provider can be reached from here.
``service.payment_provider`` picks the implementation ``PAYMENT_PROVIDER`` names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, TypeVar

IntentStatus = Literal["requires_payment", "succeeded", "failed"]
RefundStatus = Literal["pending", "succeeded", "failed"]
T = TypeVar("T")


class PaymentTimeout(Exception):
    """The provider did not answer in time: the call may or may not have happened."""


class PaymentUnavailable(Exception):
    """The provider could not be asked (network, 5xx): nothing is known; retry."""


class InvalidWebhook(ValueError):
    """A webhook whose signature, timestamp or body does not verify."""


@dataclass(frozen=True)
class PaymentIntent:
    """What the provider knows of one payment: ``reference`` is ours (the booking)."""

    id: str
    amount: Decimal
    currency: str
    status: IntentStatus
    reference: str
    client_secret: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    """What the provider knows of one refund: ``reference`` is ours (the refund)."""

    id: str
    payment_id: str
    amount: Decimal
    currency: str
    status: RefundStatus
    reference: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified notification: ``type`` says what happened to the object it carries."""

    id: str
    type: str
    intent: PaymentIntent | None = None
    refund: ProviderRefund | None = None


class PaymentProvider(Protocol):
    """The seam. Every method may raise ``PaymentTimeout`` or ``PaymentUnavailable``."""

    name: str
    # The request header carrying a webhook's signature.
    signature_header: str

    async def create_intent(
        self, *, idempotency_key: str, amount: Decimal, currency: str, reference: str
    ) -> PaymentIntent:
        """A payment of ``amount`` the customer completes with the provider."""
        ...

    async def retrieve_intent(self, intent_id: str) -> PaymentIntent | None:
        """The intent as it is now, or None if the provider has no such intent."""
        ...

    async def create_refund(
        self,
        *,
        idempotency_key: str,
        payment_id: str,
        amount: Decimal,
        currency: str,
        reference: str,
    ) -> ProviderRefund:
        """Refund ``amount`` of the payment ``payment_id`` (an intent's id)."""
        ...

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund | None:
        """The refund as it is now, or None if the provider has no such refund."""
        ...

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        """Verify a webhook (raising ``InvalidWebhook``) and return its event."""
        ...


async def within(timeout_s: float, call: Awaitable[T]) -> T:
    """Await a provider call for at most ``timeout_s``; past it, ``PaymentTimeout``."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call
    except TimeoutError as exc:
        raise PaymentTimeout(f"no answer from the payment provider in {timeout_s}s") from exc


def intent_key(booking_id: int) -> str:
    """The idempotency key (and our reference) of a booking's payment intent."""
    return f"booking-{booking_id}"


def refund_key(refund_id: int) -> str:
    """The idempotency key (and our reference) of a refund."""
    return f"refund-{refund_id}"


def refund_id_of(reference: str) -> int | None:
    """Our refund id from a provider refund's ``reference``, if it is one of ours."""
    prefix, _, number = reference.partition("-")
    return int(number) if prefix == "refund" and number.isdigit() else None
