"""Forgotten passwords: ``POST /api/v1/auth/password-reset`` and ``.../confirm``.

* **Requesting** mails a single-use token (``account_tokens``) to the account's address.
  The answer is the same 202 whether or not an account uses the email, and the throttle
  (per email and per client address, 429 past it) counts every request alike, so
  neither tells anyone which emails have accounts. Deactivated accounts get no mail.
* **Confirming** with the token sets the new password (the same policy as everywhere),
  ends every session of the account (its refresh tokens are revoked) and voids its other
  reset tokens, in one transaction: a refused password leaves the token usable. The
  mail reached its address, so that address counts as verified from then on.
"""

from __future__ import annotations

import hashlib

import asyncpg

from evently.core.errors import BadRequest, FieldError
from evently.core.net import address_bucket
from evently.users import queries
from evently.users.account_tokens import issue_token, redeem_token
from evently.users.accounts import normalise_email
from evently.users.password_change import check_new_password
from evently.users.passwords import hash_password
from evently.users.rate_limit import Limit, count_attempt
from evently.users.refresh import revoke_all_for_user
from evently.users.settings import UsersSettings


def reset_limits(settings: UsersSettings, email: str, address: str) -> list[Limit]:
    """The buckets a reset request counts against, whether or not the account exists."""
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    return [
        Limit(
            f"reset:{account}",
            settings.account_mail_max_per_email,
            settings.account_mail_window_s,
        ),
        Limit(
            f"reset-address:{address_bucket(address)}",
            settings.account_mail_max_per_address,
            settings.account_mail_window_s,
        ),
    ]


async def request_password_reset(
    pool: asyncpg.Pool, settings: UsersSettings, email: str, address: str
) -> None:
    """Mail a reset token if an active account uses ``email``; the same outcome otherwise."""
    email = normalise_email(email)
    await count_attempt(pool, reset_limits(settings, email, address), "password reset requests")
    async with pool.acquire() as conn, conn.transaction():
        user = await conn.fetchrow(queries.USER_BY_EMAIL, email)
        if user is not None and user["deactivated_at"] is None:
            await issue_token(conn, user, "password_reset", settings.password_reset_ttl_s)


def _invalid_token() -> BadRequest:
    return BadRequest(
        "This reset link is unknown, used or expired; request a new one.",
        code="invalid_token",
        errors=[FieldError("body.token", "is unknown, used or expired")],
    )


async def reset_password(
    pool: asyncpg.Pool, settings: UsersSettings, token: str, new_password: str
) -> None:
    """Set the password of the token's account, once; 400 ``invalid_token`` otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        redeemed = await redeem_token(conn, token, "password_reset")
        if redeemed is None:
            raise _invalid_token()
        user = await conn.fetchrow(queries.USER_BY_ID, redeemed["user_id"])
        if user is None or user["deactivated_at"] is not None:
            raise _invalid_token()
        check_new_password(new_password, "", user["email"])
        password_hash = await hash_password(new_password, settings.bcrypt_rounds)
        await conn.execute(queries.SET_PASSWORD, user["id"], password_hash)
        await revoke_all_for_user(conn, user["id"], "password_reset")
        await conn.execute(queries.VOID_ACCOUNT_TOKENS, user["id"], "password_reset")
        await conn.execute(queries.SET_EMAIL_VERIFIED, user["id"], redeemed["email"])
