"""Mail through the real services: users, events, bookings and notifications on
127.0.0.1 ports, each relaying its outbox, and a real SMTP server (aiosmtpd) that is
down while the customer books.

The customer registers through the users API (user.changed gives notifications the
address), an admin publishes an event through events, and the customer holds and
confirms through bookings while no mail server listens: the booking must not notice.
Once the server is up, the confirmation arrives, once.
"""

from __future__ import annotations

import asyncpg

from evently.core.auth import AUTHENTICATOR
from tests.analytics.test_agreement_with_bookings import Buyer, call, event_input, eventually
from tests.conftest import INTERNAL_API_KEY
from tests.notifications.conftest import mail_env
from tests.support.prometheus import free_port
from tests.support.smtp import MailCatcher, body_text

FAST = {"OUTBOX_POLL_INTERVAL_S": "0.1"}


async def test_a_booking_confirmed_while_smtp_is_down_is_mailed_once_it_is_back(
    aiohttp_server, aiohttp_client, make_app, tokens, database_url: str
):
    smtp = MailCatcher(free_port())  # not started: the mail server is down
    nowhere = f"http://127.0.0.1:{free_port()}"  # search and analytics are not running

    def app(service: str, **env: str):
        built = make_app(service, env={**FAST, **env})
        built[AUTHENTICATOR] = tokens.authenticator()
        return built

    notifications = await aiohttp_server(app("notifications", **mail_env(smtp.port)))
    notifications_url = f"http://127.0.0.1:{notifications.port}"
    users = await aiohttp_client(
        make_app("users", env={**FAST, "NOTIFICATIONS_URL": notifications_url})
    )
    bookings_port = free_port()
    others = {"SEARCH_URL": nowhere, "ANALYTICS_URL": nowhere}
    events = await aiohttp_client(
        app(
            "events",
            BOOKINGS_URL=f"http://127.0.0.1:{bookings_port}",
            NOTIFICATIONS_URL=notifications_url,
            **others,
        )
    )
    bookings_server = await aiohttp_server(
        app(
            "bookings",
            EVENTS_URL=f"http://127.0.0.1:{events.port}",
            NOTIFICATIONS_URL=notifications_url,
            BOOKINGS_PUBLISH_INTERVAL_S="0.01",
            **others,
        ),
        port=bookings_port,
    )
    bookings = await aiohttp_client(bookings_server)

    registered = await call(
        users,
        "POST",
        "/api/v1/auth/register",
        201,
        json={"email": "ann@example.com", "password": "Correct-horse-9", "name": "Ann"},
    )
    user_id = registered["user"]["id"]
    event = await call(
        events, "POST", "/api/v1/admin/events", 201, json=event_input(), headers=tokens.admin()
    )

    async def on_sale() -> bool:
        path = f"/internal/events/{event['id']}/availability"
        response = await bookings.get(path, headers={"X-Internal-Key": INTERNAL_API_KEY})
        return response.status == 200 and (await response.json())["on_sale"]

    await eventually(on_sale, "event.changed reaches bookings")
    ann = Buyer(bookings, tokens.customer(user_id), event["id"])
    booking_id = await ann.hold(2)
    await ann.confirm(booking_id)  # no mail server: the booking does not care
    assert await ann.booking_status(booking_id) == "confirmed"

    async def mail_retried() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            return bool(
                await conn.fetchval(
                    "SELECT attempts >= 1 AND last_error IS NOT NULL FROM notifications.mails "
                    "WHERE kind = 'booking_confirmed'"
                )
            )
        finally:
            await conn.close()

    await eventually(mail_retried, "the confirmation mail is tried while SMTP is down")
    smtp.start()
    try:
        mails = await smtp.wait_for(2)  # the confirmation, and registration's verification
        (mail,) = [m for m in mails if m["Subject"].startswith("Your tickets")]
        assert mail["To"] == "ann@example.com"
        assert mail["Subject"] == "Your tickets for Agreement night"
        assert f"/api/v1/bookings/{booking_id}/tickets" in body_text(mail)
        assert "Hello Ann" in body_text(mail) and "99.80 EUR" in body_text(mail)

        async def recorded_sent() -> bool:
            conn = await asyncpg.connect(database_url)
            try:
                return (
                    await conn.fetchval(
                        "SELECT status FROM notifications.mails WHERE kind = 'booking_confirmed'"
                    )
                    == "sent"
                )
            finally:
                await conn.close()

        await eventually(recorded_sent, "the ledger records the mail sent")
        tickets = [m for m in smtp.messages if m["Subject"].startswith("Your tickets")]
        assert len(tickets) == 1  # sent once; a sent mail is never sent again
    finally:
        smtp.stop()
