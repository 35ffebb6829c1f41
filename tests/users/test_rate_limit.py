"""Login throttling per account and per client address, shared through PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg

from evently.core.db import POOL
from evently.users.rate_limit import Limit, address_bucket, count_attempt
from tests.users.helpers import login, register

LIMITS = {
    "LOGIN_ACCOUNT_MAX_ATTEMPTS": "3",
    "LOGIN_ADDRESS_MAX_ATTEMPTS": "5",
    "LOGIN_ACCOUNT_WINDOW_S": "600",
    "LOGIN_ADDRESS_WINDOW_S": "600",
}


def from_address(address: str) -> dict[str, dict[str, str]]:
    # The test client connects from 127.0.0.1, a trusted proxy, so X-Forwarded-For counts.
    return {"headers": {"X-Forwarded-For": address}}


async def test_concurrent_attempts_on_one_account_let_exactly_the_limit_through(
    aiohttp_client, make_users_app
):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    await register(client, "target@example.com")
    responses = await asyncio.gather(
        *(
            login(client, "target@example.com", f"Wrong-guess-{i}", **from_address(f"10.0.0.{i}"))
            for i in range(12)
        )
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [401] * 3 + [429] * 9
    for response in responses:
        if response.status == 429:
            retry_after = int(response.headers["Retry-After"])
            assert 0 < retry_after <= 600
            assert (await response.json())["code"] == "rate_limited"


async def test_concurrent_attempts_from_one_address_are_limited_across_accounts(
    aiohttp_client, make_users_app
):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    responses = await asyncio.gather(
        *(
            login(client, f"user{i}@example.com", "Wrong-guess-1", **from_address("192.0.2.7"))
            for i in range(10)
        )
    )
    assert sorted(r.status for r in responses) == [401] * 5 + [429] * 5
    other_address = await login(
        client, "user0@example.com", "Wrong-guess-1", **from_address("192.0.2.8")
    )
    assert other_address.status == 401


async def test_two_replicas_share_one_limit(aiohttp_client, make_users_app):
    first = await aiohttp_client(make_users_app(env=LIMITS))
    second = await aiohttp_client(make_users_app(env=LIMITS))
    await register(first, "shared@example.com")
    responses = await asyncio.gather(
        *(
            login(client, "shared@example.com", "Wrong-guess-1", **from_address(f"10.1.0.{i}"))
            for i, client in enumerate([first, second] * 4)
        )
    )
    assert sorted(r.status for r in responses) == [401] * 3 + [429] * 5


async def test_a_locked_account_refuses_even_the_right_password(aiohttp_client, make_users_app):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    await register(client, "locked@example.com")
    for _ in range(3):
        assert (await login(client, "locked@example.com", "Wrong-guess-1")).status == 401
    assert (await login(client, "locked@example.com")).status == 429


async def test_successful_logins_do_not_count(aiohttp_client, make_users_app):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    await register(client, "often@example.com")
    for _ in range(6):
        assert (await login(client, "often@example.com")).status == 200
    assert (await login(client, "often@example.com", "Wrong-guess-1")).status == 401


async def test_a_new_window_starts_once_the_old_one_ends(aiohttp_client, make_users_app):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    await register(client, "later@example.com")
    for _ in range(4):
        await login(client, "later@example.com", "Wrong-guess-1")
    assert (await login(client, "later@example.com")).status == 429
    # Let the windows end, rather than sleeping through them.
    await client.app[POOL].execute(
        "UPDATE users.login_throttle SET window_ends_at = now() - interval '1 second'"
    )
    assert (await login(client, "later@example.com")).status == 200


async def test_the_account_bucket_does_not_store_the_email(aiohttp_client, make_users_app):
    client = await aiohttp_client(make_users_app(env=LIMITS))
    await login(client, "private@example.com", "Wrong-guess-1")
    buckets = await client.app[POOL].fetch("SELECT bucket FROM users.login_throttle")
    assert all("private" not in row["bucket"] for row in buckets)


async def test_count_attempt_is_atomic_under_heavy_concurrency(users):
    pool = users.app[POOL]
    limits = [Limit("account:burst", 7, 60)]

    async def attempt() -> bool:
        try:
            await count_attempt(pool, limits)
        except Exception:
            return False
        return True

    allowed = await asyncio.gather(*(attempt() for _ in range(40)))
    assert sum(allowed) == 7
    assert (
        await pool.fetchval(
            "SELECT attempts FROM users.login_throttle WHERE bucket = 'account:burst'"
        )
        == 40
    )


def test_ipv6_clients_are_counted_by_their_64_prefix():
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::9")
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("192.0.2.1") == "192.0.2.1"
    assert address_bucket("unknown") == "unknown"


REGISTER_LIMITS = {"REGISTER_ADDRESS_MAX_ATTEMPTS": "4", "REGISTER_ADDRESS_WINDOW_S": "600"}


async def register_from(client, email: str, address: str):
    return await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "correct-Horse-battery"},
        **from_address(address),
    )


async def test_registrations_from_one_address_are_limited_across_replicas(
    aiohttp_client, make_users_app
):
    first = await aiohttp_client(make_users_app(env=REGISTER_LIMITS))
    second = await aiohttp_client(make_users_app(env=REGISTER_LIMITS))
    responses = await asyncio.gather(
        *(
            register_from(client, f"fresh{i}@example.com", "198.51.100.9")
            for i, client in enumerate([first, second] * 5)
        )
    )
    assert sorted(r.status for r in responses) == [201] * 4 + [429] * 6
    for response in responses:
        if response.status == 429:
            assert 0 < int(response.headers["Retry-After"]) <= 600
            problem = await response.json()
            assert problem["code"] == "rate_limited"
            assert "registrations" in problem["detail"]
    elsewhere = await register_from(first, "elsewhere@example.com", "198.51.100.10")
    assert elsewhere.status == 201


async def test_refused_registrations_create_no_account(
    aiohttp_client, make_users_app, database_url
):
    client = await aiohttp_client(make_users_app(env={**REGISTER_LIMITS}))
    for i in range(6):
        await register_from(client, f"n{i}@example.com", "198.51.100.11")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users.users") == 4
    finally:
        await conn.close()
