"""Forgotten passwords: POST /api/v1/auth/password-reset and /password-reset/confirm.

The reset token travels only in the mail (``account.mail_requested`` in the users outbox,
see tests/users/account_mail.py); users keeps its digest.
"""

from __future__ import annotations

import hashlib

from evently.core.db import POOL
from tests.users.account_mail import last_token, mailed
from tests.users.helpers import PASSWORD, admin_session, bearer, login, register

REQUEST = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "new-Horse-battery-9"


async def request_reset(users, email: str):
    return await users.post(REQUEST, json={"email": email})


async def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(users):
    await register(users, "ann@example.com")
    known = await request_reset(users, " Ann@Example.com ")
    unknown = await request_reset(users, "nobody@example.com")
    assert known.status == unknown.status == 202
    assert await known.json() == await unknown.json()
    (requested,) = await mailed(users, "password_reset")
    assert requested["email"] == "ann@example.com" and requested["expires_at"]
    stored = await users.app[POOL].fetchval("SELECT token_hash FROM users.account_tokens "
                                             "WHERE purpose = 'password_reset'")  # fmt: skip
    assert stored == hashlib.sha256(requested["token"].encode()).digest()  # only its digest


async def test_a_token_sets_the_password_once_and_ends_every_session(users):
    session = await register(users, "ann@example.com")
    await request_reset(users, "ann@example.com")
    token = await last_token(users, "password_reset")
    response = await users.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status == 204, await response.text()
    assert (await login(users, "ann@example.com", PASSWORD)).status == 401
    assert (await login(users, "ann@example.com", NEW_PASSWORD)).status == 200
    refreshed = await users.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status == 401  # the session from before the reset is over
    again = await users.post(CONFIRM, json={"token": token, "new_password": "other-Horse-77"})
    assert again.status == 400
    body = await again.json()
    assert body["code"] == "invalid_token" and body["errors"][0]["field"] == "body.token"


async def test_a_reset_verifies_the_address_it_reached_and_voids_other_reset_links(users):
    session = await register(users, "ann@example.com")
    await request_reset(users, "ann@example.com")
    older = await last_token(users, "password_reset")
    await request_reset(users, "ann@example.com")
    newer = await last_token(users, "password_reset")
    response = await users.post(CONFIRM, json={"token": newer, "new_password": NEW_PASSWORD})
    assert response.status == 204
    stale = await users.post(CONFIRM, json={"token": older, "new_password": "other-Horse-77"})
    assert (await stale.json())["code"] == "invalid_token"
    new_session = await (await login(users, "ann@example.com", NEW_PASSWORD)).json()
    profile = await users.get("/api/v1/users/profile", headers=bearer(new_session["access_token"]))
    assert (await profile.json())["email_verified"] is True
    assert session["user"]["email_verified"] is False


async def test_an_expired_token_is_refused(users):
    await register(users, "ann@example.com")
    await request_reset(users, "ann@example.com")
    token = await last_token(users, "password_reset")
    await users.app[POOL].execute(
        "UPDATE users.account_tokens SET expires_at = now() - interval '1 second'"
    )
    response = await users.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status == 400 and (await response.json())["code"] == "invalid_token"
    assert (await login(users, "ann@example.com", PASSWORD)).status == 200


async def test_a_weak_new_password_is_refused_and_the_token_still_works(users):
    await register(users, "ann@example.com")
    await request_reset(users, "ann@example.com")
    token = await last_token(users, "password_reset")
    weak = await users.post(CONFIRM, json={"token": token, "new_password": "short"})
    assert weak.status == 400
    assert {e["field"] for e in (await weak.json())["errors"]} == {"body.new_password"}
    strong = await users.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert strong.status == 204


async def test_requests_are_throttled_alike_for_known_and_unknown_emails(
    aiohttp_client, make_users_app
):
    users = await aiohttp_client(make_users_app(env={"ACCOUNT_MAIL_MAX_PER_EMAIL": "2"}))
    await register(users, "ann@example.com")
    for email in ("ann@example.com", "nobody@example.com"):
        statuses = [(await request_reset(users, email)).status for _ in range(3)]
        assert statuses == [202, 202, 429], email
    throttled = await request_reset(users, "nobody@example.com")
    assert int(throttled.headers["Retry-After"]) >= 1
    assert len(await mailed(users, "password_reset")) == 2


async def test_a_deactivated_account_gets_the_same_answer_and_no_mail(users):
    target = await register(users, "ann@example.com")
    admin = await admin_session(users)
    deactivated = await users.post(
        f"/api/v1/auth/admin/users/{target['user']['id']}/deactivate",
        headers=bearer(admin["access_token"]),
    )
    assert deactivated.status == 200
    response = await request_reset(users, "ann@example.com")
    assert response.status == 202
    assert await mailed(users, "password_reset") == []
