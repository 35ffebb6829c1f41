"""Ticket codes: what a ticket's QR image holds, signed so a scanner verifies it offline.

A code is ``ET1.<kid>.<payload>.<signature>``:

* ``ET1``: the format and its version;
* ``kid``: the ticket key that signed it (``/.well-known/ticket-keys.json``); a kid may
  itself contain dots, so a code is split from the right;
* ``payload``: base64url (no padding) of the compact JSON ``{"e":event,"b":booking,"s":seat}``;
* ``signature``: base64url (no padding) of the Ed25519 signature over the ASCII text
  ``ET1.<kid>.<payload>``.

Ed25519 signatures are deterministic, so one key always gives a seat the same code.
docs/tickets.md describes the format for scanner authors.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evently.core.signing_keys import SigningKey

PREFIX = "ET1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class TicketCodeError(ValueError):
    """A code that is malformed, signed by an unknown key, or whose signature fails."""


@dataclass(frozen=True)
class TicketClaims:
    """What a valid code states: this seat of this booking admits to this event."""

    event_id: int
    booking_id: int
    seat: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise TicketCodeError("malformed ticket code: bad base64url part")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TicketCodeError("malformed ticket code: bad base64url part") from exc


def sign(claims: TicketClaims, key: SigningKey) -> str:
    """The signed code of ``claims``, signed by ``key``."""
    payload = json.dumps(
        {"e": claims.event_id, "b": claims.booking_id, "s": claims.seat}, separators=(",", ":")
    ).encode()
    signed = f"{PREFIX}.{key.kid}.{_b64encode(payload)}"
    return f"{signed}.{_b64encode(key.private_key.sign(signed.encode('ascii')))}"


def verify(code: str, public_keys: Mapping[str, Ed25519PublicKey]) -> TicketClaims:
    """The claims of ``code`` if a key of ``public_keys`` (kid -> key) signed it.

    Raises ``TicketCodeError`` for a malformed code, an unknown kid or a bad signature.
    """
    if not code.isascii():
        raise TicketCodeError("malformed ticket code: not ASCII")
    parts = code.rsplit(".", 2)
    if len(parts) != 3 or not parts[0].startswith(PREFIX + "."):
        raise TicketCodeError(f"malformed ticket code: expected {PREFIX}.<kid>.<payload>.<sig>")
    head, payload_b64, signature_b64 = parts
    kid = head.removeprefix(PREFIX + ".")
    payload, signature = _b64decode(payload_b64), _b64decode(signature_b64)
    key = public_keys.get(kid)
    if key is None:
        raise TicketCodeError(f"unknown ticket key id {kid!r}")
    try:
        key.verify(signature, f"{head}.{payload_b64}".encode("ascii"))
    except InvalidSignature as exc:
        raise TicketCodeError("ticket code signature does not verify") from exc
    return _claims(payload)


def _claims(payload: bytes) -> TicketClaims:
    try:
        document: Any = json.loads(payload)
    except ValueError as exc:
        raise TicketCodeError("malformed ticket code: payload is not JSON") from exc
    if not isinstance(document, dict) or set(document) != {"e", "b", "s"}:
        raise TicketCodeError("malformed ticket code: payload must hold e, b and s")
    values = document["e"], document["b"], document["s"]
    if not all(type(v) is int and v >= 1 for v in values):
        raise TicketCodeError("malformed ticket code: e, b and s must be positive integers")
    return TicketClaims(*values)


def public_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a published key set (``/.well-known/ticket-keys.json``), by kid:
    what a scanner loads once and then verifies with offline."""
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(_b64decode(jwk["x"]))
    return keys
