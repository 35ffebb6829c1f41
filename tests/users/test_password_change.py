"""Changing one's password: the old one stops working, every other session ends, and
the caller goes on with a fresh session."""

from __future__ import annotations

from tests.users.helpers import PASSWORD, bearer, login, register

NEW_PASSWORD = "another-Horse-battery"


async def change(users, access_token: str, current: str, new: str):
    return await users.post(
        "/api/v1/users/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


async def refresh(users, refresh_token: str):
    return await users.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_the_new_password_logs_in_and_the_old_one_no_longer_does(users):
    session = await register(users, "pw@example.com")
    response = await change(users, session["access_token"], PASSWORD, NEW_PASSWORD)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert (await login(users, "pw@example.com", PASSWORD)).status == 401
    assert (await login(users, "pw@example.com", NEW_PASSWORD)).status == 200


async def test_every_other_session_ends_and_the_caller_gets_a_fresh_one(users):
    first = await register(users, "sessions@example.com")
    other = await (await login(users, "sessions@example.com")).json()
    response = await change(users, first["access_token"], PASSWORD, NEW_PASSWORD)
    fresh = await response.json()
    for ended in (first, other):
        answer = await refresh(users, ended["refresh_token"])
        assert answer.status == 401, await answer.text()
    renewed = await refresh(users, fresh["refresh_token"])
    assert renewed.status == 200, await renewed.text()
    profile = await users.get("/api/v1/users/profile", headers=bearer(fresh["access_token"]))
    assert (await profile.json())["email"] == "sessions@example.com"


async def test_a_wrong_current_password_is_403_and_changes_nothing(users):
    session = await register(users, "wrong@example.com")
    response = await change(users, session["access_token"], "not-the-Password-1", NEW_PASSWORD)
    assert response.status == 403
    body = await response.json()
    assert body["code"] == "current_password_incorrect"
    assert [e["field"] for e in body["errors"]] == ["body.current_password"]
    assert (await login(users, "wrong@example.com", PASSWORD)).status == 200
    assert (await refresh(users, session["refresh_token"])).status == 200


async def test_a_weak_or_unchanged_new_password_is_400_naming_the_field(users):
    session = await register(users, "weak@example.com")
    for new, reason in (("short", "at least 10"), (PASSWORD, "differ from the current")):
        response = await change(users, session["access_token"], PASSWORD, new)
        assert response.status == 400, await response.text()
        errors = (await response.json())["errors"]
        assert {e["field"] for e in errors} == {"body.new_password"}
        assert any(reason in e["reason"] for e in errors), errors
    assert (await login(users, "weak@example.com", PASSWORD)).status == 200


async def test_guessing_the_current_password_is_throttled_like_logging_in(
    aiohttp_client, make_users_app
):
    users = await aiohttp_client(make_users_app(env={"LOGIN_ACCOUNT_MAX_ATTEMPTS": "2"}))
    session = await register(users, "guess@example.com")
    statuses = [
        (await change(users, session["access_token"], f"guess-Number-{i}", NEW_PASSWORD)).status
        for i in range(3)
    ]
    assert statuses == [403, 403, 429]


async def test_changing_the_password_needs_a_token(users):
    response = await users.post(
        "/api/v1/users/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status == 401
