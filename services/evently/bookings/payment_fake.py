"""``FakePaymentProvider``: an in-memory payment provider, because no real one can be
reached from here (no network, no accounts). It implements the whole seam
(``payment.PaymentProvider``) with the behaviour of a real provider that matters to us:

* idempotency: the same key returns the same intent or refund, and never acts twice;
* refunds of an unknown or unpaid payment, or beyond what was paid, fail;
* webhooks are signed like Stripe's (``payment_signatures.py``) and verified the same way.

Tests (and ``make run``) switch behaviours on the instance:

* ``decline_payments``: new intents fail (``card_declined``);
* ``refund_behaviour``: ``"succeed"``, ``"fail"`` (the provider refuses), or ``"pend"``
  (the refund stays pending until ``complete_refund`` sends its webhook);
* ``timeouts``: the next N calls act, then wait ``timeout_delay_s`` and raise
  ``PaymentTimeout`` (the worst case: it happened, but the caller cannot know);
* ``outages``: the next N calls raise ``PaymentUnavailable`` without acting.

``calls`` records every call (operation, idempotency key or id) so tests can count them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal, TypeVar

from evently.bookings.payment import (
    InvalidWebhook,
    PaymentIntent,
    PaymentTimeout,
    PaymentUnavailable,
    ProviderRefund,
    WebhookEvent,
)
from evently.bookings.payment_signatures import sign_payload, verify_signature

RefundBehaviour = Literal["succeed", "fail", "pend"]
T = TypeVar("T")


class FakePaymentProvider:
    """An in-memory ``PaymentProvider`` with switchable behaviours (module docstring)."""

    name = "fake"
    signature_header = "Fake-Payments-Signature"

    def __init__(self, webhook_secret: str | None = None) -> None:
        self.webhook_secret = webhook_secret or secrets.token_hex(32)
        self.decline_payments = False
        self.refund_behaviour: RefundBehaviour = "succeed"
        self.timeouts = 0
        self.timeout_delay_s = 0.01
        self.outages = 0
        self.calls: list[tuple[str, str]] = []
        self.intents: dict[str, PaymentIntent] = {}
        self.refunds: dict[str, ProviderRefund] = {}
        self._intent_keys: dict[str, str] = {}
        self._refund_keys: dict[str, str] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ the seam

    async def create_intent(
        self, *, idempotency_key: str, amount: Decimal, currency: str, reference: str
    ) -> PaymentIntent:
        await self._enter("create_intent", idempotency_key)
        intent_id = self._intent_keys.get(idempotency_key)
        if intent_id is None:
            number = next(self._ids)
            declined = self.decline_payments
            intent = PaymentIntent(
                id=f"pi_fake_{number}",
                amount=amount,
                currency=currency,
                status="failed" if declined else "succeeded",
                reference=reference,
                client_secret=f"pi_fake_{number}_secret_{secrets.token_hex(8)}",
                failure_reason="card_declined" if declined else None,
            )
            self.intents[intent.id] = intent
            self._intent_keys[idempotency_key] = intent.id
            intent_id = intent.id
        return await self._answer(self.intents[intent_id])

    async def retrieve_intent(self, intent_id: str) -> PaymentIntent | None:
        await self._enter("retrieve_intent", intent_id)
        return await self._answer(self.intents.get(intent_id))

    async def create_refund(
        self,
        *,
        idempotency_key: str,
        payment_id: str,
        amount: Decimal,
        currency: str,
        reference: str,
    ) -> ProviderRefund:
        await self._enter("create_refund", idempotency_key)
        refund_id = self._refund_keys.get(idempotency_key)
        if refund_id is None:
            refund = ProviderRefund(
                id=f"re_fake_{next(self._ids)}",
                payment_id=payment_id,
                amount=amount,
                currency=currency,
                status="pending",
                reference=reference,
            )
            refund = self._settle(refund)
            self.refunds[refund.id] = refund
            self._refund_keys[idempotency_key] = refund.id
            refund_id = refund.id
        return await self._answer(self.refunds[refund_id])

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund | None:
        await self._enter("retrieve_refund", refund_id)
        return await self._answer(self.refunds.get(refund_id))

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        verify_signature(self.webhook_secret, body, signature, time.time())
        try:
            data = json.loads(body)
            obj = data["data"]["object"]
            kind = data["type"]
            if kind.startswith("refund."):
                return WebhookEvent(data["id"], kind, refund=_refund_from(obj))
            if kind.startswith("payment_intent."):
                return WebhookEvent(data["id"], kind, intent=_intent_from(obj))
            return WebhookEvent(data["id"], kind)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook(f"the webhook body is not an event: {exc}") from exc

    # ------------------------------------------------------------ for tests

    @property
    def refunds_created(self) -> int:
        """Distinct refunds the provider made (whatever became of them)."""
        return len(self.refunds)

    def refunded(self, payment_id: str) -> Decimal:
        """The amount of ``payment_id`` refunded or being refunded."""
        return sum(
            (
                r.amount
                for r in self.refunds.values()
                if r.payment_id == payment_id and r.status != "failed"
            ),
            Decimal(0),
        )

    def complete_refund(
        self, refund_id: str, status: Literal["succeeded", "failed"] = "succeeded"
    ) -> tuple[bytes, dict[str, str]]:
        """Finish a pending refund; returns the signed webhook (body, headers) announcing it."""
        refund = replace(
            self.refunds[refund_id],
            status=status,
            failure_reason=None if status == "succeeded" else "declined_by_bank",
        )
        self.refunds[refund_id] = refund
        return self.webhook(f"refund.{status}", _refund_json(refund))

    def webhook(self, kind: str, obj: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A signed webhook of type ``kind`` carrying ``obj``, as the provider sends it."""
        body = json.dumps(
            {"id": f"evt_fake_{next(self._ids)}", "type": kind, "data": {"object": obj}}
        ).encode()
        header = sign_payload(self.webhook_secret, body, int(time.time()))
        return body, {self.signature_header: header, "Content-Type": "application/json"}

    # ------------------------------------------------------------ internals

    def _settle(self, refund: ProviderRefund) -> ProviderRefund:
        payment = self.intents.get(refund.payment_id)
        if payment is None or payment.status != "succeeded":
            return replace(refund, status="failed", failure_reason="no_such_payment")
        if refund.currency != payment.currency or (
            self.refunded(payment.id) + refund.amount > payment.amount
        ):
            return replace(refund, status="failed", failure_reason="amount_exceeds_payment")
        if self.refund_behaviour == "fail":
            return replace(refund, status="failed", failure_reason="refused_by_provider")
        if self.refund_behaviour == "pend":
            return refund
        return replace(refund, status="succeeded")

    async def _enter(self, operation: str, key: str) -> None:
        self.calls.append((operation, key))
        if self.outages > 0:
            self.outages -= 1
            raise PaymentUnavailable(f"fake provider outage during {operation}")

    async def _answer(self, result: T) -> T:
        if self.timeouts > 0:
            self.timeouts -= 1
            await asyncio.sleep(self.timeout_delay_s)
            raise PaymentTimeout("the fake provider did not answer in time")
        return result


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _refund_json(refund: ProviderRefund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": str(refund.amount),
        "currency": refund.currency,
        "status": refund.status,
        "reference": refund.reference,
        "failure_reason": refund.failure_reason,
    }


def _refund_from(obj: dict[str, Any]) -> ProviderRefund:
    if obj["status"] not in ("pending", "succeeded", "failed"):
        raise ValueError(f"unknown refund status {obj['status']!r}")
    return ProviderRefund(
        id=obj["id"],
        payment_id=obj["payment_id"],
        amount=_money(obj["amount"]),
        currency=obj["currency"],
        status=obj["status"],
        reference=obj["reference"],
        failure_reason=obj.get("failure_reason"),
    )


def _intent_from(obj: dict[str, Any]) -> PaymentIntent:
    return PaymentIntent(
        id=obj["id"],
        amount=_money(obj["amount"]),
        currency=obj["currency"],
        status=obj["status"],
        reference=obj["reference"],
        client_secret="",
        failure_reason=obj.get("failure_reason"),
    )
