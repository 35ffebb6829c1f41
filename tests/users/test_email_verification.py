"""Email verification: a token mailed on registration, on an email change and on request;
POST /api/v1/auth/email-verification/confirm marks the address verified."""

from __future__ import annotations

import jwt

from evently.core.auth import Principal
from evently.core.db import POOL
from evently.users.keys import KEYRING
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


def token_claims(users, token: str) -> dict:
    """The claims of an access token the users service minted, verified with its keys."""
    return jwt.decode(
        token,
        users.app[KEYRING].active.private_key.public_key(),
        algorithms=["EdDSA"],
        audience="evently",
    )


async def test_access_tokens_carry_email_verified_as_of_minting_and_a_refresh_updates_it(users):
    session = await register(users, "ann@example.com")
    assert token_claims(users, session["access_token"])["email_verified"] is False
    await users.post(CONFIRM, json={"token": await last_token(users, "email_verification")})
    # The token minted before verifying keeps its claim (docs/users.md: until refreshed).
    assert token_claims(users, session["access_token"])["email_verified"] is False
    refreshed = await users.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status == 200, await refreshed.text()
    claims = token_claims(users, (await refreshed.json())["access_token"])
    assert claims["email_verified"] is True
    assert Principal.from_claims(claims).email_verified is True
