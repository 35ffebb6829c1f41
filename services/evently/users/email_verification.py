"""Verifying an email address: a single-use token mailed to it (``account_tokens``).

A token is mailed when an account is registered, when its email changes, and on request
(``POST /api/v1/users/email-verification``, throttled per account). Confirming
(``POST /api/v1/auth/email-verification/confirm``) marks the account's email verified
only if the email is still the one the token was mailed to. Verification is published
with the account (``user.changed.email_verified``); changing the email clears it
(``sql/publish_user.sql``).
"""

from __future__ import annotations

import asyncpg

from evently.core.errors import BadRequest, FieldError, NotFound
from evently.users import queries
from evently.users.account_tokens import issue_token, redeem_token
from evently.users.rate_limit import Limit, count_attempt
from evently.users.settings import UsersSettings


async def send_verification(
    conn: asyncpg.Connection, settings: UsersSettings, user: asyncpg.Record
) -> None:
    """Mail ``user`` a verification token for their current email (inside a transaction)."""
    await issue_token(conn, user, "email_verification", settings.email_verification_ttl_s)


async def request_verification(pool: asyncpg.Pool, settings: UsersSettings, user_id: int) -> bool:
    """Mail a new token unless the email is verified already; whether one was sent."""
    limits = [
        Limit(
            f"verify:{user_id}",
            settings.account_mail_max_per_email,
            settings.account_mail_window_s,
        )
    ]
    await count_attempt(pool, limits, "verification requests")
    async with pool.acquire() as conn, conn.transaction():
        user = await conn.fetchrow(queries.USER_BY_ID, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.", code="user_not_found")
        if user["email_verified"]:
            return False
        await send_verification(conn, settings, user)
        return True


async def confirm_email(pool: asyncpg.Pool, token: str) -> asyncpg.Record:
    """Mark the token's address verified; 400 ``invalid_token`` if the token is unknown,
    used, expired, or the account's email has changed since it was mailed."""
    async with pool.acquire() as conn, conn.transaction():
        redeemed = await redeem_token(conn, token, "email_verification")
        user = None
        if redeemed is not None:
            user = await conn.fetchrow(
                queries.SET_EMAIL_VERIFIED, redeemed["user_id"], redeemed["email"]
            )
        if user is None:
            raise BadRequest(
                "This verification link is unknown, used or expired, or the email has "
                "changed since; request a new one.",
                code="invalid_token",
                errors=[FieldError("body.token", "is unknown, used or expired")],
            )
        return user
