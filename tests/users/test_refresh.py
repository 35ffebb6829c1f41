"""Refresh tokens: opaque, stored hashed, rotated on every use; reuse revokes the family."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from evently.core.db import POOL
from tests.users.helpers import bearer, login, register


async def refresh(client, token: str):
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_a_refresh_token_is_stored_only_as_its_sha256(users):
    session = await register(users, "hashed@example.com")
    token = session["refresh_token"]
    stored = await users.app[POOL].fetchval("SELECT token_hash FROM users.refresh_tokens")
    assert stored == hashlib.sha256(token.encode()).digest()
    dump = await users.app[POOL].fetchval(
        "SELECT string_agg(t::text, ' ') FROM users.refresh_tokens t"
    )
    assert token not in dump


async def test_refresh_rotates_both_tokens(users):
    session = await register(users, "rotate@example.com")
    response = await refresh(users, session["refresh_token"])
    assert response.status == 200
    renewed = await response.json()
    assert renewed["refresh_token"] != session["refresh_token"]
    assert renewed["access_token"] != session["access_token"]
    assert renewed["user"]["email"] == "rotate@example.com"
    profile = await users.get("/api/v1/users/profile", headers=bearer(renewed["access_token"]))
    assert profile.status == 200
    again = await refresh(users, renewed["refresh_token"])
    assert again.status == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family_and_is_logged(users, caplog):
    session = await register(users, "reuse@example.com")
    stolen = session["refresh_token"]
    successor = (await (await refresh(users, stolen)).json())["refresh_token"]
    other_device = await (await login(users, "reuse@example.com")).json()

    with caplog.at_level(logging.WARNING, logger="evently.users.refresh"):
        replay = await refresh(users, stolen)
    assert replay.status == 401
    assert (await replay.json())["code"] == "refresh_token_reused"
    family_id = await users.app[POOL].fetchval(
        "SELECT family_id::text FROM users.refresh_tokens WHERE token_hash = $1",
        hashlib.sha256(stolen.encode()).digest(),
    )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [getattr(r, "family_id", None) for r in warnings] == [family_id]

    # The legitimate successor is dead too; another login's family is untouched.
    after = await refresh(users, successor)
    assert after.status == 401
    assert (await after.json())["code"] == "refresh_token_revoked"
    assert (await refresh(users, other_device["refresh_token"])).status == 200


async def test_two_concurrent_refreshes_with_one_token_cannot_both_win(users):
    session = await register(users, "race@example.com")
    responses = await asyncio.gather(*(refresh(users, session["refresh_token"]) for _ in range(5)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 401, 401, 401, 401]
    winner = next(r for r in responses if r.status == 200)
    # The losers presented a used token: the family, winner's successor included, is revoked.
    assert (await refresh(users, (await winner.json())["refresh_token"])).status == 401


async def test_logout_revokes_the_session(users):
    session = await register(users, "bye@example.com")
    renewed = await (await refresh(users, session["refresh_token"])).json()
    response = await users.post(
        "/api/v1/auth/logout", json={"refresh_token": renewed["refresh_token"]}
    )
    assert response.status == 204
    after = await refresh(users, renewed["refresh_token"])
    assert after.status == 401
    assert (await after.json())["code"] == "refresh_token_revoked"


async def test_logout_with_an_unknown_token_changes_nothing(users):
    session = await register(users, "keep@example.com")
    response = await users.post("/api/v1/auth/logout", json={"refresh_token": "evr_unknown"})
    assert response.status == 204
    assert (await refresh(users, session["refresh_token"])).status == 200


async def test_an_expired_refresh_token_is_refused(users):
    session = await register(users, "old@example.com")
    await users.app[POOL].execute(
        "UPDATE users.refresh_tokens SET expires_at = now() - interval '1 second'"
    )
    response = await refresh(users, session["refresh_token"])
    assert response.status == 401
    assert (await response.json())["code"] == "refresh_token_expired"


async def test_an_unknown_refresh_token_is_refused(users):
    response = await refresh(users, "evr_made-up")
    assert response.status == 401
    assert (await response.json())["code"] == "refresh_token_unknown"


async def test_missing_refresh_token_field_is_a_400(users):
    for path in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
        response = await users.post(path, json={"token": "x"})
        assert response.status == 400
        fields = {e["field"] for e in (await response.json())["errors"]}
        assert fields == {"body.refresh_token", "body.token"}


async def test_a_refresh_picks_up_role_changes(users):
    session = await register(users, "promoted@example.com")
    await users.app[POOL].execute(
        "UPDATE users.users SET roles = '{admin}', permissions = '{users:admin}'"
    )
    renewed = await (await refresh(users, session["refresh_token"])).json()
    assert renewed["user"]["roles"] == ["admin"]
    response = await users.post(
        "/api/v1/auth/admin/register",
        json={"email": "second@example.com", "password": "Another-admin-1"},
        headers=bearer(renewed["access_token"]),
    )
    assert response.status == 201
