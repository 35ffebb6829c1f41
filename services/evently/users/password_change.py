"""Changing one's password: ``POST /api/v1/users/password``.

The current password is checked (throttled like logging in), the new one must meet the
policy, and then, in one transaction, the hash changes, every session of the account
ends (its refresh tokens are revoked) and a fresh session opens for the caller. Access
tokens already handed out stay valid until they expire (``ACCESS_TOKEN_TTL_S``), since
services verify them offline: that is the bound docs/users.md states.
"""

from __future__ import annotations

import asyncpg

from evently.core.errors import FieldError, ValidationFailed
from evently.users import queries
from evently.users.accounts import confirm_current_password, get_user
from evently.users.keys import KeyRing
from evently.users.passwords import hash_password, password_problems
from evently.users.refresh import revoke_all_for_user
from evently.users.settings import UsersSettings
from evently.users.tokens import Session, open_session


def check_new_password(new_password: str, current_password: str, email: str) -> None:
    """400 naming ``body.new_password`` and every reason it is not acceptable."""
    problems = password_problems(new_password, email)
    if new_password == current_password:
        problems.append("must differ from the current password")
    if problems:
        raise ValidationFailed(
            "The new password is not acceptable: " + "; ".join(problems),
            errors=[FieldError("body.new_password", problem) for problem in problems],
        )


async def change_password(
    pool: asyncpg.Pool,
    settings: UsersSettings,
    keyring: KeyRing,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    address: str,
) -> Session:
    """Replace the password of ``user_id``, end its other sessions, open a new one."""
    user = await get_user(pool, user_id)
    check_new_password(new_password, current_password, user["email"])
    await confirm_current_password(pool, settings, user, current_password, address)
    password_hash = await hash_password(new_password, settings.bcrypt_rounds)
    async with pool.acquire() as conn, conn.transaction():
        updated = await conn.fetchrow(queries.SET_PASSWORD, user_id, password_hash)
        await revoke_all_for_user(conn, user_id, "password_changed")
        return await open_session(
            conn,
            updated,
            keyring.active,
            settings.access_token_ttl_s,
            settings.refresh_token_ttl_s,
        )
