"""POST /api/v1/auth/register: customer accounts, validated, unique by normalised email."""

from __future__ import annotations

import pytest

from evently.core.db import POOL
from tests.users.helpers import PASSWORD, register


async def _user_count(client) -> int:
    return await client.app[POOL].fetchval("SELECT count(*) FROM users.users")


async def test_register_creates_a_customer_and_logs_it_in(users):
    body = await register(users, "  Ann.Lee@Example.COM ", name="Ann", phone="+44 20 7946 0000")
    assert body["user"]["email"] == "ann.lee@example.com"
    assert body["user"]["name"] == "Ann"
    assert body["user"]["phone"] == "+44 20 7946 0000"
    assert body["user"]["roles"] == ["customer"]
    assert body["user"]["permissions"] == []
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_expires_in"] == 7 * 86400
    assert body["refresh_token"].startswith("evr_")
    assert "password" not in str(body)
    profile = await users.get(
        "/api/v1/users/profile", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert profile.status == 200
    assert (await profile.json())["id"] == body["user"]["id"]


async def test_password_is_stored_as_a_bcrypt_hash(users):
    body = await register(users, "hash@example.com")
    stored = await users.app[POOL].fetchval(
        "SELECT password_hash FROM users.users WHERE id = $1", body["user"]["id"]
    )
    assert stored.startswith("$2b$04$")
    assert PASSWORD not in stored


async def test_an_email_differing_only_in_case_is_a_duplicate(users):
    await register(users, "dup@example.com")
    response = await users.post(
        "/api/v1/auth/register", json={"email": " DUP@Example.com", "password": PASSWORD}
    )
    assert response.status == 409
    problem = await response.json()
    assert problem["code"] == "email_taken"
    assert problem["errors"] == [{"field": "body.email", "reason": "is already registered"}]
    assert await _user_count(users) == 1


async def test_the_database_rejects_a_case_variant_even_bypassing_the_service(users):
    await register(users, "raw@example.com")
    import asyncpg

    with pytest.raises(asyncpg.UniqueViolationError):
        await users.app[POOL].execute(
            "INSERT INTO users.users (email, password_hash) VALUES ('RAW@example.com', 'x')"
        )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "must be at least 10 characters long"),
        ("alllowercaseletters", "must mix at least two kinds of characters"),
        ("12345678901234", "must mix at least two kinds of characters"),
        ("weak@example.com", "must not be your email address"),
        ("WEAK@EXAMPLE.COM", "must not be your email address"),
        ("Ä" * 37, "must be at most 72 bytes long (UTF-8)"),
    ],
)
async def test_a_weak_password_is_rejected_with_the_reason(users, password, reason):
    response = await users.post(
        "/api/v1/auth/register", json={"email": "weak@example.com", "password": password}
    )
    assert response.status == 400
    problem = await response.json()
    assert problem["code"] == "validation_failed"
    reasons = [e["reason"] for e in problem["errors"] if e["field"] == "body.password"]
    assert any(r.startswith(reason) for r in reasons), problem
    assert await _user_count(users) == 0


async def test_an_invalid_email_and_weak_password_are_reported_together(users):
    response = await users.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "short"}
    )
    assert response.status == 400
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"body.email", "body.password"}


async def test_bad_json_is_a_400_and_stores_nothing(users):
    response = await users.post(
        "/api/v1/auth/register",
        data=b'{"email": "x@example.com", "password": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert (await response.json())["code"] == "malformed_json"
    assert await _user_count(users) == 0


async def test_missing_fields_are_each_named(users):
    response = await users.post("/api/v1/auth/register", json={})
    assert response.status == 400
    problem = await response.json()
    assert {e["field"] for e in problem["errors"]} == {"body.email", "body.password"}


async def test_unknown_fields_and_wrong_types_are_rejected(users):
    response = await users.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": PASSWORD, "roles": ["admin"]},
    )
    assert response.status == 400
    assert (await response.json())["errors"] == [{"field": "body.roles", "reason": "unknown field"}]
    response = await users.post("/api/v1/auth/register", json={"email": 5, "password": PASSWORD})
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.email"


async def test_a_non_json_body_is_a_415(users):
    response = await users.post("/api/v1/auth/register", data="email=x")
    assert response.status == 415
