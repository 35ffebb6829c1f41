"""Both hold policies of issue 17 through the real services on 127.0.0.1 ports: users
(minting the tokens bookings verifies against its JWKS), events, bookings and
notifications, each relaying its outbox, and a real SMTP server (aiosmtpd).

An organiser publishes an event that requires a verified email and reminds buyers before
a hold expires. A new customer's hold is refused until they open the link mailed to them
and refresh their token; then the hold goes through and its reminder arrives by mail.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from evently.bookings.context import BOOKINGS
from evently.core.auth import AUTHENTICATOR
from evently.core.db import POOL
from evently.notifications.hold_reminders import send_due_reminders
from tests.analytics.test_agreement_with_bookings import call, event_input, eventually
from tests.notifications.conftest import mail_env
from tests.support.prometheus import free_port
from tests.support.smtp import MailCatcher, body_text

FAST = {"OUTBOX_POLL_INTERVAL_S": "0.1"}


async def test_a_verified_customer_holds_and_is_reminded_before_the_hold_expires(
    aiohttp_server, aiohttp_client, make_app, tokens, smtp: MailCatcher
):
    nowhere = f"http://127.0.0.1:{free_port()}"  # search, analytics, waiting room: absent
    others = {"SEARCH_URL": nowhere, "ANALYTICS_URL": nowhere, "WAITING_ROOM_URL": nowhere}
    notifications_server = await aiohttp_server(
        make_app("notifications", env={**FAST, **mail_env(smtp.port)})
    )
    notifications_url = f"http://127.0.0.1:{notifications_server.port}"
    users_server = await aiohttp_server(
        make_app("users", env={**FAST, "NOTIFICATIONS_URL": notifications_url})
    )
    users = await aiohttp_client(users_server)
    bookings_port = free_port()
    events_app = make_app(
        "events",
        env={**FAST, **others, "BOOKINGS_URL": f"http://127.0.0.1:{bookings_port}",
             "NOTIFICATIONS_URL": notifications_url},
    )  # fmt: skip
    events_app[AUTHENTICATOR] = tokens.authenticator()  # the organiser: a test admin token
    events = await aiohttp_client(events_app)
    bookings_server = await aiohttp_server(
        make_app(
            "bookings",
            env={**FAST, **others, "EVENTS_URL": f"http://127.0.0.1:{events.port}",
                 "NOTIFICATIONS_URL": notifications_url,
                 "USERS_URL": f"http://127.0.0.1:{users_server.port}",
                 "BOOKINGS_VERIFIED_EMAIL_REFRESH_S": "0.05"},
        ),
        port=bookings_port,
    )  # fmt: skip
    bookings = await aiohttp_client(bookings_server)

    session = await call(users, "POST", "/api/v1/auth/register", 201,
                         json={"email": "ann@example.com", "password": "Correct-horse-9",
                               "name": "Ann"})  # fmt: skip
    body = event_input(require_verified_email=True, hold_expiry_reminder_s=120)
    event = await call(events, "POST", "/api/v1/admin/events", 201, json=body,
                       headers=tokens.admin())  # fmt: skip

    async def hold(access_token: str):
        headers = {"Authorization": f"Bearer {access_token}", "Idempotency-Key": uuid.uuid4().hex}
        response = await bookings.post(
            "/api/v1/bookings", json={"event_id": event["id"], "quantity": 1}, headers=headers
        )
        return response.status, await response.json()

    gate = bookings_server.app[BOOKINGS].verified_email

    async def gate_knows() -> bool:  # bookings' inbox, then the gate's reload (docs/bookings.md)
        return gate.required(event["id"])

    await eventually(gate_knows, "the event's requirement reaches bookings")
    status, problem = await hold(session["access_token"])
    assert (status, problem["code"]) == (403, "email_verification_required")

    (mail,) = await smtp.wait_for(1)  # registration's verification link
    token = re.search(r"verify-email\?token=(\S+)", body_text(mail)).group(1)
    await call(users, "POST", "/api/v1/auth/email-verification/confirm", json={"token": token})
    assert (await hold(session["access_token"]))[0] == 403  # the old token's claim
    refreshed = await call(users, "POST", "/api/v1/auth/refresh",
                           json={"refresh_token": session["refresh_token"]})  # fmt: skip
    status, booking = await hold(refreshed["access_token"])
    assert status == 201, booking

    pool = notifications_server.app[POOL]

    async def reminder_recorded() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM notifications.hold_reminders WHERE booking_id = $1",
            booking["id"],
        ))  # fmt: skip

    await eventually(reminder_recorded, "booking.changed 'held' reaches notifications")
    due = datetime.now(UTC) + timedelta(seconds=600 - 110)  # the hold lasts 600 s
    assert await send_due_reminders(pool, due, 100) == 1
    mails = await smtp.wait_for(2)
    reminder = mails[-1]
    assert reminder["To"] == "ann@example.com"
    assert reminder["Subject"] == "Your hold ends soon: Agreement night"
    assert f"/api/v1/bookings/{booking['id']}" in body_text(reminder)
