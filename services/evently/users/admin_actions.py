"""What an admin does to an account: deactivate, reactivate, demote, grant or revoke a
staff permission (``core.auth.is_staff_permission``); each audited.

Each action runs in one transaction with the account locked, writes one row to
``users.audit_log`` when it changes something (repeating an action changes nothing and
logs nothing), and ends the account's sessions where it takes something away: its
refresh tokens are revoked at once. Access tokens already issued are verified offline by
every service, so they lapse by themselves within ``ACCESS_TOKEN_TTL_S`` (docs/users.md).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from evently.core.auth import STAFF_PERMISSIONS, is_staff_permission
from evently.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from evently.users import queries
from evently.users.refresh import revoke_all_for_user

CUSTOMER_ROLES: list[str] = ["customer"]


async def _locked_user(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record:
    user = await conn.fetchrow(queries.USER_BY_ID_FOR_UPDATE, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", code="user_not_found")
    return user


async def _audit(
    conn: asyncpg.Connection, actor_id: int, action: str, user_id: int, **details: Any
) -> None:
    await conn.execute(queries.INSERT_AUDIT, actor_id, action, user_id, details)


def _not_yourself(actor_id: int, user_id: int, action: str) -> None:
    if actor_id == user_id:
        raise Conflict(
            f"An admin cannot {action} their own account; ask another admin.",
            code="own_account",
        )


async def deactivate(pool: asyncpg.Pool, *, actor_id: int, user_id: int) -> asyncpg.Record:
    """Deactivate ``user_id``: no login, no refresh, every session revoked now."""
    _not_yourself(actor_id, user_id, "deactivate")
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if user["deactivated_at"] is not None:
            return user
        updated = await conn.fetchrow(queries.SET_DEACTIVATED, user_id, True)
        await revoke_all_for_user(conn, user_id, "deactivated")
        await _audit(conn, actor_id, "deactivate", user_id)
        return updated


async def reactivate(pool: asyncpg.Pool, *, actor_id: int, user_id: int) -> asyncpg.Record:
    """Let ``user_id`` log in again (old sessions stay revoked)."""
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if user["deactivated_at"] is None:
            return user
        updated = await conn.fetchrow(queries.SET_DEACTIVATED, user_id, False)
        await _audit(conn, actor_id, "reactivate", user_id)
        return updated


async def demote(pool: asyncpg.Pool, *, actor_id: int, user_id: int) -> asyncpg.Record:
    """Make ``user_id`` a customer again: roles and permissions go, sessions end.

    The last active admin cannot be demoted (nobody could undo it)."""
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if "admin" not in user["roles"] and not user["permissions"]:
            return user
        if "admin" in user["roles"] and not await conn.fetch(queries.OTHER_ACTIVE_ADMINS, user_id):
            raise Conflict(
                "This is the last active admin; make another admin first.",
                code="last_admin",
            )
        updated = await conn.fetchrow(queries.SET_ROLES, user_id, CUSTOMER_ROLES, [])
        await revoke_all_for_user(conn, user_id, "demoted")
        await _audit(
            conn,
            actor_id,
            "demote",
            user_id,
            roles=list(user["roles"]),
            permissions=list(user["permissions"]),
        )
        return updated


def _grantable(permission: str) -> None:
    if not is_staff_permission(permission):
        allowed = ", ".join([*sorted(STAFF_PERMISSIONS), "channels:hold:<channel>"])
        raise ValidationFailed(
            f"Only staff permissions can be granted: {allowed}.",
            errors=[FieldError("body.permission", f"must be one of: {allowed}")],
        )


async def grant(
    pool: asyncpg.Pool, *, actor_id: int, user_id: int, permission: str
) -> asyncpg.Record:
    """Give ``user_id`` a staff permission; it is in the account's next token."""
    _grantable(permission)
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if permission in user["permissions"]:
            return user
        updated = await conn.fetchrow(
            queries.SET_PERMISSIONS, user_id, [*user["permissions"], permission]
        )
        await _audit(conn, actor_id, "grant", user_id, permission=permission)
        return updated


async def revoke_permission(
    pool: asyncpg.Pool, *, actor_id: int, user_id: int, permission: str
) -> asyncpg.Record:
    """Take a staff permission back; the account's sessions end (its tokens carry it)."""
    _grantable(permission)
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if permission not in user["permissions"]:
            return user
        remaining = [p for p in user["permissions"] if p != permission]
        updated = await conn.fetchrow(queries.SET_PERMISSIONS, user_id, remaining)
        await revoke_all_for_user(conn, user_id, "permission_revoked")
        await _audit(conn, actor_id, "revoke", user_id, permission=permission)
        return updated


async def audit_log(pool: asyncpg.Pool, user_id: int, limit: int) -> list[asyncpg.Record]:
    """The newest ``limit`` audit entries about ``user_id``."""
    return await pool.fetch(queries.AUDIT_FOR_USER, user_id, limit)
