"""Logging in, refreshing and logging out.

A failed login never says whether the email exists: the answer is the same, and an
unknown email still costs one bcrypt check (against a dummy hash), so the timing
matches too. Every attempt counts against the account's and the client address's
throttle before the password is checked.
"""

from __future__ import annotations

import asyncpg

from evently.core.errors import Forbidden, TooManyRequests, Unauthorized
from evently.users import queries
from evently.users.accounts import create_account, is_admin, normalise_email
from evently.users.email_verification import send_verification
from evently.users.keys import KeyRing
from evently.users.metrics import LOGINS
from evently.users.passwords import verify_password
from evently.users.rate_limit import (
    count_attempt,
    login_limits,
    refund_attempt,
    registration_limits,
)
from evently.users.refresh import revoke_all_for_user, revoke_family_of, rotate_refresh_token
from evently.users.settings import UsersSettings
from evently.users.tokens import Session, mint_access_token, open_session


def _invalid_credentials() -> Unauthorized:
    return Unauthorized(
        "The email or password is incorrect.",
        code="invalid_credentials",
        title="Invalid credentials",
        headers={},
    )


def _deactivated() -> Forbidden:
    """Only ever said after the right password (or a valid refresh token)."""
    return Forbidden(
        "This account has been deactivated by an administrator.", code="account_deactivated"
    )


async def register(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    keyring: KeyRing,
    *,
    email: str,
    password: str,
    name: str = "",
    phone: str | None = None,
    address: str,
) -> Session:
    """Create a customer account, mail it an email verification link and open its first
    session; every registration from ``address`` counts against its throttle (429 past
    the limit), before any hashing."""
    await count_attempt(pool, registration_limits(settings, address), "registrations")
    user = await create_account(
        pool, settings, email=email, password=password, name=name, phone=phone
    )
    async with pool.acquire() as conn:
        async with conn.transaction():
            await send_verification(conn, settings, user)
        return await open_session(
            conn, user, keyring.active, settings.access_token_ttl_s, settings.refresh_token_ttl_s
        )


async def log_in(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    keyring: KeyRing,
    *,
    email: str,
    password: str,
    address: str,
    admin_only: bool = False,
) -> Session:
    """Check the credentials and open a session; ``admin_only`` refuses non-admins
    with the same answer as a wrong password."""
    kind = "admin" if admin_only else "customer"
    email = normalise_email(email)
    try:
        attempt = await count_attempt(pool, login_limits(settings, email, address))
    except TooManyRequests:
        LOGINS.labels(kind, "rate_limited").inc()
        raise
    user = await pool.fetchrow(queries.USER_BY_EMAIL, email)
    hashed = user["password_hash"] if user is not None else None
    matches = await verify_password(password, hashed, settings.bcrypt_rounds)
    if not matches or user is None or (admin_only and not is_admin(user)):
        LOGINS.labels(kind, "invalid_credentials").inc()
        raise _invalid_credentials()
    await refund_attempt(pool, attempt)
    if user["deactivated_at"] is not None:
        LOGINS.labels(kind, "deactivated").inc()
        raise _deactivated()
    LOGINS.labels(kind, "success").inc()
    async with pool.acquire() as conn:
        return await open_session(
            conn, user, keyring.active, settings.access_token_ttl_s, settings.refresh_token_ttl_s
        )


async def refresh_session(
    pool: asyncpg.Pool, settings: UsersSettings, keyring: KeyRing, refresh_token: str
) -> Session:
    """Rotate ``refresh_token`` and mint a new access token from the current account
    (so role changes apply from the next refresh)."""
    async with pool.acquire() as conn:
        user_id, successor = await rotate_refresh_token(
            conn, refresh_token, settings.refresh_token_ttl_s
        )
        user = await conn.fetchrow(queries.USER_BY_ID, user_id)
        if user["deactivated_at"] is not None:
            # A session opened while the account was being deactivated ends here.
            await revoke_all_for_user(conn, user_id, "deactivated")
            raise _deactivated()
    access_token = mint_access_token(user, keyring.active, settings.access_token_ttl_s)
    return Session(
        user, access_token, settings.access_token_ttl_s, successor, settings.refresh_token_ttl_s
    )


async def log_out(pool: asyncpg.Pool, refresh_token: str) -> None:
    """End the session ``refresh_token`` belongs to; unknown tokens are ignored."""
    await revoke_family_of(pool, refresh_token, "logout")
