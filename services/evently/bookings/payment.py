"""The payment seam: where a real payment provider will plug in.

Payment is out of scope: confirming a booking is the "paid" signal. ``collect_payment``
is the one place a provider call belongs (authorise before the confirmation, capture
after it); today it always succeeds and returns no provider reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str | None = None


async def collect_payment(booking_id: int, user_id: int) -> PaymentResult:
    """Always approves: the seam for a real provider (see the module docstring)."""
    return PaymentResult(approved=True)
