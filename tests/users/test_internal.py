"""The internal API: guarded by X-Internal-Key, compared in constant time."""

from __future__ import annotations

import pytest

from tests.users.helpers import INTERNAL, register

WRONG_KEYS = [{}, {"X-Internal-Key": ""}, {"X-Internal-Key": "test-internal-key-012345678X"}]


@pytest.mark.parametrize("headers", WRONG_KEYS, ids=["missing", "empty", "wrong"])
async def test_internal_routes_refuse_a_missing_or_wrong_key(users, headers):
    session = await register(users, "int@example.com")
    verify = await users.post(
        "/internal/auth/verify", json={"token": session["access_token"]}, headers=headers
    )
    assert verify.status == 401
    assert (await verify.json())["code"] == "internal_key_required"
    user = await users.get(f"/internal/users/{session['user']['id']}", headers=headers)
    assert user.status == 401
    assert (await user.json())["code"] == "internal_key_required"


async def test_verify_returns_the_claims_of_a_valid_token(users):
    session = await register(users, "claims2@example.com")
    response = await users.post(
        "/internal/auth/verify", json={"token": session["access_token"]}, headers=INTERNAL
    )
    assert response.status == 200
    claims = await response.json()
    assert claims["sub"] == str(session["user"]["id"])
    assert claims["email"] == "claims2@example.com"
    assert claims["typ"] == "access"


async def test_verify_needs_a_token_field(users):
    response = await users.post("/internal/auth/verify", json={}, headers=INTERNAL)
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.token"


async def test_internal_user_returns_the_account_without_secrets(users):
    session = await register(users, "lookup@example.com", name="Look Up")
    response = await users.get(f"/internal/users/{session['user']['id']}", headers=INTERNAL)
    assert response.status == 200
    body = await response.json()
    assert body == session["user"]
    assert "password_hash" not in body


async def test_internal_user_404s_for_unknown_or_malformed_ids(users):
    for path in ("/internal/users/999999", "/internal/users/abc", "/internal/users/0"):
        response = await users.get(path, headers=INTERNAL)
        assert response.status == 404, path
