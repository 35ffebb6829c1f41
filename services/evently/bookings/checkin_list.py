"""The offline check-in list: every ticket of one event, signed, for gates with no network.

A gate downloads it while it has a network and then answers scans from it alone. It is
signed like the ticket codes, by the active ticket key, so a gate verifies it against
the same published keys (``/.well-known/ticket-keys.json``). The signature is detached:
it covers the canonical JSON bytes (RFC 8785, JCS) of the ``list`` member, and travels
beside it in ``signature``. docs/checkin.md shows a gate's verification.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evently.bookings import queries
from evently.bookings.context import BookingsContext
from evently.core.contracts import BookedSeat
from evently.core.signing_keys import SigningKey

FORMAT = "evently-checkin-list/1"


class CheckinListError(ValueError):
    """A list that is malformed, signed by an unknown key, or whose signature fails."""


def canonical_json(document: Any) -> bytes:
    """RFC 8785 (JCS) bytes of ``document``; for what a list holds (objects with ASCII
    keys, strings, integers, null) this is sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def timestamp(moment: datetime | None) -> str | None:
    """A time as the API writes one: UTC, microseconds, ``Z``."""
    return None if moment is None else f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


async def signed_checkin_list(ctx: BookingsContext, *, event_id: int) -> bytes:
    """The event's signed check-in list as response JSON (an event without tickets has
    an empty list). Tickets still queued for the deferred issuer are issued first."""
    await ctx.tickets.issue_missing_for_event(event_id)
    rows = await ctx.pool.fetch(queries.EVENT_TICKETS, event_id)
    generated_at = datetime.now(UTC)
    # Rendering and signing tens of thousands of tickets is CPU work: off the event loop.
    return await asyncio.to_thread(_render, event_id, generated_at, rows, ctx.tickets.keys.active)


def _render(
    event_id: int, generated_at: datetime, rows: Sequence[Mapping[str, Any]], key: SigningKey
) -> bytes:
    document = {
        "format": FORMAT,
        "event_id": event_id,
        "generated_at": timestamp(generated_at),
        "tickets": [
            {
                "code": row["code"],
                "booking_id": row["booking_id"],
                "seat": row["seat"],
                "status": row["status"],
                "checked_in_at": timestamp(row["checked_in_at"]),
                "checked_in_gate": row["checked_in_gate"],
                "assigned_seat": _seat(row["assigned_seat"]),
            }
            for row in rows
        ],
    }
    signed = canonical_json(document)
    signature = {
        "alg": "EdDSA",
        "kid": key.kid,
        "value": base64.urlsafe_b64encode(key.private_key.sign(signed)).rstrip(b"=").decode(),
    }
    return b'{"list":' + signed + b',"signature":' + canonical_json(signature) + b"}"


def _seat(stored: str | None) -> dict[str, str | None] | None:
    """A ticket's seat (JSON text from ``bookings.ticket_seat``) as the ticket API shows
    it (labels filled in for seats stored before labels were kept), or None."""
    return (
        None if stored is None else BookedSeat.model_validate_json(stored).model_dump(mode="json")
    )


def verify_checkin_list(
    body: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]
) -> dict[str, Any]:
    """The ``list`` of a downloaded check-in list (parsed JSON) if a key of
    ``public_keys`` (kid -> key) signed it; what a gate does before trusting it.

    Raises ``CheckinListError`` for a malformed list, an unknown kid or a bad signature.
    """
    document, signature = body.get("list"), body.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, dict):
        raise CheckinListError("malformed check-in list: expected list and signature")
    if document.get("format") != FORMAT or signature.get("alg") != "EdDSA":
        raise CheckinListError(f"not a {FORMAT} list signed with EdDSA")
    key = public_keys.get(signature.get("kid"))  # type: ignore[arg-type]
    if key is None:
        raise CheckinListError(f"unknown ticket key id {signature.get('kid')!r}")
    value = str(signature.get("value", ""))
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        key.verify(raw, canonical_json(document))
    except (ValueError, InvalidSignature) as exc:
        raise CheckinListError("check-in list signature does not verify") from exc
    return document
