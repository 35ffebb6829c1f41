"""Admission tokens: the waiting room's signed pass to buy seats for one event.

The waiting room signs one for each admitted visitor with its own Ed25519 key set
(``ADMISSION_*``, published at ``/.well-known/admission-keys.json``); bookings verifies it
offline with the public keys. A token is bound to one user and one event and expires when
the visitor's shopping session does. Shared here because two services use the format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from evently.core.signing_keys import ALGORITHM, KeyRing, KeySetVariables

ADMISSION_KEY_VARIABLES = KeySetVariables(
    "ADMISSION_SIGNING_KEYS", "ADMISSION_SIGNING_KEYS_DIR", "ADMISSION_ACTIVE_KID"
)
ISSUER = "evently-waiting-room"
AUDIENCE = "evently-bookings"
TOKEN_TYPE = "admission"
HEADER = "Admission-Token"


@dataclass(frozen=True)
class Admission:
    """What a valid admission token says."""

    user_id: int
    event_id: int
    ticket_id: int
    expires_at: int


class InvalidAdmissionToken(ValueError):
    """A token that is malformed, forged, expired, or not an admission token."""


def sign_admission(
    keys: KeyRing,
    *,
    user_id: int,
    event_id: int,
    ticket_id: int,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """A compact JWS admitting ``user_id`` to ``event_id`` until ``expires_at``."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": TOKEN_TYPE,
        "sub": str(user_id),
        "evt": event_id,
        "jti": str(ticket_id),
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(
        claims, keys.active.private_key, algorithm=ALGORITHM, headers={"kid": keys.active.kid}
    )


def admission_kid(token: str) -> str:
    """The id of the key that signed ``token`` (unverified: to look the key up)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise InvalidAdmissionToken(str(exc)) from exc
    if not isinstance(kid, str):
        raise InvalidAdmissionToken("no key id")
    return kid


def verify_admission(
    public_keys: dict[str, Any], token: str, now: datetime | None = None
) -> Admission:
    """What the admission ``token`` proves, checked against ``public_keys`` (kid -> key)
    and, for its expiry, the clock ``now`` (default: the current time)."""
    moment = time.time() if now is None else now.timestamp()
    try:
        key = public_keys.get(admission_kid(token))
        if key is None:
            raise InvalidAdmissionToken("signed with an unknown key")
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Time is checked below against ``now`` (tests and verifiers pass their clock).
            options={
                "require": ["exp", "sub", "evt", "jti", "typ"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        if claims["typ"] != TOKEN_TYPE:
            raise InvalidAdmissionToken("not an admission token")
        if int(claims["exp"]) <= moment:
            raise InvalidAdmissionToken("expired")
        return Admission(
            int(claims["sub"]), int(claims["evt"]), int(claims["jti"]), int(claims["exp"])
        )
    except InvalidAdmissionToken:
        raise
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidAdmissionToken(str(exc)) from exc


def public_keys(keys: KeyRing) -> dict[str, Any]:
    """kid -> public key of every key in ``keys`` (what ``verify_admission`` takes)."""
    return {key.kid: key.private_key.public_key() for key in keys.keys}
