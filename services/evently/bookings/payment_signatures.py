"""Webhook signatures, Stripe-style: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The signed text is ``"<t>.<body>"``, so a captured body cannot be replayed with another
timestamp, and a timestamp further than the tolerance from now is refused, so an old
one cannot be replayed at all. Pure functions; the clock is an argument.
"""

from __future__ import annotations

import hashlib
import hmac

from evently.bookings.payment import InvalidWebhook

DEFAULT_TOLERANCE_S = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_payload(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise ``InvalidWebhook`` unless ``header`` signs ``body`` within the tolerance.

    Several ``v1`` values may be present (a secret being rotated); one must match.
    """
    if not header:
        raise InvalidWebhook("the signature header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhook("the signature header needs t=<seconds> and v1=<hex>")
    if abs(now - timestamp) > tolerance_s:
        raise InvalidWebhook(f"the signature's timestamp is more than {tolerance_s}s from now")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidWebhook("the signature does not match the body")
