"""Accounts: creating customers and admins, reading and updating profiles.

Emails are normalised (trimmed, lower-cased) before they are stored or looked up, and
``users.users`` has a unique index on the normalised form, so ``Ann@X.io`` and
``ann@x.io`` are the same account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from evently.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from evently.users import queries
from evently.users.email_verification import send_verification
from evently.users.metrics import REGISTRATIONS
from evently.users.passwords import hash_password, password_problems, verify_password
from evently.users.rate_limit import count_attempt, login_limits, refund_attempt
from evently.users.refresh import revoke_all_for_user
from evently.users.settings import UsersSettings

CUSTOMER_ROLES: tuple[str, ...] = ("customer",)
ADMIN_ROLES: tuple[str, ...] = ("admin",)
ADMIN_PERMISSIONS: tuple[str, ...] = (
    "events:write",
    "analytics:read",
    "bookings:read",
    "users:admin",
)
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def normalise_email(email: str) -> str:
    """The stored form of an email: surrounding space removed, lower-cased."""
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why a (normalised) email is unacceptable, or None."""
    if len(email) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters long"
    if not _EMAIL.match(email):
        return "is not a valid email address"
    return None


def check_new_credentials(email: str, password: str, prefix: str = "body") -> None:
    """Raise 400 listing every problem with a new account's email and password."""
    errors = []
    problem = email_problem(email)
    if problem:
        errors.append(FieldError(f"{prefix}.email", problem))
    errors += [FieldError(f"{prefix}.password", p) for p in password_problems(password, email)]
    if errors:
        raise ValidationFailed(
            "The email or password is not acceptable: "
            + "; ".join(f"{e.field.removeprefix(prefix + '.')} {e.reason}" for e in errors),
            errors=errors,
        )


def _email_taken() -> Conflict:
    return Conflict(
        "An account with this email already exists.",
        code="email_taken",
        errors=[FieldError("body.email", "is already registered")],
    )


def is_admin(user: asyncpg.Record | dict[str, Any]) -> bool:
    return "admin" in user["roles"]


async def create_account(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    *,
    email: str,
    password: str,
    name: str = "",
    phone: str | None = None,
    admin: bool = False,
) -> asyncpg.Record:
    """Validate and store a new customer (or admin) account; 400 if weak, 409 if taken."""
    email = normalise_email(email)
    check_new_credentials(email, password)
    password_hash = await hash_password(password, settings.bcrypt_rounds)
    roles, permissions = (ADMIN_ROLES, ADMIN_PERMISSIONS) if admin else (CUSTOMER_ROLES, ())
    user = await pool.fetchrow(
        queries.INSERT_USER,
        email,
        password_hash,
        name.strip(),
        phone,
        list(roles),
        list(permissions),
    )
    if user is None:
        raise _email_taken()
    REGISTRATIONS.labels("admin" if admin else "customer").inc()
    return user


