"""Minting access tokens and opening sessions (an access token plus a refresh token).

Access tokens follow the contract in docs/auth.md: EdDSA, ``kid`` in the header,
claims ``iss aud sub email email_verified roles perms typ iat nbf exp jti``.
``email_verified`` is the account's state when the token is minted (a login or refresh).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import jwt

from evently.core.auth import AUDIENCE, ISSUER
from evently.users.keys import ALGORITHM, SigningKey
from evently.users.refresh import IssuedRefreshToken, issue_refresh_token


@dataclass(frozen=True)
class Session:
    """What a login or a refresh hands the client."""

    user: Mapping[str, Any]
    access_token: str
    access_expires_in: int
    refresh: IssuedRefreshToken
    refresh_expires_in: int


def access_claims(user: Mapping[str, Any], ttl_s: int, now: int | None = None) -> dict[str, Any]:
    """The claims of an access token for ``user`` (a users row)."""
    issued = int(time.time()) if now is None else now
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user["id"]),
        "email": user["email"],
        "email_verified": bool(user["email_verified"]),
        "roles": list(user["roles"]),
        "perms": list(user["permissions"]),
        "typ": "access",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
    }


def sign(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS of ``claims`` signed by ``key``, naming it in ``kid``."""
    return jwt.encode(dict(claims), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def mint_access_token(user: Mapping[str, Any], key: SigningKey, ttl_s: int) -> str:
    """A fresh access token for ``user``."""
    return sign(access_claims(user, ttl_s), key)


async def open_session(
    conn: asyncpg.Connection,
    user: Mapping[str, Any],
    key: SigningKey,
    access_ttl_s: int,
    refresh_ttl_s: int,
) -> Session:
    """Start a new refresh-token family for ``user`` and mint its first access token."""
    refresh = await issue_refresh_token(conn, user["id"], refresh_ttl_s)
    return Session(
        user, mint_access_token(user, key, access_ttl_s), access_ttl_s, refresh, refresh_ttl_s
    )
