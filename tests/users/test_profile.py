"""GET and PUT /api/v1/users/profile."""

from __future__ import annotations

from evently.core.db import POOL
from tests.users.helpers import PASSWORD, bearer, login, register


async def put_profile(client, session, **fields):
    return await client.put(
        "/api/v1/users/profile", json=fields, headers=bearer(session["access_token"])
    )


async def test_get_profile_returns_the_callers_account(users):
    session = await register(users, "me@example.com", name="Me")
    response = await users.get("/api/v1/users/profile", headers=bearer(session["access_token"]))
    assert response.status == 200
    body = await response.json()
    assert body["email"] == "me@example.com"
    assert body["name"] == "Me"
    assert "password_hash" not in body


async def test_profile_needs_a_token(users):
    assert (await users.get("/api/v1/users/profile")).status == 401
    assert (await users.put("/api/v1/users/profile", json={"name": "x"})).status == 401


async def test_update_changes_only_the_fields_sent(users):
    session = await register(users, "upd@example.com", name="Old", phone="+1 555 0100")
    response = await put_profile(users, session, name="  New Name ")
    assert response.status == 200
    body = await response.json()
    assert (body["name"], body["phone"]) == ("New Name", "+1 555 0100")
    body = await (await put_profile(users, session, phone="+1 555 0199")).json()
    assert (body["name"], body["phone"]) == ("New Name", "+1 555 0199")
    body = await (await put_profile(users, session, phone=None)).json()
    assert body["phone"] is None
    assert body["updated_at"] > body["created_at"]


async def test_an_invalid_phone_is_rejected_and_changes_nothing(users):
    session = await register(users, "ph@example.com", phone="+1 555 0100")
    response = await put_profile(users, session, phone="call me maybe", name="Changed")
    assert response.status == 400
    assert [e["field"] for e in (await response.json())["errors"]] == ["body.phone"]
    phone = await users.app[POOL].fetchval("SELECT phone FROM users.users")
    assert phone == "+1 555 0100"


async def test_changing_the_email_needs_the_current_password(users):
    session = await register(users, "first@example.com")
    response = await put_profile(users, session, email="second@example.com")
    assert response.status == 400
    assert (await response.json())["errors"] == [
        {"field": "body.current_password", "reason": "is required to change the email"}
    ]
    wrong = await put_profile(
        users, session, email="second@example.com", current_password="Not-my-password-1"
    )
    assert wrong.status == 403
    assert (await wrong.json())["code"] == "current_password_incorrect"
    assert await users.app[POOL].fetchval("SELECT email FROM users.users") == "first@example.com"

    right = await put_profile(
        users, session, email=" Second@Example.com", current_password=PASSWORD
    )
    assert right.status == 200
    assert (await right.json())["email"] == "second@example.com"
    assert (await login(users, "second@example.com")).status == 200
    assert (await login(users, "first@example.com")).status == 401


async def test_resending_the_same_email_in_another_case_needs_no_password(users):
    session = await register(users, "same@example.com")
    response = await put_profile(users, session, email="SAME@example.com", name="Sam")
    assert response.status == 200
    assert (await response.json())["email"] == "same@example.com"


async def test_changing_to_a_taken_email_is_a_conflict(users):
    await register(users, "taken@example.com")
    session = await register(users, "mover@example.com")
    response = await put_profile(
        users, session, email="TAKEN@example.com", current_password=PASSWORD
    )
    assert response.status == 409
    assert (await response.json())["code"] == "email_taken"


async def test_changing_to_an_invalid_email_is_a_400(users):
    session = await register(users, "valid@example.com")
    response = await put_profile(users, session, email="nope", current_password=PASSWORD)
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body.email"


async def test_password_guessing_through_the_email_change_is_throttled(
    aiohttp_client, make_users_app
):
    client = await aiohttp_client(make_users_app(env={"LOGIN_ACCOUNT_MAX_ATTEMPTS": "2"}))
    session = await register(client, "guess@example.com")
    statuses = [
        (
            await put_profile(
                client, session, email="new@example.com", current_password=f"Guess-number-{i}"
            )
        ).status
        for i in range(3)
    ]
    assert statuses == [403, 403, 429]


async def test_a_deleted_account_has_no_profile(users):
    session = await register(users, "gone@example.com")
    await users.app[POOL].execute("DELETE FROM users.users")
    response = await users.get("/api/v1/users/profile", headers=bearer(session["access_token"]))
    assert response.status == 404
    assert (await response.json())["code"] == "user_not_found"
