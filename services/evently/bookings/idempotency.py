"""``Idempotency-Key`` on ``POST /api/v1/bookings``, after pretix's ``X-Idempotency-Key``.

* The header is required; keys are scoped per user and remembered for 24 hours.
* The same key with the same body returns the stored response (status and body) and
  makes no second booking; the same key with a different body gets 422
  ``idempotency_key_reused``; a duplicate while the first is still in flight gets 409
  ``idempotency_request_in_flight``.
* The claim is race-free and part of the booking's own transaction: ``hold_seats``
  probes a per-(user, key) advisory lock (busy = in flight), reads the stored record,
  and stores the new one in the same statement that creates the booking.
* Only a completed hold (201) is stored. Refusals change nothing, not even the key
  table, so a retry with the same key is decided afresh (pretix likewise forgets 409,
  429 and 503 answers, which are meant to be retried).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from evently.core.api import Header
from evently.core.errors import BadRequest, FieldError, ValidationFailed
from evently.core.locks import LockKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# How POST /api/v1/bookings documents the header, and the one its replies carry.
KEY_HEADER = Header(
    HEADER,
    "A key of yours (a UUID, say) that makes retrying this request safe: the same key "
    "with the same body returns the stored response; with another body, 422.",
    required=True,
    schema={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
            "pattern": "^[\\x20-\\x7e]+$"},
)  # fmt: skip
REPLAYED_HEADER = Header(
    "Idempotency-Replayed", "true when this is the stored response to an earlier request"
)


def read_key(request: web.Request) -> str:
    """The request's Idempotency-Key, or a 400 saying what is wrong with it."""
    key = request.headers.get(HEADER)
    if key is None or not key.strip():
        raise BadRequest(
            f"Send an {HEADER} header (e.g. a UUID) so the booking can be retried safely.",
            code="idempotency_key_required",
            title="Idempotency key required",
            errors=[FieldError(f"header.{HEADER}", "required")],
        )
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            f"The {HEADER} header must be 1-{MAX_KEY_LENGTH} printable ASCII characters.",
            errors=[
                FieldError(f"header.{HEADER}", f"1-{MAX_KEY_LENGTH} printable ASCII characters")
            ],
        )
    return key


def request_hash(body: dict[str, Any]) -> str:
    """A fingerprint of the request body: equal bodies, equal hashes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def in_flight_probe(user_id: int, key: str) -> LockKey:
    """The advisory key a request holds while it runs (probed, never waited for)."""
    return LockKey.of("bookings-idempotency", f"{user_id}:{key}")
