"""`evently users create-admin`, run as a real subprocess against this test's database."""

from __future__ import annotations

import asyncio
import os
import sys

from evently.core.db import POOL
from tests.users.helpers import PASSWORD, login, register

ADMIN_PASSWORD = "Root-admin-pass-1"


async def create_admin(
    email: str, password: str, database_url: str | None, *extra: str
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BCRYPT_ROUNDS"] = "4"
    if database_url:
        env["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evently",
        "users",
        "create-admin",
        "--email",
        email,
        *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(f"{password}\n".encode()), 60)
    return process.returncode, out.decode(), err.decode()


async def test_create_admin_creates_an_admin_who_can_log_in(users, database_url):
    code, out, err = await create_admin(
        "Root@Example.com", ADMIN_PASSWORD, database_url, "--password-stdin"
    )
    assert code == 0, err
    assert out.startswith("created admin root@example.com")
    response = await login(users, "root@example.com", ADMIN_PASSWORD, admin=True)
    assert response.status == 200
    assert (await response.json())["user"]["roles"] == ["admin"]


async def test_create_admin_is_idempotent(users, database_url):
    await create_admin("root@example.com", ADMIN_PASSWORD, database_url, "--password-stdin")
    code, out, _ = await create_admin(
        "root@example.com", ADMIN_PASSWORD, database_url, "--password-stdin"
    )
    assert code == 0
    assert "nothing changed" in out
    assert await users.app[POOL].fetchval("SELECT count(*) FROM users.users") == 1


async def test_create_admin_upgrades_a_customer_and_ends_its_sessions(users, database_url):
    customer = await register(users, "promote@example.com")
    code, out, err = await create_admin(
        "promote@example.com", ADMIN_PASSWORD, database_url, "--password-stdin"
    )
    assert code == 0, err
    assert out.startswith("upgraded existing user promote@example.com")
    refreshed = await users.post(
        "/api/v1/auth/refresh", json={"refresh_token": customer["refresh_token"]}
    )
    assert refreshed.status == 401
    assert (await login(users, "promote@example.com", PASSWORD)).status == 401
    assert (await login(users, "promote@example.com", ADMIN_PASSWORD, admin=True)).status == 200


async def test_create_admin_refuses_a_weak_password(users, database_url):
    code, _, err = await create_admin(
        "weak@example.com", "password", database_url, "--password-stdin"
    )
    assert code == 2
    assert "password" in err
    assert await users.app[POOL].fetchval("SELECT count(*) FROM users.users") == 0


async def test_create_admin_needs_database_url_and_password_stdin(database_url):
    code, _, err = await create_admin("x@example.com", ADMIN_PASSWORD, None, "--password-stdin")
    assert code == 2
    assert "DATABASE_URL is required" in err
    code, _, err = await create_admin("x@example.com", ADMIN_PASSWORD, database_url)
    assert code == 2
    assert "--password-stdin" in err


async def test_create_admin_explains_a_missing_schema(databases):
    empty = await databases.create(migrated=False)
    try:
        code, _, err = await create_admin(
            "x@example.com", ADMIN_PASSWORD, empty, "--password-stdin"
        )
    finally:
        await databases.drop(empty)
    assert code == 1
    assert "evently migrate users" in err
