"""The users outbox: every change other services care about is published as user.changed.

A trigger on ``users.users`` writes the message in the changing transaction
(``users/sql/publish_user.sql``), whatever the writer; the users relay delivers it to the
notifications service, which keeps its own copy of addresses.
"""

from __future__ import annotations

from typing import Any

from evently.core import contracts
from evently.core.app import SETTINGS
from evently.core.db import POOL
from evently.users.relay import users_relay
from tests.support.outbox_peers import RecordingConsumer
from tests.users.helpers import PASSWORD, bearer, register


async def published(users) -> list[dict[str, Any]]:
    rows = await users.app[POOL].fetch(
        "SELECT topic, key, version, payload FROM users.outbox "
        "WHERE topic = 'user.changed' ORDER BY id"
    )
    for row in rows:
        assert row["topic"] == "user.changed" and row["key"] == str(row["payload"]["id"])
        assert row["version"] == row["payload"]["version"]
        contracts.render("user.changed", row["payload"])  # the contract accepts it
    return [row["payload"] for row in rows]


async def test_registering_and_changing_the_email_or_name_publish_user_changed(users):
    session = await register(users, "ann@example.com", name="Ann")
    user_id = session["user"]["id"]
    verified_at = "UPDATE users.users SET email_verified_at = now() WHERE id = $1"
    await users.app[POOL].execute(verified_at, user_id)
    response = await users.put(
        "/api/v1/users/profile",
        json={"email": "ann@example.org", "current_password": PASSWORD, "name": "Ann L"},
        headers=bearer(session["access_token"]),
    )
    assert response.status == 200, await response.text()
    unpublished = "UPDATE users.users SET phone = '+4930123', updated_at = now() WHERE id = $1"
    await users.app[POOL].execute(unpublished, user_id)  # nothing others care about
    assert await published(users) == [
        {"id": user_id, "version": 1, "email": "ann@example.com", "email_verified": False,
         "name": "Ann", "active": True},
        {"id": user_id, "version": 2, "email": "ann@example.com", "email_verified": True,
         "name": "Ann", "active": True},
        # A new address is unverified again.
        {"id": user_id, "version": 3, "email": "ann@example.org", "email_verified": False,
         "name": "Ann L", "active": True},
    ]  # fmt: skip


async def test_the_relay_delivers_user_changed_to_notifications(aiohttp_client, make_users_app):
    users = await aiohttp_client(make_users_app(env={"OUTBOX_RELAY_ENABLED": "false"}))
    session = await register(users, "bob@example.com", name="Bob")
    relay = users_relay(users.app[SETTINGS], lambda: None)
    recorder = RecordingConsumer("notifications")
    relay.consumers["notifications"] = recorder
    async with users.app[POOL].acquire() as conn:
        assert await relay.deliver_pending(conn) == 2
    message, mail = recorder.received  # the account, then its verification mail
    assert mail.topic == "account.mail_requested"
    assert message.topic == "user.changed" and message.key == str(session["user"]["id"])
    assert message.payload["email"] == "bob@example.com" and message.payload["schema_version"] == 1
