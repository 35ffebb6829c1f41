"""Email verification: a token mailed on registration, on an email change and on request;
POST /api/v1/auth/email-verification/confirm marks the address verified."""

from __future__ import annotations

from evently.core.db import POOL
from tests.users.account_mail import last_token, mailed
from tests.users.helpers import PASSWORD, bearer, register

CONFIRM = "/api/v1/auth/email-verification/confirm"
REQUEST = "/api/v1/users/email-verification"


async def published_verification(users) -> list[bool]:
    rows = await users.app[POOL].fetch(
        "SELECT payload FROM users.outbox WHERE topic = 'user.changed' ORDER BY id"
    )
    return [row["payload"]["email_verified"] for row in rows]


async def test_registering_mails_a_token_that_verifies_the_email_once(users):
    session = await register(users, "ann@example.com", name="Ann")
    assert session["user"]["email_verified"] is False
    (requested,) = await mailed(users, "email_verification")
    assert requested["email"] == "ann@example.com" and requested["name"] == "Ann"
    response = await users.post(CONFIRM, json={"token": requested["token"]})
    assert response.status == 200
    assert (await response.json())["email_verified"] is True
    assert await published_verification(users) == [False, True]  # user.changed says so
    again = await users.post(CONFIRM, json={"token": requested["token"]})
    assert again.status == 400 and (await again.json())["code"] == "invalid_token"


async def test_a_token_for_a_previous_email_does_not_verify_the_new_one(users):
    session = await register(users, "ann@example.com")
    old_token = await last_token(users, "email_verification")
    changed = await users.put(
        "/api/v1/users/profile",
        json={"email": "ann@example.org", "current_password": PASSWORD},
        headers=bearer(session["access_token"]),
    )
    assert changed.status == 200
    stale = await users.post(CONFIRM, json={"token": old_token})
    assert stale.status == 400 and (await stale.json())["code"] == "invalid_token"
    new_requested = (await mailed(users, "email_verification"))[-1]
    assert new_requested["email"] == "ann@example.org"  # the new address got its own link
    response = await users.post(CONFIRM, json={"token": new_requested["token"]})
    assert (await response.json())["email_verified"] is True


async def test_a_new_link_can_be_requested_until_the_email_is_verified(users):
    session = await register(users, "ann@example.com")
    headers = bearer(session["access_token"])
    response = await users.post(REQUEST, headers=headers)
    assert response.status == 202
    assert len(await mailed(users, "email_verification")) == 2
    await users.post(CONFIRM, json={"token": await last_token(users, "email_verification")})
    verified = await users.post(REQUEST, headers=headers)
    assert verified.status == 202
    assert (await verified.json())["message"] == "The email is verified already."
    assert len(await mailed(users, "email_verification")) == 2
    assert (await users.post(REQUEST)).status == 401