async def get_user(pool: asyncpg.Pool, user_id: int) -> asyncpg.Record:
    """The account ``user_id``, or 404."""
    user = await pool.fetchrow(queries.USER_BY_ID, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", code="user_not_found")
    return user


@dataclass(frozen=True)
class ProfileChanges:
    """What a profile update sets; ``None`` leaves a field as it is."""

    name: str | None = None
    phone: str | None = None
    clear_phone: bool = False
    email: str | None = None
    current_password: str | None = None


async def update_profile(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    user_id: int,
    changes: ProfileChanges,
    address: str,
) -> asyncpg.Record:
    """Apply ``changes`` to ``user_id``; a new email needs the current password."""
    user = await get_user(pool, user_id)
    new_email = None
    if changes.email is not None and normalise_email(changes.email) != user["email"]:
        new_email = normalise_email(changes.email)
        await _confirm_password_for_email_change(
            pool, settings, user, new_email, changes.current_password, address
        )
    name = None if changes.name is None else changes.name.strip()
    try:
        updated = await pool.fetchrow(
            queries.UPDATE_PROFILE, user_id, new_email, name, changes.phone, changes.clear_phone
        )
    except asyncpg.UniqueViolationError as exc:
        raise _email_taken() from exc
    if updated is None:
        raise NotFound(f"There is no user {user_id}.", code="user_not_found")
    if new_email is not None:  # the new address is unverified: mail it a link
        async with pool.acquire() as conn, conn.transaction():
            await send_verification(conn, settings, updated)
    return updated


async def _confirm_password_for_email_change(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    user: asyncpg.Record,
    new_email: str,
    current_password: str | None,
    address: str,
) -> None:
    problem = email_problem(new_email)
    if problem:
        raise ValidationFailed(
            f"The new email {problem}.", errors=[FieldError("body.email", problem)]
        )
    if not current_password:
        raise ValidationFailed(
            "Changing the email needs the current password.",
            errors=[FieldError("body.current_password", "is required to change the email")],
        )
    await confirm_current_password(pool, settings, user, current_password, address)


async def confirm_current_password(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    user: asyncpg.Record,
    current_password: str,
    address: str,
) -> None:
    """403 ``current_password_incorrect`` unless ``current_password`` is the account's.

    Whoever holds a stolen access token could guess here, so every try counts against
    the same throttle as logging in (429 past it); a right password is refunded."""
    attempt = await count_attempt(pool, login_limits(settings, user["email"], address))
    if not await verify_password(current_password, user["password_hash"], settings.bcrypt_rounds):
        raise Forbidden(
            "The current password is incorrect.",
            code="current_password_incorrect",
            errors=[FieldError("body.current_password", "is incorrect")],
        )
    await refund_attempt(pool, attempt)


async def ensure_admin(
    conn: asyncpg.Connection, bcrypt_rounds: int, email: str, password: str, name: str = ""
) -> tuple[asyncpg.Record, str]:
    """Create the admin ``email``, or make an existing account one; idempotent.

    Returns the account and what happened: ``created``, ``upgraded`` (an existing
    customer became an admin), ``password_reset`` or ``unchanged``. Whenever the role
    or password changes, the account's sessions are revoked: whoever held it before
    must not keep admin access.
    """
    email = normalise_email(email)
    check_new_credentials(email, password, prefix="admin")
    async with conn.transaction():
        user = await conn.fetchrow(queries.USER_BY_EMAIL_FOR_UPDATE, email)
        if user is None:
            password_hash = await hash_password(password, bcrypt_rounds)
            created = await conn.fetchrow(
                queries.INSERT_USER,
                email,
                password_hash,
                name,
                None,
                list(ADMIN_ROLES),
                list(ADMIN_PERMISSIONS),
            )
            if created is None:  # registered concurrently: the operator runs it again
                raise _email_taken()
            REGISTRATIONS.labels("admin").inc()
            return created, "created"
        was_admin = is_admin(user) and set(ADMIN_PERMISSIONS) <= set(user["permissions"])
        same_password = await verify_password(password, user["password_hash"], bcrypt_rounds)
        if was_admin and same_password:
            return user, "unchanged"
        password_hash = (
            user["password_hash"] if same_password else await hash_password(password, bcrypt_rounds)
        )
        roles = sorted({*user["roles"], *ADMIN_ROLES} - set(CUSTOMER_ROLES))
        permissions = sorted({*user["permissions"], *ADMIN_PERMISSIONS})
        updated = await conn.fetchrow(
            queries.UPDATE_ROLE_AND_PASSWORD, user["id"], roles, permissions, password_hash
        )
        await revoke_all_for_user(conn, user["id"], "admin_credentials_changed")
        return updated, "password_reset" if was_admin else "upgraded"


async def ensure_customer(
    conn: asyncpg.Connection, bcrypt_rounds: int, email: str, password: str, name: str = ""
) -> tuple[asyncpg.Record, bool]:
    """Create the customer ``email`` unless it exists; returns ``(account, created)``."""
    email = normalise_email(email)
    check_new_credentials(email, password, prefix="customer")
    existing = await conn.fetchrow(queries.USER_BY_EMAIL, email)
    if existing is not None:
        return existing, False
    password_hash = await hash_password(password, bcrypt_rounds)
    created = await conn.fetchrow(
        queries.INSERT_USER, email, password_hash, name, None, list(CUSTOMER_ROLES), []
    )
    if created is None:  # created concurrently
        return await conn.fetchrow(queries.USER_BY_EMAIL, email), False
    REGISTRATIONS.labels("customer").inc()
    return created, True
