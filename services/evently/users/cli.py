"""`evently users ...`: administration commands that talk to the database directly."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg

from evently.core.errors import ApiError
from evently.core.settings import CommonSettings, Settings, load_settings, setting
from evently.users import queries
from evently.users.accounts import ensure_admin
from evently.users.settings import UsersSettings


class AdminToolSettings(Settings):
    """What the admin commands need from the environment (no service secrets)."""

    database_url: str = setting("DATABASE_URL", expects="a PostgreSQL DSN (postgresql://...)")
    bcrypt_rounds: int = setting("BCRYPT_ROUNDS", 12, "the bcrypt cost, an integer from 4 to 31")

    check_database_url = staticmethod(CommonSettings.check_database_url)
    check_bcrypt_rounds = staticmethod(UsersSettings.check_bcrypt_rounds)


OUTCOMES = {
    "created": "created admin {email} (id {id})",
    "upgraded": "upgraded existing user {email} (id {id}) to admin; "
    "its password was set and its sessions revoked",
    "password_reset": "admin {email} (id {id}) already existed; "
    "its password was updated and its sessions revoked",
    "unchanged": "admin {email} (id {id}) already exists with this password; nothing changed",
}


async def create_admin(settings: AdminToolSettings, email: str, password: str) -> str:
    """Ensure ``email`` is an admin with ``password``; returns what happened, in words."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        if not await conn.fetchval(queries.USERS_TABLE_EXISTS):
            raise SystemExit("evently: the users schema is missing; run `evently migrate users`")
        user, outcome = await ensure_admin(conn, settings.bcrypt_rounds, email, password)
    finally:
        await conn.close()
    return OUTCOMES[outcome].format(email=user["email"], id=user["id"])


def _create_admin_command(args: argparse.Namespace) -> int:
    settings = load_settings(AdminToolSettings)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("evently: no password on stdin", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(create_admin(settings, args.email, password)))
    except ApiError as exc:  # a weak password or a malformed email
        print(f"evently: {exc.detail}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"evently: cannot use the database: {exc}", file=sys.stderr)
        return 1
    return 0


def add_commands(commands: Any) -> None:
    """Add `evently users ...` to the CLI's subcommands."""
    users = commands.add_parser("users", help="users service administration (DATABASE_URL)")
    actions = users.add_subparsers(dest="users_command", required=True)
    create = actions.add_parser(
        "create-admin",
        help="create an admin, or make an existing account one (idempotent)",
        description="Reads the password from the first line of stdin. An existing account "
        "becomes an admin with this password, and its sessions are revoked.",
    )
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from stdin (never from the command line)",
    )
    create.set_defaults(func=_create_admin_command)
