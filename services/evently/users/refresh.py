"""Opaque refresh tokens: issued per login, rotated on every use, revoked by family.

Only a sha256 digest of each token is stored. A login starts a *family*; every refresh
marks the presented token used and issues its successor in the same family. Presenting
a token that was already used means it was copied: the whole family is revoked (the
thief and the real client both have to log in again) and a warning names the family.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from evently.core.errors import Unauthorized
from evently.users import queries
from evently.users.metrics import REFRESHES

log = logging.getLogger("evently.users.refresh")
TOKEN_PREFIX = "evr_"  # makes leaked tokens recognisable to secret scanners
# Expired tokens are kept this long, so a late replay is still reported as reuse.
PURGE_GRACE_S = 86_400


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    family_id: uuid.UUID
    expires_at: dt.datetime


def token_digest(token: str) -> bytes:
    """What the database stores instead of the token."""
    return hashlib.sha256(token.encode()).digest()


async def issue_refresh_token(
    conn: asyncpg.Connection, user_id: int, ttl_s: int, family_id: uuid.UUID | None = None
) -> IssuedRefreshToken:
    """Store and return a new token; a new family unless ``family_id`` continues one."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    family_id = family_id or uuid.uuid4()
    expires_at = await conn.fetchval(
        queries.INSERT_REFRESH_TOKEN, token_digest(token), family_id, user_id, float(ttl_s)
    )
    return IssuedRefreshToken(token, family_id, expires_at)


def _rejected(reason: str, detail: str) -> Unauthorized:
    REFRESHES.labels(reason).inc()
    return Unauthorized(detail, code=f"refresh_token_{reason}", headers={})


async def rotate_refresh_token(
    conn: asyncpg.Connection, token: str, ttl_s: int
) -> tuple[int, IssuedRefreshToken]:
    """Exchange ``token`` for its successor; returns ``(user_id, new token)``.

    Raises 401 for an unknown, expired, revoked or reused token. Reuse revokes the
    family, and that revocation is committed even though the call fails.
    """
    async with conn.transaction():
        row = await conn.fetchrow(queries.REFRESH_TOKEN_FOR_UPDATE, token_digest(token))
        if row is None:
            outcome = "unknown"
        elif row["revoked_at"] is not None:
            outcome = "revoked"
        elif row["used_at"] is not None:
            outcome = "reused"
            await conn.execute(queries.REVOKE_REFRESH_FAMILY, row["family_id"], "reuse")
        elif row["expired"]:
            outcome = "expired"
        else:
            await conn.execute(queries.MARK_REFRESH_TOKEN_USED, row["id"])
            successor = await issue_refresh_token(conn, row["user_id"], ttl_s, row["family_id"])
            REFRESHES.labels("rotated").inc()
            return row["user_id"], successor
    if outcome == "reused":
        log.warning(
            "refresh token reused; revoked its family",
            extra={"family_id": str(row["family_id"]), "user_id": row["user_id"]},
        )
        raise _rejected("reused", "This refresh token was already used; log in again.")
    if outcome == "revoked":
        raise _rejected("revoked", "This refresh token was revoked; log in again.")
    if outcome == "expired":
        raise _rejected("expired", "This refresh token has expired; log in again.")
    raise _rejected("unknown", "This refresh token is not valid.")


async def revoke_family_of(pool: asyncpg.Pool, token: str, reason: str = "logout") -> None:
    """Revoke the family ``token`` belongs to (nothing happens for an unknown token)."""
    await pool.execute(queries.REVOKE_REFRESH_FAMILY_OF_TOKEN, token_digest(token), reason)


async def revoke_all_for_user(conn: asyncpg.Connection, user_id: int, reason: str) -> None:
    """Revoke every live refresh token of ``user_id`` (all sessions end at access expiry)."""
    await conn.execute(queries.REVOKE_USER_REFRESH_TOKENS, user_id, reason)


async def purge_expired(pool: asyncpg.Pool) -> None:
    """Delete tokens expired for longer than the grace period."""
    await pool.execute(queries.PURGE_EXPIRED_REFRESH_TOKENS, float(PURGE_GRACE_S))
