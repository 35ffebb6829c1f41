"""Account mail end to end: the real users service asks (through its outbox) and the
real notifications service mails, to a real SMTP server (aiosmtpd). The customer reads
the token from the mail that arrived and uses it through the public API."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tests.analytics.test_agreement_with_bookings import call
from tests.notifications.conftest import mail_env
from tests.support.smtp import MailCatcher, body_text

PASSWORD = "Correct-horse-9"
NEW_PASSWORD = "Brand-new-horse-7"


@pytest.fixture
async def users(aiohttp_server, aiohttp_client, make_app, smtp: MailCatcher) -> TestClient:
    """The users service relaying its outbox to a running notifications service."""
    notifications = await aiohttp_server(make_app("notifications", env=mail_env(smtp.port)))
    url = f"http://127.0.0.1:{notifications.port}"
    return await aiohttp_client(
        make_app("users", env={"NOTIFICATIONS_URL": url, "OUTBOX_POLL_INTERVAL_S": "0.1"})
    )


def token_in(mail, path: str) -> str:
    found = re.search(
        rf"https://tickets\.evently\.test{path}\?token=([A-Za-z0-9_-]+)", body_text(mail)
    )
    assert found, body_text(mail)
    return found.group(1)


async def test_a_password_reset_mail_carries_a_link_that_resets_the_password_once(
    users, smtp: MailCatcher
):
    body = {"email": "ann@example.com", "password": PASSWORD, "name": "Ann"}
    await call(users, "POST", "/api/v1/auth/register", 201, json=body)
    (verification,) = await smtp.wait_for(1)
    assert verification["Subject"] == "Confirm your email for Evently"
    # An unknown address first: had it been mailed, that mail would arrive before Ann's.
    await call(users, "POST", "/api/v1/auth/password-reset", 202, json={"email": "bob@example.com"})
    await call(users, "POST", "/api/v1/auth/password-reset", 202, json={"email": "ann@example.com"})
    _, reset = await smtp.wait_for(2)
    assert reset["To"] == "ann@example.com"
    assert reset["Subject"] == "Reset your Evently password"
    assert "Hello Ann" in body_text(reset) and "UTC" in body_text(reset)
    token = token_in(reset, "/reset-password")
    assert f"/reset-password?token={token}" in body_text(reset, "html")
    confirm = {"token": token, "new_password": NEW_PASSWORD}
    reset_done = await users.post("/api/v1/auth/password-reset/confirm", json=confirm)
    assert reset_done.status == 204
    login = {"email": "ann@example.com", "password": NEW_PASSWORD}
    await call(users, "POST", "/api/v1/auth/login", json=login)
    again = await users.post("/api/v1/auth/password-reset/confirm", json=confirm)
    assert again.status == 400


async def test_the_verification_mail_verifies_the_address(users, smtp: MailCatcher):
    body = {"email": "ann@example.com", "password": PASSWORD, "name": "Ann"}
    session = await call(users, "POST", "/api/v1/auth/register", 201, json=body)
    (mail,) = await smtp.wait_for(1)
    assert mail["To"] == "ann@example.com" and "ann@example.com is your address" in body_text(mail)
    token = token_in(mail, "/verify-email")
    verified = await call(
        users, "POST", "/api/v1/auth/email-verification/confirm", json={"token": token}
    )
    assert verified["id"] == session["user"]["id"] and verified["email_verified"] is True
